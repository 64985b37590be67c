"""Domain values: lenient parsing of platform enums, display names, errors in words, the workflow codec."""

from __future__ import annotations

import pytest

from app.domain.conversations import ClosedBySource, OpenedBySource
from app.domain.errors import AuthRejected, DatabaseCorrupt, PublishBlocked, RateLimited, WorkflowFileError
from app.domain.people import Contact, ContactStatus, UserRef
from app.domain.workflow_codec import definition_from_dict, definition_to_dict
from app.domain.workflows import (
    AddCommentStep,
    AssignAction,
    AssignLogic,
    AssignToStep,
    Condition,
    ConditionField,
    ConditionOperator,
    Join,
    Trigger,
    TriggerKind,
    WorkflowSettings,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("close", ContactStatus.CLOSED),
        ("closed", ContactStatus.CLOSED),
        ("done", ContactStatus.CLOSED),
        ("OPEN", ContactStatus.OPEN),
        ("blocked", ContactStatus.BLOCKED),
        (None, ContactStatus.UNKNOWN),
        ("weird", ContactStatus.UNKNOWN),
    ],
)
def test_contact_status_accepts_every_spelling_the_platform_uses(raw: object, expected: ContactStatus) -> None:
    assert ContactStatus.parse(raw) is expected


def test_sources_parse_leniently_and_have_labels() -> None:
    assert ClosedBySource.parse("Auto_Close") is ClosedBySource.AUTO_CLOSE
    assert ClosedBySource.parse("telepathy") is ClosedBySource.UNKNOWN
    assert OpenedBySource.parse("ctc_ads") is OpenedBySource.CTC_ADS
    assert all(source.label for source in ClosedBySource)
    assert ClosedBySource.API.label == "Developer API"


def test_display_names_fall_back_sensibly() -> None:
    assert UserRef(1, "Maya", "Lee").name == "Maya Lee"
    assert UserRef(2, email="x@example.com").name == "x@example.com"
    assert UserRef(3).name == "user 3"
    assert Contact(4, phone="+60123").name == "+60123"
    assert Contact(5).name == "contact 5"


def test_errors_say_what_happened_and_what_to_do() -> None:
    error = AuthRejected("The token was refused.", status=401)
    assert str(error).startswith("The token was refused. Paste a valid token")
    assert error.status == 401 and not error.retryable
    limited = RateLimited("Too Many Requests", retry_after=2.0)
    assert limited.retryable and limited.retry_after == 2.0
    corrupt = DatabaseCorrupt("/data/x.sqlite3", "not an SQLite file")
    assert corrupt.path == "/data/x.sqlite3" and "/data/x.sqlite3" in str(corrupt)
    blocked = PublishBlocked("Round robin", ("Assign To: choose a team",))
    assert "choose a team" in blocked.message and blocked.missing == ("Assign To: choose a team",)


def test_workflow_definitions_round_trip() -> None:
    trigger = Trigger(
        TriggerKind.CONVERSATION_CLOSED,
        (
            Condition(ConditionField.CLOSED_BY_SOURCE, ConditionOperator.IS, ("user", "auto_close")),
            Condition(ConditionField.CATEGORY, ConditionOperator.IS_NOT, ("Spam",)),
        ),
        Join.OR,
    )
    steps = (
        AssignToStep(
            AssignAction.TEAM_USER,
            team_id=3,
            logic=AssignLogic.LEAST_OPEN_CONTACTS,
            only_online=True,
            max_open_contacts=5,
            timeout_seconds=600,
        ),
        AddCommentStep("Unassigned {{assignee.name}}"),
    )
    settings = WorkflowSettings(trigger_once_per_contact=True, verify_before_unassign=False)
    assert definition_from_dict(definition_to_dict(trigger, steps, settings)) == (trigger, steps, settings)


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ([], "must be an object"),
        ({}, "missing the field 'trigger'"),
        ({"trigger": {"kind": "conversation_exploded"}}, "invalid value"),
        ({"trigger": {"kind": "conversation_closed"}, "steps": [{"type": "teleport"}]}, "unknown step type"),
        ({"trigger": {"kind": "conversation_closed"}, "settings": {"verify_before_unassign": "yes"}}, "true or false"),
        ({"trigger": {"kind": "conversation_closed", "conditions": "all"}}, "must be a list"),
    ],
)
def test_bad_definitions_say_what_is_wrong(data: object, words: str) -> None:
    with pytest.raises(WorkflowFileError) as caught:
        definition_from_dict(data)
    assert words in caught.value.message
