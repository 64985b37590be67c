"""Contact identifiers (`id:123`, `email:a@b.c`, `phone:+60123`) checked before they reach a URL path.

The platform takes the identifier as one path segment. A value that slipped through unchecked could add path
segments or a query string, so everything is validated here and quoted with `:`, `@` and `+` kept literal
(legal in a path, and what the official SDK sends). The patterns follow respond.io's own MCP server; the
platform's exact server-side rules are not published.
"""

from __future__ import annotations

import re
from urllib.parse import quote

from app.domain.errors import ValidationFailed

ContactRef = int | str
"""A contact as callers name it: a platform contact id, or an identifier string."""

_ID = re.compile(r"\d{1,18}")
_EMAIL = re.compile(r"[^@\s/?#]+@[^@\s/?#]+\.[^@\s/?#]+")
_PHONE = re.compile(r"\+?\d{3,20}")
_PHONE_NOISE = re.compile(r"[\s\-().]")


def contact_identifier(ref: ContactRef) -> str:
    """The canonical identifier for `ref`, or ValidationFailed saying why it is not one.

    Ints become `id:N`. Strings keep their kind; the kind is matched case-insensitively, emails are kept as
    typed, and phone numbers lose the spaces, dashes, dots and brackets people write them with.
    """
    if isinstance(ref, bool) or not isinstance(ref, int | str):
        raise ValidationFailed(f"{ref!r} is not a contact id or identifier.")
    if isinstance(ref, int):
        if ref < 0:
            raise ValidationFailed(f"{ref} is not a contact id.")
        return f"id:{ref}"
    kind, sep, value = ref.strip().partition(":")
    kind = kind.strip().lower()
    value = value.strip()
    if sep:
        if kind == "id" and _ID.fullmatch(value):
            return f"id:{int(value)}"
        if kind == "email" and _EMAIL.fullmatch(value):
            return f"email:{value}"
        if kind == "phone":
            phone = _PHONE_NOISE.sub("", value)
            if _PHONE.fullmatch(phone):
                return f"phone:{phone}"
    raise ValidationFailed(
        f"{ref!r} is not a contact identifier.", "Use id:123, email:name@example.com or phone:+60123456789."
    )


def path_segment(ref: ContactRef) -> str:
    """The identifier, validated and quoted as one path segment."""
    return quote(contact_identifier(ref), safe=":@+")
