"""The platform's JSON turned into domain objects, shared by the API client and the webhook parser.

Parsing is lenient where respond.io's sources disagree or say nothing, and strict only where a value is
needed to act on: an object without an integer `id` is refused with MappingError, because Closeout could
not address it later. Everything else falls back to an empty or unknown value:
- names, emails and phones may be missing or null (empty string, or None for phone and email);
- `status` goes through ContactStatus.parse, which knows every spelling seen (`close`, `closed`, `done`...);
- ids may arrive as digit strings;
- times are Unix seconds; a value above 10^12 is taken as milliseconds (unconfirmed, seen in third-party code);
- `assignee` / `closedBy` that is null, `{}` or has a null id means nobody.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from app.domain.people import Agent, AgentRole, Contact, ContactStatus, Team, UserRef
from app.domain.workspace import Channel, ClosingNote

JsonObject = Mapping[str, Any]

_MS_THRESHOLD = 10**12


class MappingError(ValueError):
    """A JSON value lacks what Closeout needs from it; the message names the field, never the data."""


def as_int(value: object, field: str) -> int:
    """An integer from an int, an integral float or a digit string; MappingError otherwise."""
    if isinstance(value, bool):
        raise MappingError(f"{field} is not an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit() and len(text) <= 19:
            return int(text)
    raise MappingError(f"{field} is not an integer")


def as_time(value: object, field: str) -> int:
    """Unix seconds; milliseconds are scaled down."""
    seconds = as_int(value, field)
    return seconds // 1000 if seconds > _MS_THRESHOLD else seconds


def optional_time(value: object, field: str) -> int | None:
    """As `as_time`, with null (or a missing value) meaning None."""
    return None if value is None else as_time(value, field)


def as_object(value: object, field: str) -> JsonObject:
    """A JSON object, or MappingError naming the field."""
    if not isinstance(value, Mapping):
        raise MappingError(f"{field} is not an object")
    return value


def text(value: object) -> str:
    """A string for a display field: null and non-strings become empty."""
    return value if isinstance(value, str) else ""


def optional_text(value: object) -> str | None:
    """A string, or None for null, empty or non-string values."""
    return value if isinstance(value, str) and value else None


def user_ref(value: object, field: str = "user") -> UserRef | None:
    """A user reference, or None for null, `{}` or an all-null object (how the platform says "nobody")."""
    if value is None:
        return None
    obj = as_object(value, field)
    raw_id = obj.get("id")
    if raw_id is None:
        return None
    return UserRef(
        id=as_int(raw_id, f"{field}.id"),
        first_name=text(obj.get("firstName")),
        last_name=text(obj.get("lastName")),
        email=text(obj.get("email")),
    )


def _tags(value: object) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    tags: list[str] = []
    for item in value:
        if isinstance(item, str):
            tags.append(item)
        elif isinstance(item, Mapping) and isinstance(item.get("name"), str):
            tags.append(item["name"])
    return tuple(tags)


def contact(value: object, field: str = "contact") -> Contact:
    """A contact from the shape `GET /contact/{identifier}` and the webhooks share."""
    obj = as_object(value, field)
    created = obj.get("created_at")
    return Contact(
        id=as_int(obj.get("id"), f"{field}.id"),
        first_name=text(obj.get("firstName")),
        last_name=text(obj.get("lastName")),
        phone=optional_text(obj.get("phone")),
        email=optional_text(obj.get("email")),
        assignee=user_ref(obj.get("assignee"), f"{field}.assignee"),
        status=ContactStatus.parse(obj.get("status")),
        tags=_tags(obj.get("tags")),
        created_at=0 if created is None else as_time(created, f"{field}.created_at"),
    )


def message_time(value: object, field: str = "message") -> int | None:
    """When a message of `GET /contact/{identifier}/message/list` was sent or received: its earliest status time.

    None when it carries no status with a time (nothing says when it happened).
    """
    obj = as_object(value, field)
    statuses = obj.get("status")
    times = [
        as_time(status.get("timestamp"), f"{field}.status.timestamp")
        for status in (statuses if isinstance(statuses, list) else [])
        if isinstance(status, Mapping) and status.get("timestamp") is not None
    ]
    return min(times) if times else None


def _role(value: object) -> AgentRole:
    try:
        return AgentRole(str(value).strip().lower())
    except ValueError:
        return AgentRole.AGENT


def agent(value: object, field: str = "user") -> Agent:
    """A workspace user from the SpaceUser shape (`/space/user`).

    The shape has no presence, and no endpoint gives one: "only online users" reads the availability the
    lead keeps in Closeout, never the platform.
    """
    obj = as_object(value, field)
    team_raw = obj.get("team")
    team: Team | None = None
    if isinstance(team_raw, Mapping) and team_raw.get("id") is not None:
        team = Team(id=as_int(team_raw.get("id"), f"{field}.team.id"), name=text(team_raw.get("name")))
    return Agent(
        id=as_int(obj.get("id"), f"{field}.id"),
        first_name=text(obj.get("firstName")),
        last_name=text(obj.get("lastName")),
        email=text(obj.get("email")),
        role=_role(obj.get("role")),
        team=team,
    )


def closing_note(value: object, field: str = "closing note") -> ClosingNote:
    """A closing-note category; one without a category name is refused, as nothing could match it."""
    obj = as_object(value, field)
    category = obj.get("category")
    if not isinstance(category, str) or not category:
        raise MappingError(f"{field}.category is not a string")
    return ClosingNote(category=category, description=text(obj.get("description")))


def channel(value: object, field: str = "channel") -> Channel:
    """A workspace channel (`/space/channel`) or a contact's channel (`/contact/{id}/channels`)."""
    obj = as_object(value, field)
    created = obj.get("created_at")
    return Channel(
        id=as_int(obj.get("id"), f"{field}.id"),
        name=text(obj.get("name")),
        source=text(obj.get("source")),
        created_at=0 if created is None else as_time(created, f"{field}.created_at"),
        last_message_time=optional_time(obj.get("lastMessageTime"), f"{field}.lastMessageTime"),
        last_incoming_message_time=optional_time(
            obj.get("lastIncomingMessageTime"), f"{field}.lastIncomingMessageTime"
        ),
    )
