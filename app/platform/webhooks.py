"""respond.io webhooks: the signature check and the three events Closeout acts on, as domain events.

The signature is base64(HMAC-SHA256(signing key, raw body)) in `x-webhook-signature`; this is known only from
third-party code (no official document), and there is no timestamp, so replays are caught by `event_id`
downstream, not here. Payloads follow the `{event_type, event_id, contact, conversation}` envelope.

Where the payload is unconfirmed, parsing is lenient and the choice is written down:
- `conversation.closed`: `closedTime` is required (every sample has it); `closedBy` that is null, `{}` or
  all-null means no user; the assignee at close is `contact.assignee`, as the platform sends the contact as it
  was when the conversation closed; `assigneeTeam` may be a name or a `{name}` object.
- `conversation.opened`: `conversation: {source, conversationOpenedAt, firstIncomingMessage,
  firstIncomingMessageChannelId}`, the shape four independent integrations agree on; the closed event's
  names (`openedBySource`, `openedTime`) are read when those are missing, and a payload with neither time
  falls back to the time the webhook arrived.
- `contact.assignee.updated` carries no time, so the time it arrived stands in.
Anything malformed is refused with WebhookRejected (400); a bad signature with WebhookRejected (401).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterable, Mapping
from typing import Any

from app.domain.conversations import (
    AssigneeChanged,
    ClosedBySource,
    ClosedConversation,
    ConversationOpened,
    OpenedBySource,
    PlatformEvent,
)
from app.domain.errors import WebhookRejected
from app.domain.people import Contact
from app.platform import mapping

SIGNATURE_HEADER = "x-webhook-signature"
CONVERSATION_CLOSED = "conversation.closed"
CONVERSATION_OPENED = "conversation.opened"
ASSIGNEE_UPDATED = "contact.assignee.updated"
EVENT_TYPES = (CONVERSATION_CLOSED, CONVERSATION_OPENED, ASSIGNEE_UPDATED)


def _key(secret: bytes | str) -> bytes:
    return secret.encode() if isinstance(secret, str) else secret


def sign(secret: bytes | str, body: bytes) -> str:
    """The `x-webhook-signature` value for `body` under the webhook's signing key."""
    digest = hmac.new(_key(secret), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def verify(secret: bytes | str, body: bytes, signature_header: str | None) -> bool:
    """Whether the header is the body's signature, compared in constant time.

    An empty signing key verifies nothing: a receiver set up without its key refuses every webhook rather
    than trusting them all.
    """
    if not secret or not signature_header:
        return False
    try:
        given = signature_header.strip().encode("ascii")
    except UnicodeEncodeError:
        return False
    return hmac.compare_digest(sign(secret, body).encode("ascii"), given)


def matching_label(keys: Iterable[tuple[str, bytes | str]], body: bytes, signature_header: str | None) -> str | None:
    """The label of the signing key that signed `body`, or None when none did.

    respond.io gives each webhook its own key, so a receiver for several events holds several. Every key is
    compared in constant time, and all of them are tried, so the time taken does not tell which one matched.
    """
    found: str | None = None
    for label, secret in keys:
        if verify(secret, body, signature_header) and found is None:
            found = label
    return found


def verify_and_parse(
    secret: bytes | str, body: bytes, signature_header: str | None, *, received_at: int | None = None
) -> PlatformEvent:
    """The event in a signed webhook; WebhookRejected (401) for a bad or missing signature, (400) if malformed."""
    if not verify(secret, body, signature_header):
        raise WebhookRejected("The webhook's signature is missing or does not match the signing key.", status=401)
    return parse_event(body, received_at=received_at)


def parse_event(body: bytes, *, received_at: int | None = None) -> PlatformEvent:
    """The domain event in a webhook body, or WebhookRejected (400) saying what is wrong with it.

    `received_at` (Unix seconds, default now) stands in for times the payload does not carry.
    """
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise WebhookRejected("The webhook body is not JSON.", status=400) from None
    if not isinstance(data, dict):
        raise WebhookRejected("The webhook body is not a JSON object.", status=400)
    event_type = data.get("event_type")
    event_id = data.get("event_id")
    if not isinstance(event_type, str):
        raise WebhookRejected("The webhook has no event_type.", status=400)
    if event_type not in EVENT_TYPES:
        raise WebhookRejected(f"Closeout does not handle {event_type[:80]!r} webhooks.", status=400)
    if not isinstance(event_id, str) or not event_id.strip():
        raise WebhookRejected("The webhook has no event_id.", status=400)
    now = int(time.time()) if received_at is None else received_at
    try:
        if event_type == CONVERSATION_CLOSED:
            return _closed(event_id, data)
        contact = mapping.contact(data.get("contact"))
        if event_type == CONVERSATION_OPENED:
            return _opened(event_id, contact, _conversation(data, required=False), now)
        return AssigneeChanged(event_id=event_id, contact=contact, at=now)
    except mapping.MappingError as exc:
        raise WebhookRejected(f"The {event_type} webhook is malformed: {exc}.", status=400) from None


def _conversation(data: Mapping[str, Any], *, required: bool) -> Mapping[str, Any]:
    value = data.get("conversation")
    if value is None and not required:
        return {}
    return mapping.as_object(value, "conversation")


def _opened(event_id: str, contact: Contact, conversation: Mapping[str, Any], now: int) -> ConversationOpened:
    opened = mapping.optional_time(conversation.get("conversationOpenedAt"), "conversation.conversationOpenedAt")
    if opened is None:
        opened = mapping.optional_time(conversation.get("openedTime"), "conversation.openedTime")
    source = conversation.get("source")
    if not isinstance(source, str) or not source.strip():
        source = conversation.get("openedBySource")
    return ConversationOpened(
        event_id=event_id,
        contact=contact,
        opened_time=now if opened is None else opened,
        opened_by_source=OpenedBySource.parse(source),
    )


def _closed(event_id: str, data: Mapping[str, Any]) -> ClosedConversation:
    contact = mapping.contact(data.get("contact"))
    conversation = _conversation(data, required=True)
    opened_source = conversation.get("openedBySource")
    return ClosedConversation(
        event_id=event_id,
        contact=contact,
        closed_time=mapping.as_time(conversation.get("closedTime"), "conversation.closedTime"),
        closed_by_source=ClosedBySource.parse(conversation.get("closedBySource")),
        closed_by=mapping.user_ref(conversation.get("closedBy"), "conversation.closedBy"),
        category=mapping.optional_text(conversation.get("category")),
        summary=mapping.optional_text(conversation.get("summary")),
        assignee_at_close=contact.assignee,
        assignee_team=_name(conversation.get("assigneeTeam")),
        opened_time=mapping.optional_time(conversation.get("openedTime"), "conversation.openedTime"),
        opened_by_source=None if opened_source is None else OpenedBySource.parse(opened_source),
        channel=_name(data.get("channel")),
    )


def _name(value: object) -> str | None:
    if isinstance(value, Mapping):
        value = value.get("name")
    return mapping.optional_text(value)
