"""The planner: a pure function from an event, the published workflows and a cache view to a Plan.

Every run it plans ends with an outcome and a reason in plain words. For an unassign, the outcome is
the local decision (`done: unassigned Maya Lee`); the history row's sync state then tracks the platform,
and the drain revises the run if the platform had moved on (`skipped: contact was reassigned ...`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from app.domain.availability import WHERE_SET
from app.domain.conversations import AssigneeChanged, ClosedConversation, ConversationOpened, OpenedBySource
from app.domain.history import AssignmentChange, ChangeSource, SyncState
from app.domain.outbox import CommandKind, OutboxCommand
from app.domain.people import Agent, Contact, ContactStatus, UserRef
from app.domain.plan import AssigneeUpdate, Plan, PlannedAction, PlannedRun
from app.domain.workflows import (
    AddCommentStep,
    AssignAction,
    AssignLogic,
    AssignToStep,
    RunOutcome,
    TriggerKind,
    Workflow,
    WorkflowRun,
    WorkflowState,
)
from app.engine.conditions import describe, first_unmet
from app.engine.view import CacheView

TriggerEvent = ClosedConversation | ConversationOpened


@dataclass(frozen=True, slots=True)
class _Step:
    """The result of running one step."""

    outcome: RunOutcome
    reason: str
    actions: tuple[PlannedAction, ...] = ()
    assignee: UserRef | None = None
    update: AssigneeUpdate | None = None


def plan_event(event: TriggerEvent, workflows: Sequence[Workflow], view: CacheView, now: float) -> Plan:
    """Plan everything a close or an open makes the published workflows do."""
    kind = TriggerKind.CONVERSATION_CLOSED if isinstance(event, ClosedConversation) else TriggerKind.CONVERSATION_OPENED
    runs: list[PlannedRun] = []
    updates: list[AssigneeUpdate] = []
    for workflow in workflows:
        if workflow.state is not WorkflowState.PUBLISHED or workflow.trigger.kind is not kind:
            continue
        planned, update = plan_run(event, workflow, view, now)
        runs.append(planned)
        if update is not None:
            updates.append(update)
    if isinstance(event, ClosedConversation):
        snapshot = _as(event.contact, ContactStatus.CLOSED, event.assignee_at_close)
        return Plan(close=event, runs=tuple(runs), contacts=(snapshot,), cache_updates=tuple(updates))
    snapshot = _as(event.contact, ContactStatus.OPEN, event.contact.assignee)
    return Plan(runs=tuple(runs), contacts=(snapshot,), cache_updates=tuple(updates))


def _as(contact: Contact, status: ContactStatus, assignee: UserRef | None) -> Contact:
    """The contact with another status and assignee (built directly: `replace` is slow on the hot path)."""
    c = contact
    return Contact(c.id, c.first_name, c.last_name, c.phone, c.email, assignee, status, c.tags, c.created_at)


def plan_run(
    event: TriggerEvent, workflow: Workflow, view: CacheView, now: float
) -> tuple[PlannedRun, AssigneeUpdate | None]:
    """One workflow's run on one event, and the cache update it implies (if any)."""
    assert workflow.id is not None, "only stored workflows run"
    contact = event.contact

    def run(outcome: RunOutcome, reason: str) -> WorkflowRun:
        assert workflow.id is not None
        key = f"{workflow.id}:{event.event_id}"
        return WorkflowRun(key, workflow.id, workflow.version, contact.id, now, outcome, reason)

    unmet = first_unmet(workflow.trigger, event)
    if unmet is not None:
        return PlannedRun(run(RunOutcome.SKIPPED, f'skipped: condition "{describe(unmet)}" not met')), None
    if workflow.settings.trigger_once_per_contact and view.has_run(workflow.id, contact.id):
        reason = 'skipped: already ran for this contact ("Trigger once per contact" is on)'
        return PlannedRun(run(RunOutcome.SKIPPED, reason)), None

    assignee = event.assignee_at_close if isinstance(event, ClosedConversation) else contact.assignee
    started_with = assignee
    actions: list[PlannedAction] = []
    reasons: list[str] = []
    outcome = RunOutcome.DONE
    update: AssigneeUpdate | None = None
    for index, step in enumerate(workflow.steps):
        if isinstance(step, AssignToStep):
            result = _assign(step, event, workflow, view, assignee, now)
        else:
            result = _comment(step, index, event, workflow, started_with, now)
        actions.extend(result.actions)
        reasons.append(result.reason)
        if result.update is not None:
            update = result.update
            assignee = result.assignee
        if result.outcome is not RunOutcome.DONE:
            outcome = result.outcome
            break
    if outcome is RunOutcome.DONE and not actions:
        outcome = RunOutcome.SKIPPED
    reason = "; ".join(reasons) or "skipped: the workflow has no steps"
    return PlannedRun(run(outcome, reason), tuple(actions)), update


