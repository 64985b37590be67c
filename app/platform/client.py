"""The respond.io Developer API v2 client: paced, retried, and speaking only in domain objects and errors.

Callers never see httpx. Every failure is a domain PlatformError whose words are safe to show and log; the
token lives in one prepared header and nowhere else (not in reprs, log lines or exception text).

Retries follow what the platform is known to mean:
- 429 (rate limited) waits for `Retry-After` on the whole endpoint's pacer, then retries;
- 449 reads "in queue, please try again in a few minutes": it is not retried here but raised as Queued with
  a delay of minutes (jittered), so the caller reschedules that one call and carries on with the rest;
- 5xx back off exponentially with jitter;
- timeouts, dropped connections and bodies that are not JSON are retried like 5xx;
- 400, 401, 403, 404 and 409 are answers, not accidents, and are never retried.
A call that is not idempotent (`add_comment`) is only retried when the platform cannot have acted on it: a
429, or a connection that was never made.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import random
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from types import TracebackType
from typing import Any, Final, TypeVar
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

from app.backoff import Backoff
from app.domain.errors import (
    AuthRejected,
    Conflict,
    NotFound,
    Offline,
    PlatformError,
    PlatformUnavailable,
    Queued,
    RateLimited,
    ValidationFailed,
)
from app.domain.people import Agent, Contact
from app.domain.secret import Secret
from app.domain.workspace import Channel, ClosingNote
from app.platform import mapping
from app.platform.identifiers import ContactRef, path_segment
from app.platform.pacing import Pacer, RateLimitBudget

log = logging.getLogger("closeout.platform")

JsonFilter = Mapping[str, Any]
T = TypeVar("T")

_NO_BODY: Final = object()
_MAX_TAGS = 10
_MAX_TAG_LENGTH = 255
_MAX_CATEGORY = 128
_MAX_SUMMARY = 512
_MAX_COMMENT = 1000
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
QUEUED_MIN_S = 120.0
QUEUED_MAX_S = 240.0


def assignee_filter(user_id: int | None) -> dict[str, Any]:
    """The documented `/contact/list` filter for contacts assigned to `user_id`, or unassigned when None."""
    return {
        "$and": [
            {
                "category": "contactField",
                "field": "assigneeUserId",
                "operator": "isEqualTo",
                "value": None if user_id is None else str(user_id),
            }
        ]
    }


ASSIGNED_FORMS: Final = ("exists", "isNotEqualTo")
"""The documented operators that ask for "has an assignee", in the order the poll tries them."""


def assigned_filter(operator: str) -> dict[str, Any]:
    """The `/contact/list` filter for contacts with any assignee, in one of the ASSIGNED_FORMS."""
    if operator not in ASSIGNED_FORMS:
        raise ValueError(f"{operator!r} is not one of {', '.join(ASSIGNED_FORMS)}")
    condition = {"category": "contactField", "field": "assigneeUserId", "operator": operator, "value": None}
    return {"$and": [condition]}


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a `Retry-After` header: delta-seconds (the documented form) or an HTTP date."""
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        seconds = when.timestamp() - time.time()
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)


