"""Workflows to and from plain JSON-able dicts: the one format used by storage and by export files."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from app.domain.errors import WorkflowFileError
from app.domain.workflows import (
    SEVEN_DAYS,
    AddCommentStep,
    AssignAction,
    AssignLogic,
    AssignToStep,
    Condition,
    ConditionField,
    ConditionOperator,
    Join,
    Step,
    Trigger,
    TriggerKind,
    WorkflowSettings,
)


def definition_to_dict(trigger: Trigger, steps: tuple[Step, ...], settings: WorkflowSettings) -> dict[str, Any]:
    """The trigger, steps and settings as a JSON-able dict."""
    return {
        "trigger": {
            "kind": trigger.kind.value,
            "join": trigger.join.value,
            "conditions": [
                {"field": c.field.value, "operator": c.operator.value, "values": list(c.values)}
                for c in trigger.conditions
            ],
        },
        "steps": [_step_to_dict(step) for step in steps],
        "settings": asdict(settings),
    }


def _step_to_dict(step: Step) -> dict[str, Any]:
    if isinstance(step, AddCommentStep):
        return {"type": "add_comment", "text": step.text}
    data = asdict(step)
    data["action"] = step.action.value
    data["logic"] = step.logic.value
    return {"type": "assign_to", **data}


def definition_from_dict(data: object) -> tuple[Trigger, tuple[Step, ...], WorkflowSettings]:
    """Read what `definition_to_dict` wrote; anything else raises WorkflowFileError saying what is wrong."""
    try:
        root = _mapping(data, "workflow")
        trig = _mapping(root["trigger"], "trigger")
        conditions = tuple(
            Condition(
                ConditionField(c["field"]),
                ConditionOperator(c["operator"]),
                tuple(str(v) for v in _list(c["values"], "condition values")),
            )
            for c in (_mapping(x, "condition") for x in _list(trig.get("conditions", []), "conditions"))
        )
        trigger = Trigger(TriggerKind(trig["kind"]), conditions, Join(trig.get("join", "and")))
        steps = tuple(_step_from_dict(_mapping(s, "step")) for s in _list(root.get("steps", []), "steps"))
        raw_settings = _mapping(root.get("settings", {}), "settings")
        settings = WorkflowSettings(
            trigger_once_per_contact=_bool(raw_settings.get("trigger_once_per_contact", False)),
            verify_before_unassign=_bool(raw_settings.get("verify_before_unassign", True)),
        )
    except KeyError as exc:
        raise WorkflowFileError(f"The workflow is missing the field {exc.args[0]!r}.") from None
    except ValueError as exc:
        raise WorkflowFileError(f"The workflow has an invalid value: {exc}.") from None
    return trigger, steps, settings


def _step_from_dict(data: dict[str, Any]) -> Step:
    kind = data.get("type")
    if kind == "add_comment":
        return AddCommentStep(text=str(data["text"]))
    if kind == "assign_to":
        return AssignToStep(
            action=AssignAction(data["action"]),
            user_id=_opt_int(data.get("user_id")),
            team_id=_opt_int(data.get("team_id")),
            logic=AssignLogic(data.get("logic", AssignLogic.ROUND_ROBIN.value)),
            only_online=_bool(data.get("only_online", False)),
            max_open_contacts=_opt_int(data.get("max_open_contacts")),
            timeout_seconds=_whole(data.get("timeout_seconds", SEVEN_DAYS), "timeout_seconds"),
        )
    raise ValueError(f"unknown step type {kind!r}")


def _mapping(value: object, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"{what} must be an object")
    return value


def _list(value: object, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise ValueError(f"{what} must be a list")
    return value


def _bool(value: object) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{value!r} is not true or false")
    return value


MAX_ID = 2**63 - 1
"""The largest id SQLite stores as an integer; the platform's ids are far below it."""


def _opt_int(value: object) -> int | None:
    if value is None:
        return None
    return _whole(value, "an id")


def _whole(value: object, what: str) -> int:
    """A whole number from 0 to MAX_ID, given as a JSON number or a string of digits."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_ID:
        raise ValueError(f"{what} must be a whole number from 0 to {MAX_ID}, not {value!r}")
    return value
