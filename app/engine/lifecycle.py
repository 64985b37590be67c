"""Draft → published → stopped: what must be filled in before publishing, and what deserves a warning."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from app.domain.errors import PublishBlocked
from app.domain.workflows import (
    AssignAction,
    AssignToStep,
    ConditionOperator,
    TriggerKind,
    Workflow,
    WorkflowState,
)
from app.engine.conditions import CLOSE_FIELDS, FIELD_WORDS, OPEN_FIELDS

ONCE_PER_CONTACT_WARNING = (
    '"Trigger once per contact" is on: this workflow will unassign a contact only after its first close, '
    "and never again."
)


def missing_fields(workflow: Workflow) -> tuple[str, ...]:
    """What must be filled in before `workflow` can be published, in words, in step order."""
    missing: list[str] = []
    if not workflow.name.strip():
        missing.append("Name: give the workflow a name")
    allowed = CLOSE_FIELDS if workflow.trigger.kind is TriggerKind.CONVERSATION_CLOSED else OPEN_FIELDS
    for number, condition in enumerate(workflow.trigger.conditions, 1):
        if condition.field not in allowed:
            missing.append(f"Condition {number}: {FIELD_WORDS[condition.field]} does not apply to this trigger")
        elif not condition.values:
            missing.append(f"Condition {number}: choose at least one value")
    if not workflow.steps:
        missing.append("Steps: add at least one step")
    for number, step in enumerate(workflow.steps, 1):
        if isinstance(step, AssignToStep):
            if step.action is AssignAction.SPECIFIC_USER and step.user_id is None:
                missing.append(f"Step {number} (Assign To): choose a user")
            if step.action is AssignAction.TEAM_USER and step.team_id is None:
                missing.append(f"Step {number} (Assign To): choose a team")
            if step.max_open_contacts is not None and step.max_open_contacts < 1:
                missing.append(f"Step {number} (Assign To): the open-contacts limit must be at least 1")
            if step.timeout_seconds <= 0:
                missing.append(f"Step {number} (Assign To): the timeout must be positive")
        elif not step.text.strip():
            missing.append(f"Step {number} (Add Comment): write the comment")
    return tuple(missing)


def warnings(workflow: Workflow) -> tuple[str, ...]:
    """Things that are allowed but probably not meant."""
    unassigns = any(isinstance(s, AssignToStep) and s.action is AssignAction.UNASSIGN for s in workflow.steps)
    if (
        unassigns
        and workflow.trigger.kind is TriggerKind.CONVERSATION_CLOSED
        and workflow.settings.trigger_once_per_contact
    ):
        return (ONCE_PER_CONTACT_WARNING,)
    return ()


def overlaps(workflow: Workflow, published: Sequence[Workflow]) -> tuple[str, ...]:
    """Warnings naming each other published workflow on the same trigger whose conditions an event can meet too.

    Two conditions on one field with "is" and no value in common cannot both hold; anything else may.
    """
    found: list[str] = []
    for other in published:
        if other.id == workflow.id or other.state is not WorkflowState.PUBLISHED:
            continue
        if other.trigger.kind is not workflow.trigger.kind or _exclusive(workflow, other):
            continue
        found.append(
            f'"{other.name}" is published on the same trigger: an event that meets both runs both, and the later '
            "one works on what the earlier one left (it may find nothing left to do)."
        )
    return tuple(found)


def _exclusive(one: Workflow, other: Workflow) -> bool:
    """Whether no event can meet both workflows' conditions (an "is" on one field with no value in common)."""
    for mine in one.trigger.conditions:
        for theirs in other.trigger.conditions:
            if (
                mine.field is theirs.field
                and mine.operator is ConditionOperator.IS
                and theirs.operator is ConditionOperator.IS
                and not set(mine.values) & set(theirs.values)
            ):
                return True
    return False


def publish(workflow: Workflow) -> Workflow:
    """The published version of `workflow`, one version up; PublishBlocked lists what is missing."""
    missing = missing_fields(workflow)
    if missing:
        raise PublishBlocked(workflow.name or "This workflow", missing)
    return replace(workflow, state=WorkflowState.PUBLISHED, version=workflow.version + 1)


def stop(workflow: Workflow) -> Workflow:
    """The stopped version of `workflow`: it keeps its runs and history but runs no more."""
    return replace(workflow, state=WorkflowState.STOPPED)