def _assign(
    step: AssignToStep,
    event: TriggerEvent,
    workflow: Workflow,
    view: CacheView,
    assignee: UserRef | None,
    now: float,
) -> _Step:
    if step.action is AssignAction.UNASSIGN:
        if assignee is None:
            return _Step(RunOutcome.SKIPPED, "skipped: contact already unassigned")
        reason = f"unassigned {assignee.name}"
        payload: dict[str, object] = {
            "expected_assignee": assignee.id,
            "verify": workflow.settings.verify_before_unassign,
            "previous_name": assignee.name,
        }
        return _change(event, workflow, assignee, None, reason, CommandKind.UNASSIGN, payload, now)

    chosen, why_not = choose_agent(step, workflow, view, now)
    if chosen is None:
        return _Step(RunOutcome.WAITING, f"waiting: {why_not}")
    if assignee is not None and assignee.id == chosen.id:
        return _Step(RunOutcome.SKIPPED, f"skipped: contact already assigned to {chosen.name}")
    payload = {"assignee": chosen.id, "expected_assignee": assignee.id if assignee else None, "verify": False}
    return _change(event, workflow, assignee, chosen.ref, f"assigned {chosen.name}", CommandKind.ASSIGN, payload, now)


def _change(
    event: TriggerEvent,
    workflow: Workflow,
    before: UserRef | None,
    after: UserRef | None,
    reason: str,
    kind: CommandKind,
    payload: dict[str, object],
    now: float,
) -> _Step:
    contact_id = event.contact.id
    change = AssignmentChange(
        contact_id=contact_id,
        at=now,
        from_agent_id=before.id if before else None,
        to_agent_id=after.id if after else None,
        source=ChangeSource.WORKFLOW,
        actor=workflow.name,
        reason=reason,
        sync_state=SyncState.PENDING,
        workflow_id=workflow.id,
    )
    command = OutboxCommand(
        kind=kind,
        contact_id=contact_id,
        idempotency_key=f"{kind.value}:{workflow.id}:{event.event_id}",
        payload=payload,
        created_at=now,
    )
    return _Step(RunOutcome.DONE, reason, (PlannedAction(change, command),), after, AssigneeUpdate(contact_id, after))


def _comment(
    step: AddCommentStep, index: int, event: TriggerEvent, workflow: Workflow, assignee: UserRef | None, now: float
) -> _Step:
    text = render(step.text, event.contact, assignee, event.category if isinstance(event, ClosedConversation) else None)
    command = OutboxCommand(
        kind=CommandKind.ADD_COMMENT,
        contact_id=event.contact.id,
        idempotency_key=f"comment:{workflow.id}:{event.event_id}:{index}",
        payload={"text": text},
        created_at=now,
    )
    return _Step(RunOutcome.DONE, "added a comment", (PlannedAction(None, command),))


def render(text: str, contact: Contact, assignee: UserRef | None, category: str | None) -> str:
    """Fill the placeholders a comment may use; `assignee` is who had the contact when the run started."""
    return (
        text.replace("{{contact.name}}", contact.name)
        .replace("{{assignee.name}}", assignee.name if assignee else "nobody")
        .replace("{{conversation.category}}", category or "no category")
    )


