"""The fake's HTTP surface: respond.io's `/v2` API as far as Closeout uses it, and the test-only `/_fake/`.

Every `/v2` request goes through one wrapper that does, in order: log, Bearer check (401), injected fault,
the endpoint's rate limit (429 with `Retry-After`), then the handler. Every answer, errors included, is JSON,
and every `/v2` answer carries `X-RateLimit-Limit` and `X-RateLimit-Remaining`.

Injected faults never reach the handler, so nothing changes in the workspace: "timeout" holds the request
until the client leaves (or `stall_seconds` pass, then answers 503), "reset" starts a 200 and drops the
connection, "garbage" answers 200 with truncated JSON, and a status fault answers that status (a 429 with
`Retry-After`).

`/_fake/` needs no token: it is a test and demo control surface, meant for loopback only, and never faulted
or rate limited. Its routes (JSON bodies, all fields optional unless said):
- `GET /log?since=N&limit=M`: `/v2` requests from index N: `{items, next, total}`;
- `GET /faults`, `POST /faults`: `{spec, probabilities, script, append, clear, stall_seconds, retry_after}`;
- `POST /contacts/{id}/close`: `{source="user", user_id (default: the assignee when source is user),
  category, summary}`; `POST /contacts/{id}/open`: `{source="contact", message}` (the first incoming message);
  `POST /contacts/{id}/assign`: `{user_id}` (required; null unassigns); each announces its event;
- `POST /simulator`: `{closes_per_minute}` (0 stops it); `POST /rate_limit`: `{limit, window}` (requests
  per window seconds; 0 = unlimited; `{per_second}` alone sets a one-second window); `GET /state`: users,
  contacts and counters.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.types import Receive, Scope, Send

from app.platform.fake.faults import FAULT_KINDS, FaultPlan
from app.platform.fake.ratelimit import RateLimiter, Verdict
from app.platform.fake.requestlog import Entry, RequestLog
from app.platform.fake.simulator import Simulator
from app.platform.fake.state import FakeContact, JsonDict, Workspace


class Served(Protocol):
    """What the app serves: a fake workspace and its controls (`FakePlatform` is the one there is).

    Named here as a protocol, so this module needs nothing from the module that builds the app.
    """

    expected_authorization: str
    null_next: bool
    next_form: str
    refused_operators: frozenset[str]
    state: Workspace
    faults: FaultPlan
    limiter: RateLimiter
    log: RequestLog
    simulator: Simulator

    def snapshot(self) -> dict[str, Any]:
        """The workspace plus the fake's own counters."""
        ...


Handler = Callable[[Request, "Call"], Awaitable[Response]]

_ID = re.compile(r"id:(\d{1,18})")
_EMAIL = re.compile(r"email:([^@\s]+@[^@\s]+\.[^@\s]+)")
_PHONE = re.compile(r"phone:(\+?\d{3,20})")
_CLOSE_SOURCES = ("user", "workflow", "api", "zapier", "bot", "make", "n8n", "ai_agent", "auto_close")
_MESSAGES = {
    400: "Validation error.",
    401: "UN_AUTHORIZED",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    429: "Too Many Requests",
    449: (
        "Your request cannot be processed at the moment as it is currently in queue. Please try again in a few minutes."
    ),
    500: "Unexpected error occurred",
    502: "Bad Gateway",
    503: "Service Unavailable",
}
_GARBAGE = b'{"items":[{"id":1,"firstName":"Trunc'
CLIENT_GONE = 499
"""The status logged for a request whose client went away before an answer (nginx's convention)."""


def dumps(data: object) -> bytes:
    """Compact JSON, as the platform sends it."""
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()


class ApiError(Exception):
    """An error answer `{code, message}`."""

    def __init__(self, status: int, message: str | None = None) -> None:
        """`message` defaults to the platform's usual words for the status."""
        super().__init__(status)
        self.status = status
        self.message = message or _MESSAGES.get(status, "Error")


def json_response(status: int, data: object, headers: dict[str, str] | None = None) -> Response:
    """A JSON answer."""
    return Response(dumps(data), status_code=status, headers=headers, media_type="application/json")


def error_response(status: int, message: str | None = None, headers: dict[str, str] | None = None) -> Response:
    """The platform's error shape."""
    return json_response(status, {"code": status, "message": message or _MESSAGES.get(status, "Error")}, headers)


