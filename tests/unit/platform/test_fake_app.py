"""The fake's HTTP surface, in process through httpx.ASGITransport: the checklist of platform-api.md."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from app.domain.conversations import ClosedBySource, ClosedConversation, ConversationOpened
from app.domain.errors import Offline
from app.domain.secret import Secret
from app.platform.client import PlatformClient
from app.platform.fake import IN_PROCESS_URL, FakePlatform, create_fake_platform
from app.platform.webhooks import parse_event
from tests.helpers import wait_until

AUTH = {"Authorization": "Bearer demo-token"}


@pytest.fixture
async def fake() -> AsyncIterator[FakePlatform]:
    platform = create_fake_platform(seed=5, contacts=40, rate_limit=0)
    await platform.start()
    yield platform
    await platform.stop()


@pytest.fixture
async def http(fake: FakePlatform) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=fake.transport(), base_url="http://fake.test") as client:
        yield client


def _ratelimit_headers(response: httpx.Response) -> tuple[str, str]:
    return response.headers["x-ratelimit-limit"], response.headers["x-ratelimit-remaining"]


async def test_the_token_is_required(http: httpx.AsyncClient) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "demo-token"}):
        response = await http.get("/v2/contact/id:1", headers=headers)
        assert response.status_code == 401
        assert response.json() == {"code": 401, "message": "UN_AUTHORIZED"}
        assert response.headers["content-type"] == "application/json"
        assert all(_ratelimit_headers(response))


async def test_every_error_is_json_even_unknown_routes(http: httpx.AsyncClient) -> None:
    for method, path in (("GET", "/v2/conversations"), ("PATCH", "/v2/contact/id:1"), ("GET", "/elsewhere")):
        response = await http.request(method, path, headers=AUTH)
        assert response.status_code in (404, 405)
        assert response.json()["code"] == response.status_code
        assert response.headers["content-type"] == "application/json"
    unknown = await http.get("/v2/conversations", headers=AUTH)
    assert unknown.json() == {"code": 404, "message": "Not Found"} and all(_ratelimit_headers(unknown))


async def test_identifiers_raw_and_percent_encoded(fake: FakePlatform, http: httpx.AsyncClient) -> None:
    contact = next(c for c in fake.state.contacts.values() if c.email)
    assert contact.phone is not None
    expected = (await http.get(f"/v2/contact/id:{contact.id}", headers=AUTH)).json()
    forms = [
        f"phone:{contact.phone}",
        f"phone%3A%2B{contact.phone[1:]}",
        f"email:{contact.email}",
        f"email%3A{contact.email.replace('@', '%40')}",
    ]
    for form in forms:
        response = await http.get(f"/v2/contact/{form}", headers=AUTH)
        assert response.status_code == 200, form
        assert response.json() == expected
    assert expected["assignee"] is None or set(expected["assignee"]) == {"id", "firstName", "lastName", "email"}
    assert isinstance(expected["created_at"], int) and expected["status"] in ("open", "closed")
    for bad in ("42", "id:x", "email:nobody", "uuid:1"):
        response = await http.get(f"/v2/contact/{bad}", headers=AUTH)
        assert (response.status_code, response.json()) == (400, {"code": 400, "message": "Validation error."})
    missing = await http.get("/v2/contact/email:nobody@example.com", headers=AUTH)
    assert (missing.status_code, missing.json()) == (404, {"code": 404, "message": "Contact not found"})


async def test_contact_list_body_and_bare_links(http: httpx.AsyncClient) -> None:
    for body in (
        {"search": "", "filter": {"$and": []}},
        {"search": "", "timezone": "UTC"},
        [],
        {"timezone": "UTC", "filter": {"$xor": []}},
    ):
        response = await http.post("/v2/contact/list", headers=AUTH, json=body)
        assert response.status_code == 400
    body = {"search": "", "timezone": "Asia/Kuala_Lumpur", "filter": {"$or": []}}
    first = (await http.post("/v2/contact/list?limit=15", headers=AUTH, json=body)).json()
    assert [item["id"] for item in first["items"]] == list(range(1, 16))
    # The default form is the one in respond.io's own SDK test: absolute, without the version segment.
    assert first["pagination"] == {"next": "http://fake.test/contact/list?limit=15&cursorId=15", "previous": ""}
    second = (await http.post("/v2/contact/list?limit=15&cursorId=15", headers=AUTH, json=body)).json()
    assert second["items"][0]["id"] == 16
    assert second["pagination"]["previous"] == "http://fake.test/contact/list?limit=15&cursorId=-16"
    back = (await http.post("/v2/contact/list?limit=15&cursorId=-16", headers=AUTH, json=body)).json()
    assert [item["id"] for item in back["items"]] == list(range(1, 16))
    last = (await http.post("/v2/contact/list?limit=100&cursorId=30", headers=AUTH, json=body)).json()
    assert [item["id"] for item in last["items"]] == list(range(31, 41))
    assert last["pagination"]["next"] == ""
    assert (await http.post("/v2/contact/list?limit=101", headers=AUTH, json=body)).status_code == 400


async def test_tags_take_a_bare_array(fake: FakePlatform, http: httpx.AsyncClient) -> None:
    assert (await http.post("/v2/contact/id:2/tag", headers=AUTH, json=["gold"])).json() == {"contactId": 2}
    assert "gold" in fake.state.contacts[2].tags
    delete = await http.request("DELETE", "/v2/contact/id:2/tag", headers=AUTH, json=["gold"])
    assert delete.status_code == 200 and "gold" not in fake.state.contacts[2].tags
    for bad in ({"tags": ["x"]}, [], [f"t{i}" for i in range(11)], ["x" * 256], [1]):
        assert (await http.post("/v2/contact/id:2/tag", headers=AUTH, json=bad)).status_code == 400


async def test_assignment_and_status_changes_announce_events(fake: FakePlatform, http: httpx.AsyncClient) -> None:
    events = fake.subscribe()
    user = fake.state.users[3]
    assert (
        await http.post("/v2/contact/id:5/conversation/assignee", headers=AUTH, json={"assignee": user.email})
    ).json() == {"contactId": 5}
    assert fake.state.contacts[5].assignee_id == 3
    for body in ({}, {"assignee": 999}, {"assignee": [1]}):
        response = await http.post("/v2/contact/id:5/conversation/assignee", headers=AUTH, json=body)
        assert response.status_code in (400, 404)
    await http.post("/v2/contact/id:5/conversation/status", headers=AUTH, json={"status": "open"})
    closing = {"status": "close", "category": "resolved", "summary": "done"}
    assert (await http.post("/v2/contact/id:5/conversation/status", headers=AUTH, json=closing)).status_code == 200
    assert fake.state.contacts[5].status == "closed"
    for body in (
        {"status": "closed"},
        {"status": "close", "category": "x" * 129},
        {"status": "close", "category": "Nope"},
    ):
        response = await http.post("/v2/contact/id:5/conversation/status", headers=AUTH, json=body)
        assert response.status_code == 400
    parsed = [parse_event(events.get_nowait() or b"") for _ in range(len(events))]
    assert parsed[0].contact.assignee is not None and parsed[0].contact.assignee.id == 3
    close = parsed[-1]
    assert isinstance(close, ClosedConversation)
    assert (close.closed_by_source, close.closed_by, close.category, close.summary) == (
        ClosedBySource.API,
        None,
        "Resolved",
        "done",
    )
    assert close.assignee_at_close is not None and close.assignee_at_close.id == 3


async def test_messages_comments_and_contact_creation(fake: FakePlatform, http: httpx.AsyncClient) -> None:
    sent = await http.post("/v2/contact/id:3/message", headers=AUTH, json={"message": {"type": "text", "text": "Hi"}})
    message_id = sent.json()["messageId"]
    fetched = (await http.get(f"/v2/contact/id:3/message/{message_id}", headers=AUTH)).json()
    assert (fetched["traffic"], fetched["message"]["text"], fetched["sender"]["source"]) == ("outgoing", "Hi", "api")
    listed = (await http.get("/v2/contact/id:3/message/list?limit=50", headers=AUTH)).json()
    assert listed["items"][-1]["messageId"] == message_id
    assert (await http.get("/v2/contact/id:3/message/1", headers=AUTH)).status_code == 404
    comment = (await http.post("/v2/contact/id:3/comment", headers=AUTH, json={"text": "note"})).json()
    assert (comment["contactId"], comment["text"]) == (3, "note") and isinstance(comment["created_at"], int)
    created = await http.post("/v2/contact/email:new.person@example.com", headers=AUTH, json={"firstName": "New"})
    assert created.json() == {"code": 200, "message": "Contact added successfully"}
    again = await http.post("/v2/contact/email:new.person@example.com", headers=AUTH, json={"firstName": "New"})
    assert again.status_code == 409
    assert (await http.get("/v2/contact/email:new.person@example.com", headers=AUTH)).json()["firstName"] == "New"


async def test_the_rate_limit_is_per_endpoint_with_retry_after(http: httpx.AsyncClient) -> None:
    assert (await http.post("/_fake/rate_limit", json={"per_second": 2})).status_code == 200
    responses = [await http.get("/v2/contact/id:1", headers=AUTH) for _ in range(3)]
    assert [r.status_code for r in responses] == [200, 200, 429]
    assert [_ratelimit_headers(r) for r in responses] == [("2", "1"), ("2", "0"), ("2", "0")]
    assert responses[2].json() == {"code": 429, "message": "Too Many Requests"}
    assert int(responses[2].headers["retry-after"]) >= 1
    other = await http.get("/v2/contact/id:2/channels", headers=AUTH)  # another template, another budget
    assert other.status_code == 200
    await http.post("/_fake/rate_limit", json={"per_second": 0})
    assert [(await http.get("/v2/contact/id:1", headers=AUTH)).status_code for _ in range(20)] == [200] * 20


async def test_fake_control_surface(fake: FakePlatform, http: httpx.AsyncClient) -> None:
    events = fake.subscribe()
    contact = next(c for c in fake.state.contacts.values() if c.status == "open" and c.assignee_id)
    assignee_id = contact.assignee_id
    closed = (
        await http.post(f"/_fake/contacts/{contact.id}/close", json={"category": "Spam", "summary": "bot"})
    ).json()
    assert closed["closed"] is True and closed["contact"]["status"] == "closed"
    opened = (await http.post(f"/_fake/contacts/{contact.id}/open", json={"source": "contact"})).json()
    assert opened["opened"] is True
    await http.post(f"/_fake/contacts/{contact.id}/close", json={"source": "auto_close"})
    assigned = (await http.post(f"/_fake/contacts/{contact.id}/assign", json={"user_id": None})).json()
    assert assigned["contact"]["assignee"] is None
    parsed = [parse_event(events.get_nowait() or b"") for _ in range(len(events))]
    first_close, reopen, auto_close = parsed[0], parsed[1], parsed[2]
    assert isinstance(first_close, ClosedConversation) and first_close.closed_by_source is ClosedBySource.USER
    assert first_close.closed_by is not None and first_close.closed_by.id == assignee_id
    assert isinstance(reopen, ConversationOpened)
    assert isinstance(auto_close, ClosedConversation) and auto_close.closed_by is None
    assert auto_close.closed_by_source is ClosedBySource.AUTO_CLOSE
    for path, body in (("/_fake/contacts/9999/close", {}), ("/_fake/contacts/1/close", {"source": "magic"})):
        assert (await http.post(path, json=body)).status_code in (400, 404)
    assert (await http.post("/_fake/users/2/presence", json={"online": False})).status_code == 404
    state = (await http.get("/_fake/state")).json()
    assert state["counters"]["closes"] == 2 and len(state["contacts"]) == 40


async def test_faults_only_touch_v2_and_the_log_pages(fake: FakePlatform, http: httpx.AsyncClient) -> None:
    assert (await http.post("/_fake/faults", json={"spec": "teapot=1"})).status_code == 400
    assert (await http.post("/_fake/faults", json={"script": ["503", "garbage"]})).status_code == 200
    assert (await http.get("/_fake/faults")).json()["script"] == ["503", "garbage"]
    assert (await http.get("/_fake/state")).status_code == 200  # not faulted
    assert (await http.get("/v2/space/user", headers=AUTH)).status_code == 503
    garbage = await http.get("/v2/space/user", headers=AUTH)
    assert garbage.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        garbage.json()
    await http.get("/v2/space/user/2", headers=AUTH)
    log = (await http.get("/_fake/log")).json()
    assert [(item["status"], item["fault"]) for item in log["items"]] == [(503, "503"), (200, "garbage"), (200, None)]
    later = (await http.get(f"/_fake/log?since={log['next'] - 1}")).json()
    assert [item["path"] for item in later["items"]] == ["/v2/space/user/2"]


async def test_the_simulator_sustains_200_closes_a_second(fake: FakePlatform, http: httpx.AsyncClient) -> None:
    events = fake.subscribe()
    loop_time = asyncio.get_running_loop().time
    started = loop_time()
    response = await http.post("/_fake/simulator", json={"closes_per_minute": 18_000})
    assert response.json()["running"] is True
    await wait_until(lambda: fake.state.counters["closes"] >= 300, timeout=5)
    rate = fake.state.counters["closes"] / (loop_time() - started)
    await http.post("/_fake/simulator", json={"closes_per_minute": 0})
    assert not fake.simulator.running
    assert rate >= 200
    bodies: list[Any] = [json.loads(events.get_nowait() or b"{}") for _ in range(min(len(events), 500))]
    assert {body["event_type"] for body in bodies} == {
        "conversation.opened",
        "conversation.closed",
        "contact.assignee.updated",
    }


async def test_faults_in_process_reach_the_client_as_on_a_socket(fake: FakePlatform) -> None:
    async with PlatformClient(
        IN_PROCESS_URL, Secret("demo-token"), rate_limit=0, timeout=0.3, backoff_base=0.01, transport=fake.transport()
    ) as client:
        fake.faults.script(["reset", "timeout", "garbage"], append=False)
        await client.unassign(1)
        fake.faults.script(["reset"] * 4)
        with pytest.raises(Offline):
            await client.unassign(1)
    entries = [entry for _, entry in fake.log.since(0)[0]]
    assert [(entry.fault, entry.status) for entry in entries[:4]] == [
        ("reset", 200),
        ("timeout", 499),
        ("garbage", 200),
        (None, 200),
    ]


async def test_subscriptions_deliver_in_order_and_drop_the_oldest_when_full(fake: FakePlatform) -> None:
    waiting = fake.subscribe()
    small = fake.subscribe(maxsize=2)
    for contact_id in (1, 2, 3):
        fake.state.assign(fake.state.contacts[contact_id], None)
    assert parse_event(await asyncio.wait_for(waiting.get(), 5)).contact.id == 1
    async for body in waiting:
        assert parse_event(body).contact.id == 2
        break
    assert small.dropped == 1 and [parse_event(small.get_nowait() or b"").contact.id for _ in range(2)] == [2, 3]
    small.close()
    fake.state.assign(fake.state.contacts[4], None)
    assert len(small) == 0 and len(waiting) == 2
