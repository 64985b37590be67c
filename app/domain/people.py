"""Agents (the platform's users) and contacts, as the platform describes them."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class AgentRole(StrEnum):
    """A workspace user's role; only owners and managers may edit workflows on the platform."""

    AGENT = "agent"
    MANAGER = "manager"
    OWNER = "owner"


class ContactStatus(StrEnum):
    """Whether the contact's current conversation is open.

    The platform's own sources disagree on the spelling of a closed status (`close`, `closed`, `done`),
    so parsing maps every closed spelling to CLOSED and anything unknown to UNKNOWN.
    """

    OPEN = "open"
    CLOSED = "closed"
    BLOCKED = "blocked"
    UNKNOWN = "unknown"

    @classmethod
    def parse(cls, raw: object) -> ContactStatus:
        """Map any spelling the platform is known to send onto a status."""
        if not isinstance(raw, str):
            return cls.UNKNOWN
        value = raw.strip().lower()
        if value in {"close", "closed", "done"}:
            return cls.CLOSED
        if value in {"open", "unsnoozed", "snoozed"}:
            return cls.OPEN
        if value == "blocked":
            return cls.BLOCKED
        return cls.UNKNOWN


@dataclass(frozen=True, slots=True)
class Team:
    """A platform team, which assignment steps can target."""

    id: int
    name: str


@dataclass(frozen=True, slots=True)
class UserRef:
    """A reference to a platform user as it appears inside a contact or an event (`assignee`, `closedBy`)."""

    id: int
    first_name: str = ""
    last_name: str = ""
    email: str = ""

    @property
    def name(self) -> str:
        """The display name, falling back to the email or the id when the platform sent no name."""
        full = f"{self.first_name} {self.last_name}".strip()
        return full or self.email or f"user {self.id}"


@dataclass(frozen=True, slots=True)
class Agent:
    """A workspace user who can be assigned contacts."""

    id: int
    first_name: str
    last_name: str
    email: str
    role: AgentRole = AgentRole.AGENT
    team: Team | None = None

    @property
    def name(self) -> str:
        """The display name, as in `UserRef.name`."""
        return self.ref.name

    @property
    def ref(self) -> UserRef:
        """This agent as the reference the platform puts in `assignee`."""
        return UserRef(self.id, self.first_name, self.last_name, self.email)


@dataclass(frozen=True, slots=True)
class Contact:
    """A platform contact; respond.io assigns contacts, not conversations."""

    id: int
    first_name: str = ""
    last_name: str = ""
    phone: str | None = None
    email: str | None = None
    assignee: UserRef | None = None
    status: ContactStatus = ContactStatus.OPEN
    tags: tuple[str, ...] = field(default=())
    created_at: int = 0

    @property
    def name(self) -> str:
        """The display name, falling back to the email, the phone or the id."""
        full = f"{self.first_name} {self.last_name}".strip()
        return full or self.email or self.phone or f"contact {self.id}"