class Call:
    """What a handler needs besides the request: the platform and the parsed body."""

    __slots__ = ("body", "platform")

    def __init__(self, platform: Served, body: bytes) -> None:
        self.platform = platform
        self.body = body

    def json(self) -> Any:
        """The body as JSON; 400 if it is not."""
        if not self.body:
            raise ApiError(400)
        try:
            return json.loads(self.body)
        except (ValueError, RecursionError):
            raise ApiError(400) from None

    def json_object(self) -> dict[str, Any]:
        """The body as a JSON object; 400 otherwise."""
        data = self.json()
        if not isinstance(data, dict):
            raise ApiError(400)
        return data

    def contact(self, request: Request) -> FakeContact:
        """The contact named by the path's identifier: 400 if malformed, 404 if unknown."""
        raw = request.path_params["identifier"].strip()
        match = _ID.fullmatch(raw)
        kind = "id"
        if match is None:
            match = _EMAIL.fullmatch(raw)
            kind = "email"
        if match is None:
            match = _PHONE.fullmatch(raw)
            kind = "phone"
        if match is None:
            raise ApiError(400)
        contact = self.platform.state.find_contact(kind, match.group(1))
        if contact is None:
            raise ApiError(404, "Contact not found")
        return contact


def _headers(verdict: Verdict) -> dict[str, str]:
    return {"X-RateLimit-Limit": str(verdict.limit), "X-RateLimit-Remaining": str(verdict.remaining)}


def _query_int(request: Request, name: str, default: int | None, low: int, high: int) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400) from None
    if not low <= value <= high:
        raise ApiError(400)
    return value


def _link(request: Request, form: str, limit: int, cursor: int) -> str:
    """A page link in the form the fake is set to write (see `options.NEXT_FORMS`)."""
    url = request.url.include_query_params(limit=limit, cursorId=cursor)
    if form == "relative":
        return f"{url.path}?{url.query}"
    if form == "bare":
        return str(url.replace(path=url.path.removeprefix("/v2")))
    return str(url)


def _page(
    request: Request, items: list[JsonDict], ids: list[int], limit: int, cursor: int | None, platform: Served
) -> JsonDict:
    """`{items, pagination}` with next/previous links carrying the same limit, in the configured form."""
    more = len(ids) > limit
    if more:
        ids = ids[:limit]
        items = items[:limit]
    end: str | None = None if platform.null_next else ""
    following: str | None = end
    previous: str | None = end
    if more and ids:
        following = _link(request, platform.next_form, limit, ids[-1])
    if cursor is not None and ids and (cursor > 0 or more):
        previous = _link(request, platform.next_form, limit, -ids[0])
    return {"items": items, "pagination": {"next": following, "previous": previous}}


