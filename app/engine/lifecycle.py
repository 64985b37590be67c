"""Draft → published → stopped: what must be filled in before publishing, and what deserves a warning."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from app.domain.errors import PublishBlocked
from app.domain.people import Agent
from app.domain.workflows import AssignAction, AssignToStep, ConditionField, TriggerKind, Workflow, WorkflowState
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


def invalid_values(workflow: Workflow, agents: Sequence[Agent]) -> tuple[str, ...]:
    """The users and teams `workflow` names that the cached workspace does not have, in words, in step order.

    `agents` are the cached agents (teams are known through their members). With no agent cached yet there
    is nothing to check against, so nothing is refused.
    """
    if not agents:
        return ()
    users = {agent.id: agent.name for agent in agents}
    teams = {agent.team.id: agent.team.name for agent in agents if agent.team is not None}
    problems: list[str] = []
    for number, condition in enumerate(workflow.trigger.conditions, 1):
        if condition.field in (ConditionField.CLOSED_BY_USER, ConditionField.ASSIGNEE_AT_CLOSE):
            known, what = users, "user"
        elif condition.field is ConditionField.ASSIGNEE_TEAM:
            known, what = teams, "team"
        else:
            continue
        for value in condition.values:
            if not value.isdigit() or int(value) not in known:
                problems.append(f"Condition {number}: there is no {what} {value} in this workspace{_known(known)}")
    for number, step in enumerate(workflow.steps, 1):
        if not isinstance(step, AssignToStep):
            continue
        where = f"Step {number} (Assign To)"
        if step.action is AssignAction.SPECIFIC_USER and step.user_id is not None and step.user_id not in users:
            problems.append(f"{where}: there is no user {step.user_id} in this workspace{_known(users)}")
        if step.action is AssignAction.TEAM_USER and step.team_id is not None and step.team_id not in teams:
            problems.append(f"{where}: there is no team {step.team_id} in this workspace{_known(teams)}")
    return tuple(problems)


def _known(names: dict[int, str], shown: int = 8) -> str:
    """`(teams there are: 1 Sales, 2 Support)`, cut short for a big workspace."""
    if not names:
        return " (it has none)"
    listed = ", ".join(f"{key} {names[key]}" for key in sorted(names)[:shown])
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return f" (there are: {listed}{more})"


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


def publish(workflow: Workflow, agents: Sequence[Agent] = ()) -> Workflow:
    """The published version of `workflow`, one version up; PublishBlocked lists what is missing or invalid.

    `agents` are the cached agents, against which the users and teams the workflow names are checked.
    """
    missing = missing_fields(workflow) + invalid_values(workflow, agents)
    if missing:
        raise PublishBlocked(workflow.name or "This workflow", missing)
    return replace(workflow, state=WorkflowState.PUBLISHED, version=workflow.version + 1)


def stop(workflow: Workflow) -> Workflow:
    """The stopped version of `workflow`: it keeps its runs and history but runs no more."""
    return replace(workflow, state=WorkflowState.STOPPED)
