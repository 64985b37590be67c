"""The webhook receiver: POST /webhook, signature checked, event committed before the 200.

Answering only after the commit means an event the platform saw acknowledged is on disk; one that
was refused (401 bad signature, 400 malformed, 413 too large) stored nothing and says why in the body.
When the database cannot take the event (a shared server gone away, a disk full), the answer is 503 with
`Retry-After`: nothing is acknowledged that was not stored, and the platform delivers it again later.
An authenticated event of a type Closeout does not act on gets 200 too: a lead may tick more events than
Closeout needs, and the platform must not see failures for events it was told to send.

The body is read as a stream and reading stops at `MAX_BODY`, so an oversized upload costs at most that
much memory, however large it claims or turns out to be.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from app.domain.errors import StorageError, WebhookRejected
from app.domain.signing_keys import SigningKey
from app.platform.webhooks import EVENT_TYPES, SIGNATURE_HEADER, matching_label, parse_event
from app.sync.intake import Intake

log = logging.getLogger("closeout.webhooks")

MAX_BODY = 1_000_000
STORE_WAIT_SECONDS = 10.0
"""How long a delivery waits for its commit before the platform is told to try again (replays are no-ops)."""
RETRY_AFTER_SECONDS = 30

KeySource = Callable[[bool], Awaitable[Sequence[SigningKey]]]
"""The signing keys in force; called with True when the last ones matched nothing, so stored keys may be read again."""


@dataclass
class ReceiverCounters:
    """What the receiver has read and decided: bytes read show an oversized upload was cut off, not buffered."""

    body_bytes_read: int = 0
    accepted: int = 0
    ignored: int = 0
    refused: int = 0
    unstored: int = 0


class _TooLarge(WebhookRejected):
    def __init__(self) -> None:
        super().__init__(f"The webhook body is larger than {MAX_BODY:,} bytes.", status=413)


async def read_body(request: Request, counters: ReceiverCounters, limit: int = MAX_BODY) -> bytes:
    """The request body, read chunk by chunk; WebhookRejected (413) as soon as it passes `limit`."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _TooLarge()
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        counters.body_bytes_read += len(chunk)
        if size > limit:
            raise _TooLarge()
        chunks.append(chunk)
    return b"".join(chunks)


def unhandled_type(body: bytes) -> str | None:
    """The event type of a platform event Closeout does not act on, or None if the body is not one."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return None
    event_type = data.get("event_type") if isinstance(data, dict) else None
    if isinstance(event_type, str) and event_type.strip() and event_type not in EVENT_TYPES:
        return event_type[:80]
    return None


def authenticate(keys: Sequence[SigningKey], body: bytes, signature: str | None) -> str:
    """The label of the key that signed `body`; WebhookRejected (401) when none did or none is held."""
    if not keys:
        raise WebhookRejected(
            "Closeout holds no webhook signing key, so it trusts no webhook; add the keys respond.io shows "
            "in Settings or with `closeout-cli webhook-keys add`.",
            status=401,
        )
    label = matching_label(((k.label, k.key.reveal()) for k in keys), body, signature)
    if label is None:
        raise WebhookRejected("The webhook's signature is missing or matches none of the signing keys.", status=401)
    return label


def webhook_app(keys: KeySource, intake: Intake, counters: ReceiverCounters | None = None) -> Starlette:
    """The receiver's ASGI app; `keys` is asked for the signing keys in force on every request."""
    seen = counters if counters is not None else ReceiverCounters()

    def refuse(exc: WebhookRejected) -> JSONResponse:
        seen.refused += 1
        log.warning("refused a webhook: %s", exc.message)
        # Too large: close the connection rather than read (and throw away) the rest of the upload.
        headers = {"connection": "close"} if exc.status == 413 else None
        return JSONResponse({"code": exc.status, "message": exc.message}, status_code=exc.status, headers=headers)

    async def receive(request: Request) -> JSONResponse:
        try:
            body = await read_body(request, seen)
            signature = request.headers.get(SIGNATURE_HEADER)
            try:
                label = authenticate(await keys(False), body, signature)
            except WebhookRejected:
                # The key may have been added a moment ago by another process (`webhook-keys add`).
                label = authenticate(await keys(True), body, signature)
            try:
                event = parse_event(body)
            except WebhookRejected as exc:
                ignored = unhandled_type(body) if exc.status == 400 else None
                if ignored is None:
                    raise
                seen.ignored += 1
                log.info("ignored a %r webhook (signed with the %r key): Closeout does not act on it", ignored, label)
                return JSONResponse({"ok": True, "ignored": f"Closeout does not act on {ignored!r} events."})
            log.info("webhook %s verified with the %r key", event.event_id[:100], label)
            # An event the database cannot hold is refused alone (UnstorableEvent); a database that cannot
            # store anything now is a 503, so the platform keeps the event and delivers it again.
            await asyncio.wait_for(intake.submit(event, retries=0), STORE_WAIT_SECONDS)
        except WebhookRejected as exc:
            return refuse(exc)
        except (StorageError, TimeoutError) as exc:
            words = exc.message if isinstance(exc, StorageError) else f"it did not answer in {STORE_WAIT_SECONDS:g} s"
            seen.unstored += 1
            log.warning("answered a webhook with 503: the database cannot store it (%s)", words)
            message = f"Closeout could not store the event ({words}); deliver it again later."
            return JSONResponse(
                {"code": 503, "message": message},
                status_code=503,
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            )
        seen.accepted += 1
        return JSONResponse({"ok": True})

    async def health(_: Request) -> JSONResponse:
        return JSONResponse({"ok": True, "service": "closeout webhook receiver"})

    return Starlette(routes=[Route("/webhook", receive, methods=["POST"]), Route("/webhook", health, methods=["GET"])])