class _Api:
    """The `/v2` routes, each bound to its method and path template for rate limiting and logging."""

    def __init__(self, platform: Served) -> None:
        self.platform = platform
        self.log: RequestLog = platform.log

    def route(self, method: str, template: str, handler: Handler, path: str | None = None) -> Route:
        key = f"{method} {template}"
        platform = self.platform
        log = self.log

        async def endpoint(request: Request) -> Response:
            started = time.time()
            body = await request.body()
            fault: str | None = None
            status = CLIENT_GONE  # logged if the request is cancelled (a client that timed out, in process)
            try:
                if request.headers.get("authorization") != platform.expected_authorization:
                    response = error_response(401, headers=_headers(platform.limiter.peek(key)))
                elif (fault := platform.faults.next_fault()) is not None:
                    response = await self.fault(request, fault, key)
                else:
                    verdict = platform.limiter.take(key)
                    if not verdict.allowed:
                        headers = _headers(verdict)
                        headers["Retry-After"] = str(verdict.retry_after)
                        response = error_response(429, headers=headers)
                    else:
                        try:
                            response = await handler(request, Call(platform, body))
                        except ApiError as exc:
                            response = error_response(exc.status, exc.message)
                        response.headers.update(_headers(verdict))
                status = response.status_code
                return response
            finally:
                scope = request.scope
                log.append(
                    Entry(
                        started,
                        request.method,
                        scope["path"],
                        scope.get("raw_path", b"").decode("latin-1"),
                        scope.get("query_string", b"").decode("latin-1"),
                        body,
                        status,
                        fault,
                    )
                )

        return Route(path or template, endpoint, methods=[method])

    async def fault(self, request: Request, kind: str, key: str) -> Response:
        platform = self.platform
        headers = _headers(platform.limiter.peek(key))
        if kind == "timeout":
            await _stall(request.receive, platform.faults.stall_seconds)
            return error_response(503, headers=headers)
        if kind == "reset":
            return _DroppedResponse()
        if kind == "garbage":
            return Response(_GARBAGE, 200, headers=headers, media_type="application/json")
        status = int(kind)
        if status == 429:
            headers["Retry-After"] = str(platform.faults.retry_after)
            headers["X-RateLimit-Remaining"] = "0"
        return error_response(status, headers=headers)

    # -- contacts ---------------------------------------------------------------------------------------

    async def get_contact(self, request: Request, call: Call) -> Response:
        contact = call.contact(request)
        return json_response(200, self.platform.state.contact_json(contact))

    async def create_contact(self, request: Request, call: Call) -> Response:
        raw = request.path_params["identifier"].strip()
        if _ID.fullmatch(raw) or not (_EMAIL.fullmatch(raw) or _PHONE.fullmatch(raw)):
            raise ApiError(400)
        body = call.json_object()
        if not isinstance(body.get("firstName"), str) or not body["firstName"].strip():
            raise ApiError(400)
        try:
            call.contact(request)
        except ApiError as exc:
            if exc.status != 404:
                raise
        else:
            raise ApiError(409, "Contact already exists")
        kind, _, value = raw.partition(":")
        fields = dict(body)
        fields.setdefault(kind, value)
        self.platform.state.create_contact(fields)
        return json_response(200, {"code": 200, "message": "Contact added successfully"})

    async def list_contacts(self, request: Request, call: Call) -> Response:
        limit = _query_int(request, "limit", 10, 1, 100)
        cursor = _query_int(request, "cursorId", None, -(2**62), 2**62)
        assert limit is not None
        body = call.json_object()
        search = body.get("search", "")
        if not isinstance(search, str) or not isinstance(body.get("timezone"), str):
            raise ApiError(400)
        keep = _contact_filter(self.platform, body.get("filter"), search.strip().lower())
        state = self.platform.state
        ids = state.page_ids(state.contact_ids, cursor, limit, keep)
        items = [state.contact_json(state.contacts[contact_id]) for contact_id in ids[:limit]]
        return json_response(200, _page(request, items, ids, limit, cursor, self.platform))

    async def add_tags(self, request: Request, call: Call) -> Response:
        contact = call.contact(request)
        self.platform.state.add_tags(contact, _tags(call))
        return json_response(200, {"contactId": contact.id})

    async def remove_tags(self, request: Request, call: Call) -> Response:
        contact = call.contact(request)
        self.platform.state.remove_tags(contact, _tags(call))
        return json_response(200, {"contactId": contact.id})

    async def contact_channels(self, request: Request, call: Call) -> Response:
        contact = call.contact(request)
        limit = _query_int(request, "limit", 10, 1, 100)
        cursor = _query_int(request, "cursorId", None, -(2**62), 2**62)
        assert limit is not None
        state = self.platform.state
        ids = state.page_ids(sorted(contact.channel_ids), cursor, limit, lambda _: True)
        messages = state.messages_of(contact)
        channels = {channel["id"]: channel for channel in state.channels}
        items = []
        for channel_id in ids[:limit]:
            on_channel = [m.timestamp for m in messages if m.channel_id == channel_id]
            incoming = [m.timestamp for m in messages if m.channel_id == channel_id and m.traffic == "incoming"]
            items.append(
                {
                    **channels[channel_id],
                    "contactChannelId": contact.id * 100 + channel_id,
                    "meta": {},
                    "lastMessageTime": max(on_channel, default=None),
                    "lastIncomingMessageTime": max(incoming, default=None),
                }
            )
        return json_response(200, _page(request, items, ids, limit, cursor, self.platform))

    async def comment(self, request: Request, call: Call) -> Response:
        contact = call.contact(request)
        text = call.json_object().get("text")
        if not isinstance(text, str) or not text.strip() or len(text) > 1000:
            raise ApiError(400)
        return json_response(200, self.platform.state.add_comment(contact, text))

    # -- conversations ----------------------------------------------------------------------------------

    async def assignee(self, request: Request, call: Call) -> Response:
        contact = call.contact(request)
        body = call.json_object()
        if "assignee" not in body:
            raise ApiError(400)
        ref = body["assignee"]
        state = self.platform.state
        if ref is None:
            state.assign(contact, None)
        else:
            if isinstance(ref, bool) or not isinstance(ref, int | str):
                raise ApiError(400)
            if isinstance(ref, str) and ref.strip().isdigit():
                ref = int(ref)
            user = state.find_user(ref)
            if user is None:
                raise ApiError(404, "User not found")
            state.assign(contact, user)
        return json_response(200, {"contactId": contact.id})

    async def status(self, request: Request, call: Call) -> Response:
        contact = call.contact(request)
        body = call.json_object()
        status = body.get("status")
        state = self.platform.state
        if status == "open":
            state.open_conversation(contact, "api")
        elif status == "close":
            category = body.get("category") or None
            summary = body.get("summary") or None
            if category is not None:
                if not isinstance(category, str) or len(category) > 128:
                    raise ApiError(400)
                known = {note["category"].lower(): note["category"] for note in state.closing_notes}
                if category.lower() not in known:
                    raise ApiError(400, "Closing note category not found")
                category = known[category.lower()]
            if summary is not None and (not isinstance(summary, str) or len(summary) > 512):
                raise ApiError(400)
            state.close_conversation(contact, "api", None, category, summary)
        else:
            raise ApiError(400)
        return json_response(200, {"contactId": contact.id})

    # -- messages ---------------------------------------------------------------------------------------

    async def send_message(self, request: Request, call: Call) -> Response:
        contact = call.contact(request)
        body = call.json_object()
        message = body.get("message")
        channel_id = body.get("channelId")
        if not isinstance(message, dict) or message.get("type") != "text" or not isinstance(message.get("text"), str):
            raise ApiError(400)
        if channel_id is not None and channel_id not in contact.channel_ids:
            raise ApiError(400, "Channel not found")
        sent = self.platform.state.add_message(contact, "outgoing", message["text"], {"source": "api"})
        return json_response(200, {"messageId": sent.id})

    async def list_messages(self, request: Request, call: Call) -> Response:
        contact = call.contact(request)
        limit = _query_int(request, "limit", 10, 1, 50)
        cursor = _query_int(request, "cursorId", None, -(2**62), 2**62)
        assert limit is not None
        messages = {m.id: m for m in self.platform.state.messages_of(contact)}
        ids = self.platform.state.page_ids(sorted(messages), cursor, limit, lambda _: True)
        items = [messages[message_id].to_json() for message_id in ids[:limit]]
        return json_response(200, _page(request, items, ids, limit, cursor, self.platform))

    async def get_message(self, request: Request, call: Call) -> Response:
        contact = call.contact(request)
        wanted = request.path_params["message_id"]
        for message in self.platform.state.messages_of(contact):
            if message.id == wanted:
                return json_response(200, message.to_json())
        raise ApiError(404, "Message not found")

    # -- space ------------------------------------------------------------------------------------------

    async def list_users(self, request: Request, call: Call) -> Response:
        limit = _query_int(request, "limit", 10, 1, 100)
        cursor = _query_int(request, "cursorId", None, -(2**62), 2**62)
        assert limit is not None
        users = self.platform.state.users
        ids = self.platform.state.page_ids(sorted(users), cursor, limit, lambda _: True)
        items = [users[user_id].to_json() for user_id in ids[:limit]]
        return json_response(200, _page(request, items, ids, limit, cursor, self.platform))

    async def get_user(self, request: Request, call: Call) -> Response:
        user = self.platform.state.users.get(request.path_params["user_id"])
        if user is None:
            raise ApiError(404, "User not found")
        return json_response(200, user.to_json())

    async def closing_notes(self, request: Request, call: Call) -> Response:
        return self._numbered(request, self.platform.state.closing_notes)

    async def channels(self, request: Request, call: Call) -> Response:
        return self._numbered(request, self.platform.state.channels)

    def _numbered(self, request: Request, rows: list[JsonDict]) -> Response:
        """Pages over a list whose cursor is the 1-based position (closing notes have no id)."""
        limit = _query_int(request, "limit", 10, 1, 100)
        cursor = _query_int(request, "cursorId", None, -(2**62), 2**62)
        assert limit is not None
        ids = self.platform.state.page_ids(list(range(1, len(rows) + 1)), cursor, limit, lambda _: True)
        items = [dict(rows[position - 1]) for position in ids[:limit]]
        return json_response(200, _page(request, items, ids, limit, cursor, self.platform))

    def routes(self) -> list[Route]:
        contact = "/contact/{identifier}"
        return [
            self.route("POST", "/contact/list", self.list_contacts),
            self.route("GET", contact, self.get_contact),
            self.route("POST", contact, self.create_contact),
            self.route("POST", contact + "/tag", self.add_tags),
            self.route("DELETE", contact + "/tag", self.remove_tags),
            self.route("GET", contact + "/channels", self.contact_channels),
            self.route("POST", contact + "/comment", self.comment),
            self.route("POST", contact + "/conversation/assignee", self.assignee),
            self.route("POST", contact + "/conversation/status", self.status),
            self.route("POST", contact + "/message", self.send_message),
            self.route("GET", contact + "/message/list", self.list_messages),
            self.route(
                "GET", contact + "/message/{messageId}", self.get_message, contact + "/message/{message_id:int}"
            ),
            self.route("GET", "/space/user", self.list_users),
            self.route("GET", "/space/user/{id}", self.get_user, "/space/user/{user_id:int}"),
            self.route("GET", "/space/closing_notes", self.closing_notes),
            self.route("GET", "/space/channel", self.channels),
        ]


