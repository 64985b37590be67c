"""The client against the fake over real loopback HTTP: every method, pagination, and the error mapping."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from app.domain.conversations import ClosedBySource, ClosedConversation
from app.domain.errors import AuthRejected, NotFound, ValidationFailed
from app.domain.people import AgentRole, ContactStatus
from app.platform.client import PlatformClient, assignee_filter
from app.platform.webhooks import parse_event
from tests.helpers import wait_until
from tests.platform.conftest import Served

ServeFactory = Callable[..., Served]


def _state_contact(served: Served, contact_id: int) -> dict[str, Any]:
    contacts: list[dict[str, Any]] = served.control("GET", "/state")["contacts"]
    return next(contact for contact in contacts if contact["id"] == contact_id)


async def test_get_contact_by_every_identifier_form(served: Served, client: PlatformClient) -> None:
    fake = served.platform.state.contacts[3]
    by_int = await client.get_contact(3)
    assert by_int.id == 3
    assert (by_int.first_name, by_int.last_name, by_int.phone) == (fake.first_name, fake.last_name, fake.phone)
    assert by_int.status is (ContactStatus.OPEN if fake.status == "open" else ContactStatus.CLOSED)
    assert by_int.created_at == fake.created_at
    assert (await client.get_contact("id:3")) == by_int
    assert (await client.get_contact(f"phone:{fake.phone}")) == by_int
    emailed = next(c for c in served.platform.state.contacts.values() if c.email)
    assert (await client.get_contact(f"email:{emailed.email}")).id == emailed.id
    raw_paths = [entry["raw_path"] for entry in served.log()]
    assert f"/v2/contact/phone:{fake.phone}" in raw_paths  # `+` and `:` travel unencoded
    assert f"/v2/contact/email:{emailed.email}" in raw_paths


async def test_unknown_contact_is_not_found_and_not_retried(served: Served, client: PlatformClient) -> None:
    with pytest.raises(NotFound) as caught:
        await client.get_contact(999_999)
    assert caught.value.status == 404
    assert "Contact not found" in caught.value.message
    assert len(served.log()) == 1


@pytest.mark.parametrize(("page", "requests"), [(10, 25), (100, 3)])
async def test_list_contacts_follows_every_page(serve: ServeFactory, page: int, requests: int) -> None:
    served = serve(contacts=250)
    async with served.client() as client:
        ids = [contact.id async for contact in client.list_contacts(limit=page)]
    assert ids == list(range(1, 251))
    log = served.log()
    assert len(log) == requests
    assert log[0]["query"] == f"limit={page}"
    assert log[1]["query"] == f"limit={page}&cursorId={page}"
    assert all(entry["body"] == {"search": "", "timezone": "UTC", "filter": {"$and": []}} for entry in log)


async def test_list_contacts_accepts_null_as_the_end_of_the_list(serve: ServeFactory) -> None:
    served = serve(contacts=25, null_next=True)
    async with served.client() as client:
        ids = [contact.id async for contact in client.list_contacts(limit=10)]
    assert ids == list(range(1, 26))
    assert len(served.log()) == 3


async def test_list_contacts_filters_by_assignee_and_searches(served: Served, client: PlatformClient) -> None:
    contacts = served.platform.state.contacts.values()
    unassigned = sorted(c.id for c in contacts if c.assignee_id is None)
    agent_id = next(c.assignee_id for c in contacts if c.assignee_id is not None)
    theirs = sorted(c.id for c in contacts if c.assignee_id == agent_id)
    assert [c.id async for c in client.list_contacts(filter=assignee_filter(None), limit=7)] == unassigned
    assert [c.id async for c in client.list_contacts(filter=assignee_filter(agent_id))] == theirs
    target = served.platform.state.contacts[5]
    found = [c.id async for c in client.list_contacts(search=target.last_name.upper())]
    assert 5 in found
    assert all(target.last_name.lower() in f"{c.first_name} {c.last_name}".lower() for c in contacts if c.id in found)


async def test_assign_by_id_and_email_then_unassign(served: Served, client: PlatformClient) -> None:
    events = served.platform.subscribe()
    user = served.platform.state.users[4]
    await client.assign(7, 4)
    assert _state_contact(served, 7)["assignee"] == 4
    await client.assign("id:7", user.email)
    await client.unassign(7)
    assert _state_contact(served, 7)["assignee"] is None
    assert [entry["body"] for entry in served.log()[-3:]] == [
        {"assignee": 4},
        {"assignee": user.email},
        {"assignee": None},
    ]
    await wait_until(lambda: len(events) >= 3)
    bodies = [events.get_nowait() for _ in range(3)]
    assignees = [parse_event(body).contact.assignee for body in bodies if body]
    assert [None if ref is None else ref.id for ref in assignees] == [4, 4, None]


async def test_assigning_an_unknown_user_is_not_found(served: Served, client: PlatformClient) -> None:
    with pytest.raises(NotFound):
        await client.assign(7, 12_345)
    with pytest.raises(ValidationFailed):
        await client.assign(7, "not-an-email")
    assert len(served.log()) == 1


async def test_close_through_the_api_announces_an_api_close(served: Served, client: PlatformClient) -> None:
    events = served.platform.subscribe()
    await client.open_conversation(9)
    await client.close_conversation(9, category="Resolved", summary="Sorted by the API")
    assert _state_contact(served, 9)["status"] == "closed"
    assert (await client.get_contact(9)).status is ContactStatus.CLOSED
    received: list[bytes] = []

    def drain() -> bool:
        while (body := events.get_nowait()) is not None:
            received.append(body)
        return any(b'"conversation.closed"' in body for body in received)

    await wait_until(drain)
    closes = [parse_event(body) for body in received if b'"conversation.closed"' in body]
    assert len(closes) == 1
    close = closes[0]
    assert isinstance(close, ClosedConversation)
    assert close.closed_by_source is ClosedBySource.API
    assert close.closed_by is None
    assert (close.category, close.summary) == ("Resolved", "Sorted by the API")
    assert close.contact.id == 9


async def test_open_conversation_reopens(served: Served, client: PlatformClient) -> None:
    await client.close_conversation(11)
    await client.open_conversation(11)
    assert _state_contact(served, 11)["status"] == "open"
    assert served.log()[-1]["body"] == {"status": "open"}


async def test_an_unknown_closing_category_is_a_validation_error(served: Served, client: PlatformClient) -> None:
    with pytest.raises(ValidationFailed) as caught:
        await client.close_conversation(2, category="No such category")
    assert caught.value.status == 400
    assert len(served.log()) == 1


async def test_users_notes_and_channels(served: Served, client: PlatformClient) -> None:
    users = await client.list_users()
    assert [user.id for user in users] == sorted(served.platform.state.users)
    assert users[0].role is AgentRole.OWNER
    fake_user = served.platform.state.users[2]
    agent = await client.get_user(2)
    assert agent.email == fake_user.email
    assert not hasattr(agent, "online")  # the platform has no presence: availability is Closeout's own
    assert agent.team is not None and fake_user.team is not None and agent.team.name == fake_user.team.name
    with pytest.raises(NotFound):
        await client.get_user(4242)
    notes = await client.list_closing_notes()
    assert [note.category for note in notes] == [n["category"] for n in served.platform.state.closing_notes]
    channels = await client.list_channels()
    assert [channel.name for channel in channels] == [c["name"] for c in served.platform.state.channels]
    contact_channels = await client.list_contact_channels(1)
    assert [c.id for c in contact_channels] == sorted(served.platform.state.contacts[1].channel_ids)
    assert contact_channels[0].last_message_time is not None


async def test_comments_and_tags(served: Served, client: PlatformClient) -> None:
    await client.add_comment(4, "Checked by {{@user.2}}")
    await client.add_tags(4, ["vip-plus", "callback"])
    await client.remove_tags("id:4", ["callback"])
    tags = _state_contact(served, 4)["tags"]
    assert "vip-plus" in tags and "callback" not in tags
    log = served.log()
    assert [(entry["method"], entry["body"]) for entry in log] == [
        ("POST", {"text": "Checked by {{@user.2}}"}),
        ("POST", ["vip-plus", "callback"]),
        ("DELETE", ["callback"]),
    ]
    assert served.platform.state.comments[-1]["text"] == "Checked by {{@user.2}}"
    with pytest.raises(ValidationFailed):
        await client.add_tags(4, [f"t{i}" for i in range(11)])
    assert len(served.log()) == 3


async def test_check_connection_and_a_refused_token(served: Served) -> None:
    async with served.client() as client:
        await client.check_connection()
    async with served.client(token="wrong-token") as client:
        with pytest.raises(AuthRejected) as caught:
            await client.check_connection()
        with pytest.raises(AuthRejected):
            await client.unassign(1)
    assert caught.value.status == 401
    log = served.log()
    assert [(entry["path"], entry["query"], entry["status"]) for entry in log] == [
        ("/v2/space/user", "limit=1", 200),
        ("/v2/space/user", "limit=1", 401),
        ("/v2/contact/id:1/conversation/assignee", "", 401),
    ]


async def test_rate_limit_budget_is_exposed_per_endpoint(serve: ServeFactory) -> None:
    served = serve(rate_limit=50)
    async with served.client(rate_limit=50) as client:
        assert client.rate_limit_budget is None
        await client.get_contact(1)
        await client.unassign(1)
        await client.unassign(2)
        budgets = client.rate_limits
    assert budgets["GET /contact/{identifier}"].limit == 50
    assignee = budgets["POST /contact/{identifier}/conversation/assignee"]
    assert assignee.limit == 50
    assert assignee.remaining in (48, 49)  # the bucket refills a little between the two calls
    assert client.rate_limit_budget == assignee
