"""Templates, Use Template, publishing rules, export files, dry runs and undo plans."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from app.domain.availability import Availability, AvailabilityBook, Presence, WorkingHours
from app.domain.errors import PublishBlocked, WorkflowError, WorkflowFileError
from app.domain.history import AssignmentChange, ChangeSource, SyncState
from app.domain.outbox import CommandKind
from app.domain.workflows import (
    AddCommentStep,
    AssignAction,
    AssignToStep,
    Condition,
    ConditionField,
    ConditionOperator,
    RunOutcome,
    WorkflowRun,
    WorkflowSettings,
    WorkflowState,
)
from app.engine.catalog import TEMPLATES, template, use_template
from app.engine.dry_run import dry_run
from app.engine.file_format import export_workflow, import_workflow
from app.engine.lifecycle import ONCE_PER_CONTACT_WARNING, missing_fields, publish, stop, warnings
from app.engine.undo import plan_undo
from tests.factories import MAYA, RAVI, close


def test_the_gallery_has_the_four_templates_with_words_and_sketches() -> None:
    assert [t.id for t in TEMPLATES] == ["unassign-after-close", "round-robin-online", "least-open-contacts", "blank"]
    unassign = template("unassign-after-close")
    assert unassign.name == "Assignment: Unassign After Conversation Closes"
    assert unassign.sketch == ("Conversation Closed", "Assign To: Unassign")
    assert unassign.needs_input == ()
    assert all(t.purpose.endswith(".") and t.category for t in TEMPLATES)
    with pytest.raises(WorkflowError) as caught:
        template("nope")
    assert "unassign-after-close" in caught.value.action


def test_use_template_makes_a_draft_copy_that_publishes_as_version_1() -> None:
    draft = use_template("unassign-after-close")
    assert (draft.state, draft.version, draft.template_id) == (WorkflowState.DRAFT, 0, "unassign-after-close")
    assert draft.settings == WorkflowSettings(trigger_once_per_contact=False, verify_before_unassign=True)
    published = publish(draft)
    assert (published.state, published.version) == (WorkflowState.PUBLISHED, 1)
    assert stop(published).state is WorkflowState.STOPPED
    assert publish(stop(published)).version == 2


def test_publishing_fails_with_the_list_of_what_is_missing() -> None:
    draft = use_template("round-robin-online")
    assert missing_fields(draft) == ("Step 1 (Assign To): choose a team",)
    with pytest.raises(PublishBlocked) as caught:
        publish(draft)
    assert caught.value.missing == ("Step 1 (Assign To): choose a team",)
    assert publish(use_template("round-robin-online", values={"team": "3"})).state is WorkflowState.PUBLISHED


def test_every_kind_of_missing_input_is_named() -> None:
    blank = use_template("blank", name=" ")
    assert missing_fields(blank) == ("Name: give the workflow a name", "Steps: add at least one step")
    broken = replace(
        blank,
        name="x",
        trigger=replace(
            blank.trigger,
            conditions=(
                Condition(ConditionField.CATEGORY, ConditionOperator.IS, ()),
                Condition(ConditionField.OPENED_BY_SOURCE, ConditionOperator.IS, ("user",)),
            ),
        ),
        steps=(
            AssignToStep(AssignAction.SPECIFIC_USER),
            AssignToStep(AssignAction.WORKSPACE_USER, max_open_contacts=0),
            AddCommentStep(" "),
        ),
    )
    assert missing_fields(broken) == (
        "Condition 1: choose at least one value",
        "Condition 2: opened by source does not apply to this trigger",
        "Step 1 (Assign To): choose a user",
        "Step 2 (Assign To): the open-contacts limit must be at least 1",
        "Step 3 (Add Comment): write the comment",
    )


def test_use_template_refuses_unknown_inputs() -> None:
    with pytest.raises(WorkflowError):
        use_template("unassign-after-close", values={"team": "1", "colour": "red"})
    with pytest.raises(WorkflowError):
        use_template("round-robin-online", values={"team": "Support"})


def test_trigger_once_per_contact_on_the_unassign_template_warns() -> None:
    draft = use_template("unassign-after-close")
    assert warnings(draft) == ()
    once = replace(draft, settings=WorkflowSettings(trigger_once_per_contact=True))
    assert warnings(once) == (ONCE_PER_CONTACT_WARNING,)
    assert "only after its first close" in ONCE_PER_CONTACT_WARNING


def test_export_and_import_round_trip_as_a_new_draft() -> None:
    published = replace(publish(use_template("least-open-contacts", values={"team": "2"})), id=5)
    imported = import_workflow(export_workflow(published))
    assert imported == replace(published, id=None, state=WorkflowState.DRAFT, version=0)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("{", "not valid JSON"),
        ("[]", "not a Closeout workflow export"),
        ('{"format": "closeout.workflow", "version": 99}', "format version 99"),
        ('{"format": "closeout.workflow", "version": 1, "name": ""}', "has no name"),
        ('{"format": "closeout.workflow", "version": 1, "name": "x"}', "missing the field 'trigger'"),
    ],
)
def test_a_bad_file_gets_a_clear_error(text: str, words: str) -> None:
    with pytest.raises(WorkflowFileError) as caught:
        import_workflow(text)
    assert words in caught.value.message


def test_dry_run_replays_past_closes_and_writes_nothing() -> None:
    spam = Condition(ConditionField.CATEGORY, ConditionOperator.IS_NOT, ("Spam",))
    draft = use_template("unassign-after-close")
    draft = replace(draft, trigger=replace(draft.trigger, conditions=(spam,)))
    closes = [
        close(1, 1_000),
        close(2, 1_001, category="Spam"),
        close(3, 1_002, assignee=None),
        close(1, 1_003),
    ]
    report = dry_run(draft, closes, [MAYA, RAVI], {})
    assert [(r.close.contact.id, r.outcome) for r in report.rows] == [
        (1, RunOutcome.DONE),
        (2, RunOutcome.SKIPPED),
        (3, RunOutcome.SKIPPED),
        (1, RunOutcome.DONE),
    ]
    assert report.rows[1].reason == 'skipped: condition "category is not Spam" not met'
    assert report.counts == {RunOutcome.DONE: 2, RunOutcome.SKIPPED: 2, RunOutcome.FAILED: 0, RunOutcome.WAITING: 0}
    assert report.summary() == "4 past closes: 2 would run, 2 skipped, 0 failed, 0 waiting."
    once = replace(draft, settings=WorkflowSettings(trigger_once_per_contact=True))
    assert [r.outcome for r in dry_run(once, closes, [], {}).rows][-1] is RunOutcome.SKIPPED


def _run(undone: bool = False) -> WorkflowRun:
    return WorkflowRun(
        "1:e", 1, 1, 42, 1.0, RunOutcome.DONE, "unassigned Maya Lee", conversation_id=3, undone=undone, id=17
    )


def _change(state: SyncState = SyncState.SYNCED) -> AssignmentChange:
    return AssignmentChange(
        42, 1.0, MAYA.id, None, ChangeSource.WORKFLOW, "w", "unassigned Maya Lee", state, 3, 1, 17, 5
    )


def test_undo_reassigns_the_previous_agent_through_the_outbox() -> None:
    plan = plan_undo(_run(), [_change()], {MAYA.id: MAYA.ref}, 2.0)
    assert plan.undo_of == 17
    (planned,) = plan.runs
    assert planned.run.key == "undo:17" and planned.run.reason == "reassigned Maya Lee (undo of run 17)"
    (action,) = planned.actions
    assert action.change is not None and action.command is not None
    assert (action.change.from_agent_id, action.change.to_agent_id) == (None, MAYA.id)
    assert action.change.source is ChangeSource.UNDO
    assert action.command.kind is CommandKind.ASSIGN
    assert action.command.payload == {"assignee": MAYA.id, "expected_assignee": None, "verify": True}
    assert [(u.contact_id, u.assignee) for u in plan.cache_updates] == [(42, MAYA.ref)]


def test_undo_refuses_runs_that_changed_nothing_or_were_undone() -> None:
    with pytest.raises(WorkflowError, match="already undone"):
        plan_undo(_run(undone=True), [_change()], {}, 2.0)
    with pytest.raises(WorkflowError, match="nothing to undo"):
        plan_undo(_run(), [_change(SyncState.SKIPPED)], {}, 2.0)
    with pytest.raises(WorkflowError, match="nothing to undo"):
        plan_undo(_run(), [], {}, 2.0)


def test_dry_run_of_online_only_reads_availability_at_each_opens_time() -> None:
    workflow = use_template("round-robin-online", values={"team": "1"})
    utc = dt.UTC
    monday_ten = int(dt.datetime(2026, 11, 30, 10, 0, tzinfo=utc).timestamp())
    monday_night = int(dt.datetime(2026, 11, 30, 22, 0, tzinfo=utc).timestamp())
    closes = [
        replace(close(1, monday_ten + 600), opened_time=monday_ten),
        replace(close(2, monday_night + 600), opened_time=monday_night),
    ]
    hours = WorkingHours.parse("Mon-Fri 09:00-17:00")
    book = AvailabilityBook({MAYA.id: Availability(MAYA.id, Presence.AVAILABLE, hours)}, utc)
    report = dry_run(workflow, closes, [MAYA, RAVI], {}, book)
    assert [r.outcome for r in report.rows] == [RunOutcome.DONE, RunOutcome.WAITING]
    assert report.rows[1].reason == "waiting: nobody in Support is available (availability is set on the Team page)"
    assert [r.outcome for r in dry_run(workflow, closes, [MAYA, RAVI], {}).rows] == [RunOutcome.WAITING] * 2