def _tags(call: Call) -> list[str]:
    tags = call.json()
    if not isinstance(tags, list) or not 1 <= len(tags) <= 10:
        raise ApiError(400)
    if not all(isinstance(tag, str) and tag.strip() and len(tag) <= 255 for tag in tags):
        raise ApiError(400)
    return [str(tag) for tag in tags]


def _contact_filter(platform: Served, raw: object, search: str) -> Callable[[int], bool]:
    """A predicate over contact ids for the list body's `filter` and `search`; 400 for what it cannot read."""
    if not isinstance(raw, dict):
        raise ApiError(400)
    joins = [key for key in ("$and", "$or") if key in raw]
    if len(joins) != 1 or not isinstance(raw[joins[0]], list):
        raise ApiError(400)
    conditions = [_condition(item, platform.refused_operators) for item in raw[joins[0]]]
    every = joins[0] == "$and"
    contacts = platform.state.contacts

    def keep(contact_id: int) -> bool:
        contact = contacts[contact_id]
        if search and not _matches_search(contact, search):
            return False
        if not conditions:
            return True
        results = (condition(contact) for condition in conditions)
        return all(results) if every else any(results)

    return keep


def _matches_search(contact: FakeContact, search: str) -> bool:
    haystack = f"{contact.first_name} {contact.last_name}\n{contact.phone or ''}\n{contact.email or ''}".lower()
    return search in haystack