class PlatformClient:
    """An async respond.io client on one keep-alive `httpx.AsyncClient`.

    Use it as `async with PlatformClient(...) as client:` or call `aclose()`. One instance belongs to one
    event loop. `rate_limit` is requests per second per endpoint (0 turns pacing off, for the unlimited fake);
    `max_retries` is how many times a failed call is tried again (so `max_retries + 1` attempts at most).
    """

    def __init__(
        self,
        base_url: str,
        token: Secret,
        *,
        rate_limit: float = 5.0,
        timeout: float = 30.0,
        max_retries: int = 3,
        transport: httpx.AsyncBaseTransport | None = None,
        backoff_base: float = 0.5,
        backoff_max: float = 10.0,
        max_retry_after: float = 120.0,
        max_connections: int = 10,
        rng: random.Random | None = None,
        queued_wait: tuple[float, float] = (QUEUED_MIN_S, QUEUED_MAX_S),
    ) -> None:
        """Prepare the connection pool; nothing is sent until the first call.

        `max_retry_after` bounds how long one call waits in here: a longer `Retry-After` is raised as
        RateLimited at once, so the caller (the drain) can reschedule instead of holding a task for minutes.
        `queued_wait` is the range a 449's wait is drawn from (seconds; minutes unless a test needs less).
        """
        if not isinstance(token, Secret):
            raise TypeError("token must be a Secret")
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        if max_retries < 0:
            raise ValueError("max_retries must not be negative")
        self._base = base_url.rstrip("/")
        self._base_url = httpx.URL(self._base + "/")
        self._token = token
        self._timeout_s = timeout
        self._max_retries = max_retries
        self._backoff = Backoff(backoff_base, backoff_max, jitter=(0.5, 1.0))  # "equal jitter": half fixed
        self._max_retry_after = max_retry_after
        self._rng = rng or random.Random()
        if not 0 <= queued_wait[0] <= queued_wait[1]:
            raise ValueError("queued_wait must be (shortest, longest) seconds")
        self._queued_wait = queued_wait
        self._pacer = Pacer(rate_limit)
        self.requests_sent = 0
        """Every request sent (retries included), for the poll's and the benchmarks' cost figures."""
        self._timeout = httpx.Timeout(timeout, connect=min(timeout, 10.0))
        self._timeout_ext = self._timeout.as_dict()
        self._headers = {"Authorization": f"Bearer {token.reveal()}", "Accept": "application/json"}
        self._json_headers = {**self._headers, "Content-Type": "application/json"}
        limits = httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections, keepalive_expiry=30.0
        )
        self._http = httpx.AsyncClient(
            transport=transport,
            timeout=self._timeout,
            limits=limits,
            follow_redirects=False,
            # Proxy settings in the environment apply to respond.io, never to a fake on this machine or to a
            # transport given here (httpx would route matching URLs to the proxy instead of it).
            trust_env=transport is None and self._base_url.host not in _LOOPBACK,
        )

    def __repr__(self) -> str:
        return f"PlatformClient({self._base!r}, token={self._token!r})"

    async def __aenter__(self) -> PlatformClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connections; the client cannot be used afterwards."""
        await self._http.aclose()

    @property
    def base_url(self) -> str:
        """The API base URL, without a trailing slash."""
        return self._base

    @property
    def rate_limits(self) -> Mapping[str, RateLimitBudget]:
        """The latest budget the platform reported, per endpoint (`"POST /contact/{identifier}/tag"`)."""
        return self._pacer.budgets

    @property
    def rate_limit_budget(self) -> RateLimitBudget | None:
        """The most recent budget reported by any endpoint, or None before the first answer."""
        return self._pacer.latest

    # -- contacts ---------------------------------------------------------------------------------------

    async def get_contact(self, identifier: ContactRef) -> Contact:
        """The contact as the platform has it now."""
        data = await self._call("GET", "/contact/{identifier}", f"/contact/{path_segment(identifier)}")
        return self._map(mapping.contact, data)

    async def list_contacts(
        self, search: str = "", filter: JsonFilter | None = None, timezone: str = "UTC", limit: int = 100
    ) -> AsyncIterator[Contact]:
        """Every contact matching `search` and `filter`, page after page.

        `filter` is the platform's `{"$and": [...]}` or `{"$or": [...]}` (see `assignee_filter`); None means
        no condition. `limit` is the page size, 1 to 100.
        """
        if not 1 <= limit <= 100:
            raise ValidationFailed(f"A page holds 1 to 100 contacts, not {limit}.")
        body_filter: JsonFilter = {"$and": []} if filter is None else filter
        if not any(isinstance(body_filter.get(key), list) for key in ("$and", "$or")):
            raise ValidationFailed('A contact filter needs an "$and" or "$or" list of conditions.')
        body = {"search": search, "timezone": timezone, "filter": body_filter}
        async for items in self._pages("POST", "/contact/list", "/contact/list", limit, body):
            for item in items:
                yield self._map(mapping.contact, item)

    async def list_contact_channels(self, identifier: ContactRef) -> list[Channel]:
        """The channels the contact has talked on."""
        path = f"/contact/{path_segment(identifier)}/channels"
        return await self._collect("/contact/{identifier}/channels", path, mapping.channel)

    async def message_times(self, identifier: ContactRef) -> AsyncIterator[int | None]:
        """When each of the contact's messages was sent or received (None: not said), page after page.

        The platform does not document the list's order, so a caller looking for a recent message reads on
        until it finds one or has read as many as it is willing to.
        """
        path = f"/contact/{path_segment(identifier)}/message/list"
        async for items in self._pages("GET", "/contact/{identifier}/message/list", path, 50):
            for item in items:
                yield self._map(mapping.message_time, item)

    async def add_comment(self, identifier: ContactRef, text: str) -> None:
        """Add an internal comment; not retried once it may have reached the platform, so it is never doubled."""
        if not text.strip() or len(text) > _MAX_COMMENT:
            raise ValidationFailed(f"A comment holds 1 to {_MAX_COMMENT} characters.")
        path = f"/contact/{path_segment(identifier)}/comment"
        await self._call("POST", "/contact/{identifier}/comment", path, body={"text": text}, idempotent=False)

    async def add_tags(self, identifier: ContactRef, tags: Sequence[str]) -> None:
        """Tag the contact (1 to 10 tags of at most 255 characters)."""
        path = f"/contact/{path_segment(identifier)}/tag"
        await self._call("POST", "/contact/{identifier}/tag", path, body=_tag_list(tags))

    async def remove_tags(self, identifier: ContactRef, tags: Sequence[str]) -> None:
        """Remove tags from the contact; the platform takes the list as a DELETE body."""
        path = f"/contact/{path_segment(identifier)}/tag"
        await self._call("DELETE", "/contact/{identifier}/tag", path, body=_tag_list(tags))

    # -- conversations ----------------------------------------------------------------------------------

    async def assign(self, identifier: ContactRef, user: int | str, *, retry_if_unsure: bool = True) -> None:
        """Assign the contact to a user, given by platform user id or by email.

        With `retry_if_unsure` off, a request that may have reached the platform (a timeout, a dropped or
        garbled answer) is not sent again here: the caller reads the contact back first, so a change the
        platform did make is never sent twice.
        """
        if isinstance(user, bool) or (isinstance(user, str) and "@" not in user):
            raise ValidationFailed(f"{user!r} is neither a user id nor a user email.")
        await self._set_assignee(identifier, user, retry_if_unsure)

    async def unassign(self, identifier: ContactRef, *, retry_if_unsure: bool = True) -> None:
        """Leave the contact with no assignee (`retry_if_unsure` as for `assign`)."""
        await self._set_assignee(identifier, None, retry_if_unsure)

    async def _set_assignee(self, identifier: ContactRef, user: int | str | None, retry_if_unsure: bool) -> None:
        path = f"/contact/{path_segment(identifier)}/conversation/assignee"
        await self._call(
            "POST",
            "/contact/{identifier}/conversation/assignee",
            path,
            body={"assignee": user},
            idempotent=retry_if_unsure,
        )

    async def open_conversation(self, identifier: ContactRef) -> None:
        """Open the contact's conversation."""
        await self._set_status(identifier, {"status": "open"})

    async def close_conversation(
        self, identifier: ContactRef, category: str | None = None, summary: str | None = None
    ) -> None:
        """Close the contact's conversation, optionally with a closing-note category and summary.

        The platform only keeps a summary given with a category, so a summary alone is not sent.
        """
        body: dict[str, Any] = {"status": "close"}
        if category:
            if len(category) > _MAX_CATEGORY:
                raise ValidationFailed(f"A closing category holds at most {_MAX_CATEGORY} characters.")
            body["category"] = category
            if summary:
                if len(summary) > _MAX_SUMMARY:
                    raise ValidationFailed(f"A closing summary holds at most {_MAX_SUMMARY} characters.")
                body["summary"] = summary
        await self._set_status(identifier, body)

    async def _set_status(self, identifier: ContactRef, body: dict[str, Any]) -> None:
        path = f"/contact/{path_segment(identifier)}/conversation/status"
        await self._call("POST", "/contact/{identifier}/conversation/status", path, body=body)

    # -- workspace --------------------------------------------------------------------------------------

    async def list_users(self) -> list[Agent]:
        """Every workspace user (users with pending invitations are not listed by the platform)."""
        return await self._collect("/space/user", "/space/user", mapping.agent)

    async def get_user(self, user_id: int) -> Agent:
        """One workspace user."""
        if isinstance(user_id, bool) or user_id < 0:
            raise ValidationFailed(f"{user_id!r} is not a user id.")
        data = await self._call("GET", "/space/user/{id}", f"/space/user/{user_id}")
        return self._map(mapping.agent, data)

    async def list_closing_notes(self) -> list[ClosingNote]:
        """The closing-note categories conversations can be closed with."""
        return await self._collect("/space/closing_notes", "/space/closing_notes", mapping.closing_note)

    async def list_channels(self) -> list[Channel]:
        """The workspace's channels."""
        return await self._collect("/space/channel", "/space/channel", mapping.channel)

    async def check_connection(self) -> None:
        """Prove the URL and token work with the cheapest call there is; raises the mapped error, no retries."""
        await self._call("GET", "/space/user", "/space/user", params={"limit": 1}, retries=0)

    # -- machinery --------------------------------------------------------------------------------------

    @staticmethod
    def _map(parse: Callable[[object], T], data: object) -> T:
        try:
            return parse(data)
        except mapping.MappingError as exc:
            raise PlatformUnavailable(f"The platform sent data Closeout cannot read ({exc}).", status=200) from None

    async def _collect(self, template: str, path: str, parse: Callable[[object], T]) -> list[T]:
        return [self._map(parse, item) async for items in self._pages("GET", template, path, 100) for item in items]

    async def _pages(
        self, method: str, template: str, path: str, limit: int, body: object = _NO_BODY
    ) -> AsyncIterator[list[Any]]:
        """Yield each page's items, following `pagination.next` until it is empty, null or missing."""
        url = self._url(path, {"limit": limit})
        seen = {url}
        while True:
            data = await self._call(method, template, path, body=body, url=url)
            if not isinstance(data, Mapping) or not isinstance(data.get("items"), list):
                raise PlatformUnavailable("The platform sent a page without a list of items.", status=200)
            yield data["items"]
            pagination = data.get("pagination")
            following = pagination.get("next") if isinstance(pagination, Mapping) else None
            if not isinstance(following, str) or not following.strip():
                return
            following_url = self._next_url(following.strip(), path, limit)
            if following_url is None:
                return
            url = following_url
            if url in seen:
                log.warning("the platform's next page repeats one already read; stopping at %s", path)
                return
            seen.add(url)

    def _next_url(self, following: str, path: str, limit: int) -> str | None:
        """The next page on our own base URL, with the `cursorId` of the platform's link and nothing else.

        respond.io writes `next` with and without its `/v2` segment, and its own n8n node reads only the
        cursor from it; so the link's scheme, host, path and other parameters are never followed (the token
        goes only to the configured host). None when the link carries no cursor: the list has ended.
        """
        cursors = parse_qs(urlsplit(following).query).get("cursorId")
        cursor = cursors[0].strip() if cursors else ""
        if not cursor:
            return None
        return self._url(path, {"limit": limit, "cursorId": cursor})

    def _url(self, path: str, params: Mapping[str, object] | None = None) -> str:
        url = self._base + path
        if params:
            url += "?" + urlencode(params)
        return url

    async def _call(
        self,
        method: str,
        template: str,
        path: str,
        *,
        params: Mapping[str, object] | None = None,
        body: object = _NO_BODY,
        url: str | None = None,
        idempotent: bool = True,
        retries: int | None = None,
    ) -> Any:
        """Send one API call through the endpoint's bucket, retrying what may be retried; returns the JSON."""
        endpoint = f"{method} {template}"
        target = url or self._url(path, params)
        content = None if body is _NO_BODY else json.dumps(body, separators=(",", ":")).encode()
        headers = self._headers if content is None else self._json_headers
        allowed = self._max_retries if retries is None else retries
        attempt = 0
        while True:
            attempt += 1
            waits = self._pacer.reserve_delay(endpoint)
            if waits > self._max_retry_after:
                # The platform asked for a longer pause than a call should sit through: the caller reschedules.
                raise RateLimited(
                    f"The platform asked Closeout to wait {waits:.0f} s before calling {template} again.",
                    retry_after=waits,
                )
            await self._pacer.acquire(endpoint)
            self.requests_sent += 1
            started = time.monotonic()
            sent = True
            answered = False
            try:
                response = await self._send(method, target, content, headers)
                answered = True
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                error: PlatformError = Offline(f"Cannot reach the platform ({type(exc).__name__}).")
                sent = False
            except (httpx.TimeoutException, TimeoutError):
                error = Offline(f"The platform did not answer within {self._timeout_s:g} s.")
            except (httpx.TransportError, OSError) as exc:
                error = Offline(f"The connection to the platform failed ({type(exc).__name__}).")
            finally:
                if not answered:
                    self._pacer.release(endpoint)
            if answered:
                retry_after = parse_retry_after(response.headers.get("retry-after"))
                self._pacer.observe(endpoint, response.status_code, response.headers, retry_after)
                log.debug(
                    "%s %s -> %d in %.0f ms (attempt %d)",
                    method,
                    path,
                    response.status_code,
                    (time.monotonic() - started) * 1000,
                    attempt,
                )
                try:
                    return self._decode(response, template)
                except PlatformError as exc:
                    error = exc
                    sent = exc.status != 429
            delay = self._retry_delay(error, attempt, allowed, idempotent or not sent)
            if delay is None:
                raise error
            waits = max(delay, self._pacer.reserve_delay(endpoint))
            log.info(
                "%s %s failed (%s); retry %d of %d in %.2f s", method, path, error.message, attempt, allowed, waits
            )
            if delay > 0:
                await asyncio.sleep(delay)

    async def _send(self, method: str, url: str, content: bytes | None, headers: Mapping[str, str]) -> httpx.Response:
        request = httpx.Request(
            method, url, content=content, headers=headers, extensions={"timeout": self._timeout_ext}
        )
        # The overall deadline also covers transports that ignore httpx's timeouts (the in-process ASGI fake).
        async with asyncio.timeout(self._timeout_s):
            return await self._http.send(request)

    def _retry_delay(self, error: PlatformError, attempt: int, allowed: int, may_repeat: bool) -> float | None:
        """How long to wait before trying again, or None to give up and raise.

        A 429 waits in the endpoint's pacer (it holds every call to that endpoint for `Retry-After`), so
        here it waits nothing more; one whose `Retry-After` is too long for a call to sit through is raised.
        A 449 is raised at once with its minutes-long delay, for the caller to reschedule.
        """
        if not error.retryable or not may_repeat or attempt > allowed or isinstance(error, Queued):
            return None
        if isinstance(error, RateLimited):
            if error.retry_after is not None and error.retry_after > self._max_retry_after:
                return None
            return 0.0
        return self._backoff.delay(attempt, self._rng)

    def _decode(self, response: httpx.Response, template: str) -> Any:
        status = response.status_code
        if 200 <= status < 300:
            if status == 204:
                return None
            try:
                return json.loads(response.content)
            except (ValueError, RecursionError):
                raise PlatformUnavailable(
                    f"The platform answered {status} with a body that is not valid JSON.", status=status
                ) from None
        raise self._error(response, template)

    def _error(self, response: httpx.Response, template: str) -> PlatformError:
        status = response.status_code
        detail = self._platform_message(response)
        said = f"The platform answered {status}" + (f": {detail}" if detail else " with a body that is not JSON")
        said = said.rstrip(".") + "."
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        if status == 449:
            return Queued(said, retry_after=max(retry_after or 0.0, self._queued_delay()))
        if status == 429:
            return RateLimited(said, status=status, retry_after=retry_after)
        if status == 401:
            return AuthRejected(said, status=status)
        if status == 403:
            return AuthRejected(said, "Ask a workspace owner for a token with access to this action.", status=status)
        if status == 404:
            return NotFound(said, status=status, subject=_missing_subject(detail, template))
        if status == 409:
            return Conflict(said, status=status)
        if 400 <= status < 500:
            return ValidationFailed(said, status=status)
        return PlatformUnavailable(said, status=status)

    def _queued_delay(self) -> float:
        """A 449 asks to try again "in a few minutes": two to four, spread so queued calls do not return together."""
        return self._rng.uniform(*self._queued_wait)

    def _platform_message(self, response: httpx.Response) -> str | None:
        """The `message` of the platform's `{code, message}` error body, trimmed and with the token masked."""
        try:
            data = json.loads(response.content)
        except (ValueError, RecursionError):
            return None
        if not isinstance(data, Mapping):
            return None
        message = data.get("message")
        if message is None:
            return None
        words = message if isinstance(message, str) else json.dumps(message)[:300]
        secret = self._token.reveal()
        if secret:
            words = words.replace(secret, self._token.hint)
        return words.strip()[:300]


def _missing_subject(message: str | None, template: str) -> str:
    """What a 404 says is missing: the platform's own words name it (`User not found`), else the path does."""
    words = (message or "").lower()
    for subject in ("user", "contact", "message", "channel"):
        if subject in words:
            return subject
    if template.startswith("/space/user"):
        return "user"
    if template.startswith("/contact/"):
        return "contact"
    return "resource"


def _tag_list(tags: Sequence[str]) -> list[str]:
    if isinstance(tags, str):
        raise ValidationFailed("Tags must be a list of names, not one string.")
    names: list[object] = list(tags)
    if not 1 <= len(names) <= _MAX_TAGS:
        raise ValidationFailed(f"Give 1 to {_MAX_TAGS} tags at a time, not {len(names)}.")
    for name in names:
        if not isinstance(name, str) or not name.strip() or len(name) > _MAX_TAG_LENGTH:
            raise ValidationFailed(f"A tag is a name of 1 to {_MAX_TAG_LENGTH} characters, not {name!r}.")
    return [str(name) for name in names]
