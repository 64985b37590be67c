"""The planner, for every template, condition and outcome; and idempotency as a property."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.domain.availability import Availability, AvailabilityBook, Presence, WorkingHours
from app.domain.conversations import AssigneeChanged, ClosedBySource, ConversationOpened, OpenedBySource
from app.domain.history import ChangeSource, SyncState
from app.domain.outbox import CommandKind
from app.domain.people import Agent, Contact, ContactStatus, Team
from app.domain.workflows import (
    AddCommentStep,
    AssignAction,
    AssignToStep,
    Condition,
    ConditionField,
    ConditionOperator,
    Join,
    RunOutcome,
    Workflow,
    WorkflowSettings,
)
from app.engine.catalog import use_template
from app.engine.lifecycle import publish
from app.engine.planner import plan_assignee_changed, plan_event
from app.engine.view import SnapshotView
from tests.factories import MAYA, RAVI, close

NOW = 1_700_000_100.0
SUPPORT = Team(1, "Support")
ANA = Agent(9, "Ana", "Cruz", "ana@example.com", team=SUPPORT)


def _published(template_id: str, workflow_id: int = 1, **values: str) -> Workflow:
    return replace(publish(use_template(template_id, values=values)), id=workflow_id)


UNASSIGN = _published("unassign-after-close")


# The lead marked Maya and Ana available on the Team page; Ravi is away.
BOOK = AvailabilityBook(
    {
        MAYA.id: Availability(MAYA.id, Presence.AVAILABLE),
        ANA.id: Availability(ANA.id, Presence.AVAILABLE),
        RAVI.id: Availability(RAVI.id, Presence.AWAY),
    }
)


def _view(**overrides: object) -> SnapshotView:
    view = SnapshotView(agent_list=[MAYA, RAVI, ANA], loads={MAYA.id: 3, RAVI.id: 1, ANA.id: 2}, availability=BOOK)
    for key, value in overrides.items():
        setattr(view, key, value)
    return view


def _only_run(plan):  # type: ignore[no-untyped-def]
    (planned,) = plan.runs
    return planned


def test_unassign_template_unassigns_the_assignee_at_close() -> None:
    plan = plan_event(close(42), [UNASSIGN], _view(), NOW)

    planned = _only_run(plan)
    assert (planned.run.outcome, planned.run.reason) == (RunOutcome.DONE, "unassigned Maya Lee")
    assert planned.run.key == f"1:{close(42).event_id}"
    (action,) = planned.actions
    assert action.change is not None and action.command is not None
    assert (action.change.from_agent_id, action.change.to_agent_id) == (MAYA.id, None)
    assert (action.change.source, action.change.sync_state) == (ChangeSource.WORKFLOW, SyncState.PENDING)
    assert action.command.kind is CommandKind.UNASSIGN
    assert action.command.payload["expected_assignee"] == MAYA.id and action.command.payload["verify"] is True
    assert plan.close == close(42)
    assert [(u.contact_id, u.assignee) for u in plan.cache_updates] == [(42, None)]
    assert plan.contacts[0].status is ContactStatus.CLOSED


def test_a_contact_already_unassigned_is_skipped() -> None:
    planned = _only_run(plan_event(close(42, assignee=None), [UNASSIGN], _view(), NOW))
    assert (planned.run.outcome, planned.run.reason) == (RunOutcome.SKIPPED, "skipped: contact already unassigned")
    assert planned.actions == ()


@pytest.mark.parametrize(
    ("condition", "fires"),
    [
        (Condition(ConditionField.CATEGORY, ConditionOperator.IS, ("resolved",)), True),
        (Condition(ConditionField.CATEGORY, ConditionOperator.IS, ("Spam",)), False),
        (Condition(ConditionField.CATEGORY, ConditionOperator.IS_NOT, ("Spam",)), True),
        (Condition(ConditionField.CLOSED_BY_SOURCE, ConditionOperator.IS, ("user", "auto_close")), True),
        (Condition(ConditionField.CLOSED_BY_SOURCE, ConditionOperator.IS, ("api",)), False),
        (Condition(ConditionField.CLOSED_BY_USER, ConditionOperator.IS, (str(MAYA.id),)), True),
        (Condition(ConditionField.ASSIGNEE_AT_CLOSE, ConditionOperator.IS_NOT, (str(MAYA.id),)), False),
        (Condition(ConditionField.CONTACT_TAG, ConditionOperator.IS, ("vip",)), False),
        (Condition(ConditionField.ASSIGNEE_TEAM, ConditionOperator.IS, ("Support",)), False),
    ],
)
def test_close_conditions(condition: Condition, fires: bool) -> None:
    workflow = replace(UNASSIGN, trigger=replace(UNASSIGN.trigger, conditions=(condition,)))
    planned = _only_run(plan_event(close(1), [workflow], _view(), NOW))
    assert (planned.run.outcome is RunOutcome.DONE) is fires
    if not fires:
        assert planned.run.reason.startswith('skipped: condition "') and planned.run.reason.endswith('" not met')


def test_the_reason_names_the_unmet_condition_in_words() -> None:
    condition = Condition(ConditionField.CATEGORY, ConditionOperator.IS, ("Spam",))
    workflow = replace(UNASSIGN, trigger=replace(UNASSIGN.trigger, conditions=(condition,)))
    planned = _only_run(plan_event(close(1), [workflow], _view(), NOW))
    assert planned.run.reason == 'skipped: condition "category is Spam" not met'
    source = Condition(ConditionField.CLOSED_BY_SOURCE, ConditionOperator.IS, ("api", "zapier"))
    workflow = replace(UNASSIGN, trigger=replace(UNASSIGN.trigger, conditions=(source,)))
    planned = _only_run(plan_event(close(1), [workflow], _view(), NOW))
    assert planned.run.reason == 'skipped: condition "closed by source is Developer API or Zapier" not met'


def test_conditions_join_with_and_or_or() -> None:
    spam = Condition(ConditionField.CATEGORY, ConditionOperator.IS, ("Spam",))
    user = Condition(ConditionField.CLOSED_BY_SOURCE, ConditionOperator.IS, ("user",))
    both = replace(UNASSIGN, trigger=replace(UNASSIGN.trigger, conditions=(spam, user), join=Join.AND))
    either = replace(both, trigger=replace(both.trigger, join=Join.OR))
    assert _only_run(plan_event(close(1), [both], _view(), NOW)).run.outcome is RunOutcome.SKIPPED
    assert _only_run(plan_event(close(1), [either], _view(), NOW)).run.outcome is RunOutcome.DONE


def test_trigger_once_per_contact_skips_a_second_close() -> None:
    once = replace(UNASSIGN, settings=WorkflowSettings(trigger_once_per_contact=True))
    planned = _only_run(plan_event(close(1), [once], _view(ran={(1, 1)}), NOW))
    assert planned.run.outcome is RunOutcome.SKIPPED
    assert "Trigger once per contact" in planned.run.reason
    assert _only_run(plan_event(close(2), [once], _view(ran={(1, 1)}), NOW)).run.outcome is RunOutcome.DONE


def test_only_published_workflows_of_the_right_trigger_run() -> None:
    draft = replace(use_template("unassign-after-close"), id=2)
    opened = _published("round-robin-online", workflow_id=3, team="1")
    plan = plan_event(close(1), [draft, opened, UNASSIGN], _view(), NOW)
    assert [p.run.workflow_id for p in plan.runs] == [1]


def _opened(contact_id: int = 5, source: OpenedBySource = OpenedBySource.CONTACT) -> ConversationOpened:
    return ConversationOpened(f"open-{contact_id}", Contact(contact_id, "New", "Contact"), 1_700_000_000, source)


def test_round_robin_online_only_takes_turns_among_online_team_members() -> None:
    workflow = _published("round-robin-online", team="1")
    view = _view()
    picks = []
    for contact_id in range(5):
        plan = plan_event(_opened(contact_id), [workflow], view, NOW)
        view.absorb(plan)
        (action,) = _only_run(plan).actions
        assert action.change is not None
        picks.append(action.change.to_agent_id)
    assert picks == [MAYA.id, ANA.id, MAYA.id, ANA.id, MAYA.id]  # Ravi is away


def test_online_only_reads_the_availability_the_lead_keeps_not_the_platform() -> None:
    workflow = _published("round-robin-online", team="1")
    # The platform reports no presence: a stale "online" flag on the agent counts for nothing.
    planned = _only_run(plan_event(_opened(), [workflow], _view(availability=AvailabilityBook({})), NOW))
    assert planned.run.outcome is RunOutcome.WAITING
    assert planned.run.reason == "waiting: nobody in Support is available (availability is set on the Team page)"
    only_ravi = AvailabilityBook({RAVI.id: Availability(RAVI.id, Presence.AVAILABLE)})
    planned = _only_run(plan_event(_opened(), [workflow], _view(availability=only_ravi), NOW))
    assert planned.run.reason == "assigned Ravi Shah"


def test_working_hours_limit_when_an_available_agent_is_picked() -> None:
    workflow = _published("round-robin-online", team="1")
    utc = dt.UTC
    nine_to_five = WorkingHours.parse("Mon-Fri 09:00-17:00")
    book = AvailabilityBook({RAVI.id: Availability(RAVI.id, Presence.AVAILABLE, nine_to_five)}, utc)
    tuesday_noon = dt.datetime(2026, 12, 1, 12, 0, tzinfo=utc).timestamp()
    tuesday_night = dt.datetime(2026, 12, 1, 18, 0, tzinfo=utc).timestamp()
    saturday_noon = dt.datetime(2026, 12, 5, 12, 0, tzinfo=utc).timestamp()
    outcomes = [
        _only_run(plan_event(_opened(), [workflow], _view(availability=book), at)).run.outcome
        for at in (tuesday_noon, tuesday_night, saturday_noon)
    ]
    assert outcomes == [RunOutcome.DONE, RunOutcome.WAITING, RunOutcome.WAITING]


def test_least_open_contacts_picks_the_lightest_load() -> None:
    workflow = _published("least-open-contacts", team="1")
    plan = plan_event(_opened(), [workflow], _view(), NOW)
    planned = _only_run(plan)
    assert planned.run.reason == "assigned Ravi Shah"
    assert [(u.contact_id, u.assignee) for u in plan.cache_updates] == [(5, RAVI.ref)]
    (action,) = planned.actions
    assert action.command is not None and action.command.kind is CommandKind.ASSIGN
    assert action.command.payload["assignee"] == RAVI.id


def test_nobody_qualifying_makes_the_run_wait_with_the_reason() -> None:
    step = AssignToStep(AssignAction.TEAM_USER, team_id=1, only_online=True, max_open_contacts=2)
    workflow = replace(_published("round-robin-online", team="1"), steps=(step,))
    planned = _only_run(plan_event(_opened(), [workflow], _view(), NOW))
    assert planned.run.outcome is RunOutcome.WAITING
    assert planned.run.reason == "waiting: no available user in team Support with fewer than 2 open contacts"
    assert planned.actions == ()


def test_specific_user_and_unknown_user() -> None:
    workflow = replace(
        _published("round-robin-online", team="1"), steps=(AssignToStep(AssignAction.SPECIFIC_USER, user_id=RAVI.id),)
    )
    assert _only_run(plan_event(_opened(), [workflow], _view(), NOW)).run.reason == "assigned Ravi Shah"
    gone = replace(workflow, steps=(AssignToStep(AssignAction.SPECIFIC_USER, user_id=99),))
    planned = _only_run(plan_event(_opened(), [gone], _view(), NOW))
    assert (planned.run.outcome, planned.run.reason) == (RunOutcome.WAITING, "waiting: user 99 is not in the workspace")


def test_add_comment_fills_placeholders_with_the_starting_assignee() -> None:
    steps = (
        AssignToStep(AssignAction.UNASSIGN),
        AddCommentStep("{{contact.name}} was with {{assignee.name}} ({{conversation.category}})"),
    )
    workflow = replace(UNASSIGN, steps=steps)
    planned = _only_run(plan_event(close(3), [workflow], _view(), NOW))
    assert planned.run.reason == "unassigned Maya Lee; added a comment"
    comment = planned.actions[1].command
    assert comment is not None and comment.kind is CommandKind.ADD_COMMENT
    assert comment.payload["text"] == "Contact 3 was with Maya Lee (Resolved)"
    assert planned.actions[1].change is None


def test_opened_conditions_on_the_source() -> None:
    workflow = _published("least-open-contacts", team="1")
    condition = Condition(ConditionField.OPENED_BY_SOURCE, ConditionOperator.IS, ("contact",))
    workflow = replace(workflow, trigger=replace(workflow.trigger, conditions=(condition,)))
    assert _only_run(plan_event(_opened(), [workflow], _view(), NOW)).run.outcome is RunOutcome.DONE
    by_api = _opened(source=OpenedBySource.API)
    assert _only_run(plan_event(by_api, [workflow], _view(), NOW)).run.outcome is RunOutcome.SKIPPED


def test_a_platform_assignee_change_is_recorded_unless_the_cache_already_shows_it() -> None:
    event = AssigneeChanged("a1", Contact(4, "Lee", "Wu", assignee=RAVI.ref), 1_700_000_000)
    plan = plan_assignee_changed(event, Contact(4, assignee=None), NOW)
    (change,) = plan.observed
    assert (change.from_agent_id, change.to_agent_id, change.source) == (None, RAVI.id, ChangeSource.PLATFORM)
    assert change.reason == "assigned to Ravi Shah on the platform"
    echo = plan_assignee_changed(event, Contact(4, assignee=RAVI.ref), NOW)
    assert echo.observed == () and echo.contacts == (event.contact,)


sources = st.sampled_from(list(ClosedBySource))


@given(
    contact_id=st.integers(1, 10**6),
    closed_time=st.integers(1_600_000_000, 1_800_000_000),
    source=sources,
    assigned=st.booleans(),
    category=st.one_of(st.none(), st.sampled_from(["Resolved", "Spam", "Sales"])),
)
def test_the_same_event_twice_gives_the_same_plan_and_one_run_key(
    contact_id: int, closed_time: int, source: ClosedBySource, assigned: bool, category: str | None
) -> None:
    event = close(contact_id, closed_time, assignee=MAYA.ref if assigned else None, source=source, category=category)
    first = plan_event(event, [UNASSIGN], _view(), NOW)
    second = plan_event(event, [UNASSIGN], _view(), NOW)
    assert first == second
    keys = {p.run.key for p in first.runs} | {p.run.key for p in second.runs}
    assert len(keys) == 1
    commands = {a.command.idempotency_key for p in first.runs + second.runs for a in p.actions if a.command}
    assert len(commands) <= 1