_FIELDS: dict[str, Callable[[FakeContact], object]] = {
    "assigneeUserId": lambda c: c.assignee_id,
    "firstName": lambda c: c.first_name,
    "lastName": lambda c: c.last_name,
    "email": lambda c: c.email,
    "phone": lambda c: c.phone,
    "language": lambda c: c.language,
    "countryCode": lambda c: c.country_code,
    "status": lambda c: c.status,
}


def _same(actual: object, expected: object) -> bool:
    if expected is None:
        return actual is None
    return actual is not None and str(actual).lower() == str(expected).lower()


def _condition(raw: object, refused: frozenset[str]) -> Callable[[FakeContact], bool]:
    """One filter condition as a predicate; 400 for an operator the platform does not know (or is set to refuse).

    `isEqualTo`/`isNotEqualTo` compare as text, case-insensitively, with null meaning "no value";
    `exists`/`doesNotExist` ask whether there is a value at all and take no value.
    """
    if not isinstance(raw, dict):
        raise ApiError(400)
    category, field, operator, value = raw.get("category"), raw.get("field"), raw.get("operator"), raw.get("value")
    if category == "contactField":
        getter = _FIELDS.get(field) if isinstance(field, str) else None
        if getter is None:
            raise ApiError(400)
        if field == "assigneeUserId" and operator in refused:
            raise ApiError(400)
        comparable = not isinstance(value, bool) and isinstance(value, str | int | None)
        if operator in ("isEqualTo", "isNotEqualTo") and not comparable:
            raise ApiError(400)
        if operator in ("exists", "doesNotExist") and value not in (None, ""):
            raise ApiError(400)
        if operator == "isEqualTo":
            return lambda c: _same(getter(c), value)
        if operator == "isNotEqualTo":
            return lambda c: not _same(getter(c), value)
        if operator == "exists":
            return lambda c: getter(c) not in (None, "")
        if operator == "doesNotExist":
            return lambda c: getter(c) in (None, "")
    elif category == "contactTag":
        wanted = [value] if isinstance(value, str) else value
        if not isinstance(wanted, list) or not all(isinstance(tag, str) for tag in wanted):
            raise ApiError(400)
        if operator in ("hasAnyOf", "isEqualTo"):
            return lambda c: any(tag in c.tags for tag in wanted)
        if operator == "hasAllOf":
            return lambda c: all(tag in c.tags for tag in wanted)
        if operator == "hasNoneOf":
            return lambda c: not any(tag in c.tags for tag in wanted)
    elif category == "lifecycle":
        if operator == "isEqualTo":
            return lambda c: _same(c.lifecycle, value)
        if operator == "exists":
            return lambda c: c.lifecycle is not None
        if operator == "doesNotExist":
            return lambda c: c.lifecycle is None
    raise ApiError(400)


