"""Draft → published → stopped: what must be filled in before publishing, and what deserves a warning."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import replace

from app.domain.errors import PublishBlocked
from app.domain.people import Agent
from app.domain.workflows import (
    AssignAction,
    AssignToStep,
    ConditionField,
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


def invalid_values(workflow: Workflow, agents: Sequence[Agent], categories: Collection[str] = ()) -> tuple[str, ...]:
    """The users, teams and categories `workflow` names that the workspace does not have, in words, in order.

    `agents` are the cached agents (teams are known through their members); `categories` the workspace's
    closing-note categories. Where either is empty there is nothing to check against, so nothing is refused.
    """
    users = {agent.id: agent.name for agent in agents}
    teams = {agent.team.id: agent.team.name for agent in agents if agent.team is not None}
    known_categories = {category.casefold() for category in categories}
    problems: list[str] = []
    for number, condition in enumerate(workflow.trigger.conditions, 1):
        if condition.field is ConditionField.CATEGORY and known_categories:
            problems.extend(
                f"Condition {number}: there is no closing-note category {value!r} in this workspace"
                f"{_listed(sorted(categories))}"
                for value in condition.values
                if value.casefold() not in known_categories
            )
        elif condition.field in (ConditionField.CLOSED_BY_USER, ConditionField.ASSIGNEE_AT_CLOSE) and users:
            problems.extend(_unknown_ids(f"Condition {number}", "user", condition.values, users))
        elif condition.field is ConditionField.ASSIGNEE_TEAM and users:
            problems.extend(_unknown_ids(f"Condition {number}", "team", condition.values, teams))
    for number, step in enumerate(workflow.steps, 1):
        if not isinstance(step, AssignToStep) or not users:
            continue
        where = f"Step {number} (Assign To)"
        if step.action is AssignAction.SPECIFIC_USER and step.user_id is not None:
            problems.extend(_unknown_ids(where, "user", (str(step.user_id),), users))
        if step.action is AssignAction.TEAM_USER and step.team_id is not None:
            problems.extend(_unknown_ids(where, "team", (str(step.team_id),), teams))
    return tuple(problems)


def _unknown_ids(where: str, what: str, values: Sequence[str], known: dict[int, str]) -> list[str]:
    return [
        f"{where}: there is no {what} {value} in this workspace{_known(known)}"
        for value in values
        if not value.isdigit() or int(value) not in known
    ]


def _listed(names: Sequence[str], shown: int = 8) -> str:
    """` (there are: A, B and 3 more)`, or ` (it has none)`."""
    if not names:
        return " (it has none)"
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return f" (there are: {', '.join(names[:shown])}{more})"


def _known(names: dict[int, str]) -> str:
    """` (there are: 1 Sales, 2 Support)`, cut short for a big workspace."""
    return _listed([f"{key} {names[key]}" for key in sorted(names)])


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


def publish(workflow: Workflow, agents: Sequence[Agent] = (), categories: Collection[str] = ()) -> Workflow:
    """The published version of `workflow`, one version up; PublishBlocked lists what is missing or invalid.

    `agents` and `categories` are what the users, teams and categories the workflow names are checked against.
    """
    missing = missing_fields(workflow) + invalid_values(workflow, agents, categories)
    if missing:
        raise PublishBlocked(workflow.name or "This workflow", missing)
    return replace(workflow, state=WorkflowState.PUBLISHED, version=workflow.version + 1)


def stop(workflow: Workflow) -> Workflow:
    """The stopped version of `workflow`: it keeps its runs and history but runs no more."""
    return replace(workflow, state=WorkflowState.STOPPED)