def choose_agent(step: AssignToStep, workflow: Workflow, view: CacheView, now: float) -> tuple[Agent | None, str]:
    """Who an Assign To step picks at `now`, or None and the reason nobody qualifies.

    "Only online users" means available in the book the lead keeps (respond.io reports no presence).
    """
    agents = list(view.agents())
    if step.action is AssignAction.SPECIFIC_USER:
        candidates = [a for a in agents if a.id == step.user_id]
        where = f"user {step.user_id}" if not candidates else candidates[0].name
        group = where
        if not candidates:
            return None, f"{where} is not in the workspace"
    elif step.action is AssignAction.TEAM_USER:
        candidates = [a for a in agents if a.team is not None and a.team.id == step.team_id]
        group = candidates[0].team.name if candidates and candidates[0].team else f"team {step.team_id}"
        where = f"team {group}"
        if not candidates:
            return None, f"nobody is in {where}"
    else:
        candidates = agents
        where = group = "the workspace"
        if not candidates:
            return None, "nobody is in the workspace"
    loads = view.open_load()
    if step.only_online:
        candidates = [a for a in candidates if view.is_available(a.id, now)]
        if not candidates:
            if step.action is AssignAction.SPECIFIC_USER:
                return None, f"{group} is not available ({WHERE_SET})"
            return None, f"nobody in {group} is available ({WHERE_SET})"
    if step.max_open_contacts is not None:
        limit = step.max_open_contacts
        candidates = [a for a in candidates if loads.get(a.id, 0) < limit]
        if not candidates:
            who = "available user" if step.only_online else "user"
            return None, f"no {who} in {where} with fewer than {limit} open contacts"
    candidates.sort(key=lambda a: a.id)
    if step.action is AssignAction.SPECIFIC_USER or step.logic is AssignLogic.LEAST_OPEN_CONTACTS:
        return min(candidates, key=lambda a: (loads.get(a.id, 0), a.id)), ""
    assert workflow.id is not None
    last = view.last_assigned(workflow.id)
    after_last = [a for a in candidates if last is not None and a.id > last]
    return (after_last or candidates)[0], ""


def plan_assignee_changed(event: AssigneeChanged, cached: Contact | None, now: float) -> Plan:
    """Record an assignee change seen on the platform, unless the cache already shows it (our own echo)."""
    new = event.contact.assignee
    old = cached.assignee if cached else None
    snapshot = (event.contact,)
    if cached is not None and (old.id if old else None) == (new.id if new else None):
        return Plan(contacts=snapshot)
    reason = f"assigned to {new.name} on the platform" if new else "unassigned on the platform"
    change = AssignmentChange(
        contact_id=event.contact.id,
        at=now,
        from_agent_id=old.id if old else None,
        to_agent_id=new.id if new else None,
        source=ChangeSource.PLATFORM,
        actor="respond.io",
        reason=reason,
        sync_state=SyncState.SYNCED,
    )
    return Plan(observed=(change,), contacts=snapshot)


def plan_resume(run: WorkflowRun, workflow: Workflow, contact: Contact, view: CacheView, now: float) -> Plan | None:
    """Try again a run that waits for someone to assign: assign now, end at the timeout, or None to keep waiting.

    The Assign To step that waited is the first one that assigns somebody; the steps after it run once it
    succeeds. The contact is the cache's view of it now.
    """
    waited = next(
        (
            i
            for i, s in enumerate(workflow.steps)
            if isinstance(s, AssignToStep) and s.action is not AssignAction.UNASSIGN
        ),
        None,
    )
    if waited is None or workflow.state is not WorkflowState.PUBLISHED:
        ended = replace(run, outcome=RunOutcome.SKIPPED, reason="skipped: the workflow was changed or stopped")
        return Plan(runs=(PlannedRun(ended),))
    step = workflow.steps[waited]
    assert isinstance(step, AssignToStep)
    event = ConversationOpened(f"resume:{run.key}", contact, int(run.started_at), OpenedBySource.UNKNOWN)
    chosen, why_not = choose_agent(step, workflow, view, now)
    if chosen is None:
        if now - run.started_at < step.timeout_seconds:
            return None
        reason = f"failed: {why_not} within {_duration(step.timeout_seconds)}"
        return Plan(runs=(PlannedRun(replace(run, outcome=RunOutcome.FAILED, reason=reason)),))
    resumed = replace(workflow, steps=workflow.steps[waited:])
    planned, update = plan_run(replace(event, event_id=run.key), resumed, view, now)
    reason = f"{planned.run.reason} (after waiting {_duration(now - run.started_at)})"
    finished = replace(run, outcome=planned.run.outcome, reason=reason)
    return Plan(runs=(PlannedRun(finished, planned.actions),), cache_updates=(update,) if update else ())


def _duration(seconds: float) -> str:
    """Seconds in the largest whole unit people use: `7 days`, `3 hours`, `12 minutes`."""
    for size, unit in ((86_400, "day"), (3_600, "hour"), (60, "minute")):
        if seconds >= size:
            count = int(seconds // size)
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{int(seconds)} seconds"
