"""Webhook signatures and parsing, including fuzzed bodies that must be refused cleanly or parsed."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.conversations import (
    AssigneeChanged,
    ClosedBySource,
    ClosedConversation,
    ConversationOpened,
    OpenedBySource,
)
from app.domain.errors import WebhookRejected
from app.domain.people import UserRef
from app.platform.webhooks import parse_event, sign, verify, verify_and_parse

CONTACT: dict[str, Any] = {
    "id": 1,
    "firstName": "John",
    "lastName": "Doe",
    "phone": "+60123456789",
    "email": "johndoe@sample.com",
    "language": "en",
    "profilePic": "https://example.com/p.png",
    "countryCode": "MY",
    "status": "open",
    "lifecycle": None,
    "tags": [],
    "assignee": {"id": 2, "firstName": "John", "lastName": "Doe", "email": "johndoe@sample.com"},
    "created_at": 1663274081,
}
CLOSED: dict[str, Any] = {
    "event_type": "conversation.closed",
    "event_id": "563eddae-a807-48b8-9a8a-f02dc3bc25cc",
    "contact": CONTACT,
    "conversation": {
        "category": "sampleCategory",
        "summary": "sample summary",
        "openedTime": 1663274081,
        "openedBySource": "user",
        "closedTime": 1663274090,
        "closedBy": {"id": None, "firstName": None, "lastName": None, "email": None},
        "closedBySource": "api",
        "firstResponseTime": 1663274081,
        "resolutionTime": 1663274081,
        "incomingMessageCount": 10,
        "outgoingMessageCount": 5,
        "assigneeTeam": "My team",
        "lastAssignmentTime": 1663274081,
    },
}


def body(data: object) -> bytes:
    return json.dumps(data).encode()


def test_the_published_vector() -> None:
    vector = b'{"event":"message","data":"test"}'
    assert sign("secret", vector) == "UtAE5LaeNjrL33PUEQfh69YKw7UhrrkOL9tQN0+xIrI="
    assert sign(b"secret", vector) == "UtAE5LaeNjrL33PUEQfh69YKw7UhrrkOL9tQN0+xIrI="
    assert verify("secret", vector, "UtAE5LaeNjrL33PUEQfh69YKw7UhrrkOL9tQN0+xIrI=")
    assert verify("secret", vector, " UtAE5LaeNjrL33PUEQfh69YKw7UhrrkOL9tQN0+xIrI=\n")


def test_bad_missing_and_keyless_signatures_fail() -> None:
    raw = body(CLOSED)
    good = sign("k", raw)
    assert verify("k", raw, good)
    assert not verify("k", raw + b" ", good)
    assert not verify("other", raw, good)
    assert not verify("k", raw, None)
    assert not verify("k", raw, "")
    assert not verify("k", raw, "ünïcode")
    assert not verify("", raw, sign("", raw))
    for header in (None, "nope", sign("other", raw)):
        with pytest.raises(WebhookRejected) as caught:
            verify_and_parse("k", raw, header)
        assert caught.value.status == 401
    assert isinstance(verify_and_parse("k", raw, good), ClosedConversation)


def test_conversation_closed() -> None:
    event = parse_event(body(CLOSED))
    assert isinstance(event, ClosedConversation)
    assert event.event_id == CLOSED["event_id"]
    assert event.closed_time == 1663274090
    assert event.closed_by_source is ClosedBySource.API
    assert event.closed_by is None
    assert event.assignee_at_close == UserRef(2, "John", "Doe", "johndoe@sample.com")
    assert (event.category, event.summary, event.assignee_team) == ("sampleCategory", "sample summary", "My team")
    assert (event.opened_time, event.opened_by_source) == (1663274081, OpenedBySource.USER)
    assert event.id is None


@pytest.mark.parametrize("closed_by", [{}, None, {"id": None}])
def test_closed_by_nobody(closed_by: object) -> None:
    data = copy.deepcopy(CLOSED)
    data["conversation"]["closedBy"] = closed_by
    event = parse_event(body(data))
    assert isinstance(event, ClosedConversation) and event.closed_by is None


def test_closed_by_a_user_with_an_unknown_source() -> None:
    data = copy.deepcopy(CLOSED)
    data["conversation"].update(closedBy={"id": 9, "firstName": "Maya"}, closedBySource="teleport", category="")
    event = parse_event(body(data))
    assert isinstance(event, ClosedConversation)
    assert event.closed_by == UserRef(9, "Maya")
    assert event.closed_by_source is ClosedBySource.UNKNOWN
    assert event.category is None


def test_conversation_opened_and_its_fallback_time() -> None:
    opened = {"event_type": "conversation.opened", "event_id": "e-1", "contact": CONTACT}
    event = parse_event(body({**opened, "conversation": {"openedTime": 1700000000, "openedBySource": "contact"}}))
    assert isinstance(event, ConversationOpened)
    assert (event.opened_time, event.opened_by_source) == (1700000000, OpenedBySource.CONTACT)
    event = parse_event(body(opened), received_at=1800000000)
    assert isinstance(event, ConversationOpened)
    assert (event.opened_time, event.opened_by_source) == (1800000000, OpenedBySource.UNKNOWN)


def test_assignee_updated() -> None:
    unassigned = {**CONTACT, "assignee": None}
    event = parse_event(
        body({"event_type": "contact.assignee.updated", "event_id": "e-2", "contact": unassigned}), received_at=5
    )
    assert isinstance(event, AssigneeChanged)
    assert (event.contact.assignee, event.at) == (None, 5)


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"not json",
        b"[1, 2]",
        b'"text"',
        b"\xff\xfe\x00",
        b"[" * 100_000,
        body({"event_id": "x", "contact": CONTACT}),
        body({"event_type": "message.received", "event_id": "x", "contact": CONTACT}),
        body({"event_type": "conversation.closed", "event_id": "", "contact": CONTACT, "conversation": {}}),
        body({"event_type": "conversation.closed", "event_id": 7, "contact": CONTACT}),
        body({**CLOSED, "conversation": None}),
        body({**CLOSED, "conversation": {**CLOSED["conversation"], "closedTime": "yesterday"}}),
        body({**CLOSED, "conversation": {**CLOSED["conversation"], "closedBy": "someone"}}),
        body({**CLOSED, "contact": {**CONTACT, "id": None}}),
        body({**CLOSED, "contact": []}),
        b'{"event_type":"conversation.closed","event_id":"x","contact":{"id":NaN}}',
        b'{"event_type":"conversation.closed","event_id":"x","contact":{"id":1e400}}',
    ],
)
def test_malformed_bodies_are_refused_with_400(raw: bytes) -> None:
    with pytest.raises(WebhookRejected) as caught:
        parse_event(raw)
    assert caught.value.status == 400


def _parse_or_reject(raw: bytes) -> None:
    try:
        event = parse_event(raw, received_at=0)
    except WebhookRejected as exc:
        assert exc.status == 400
    else:
        assert isinstance(event, ClosedConversation | ConversationOpened | AssigneeChanged)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=300))
def test_fuzz_random_bytes(raw: bytes) -> None:
    _parse_or_reject(raw)


@settings(max_examples=100, deadline=None)
@given(json_values)
def test_fuzz_random_json(value: object) -> None:
    _parse_or_reject(json.dumps(value).encode())


def _paths(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(data, dict):
        for key, value in data.items():
            found += _paths(value, (*prefix, key))
    return found


TEMPLATES = [
    CLOSED,
    {"event_type": "conversation.opened", "event_id": "e", "contact": CONTACT, "conversation": {"openedTime": 1}},
    {"event_type": "contact.assignee.updated", "event_id": "e", "contact": CONTACT},
]


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(TEMPLATES), st.data(), json_values, st.booleans())
def test_fuzz_mutated_valid_payloads(template: dict[str, Any], data: st.DataObject, value: object, drop: bool) -> None:
    mutated = copy.deepcopy(template)
    path = data.draw(st.sampled_from(_paths(mutated)))
    parent = mutated
    for key in path[:-1]:
        parent = parent[key]
    if drop:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    _parse_or_reject(json.dumps(mutated).encode())
