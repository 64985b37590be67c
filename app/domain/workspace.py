"""Workspace facts that workflow conditions and the editor refer to: closing-note categories and channels."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ClosingNote:
    """A closing-note category a conversation can be closed with; conditions match on `category`."""

    category: str
    description: str = ""


@dataclass(frozen=True, slots=True)
class Channel:
    """A messaging channel of the workspace, or one a contact has talked on.

    The times are Unix seconds; the two message times are only known for a contact's channels.
    """

    id: int
    name: str
    source: str = ""
    created_at: int = 0
    last_message_time: int | None = None
    last_incoming_message_time: int | None = None