async def _stall(receive: Receive, seconds: float) -> None:
    """Hold the request until the client gives up (disconnects) or `seconds` pass."""

    async def disconnected() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(disconnected(), seconds)


class InjectedReset(ConnectionResetError):
    """The "reset" fault, raised once the answer has started.

    uvicorn then drops the connection; `httpx.ASGITransport`, which cannot drop anything, hands the error
    to the client instead, which treats it as the dropped connection it stands for.
    """


class _DroppedResponse(Response):
    """Starts a 200 answer, sends part of it, then fails, so the connection is dropped mid-answer."""

    def __init__(self) -> None:
        super().__init__(b"", 200)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"4096")],
            }
        )
        await send({"type": "http.response.body", "body": b'{"contactId":', "more_body": True})
        raise InjectedReset("the fake platform dropped the connection (injected fault)")


class _Control:
    """The `/_fake/` routes."""

    def __init__(self, platform: Served) -> None:
        self.platform = platform

    async def body(self, request: Request) -> dict[str, Any]:
        raw = await request.body()
        if not raw:
            return {}
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError):
            raise ApiError(400, "The body is not JSON.") from None
        if not isinstance(data, dict):
            raise ApiError(400, "The body is not a JSON object.")
        return data

    async def log(self, request: Request) -> Response:
        since = _query_int(request, "since", 0, 0, 2**62) or 0
        limit = _query_int(request, "limit", 1000, 1, 100_000) or 1000
        entries, following = self.platform.log.since(since, limit)
        items = [RequestLog.entry_json(index, entry) for index, entry in entries]
        return json_response(200, {"items": items, "next": following, "total": self.platform.log.total})

    async def get_faults(self, request: Request) -> Response:
        return json_response(200, {**self.platform.faults.to_json(), "kinds": list(FAULT_KINDS)})

    async def set_faults(self, request: Request) -> Response:
        body = await self.body(request)
        try:
            self.platform.faults.configure(body)
        except ValueError as exc:
            raise ApiError(400, str(exc)) from None
        return json_response(200, self.platform.faults.to_json())

    def _contact(self, request: Request) -> FakeContact:
        contact = self.platform.state.contacts.get(request.path_params["contact_id"])
        if contact is None:
            raise ApiError(404, "Contact not found")
        return contact

    def _user(self, value: object) -> Any:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise ApiError(400, "user_id must be a user id or email")
        user = self.platform.state.find_user(value)
        if user is None:
            raise ApiError(404, "User not found")
        return user

    async def close(self, request: Request) -> Response:
        contact = self._contact(request)
        body = await self.body(request)
        source = body.get("source", "user")
        if source not in _CLOSE_SOURCES:
            raise ApiError(400, f"source must be one of {', '.join(_CLOSE_SOURCES)}")
        category, summary = body.get("category"), body.get("summary")
        if category is not None and not isinstance(category, str):
            raise ApiError(400, "category must be a string")
        if summary is not None and not isinstance(summary, str):
            raise ApiError(400, "summary must be a string")
        state = self.platform.state
        if "user_id" in body:
            user = self._user(body["user_id"])
        else:
            user = state.users.get(contact.assignee_id) if source == "user" and contact.assignee_id else None
        closed = state.close_conversation(contact, source, user, category, summary)
        return json_response(200, {"closed": closed, "contact": state.contact_json(contact)})

    async def open(self, request: Request) -> Response:
        contact = self._contact(request)
        body = await self.body(request)
        source = body.get("source", "contact")
        if not isinstance(source, str) or not source:
            raise ApiError(400, "source must be a string")
        message = body.get("message")
        if message is not None and (not isinstance(message, str) or not message.strip()):
            raise ApiError(400, "message must be the text the contact wrote")
        state = self.platform.state
        opened = state.open_conversation(contact, source, first_message=message)
        return json_response(200, {"opened": opened, "contact": state.contact_json(contact)})

    async def assign(self, request: Request) -> Response:
        contact = self._contact(request)
        body = await self.body(request)
        if "user_id" not in body:
            raise ApiError(400, "user_id is required (null unassigns)")
        state = self.platform.state
        state.assign(contact, self._user(body["user_id"]))
        return json_response(200, {"contact": state.contact_json(contact)})

    async def state(self, request: Request) -> Response:
        return json_response(200, self.platform.snapshot())

    async def simulator(self, request: Request) -> Response:
        rate = (await self.body(request)).get("closes_per_minute")
        if isinstance(rate, bool) or not isinstance(rate, int | float) or rate < 0:
            raise ApiError(400, "closes_per_minute must be a non-negative number")
        simulator = self.platform.simulator
        if rate:
            await simulator.start(float(rate))
        else:
            await simulator.stop()
        return json_response(200, {"running": simulator.running, "closes_per_minute": simulator.closes_per_minute})

    async def rate_limit(self, request: Request) -> Response:
        body = await self.body(request)
        limiter = self.platform.limiter
        rate = body.get("limit", body.get("per_second"))
        window = body.get("window", None if "limit" in body else 1.0)
        if isinstance(rate, bool) or not isinstance(rate, int | float) or rate < 0:
            raise ApiError(400, "limit (or per_second) must be a non-negative number")
        if window is not None and (isinstance(window, bool) or not isinstance(window, int | float) or window <= 0):
            raise ApiError(400, "window must be a number of seconds above 0")
        limiter.set_limit(float(rate), None if window is None else float(window))
        return json_response(200, {"limit": limiter.limit, "window": limiter.window, "per_second": limiter.per_second})

    def routes(self) -> list[Route]:
        def wrap(handler: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
            async def endpoint(request: Request) -> Response:
                try:
                    return await handler(request)
                except ApiError as exc:
                    return error_response(exc.status, exc.message)

            return endpoint

        return [
            Route("/log", wrap(self.log), methods=["GET"]),
            Route("/faults", wrap(self.get_faults), methods=["GET"]),
            Route("/faults", wrap(self.set_faults), methods=["POST"]),
            Route("/contacts/{contact_id:int}/close", wrap(self.close), methods=["POST"]),
            Route("/contacts/{contact_id:int}/open", wrap(self.open), methods=["POST"]),
            Route("/contacts/{contact_id:int}/assign", wrap(self.assign), methods=["POST"]),
            Route("/state", wrap(self.state), methods=["GET"]),
            Route("/simulator", wrap(self.simulator), methods=["POST"]),
            Route("/rate_limit", wrap(self.rate_limit), methods=["POST"]),
        ]


def build_app(platform: Served) -> Starlette:
    """The Starlette app; background work is started by the platform's `start()`, not by a lifespan."""
    api = _Api(platform)

    async def http_error(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 404
        scope = request.scope
        path = scope["path"]
        if not path.startswith("/v2"):
            return error_response(status)
        body = await request.body()
        if request.headers.get("authorization") != platform.expected_authorization:
            status = 401
        api.log.append(
            Entry(
                time.time(),
                request.method,
                path,
                scope.get("raw_path", b"").decode("latin-1"),
                scope.get("query_string", b"").decode("latin-1"),
                body,
                status,
                None,
            )
        )
        return error_response(status, headers=_headers(platform.limiter.peek(None)))

    async def server_error(request: Request, exc: Exception) -> Response:
        return error_response(500, headers=_headers(platform.limiter.peek(None)))

    return Starlette(
        routes=[Mount("/v2", routes=api.routes()), Mount("/_fake", routes=_Control(platform).routes())],
        exception_handlers={HTTPException: http_error, Exception: server_error},
    )
