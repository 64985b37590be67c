"""The client against the fake in its real-shape default, over loopback: where respond.io differs from a mirror.

- `pagination.next` comes without `/v2` (the default), with it, or relative; the client reads only `cursorId`;
- respond.io's own n8n node, which builds `new URL(next)` and reads `cursorId`, pages through the fake too;
- users carry the SpaceUser fields and no presence;
- `conversation.opened` carries `source` and `conversationOpenedAt`;
- the assignee filter's operators, exactly, and a 400 for one the platform refuses;
- a 404 for an unknown user says so.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from app.domain.conversations import ConversationOpened, OpenedBySource
from app.domain.errors import NotFound, ValidationFailed
from app.platform.client import assigned_filter, assignee_filter
from app.platform.webhooks import parse_event
from tests.platform.conftest import TOKEN, Served

ServeFactory = Callable[..., Served]
SPACE_USER_FIELDS = {"id", "firstName", "lastName", "email", "role", "team", "restrictions"}
OPENED_FIELDS = {"source", "conversationOpenedAt", "firstIncomingMessage", "firstIncomingMessageChannelId"}


@pytest.mark.parametrize("form", ["bare", "v2", "relative"])
async def test_every_next_form_pages_through_every_contact_on_our_own_base_url(serve: ServeFactory, form: str) -> None:
    served = serve(contacts=45, next_form=form)
    async with served.client() as client:
        contacts = [contact.id async for contact in client.list_contacts(limit=10)]
    assert contacts == list(range(1, 46))
    log = served.log()
    assert [entry["path"] for entry in log] == ["/v2/contact/list"] * 5
    assert [parse_qs(entry["query"]).get("cursorId") for entry in log] == [None, ["10"], ["20"], ["30"], ["40"]]
    assert all(parse_qs(entry["query"])["limit"] == ["10"] for entry in log)


async def test_the_default_next_is_the_form_of_respond_ios_own_example(served: Served) -> None:
    first = _post(served, "/contact/list?limit=10", {"search": "", "timezone": "UTC", "filter": {"$and": []}})
    following = first["pagination"]["next"]
    assert following == served.root + "/contact/list?limit=10&cursorId=10"  # absolute, no version segment


async def test_a_null_end_of_list_ends_the_list(serve: ServeFactory) -> None:
    served = serve(contacts=25, null_next=True)
    async with served.client() as client:
        assert len([c async for c in client.list_contacts(limit=10)]) == 25
    assert len(served.log()) == 3


@pytest.mark.parametrize("form", ["bare", "v2"])
def test_respond_ios_n8n_pagination_pages_through_the_fake(serve: ServeFactory, form: str) -> None:
    """As the n8n node's `paginateCallDeveloperApi` does: its own `/v2` URL plus `limit`, and only `cursorId`."""
    served = serve(contacts=57, next_form=form)
    body = {"search": "", "timezone": "utc", "filter": {"$or": []}}
    seen: list[int] = []
    cursor: str | None = None
    while True:
        path = "/contact/list?limit=20" + (f"&cursorId={cursor}" if cursor else "")
        page = _post(served, path, body)
        seen.extend(item["id"] for item in page["items"])
        following = page.get("pagination", {}).get("next")
        if not following:
            break
        cursor = _js_url_search_param(following, "cursorId")
    assert seen == list(range(1, 58))


def test_users_carry_the_space_user_fields_and_no_presence(served: Served) -> None:
    users = _get(served, "/space/user?limit=100")["items"]
    assert users and all(set(user) == SPACE_USER_FIELDS for user in users)
    assert set(_get(served, "/space/user/2")) == SPACE_USER_FIELDS
    state_users = served.control("GET", "/state")["users"]
    assert all("online" not in user for user in state_users)


def test_conversation_opened_carries_source_and_opened_at(served: Served) -> None:
    bodies: list[bytes] = []
    served.platform.add_listener(bodies.append)
    closed = next(c["id"] for c in served.control("GET", "/state")["contacts"] if c["status"] == "closed")
    served.control("POST", f"/contacts/{closed}/open", json={"source": "api", "message": "Where is my order?"})
    (body,) = [b for b in bodies if json.loads(b)["event_type"] == "conversation.opened"]
    conversation = json.loads(body)["conversation"]
    assert set(conversation) == OPENED_FIELDS
    assert conversation["firstIncomingMessage"] == "Where is my order?"
    assert isinstance(conversation["firstIncomingMessageChannelId"], int)
    event = parse_event(body, received_at=1)
    assert isinstance(event, ConversationOpened)
    assert event.opened_by_source is OpenedBySource.API
    assert event.opened_time == conversation["conversationOpenedAt"] > 1


async def test_the_assignee_filter_operators_match_exactly(served: Served) -> None:
    state = served.platform.state
    assigned = sorted(c.id for c in state.contacts.values() if c.assignee_id is not None)
    unassigned = sorted(c.id for c in state.contacts.values() if c.assignee_id is None)
    some_user = state.contacts[assigned[0]].assignee_id
    assert some_user is not None
    async with served.client() as client:

        async def ids(condition: dict[str, Any]) -> list[int]:
            return [c.id async for c in client.list_contacts(filter={"$and": [condition]})]

        field = {"category": "contactField", "field": "assigneeUserId"}
        assert await ids({**field, "operator": "exists", "value": None}) == assigned
        assert await ids({**field, "operator": "isNotEqualTo", "value": None}) == assigned
        assert await ids({**field, "operator": "doesNotExist", "value": None}) == unassigned
        assert await ids({**field, "operator": "isEqualTo", "value": None}) == unassigned
        mine = sorted(c.id for c in state.contacts.values() if c.assignee_id == some_user)
        assert [c.id async for c in client.list_contacts(filter=assignee_filter(some_user))] == mine
        assert [c.id async for c in client.list_contacts(filter=assigned_filter("exists"))] == assigned
        for refused in ({**field, "operator": "isGreaterThan", "value": "3"}, {**field, "operator": "isAnyOf"}):
            with pytest.raises(ValidationFailed) as caught:
                await ids(refused)
            assert caught.value.status == 400


async def test_a_platform_that_refuses_an_operator_answers_400(serve: ServeFactory) -> None:
    served = serve(refused_operators=("exists",))
    async with served.client() as client:
        with pytest.raises(ValidationFailed):
            [c async for c in client.list_contacts(filter=assigned_filter("exists"))]
        assert [c async for c in client.list_contacts(filter=assigned_filter("isNotEqualTo"))]


async def test_assigning_an_unknown_user_says_the_user_is_not_found(served: Served) -> None:
    async with served.client() as client:
        with pytest.raises(NotFound) as caught:
            await client.assign(1, 4242)
        assert caught.value.subject == "user"
        assert "User not found" in caught.value.message
        with pytest.raises(NotFound) as contact_missing:
            await client.assign(99_999, 2)
        assert contact_missing.value.subject == "contact"


def _js_url_search_param(url: str, name: str) -> str | None:
    """`new URL(url).searchParams.get(name)`: it throws on a URL without a scheme and host, so check that too."""
    parts = urlsplit(url)
    assert parts.scheme and parts.netloc, f"new URL({url!r}) would throw in the n8n node"
    values = parse_qs(parts.query).get(name)
    return values[0] if values else None


def _post(served: Served, path: str, body: object) -> Any:
    response = httpx.post(served.url + path, json=body, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    response.raise_for_status()
    return response.json()


def _get(served: Served, path: str) -> Any:
    response = httpx.get(served.url + path, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    response.raise_for_status()
    return response.json()
