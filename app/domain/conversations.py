"""Facts about conversations that reach Closeout from the platform: closes, opens and assignee changes."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from app.domain.people import Contact, UserRef


class ClosedBySource(StrEnum):
    """Who or what closed a conversation (`closedBySource`), plus Closeout's own DETECTED_BY_POLL."""

    USER = "user"
    WORKFLOW = "workflow"
    API = "api"
    ZAPIER = "zapier"
    BOT = "bot"
    MAKE = "make"
    N8N = "n8n"
    AI_AGENT = "ai_agent"
    AUTO_CLOSE = "auto_close"
    DETECTED_BY_POLL = "detected_by_poll"
    UNKNOWN = "unknown"

    @classmethod
    def parse(cls, raw: object) -> ClosedBySource:
        """Map the platform's value, tolerating case and unknown sources."""
        try:
            return cls(str(raw).strip().lower())
        except ValueError:
            return cls.UNKNOWN

    @property
    def label(self) -> str:
        """Words for people, as the platform's reports name the sources."""
        return _CLOSED_LABELS[self]


_CLOSED_LABELS = {
    ClosedBySource.USER: "User",
    ClosedBySource.WORKFLOW: "Workflow",
    ClosedBySource.API: "Developer API",
    ClosedBySource.ZAPIER: "Zapier",
    ClosedBySource.BOT: "Bot",
    ClosedBySource.MAKE: "Make",
    ClosedBySource.N8N: "n8n",
    ClosedBySource.AI_AGENT: "AI Agent",
    ClosedBySource.AUTO_CLOSE: "Auto-close",
    ClosedBySource.DETECTED_BY_POLL: "Detected by poll",
    ClosedBySource.UNKNOWN: "Unknown",
}


class OpenedBySource(StrEnum):
    """Who or what opened a conversation (`openedBySource`)."""

    USER = "user"
    CONTACT = "contact"
    WORKFLOW = "workflow"
    API = "api"
    ZAPIER = "zapier"
    MAKE = "make"
    CTC_ADS = "ctc_ads"
    GROWTH_WIDGET = "growth_widget"
    UNKNOWN = "unknown"

    @classmethod
    def parse(cls, raw: object) -> OpenedBySource:
        """Map the platform's value, tolerating case and unknown sources."""
        try:
            return cls(str(raw).strip().lower())
        except ValueError:
            return cls.UNKNOWN


@dataclass(frozen=True, slots=True)
class ClosedConversation:
    """One close of a contact's conversation, as the `conversation.closed` webhook or the poller saw it.

    `contact` is the contact as it was at the close; `assignee_at_close` is its assignee then, which the
    drain compares against the platform before it unassigns. Times are Unix seconds, as on the platform.
    `id` is Closeout's own number for the close (the platform has no conversation id), None until stored.
    `detected_at` is set on a close the poll found, to when it found it: such a close happened at some time
    between `closed_time` (the previous poll) and `detected_at`, as the platform's contact carries no close time.
    """

    event_id: str
    contact: Contact
    closed_time: int
    closed_by_source: ClosedBySource
    closed_by: UserRef | None = None
    category: str | None = None
    summary: str | None = None
    assignee_at_close: UserRef | None = None
    assignee_team: str | None = None
    opened_time: int | None = None
    opened_by_source: OpenedBySource | None = None
    channel: str | None = None
    id: int | None = None
    detected_at: int | None = None


@dataclass(frozen=True, slots=True)
class ConversationOpened:
    """A conversation opened (`conversation.opened`), which assignment workflows can trigger on."""

    event_id: str
    contact: Contact
    opened_time: int
    opened_by_source: OpenedBySource


@dataclass(frozen=True, slots=True)
class AssigneeChanged:
    """The platform reports a contact's new assignee (`contact.assignee.updated`); the old one is not sent."""

    event_id: str
    contact: Contact
    at: int


PlatformEvent = ClosedConversation | ConversationOpened | AssigneeChanged
