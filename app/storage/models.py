"""The database schema as SQLAlchemy 2 typed models. Alembic migrations (storage/migrations) create it.

Platform times are integer Unix seconds, as the platform sends them; Closeout's own times are float
Unix seconds. Enum values are stored as their string values, so the file stays readable with any SQLite tool.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Float, Index, Integer, MetaData, String, Table, Text, false
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base with a naming convention, so migrations name constraints predictably."""

    metadata = MetaData(naming_convention=NAMING)


class AgentRow(Base):
    """A cached platform user."""

    __tablename__ = "agents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    first_name: Mapped[str] = mapped_column(String(200), default="")
    last_name: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str] = mapped_column(String(320), default="")
    role: Mapped[str] = mapped_column(String(20), default="agent")
    team_id: Mapped[int | None] = mapped_column(Integer)
    team_name: Mapped[str | None] = mapped_column(String(200))
    online: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[float] = mapped_column(Float, default=0.0)


class ContactRow(Base):
    """A cached platform contact; `assignee_*` mirror the platform's `assignee` object."""

    __tablename__ = "contacts"
    __table_args__ = (Index(None, "assignee_id", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    first_name: Mapped[str] = mapped_column(String(200), default="")
    last_name: Mapped[str] = mapped_column(String(200), default="")
    phone: Mapped[str | None] = mapped_column(String(40))
    email: Mapped[str | None] = mapped_column(String(320))
    assignee_id: Mapped[int | None] = mapped_column(Integer)
    assignee_first_name: Mapped[str] = mapped_column(String(200), default="")
    assignee_last_name: Mapped[str] = mapped_column(String(200), default="")
    assignee_email: Mapped[str] = mapped_column(String(320), default="")
    status: Mapped[str] = mapped_column(String(20), default="open")
    tags: Mapped[str] = mapped_column(Text, default="[]")
    created_at: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[float] = mapped_column(Float, default=0.0)
    # The row's version: when the platform state it holds was read (a poll's listing start, an answer to a POST,
    # a plan's commit). An older snapshot never overwrites a newer row.
    seen_at: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")


class CloseRow(Base):
    """One closed conversation, deduplicated by the platform's event id and by (contact, closed time)."""

    __tablename__ = "closes"
    __table_args__ = (
        Index(None, "event_id", unique=True),
        Index(None, "contact_id", "closed_time", unique=True),
        Index(None, "closed_time", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(100))
    contact_id: Mapped[int] = mapped_column(Integer)
    contact_first_name: Mapped[str] = mapped_column(String(200), default="")
    contact_last_name: Mapped[str] = mapped_column(String(200), default="")
    contact_phone: Mapped[str | None] = mapped_column(String(40))
    contact_email: Mapped[str | None] = mapped_column(String(320))
    contact_tags: Mapped[str] = mapped_column(Text, default="[]")
    closed_time: Mapped[int] = mapped_column(Integer)
    closed_by_source: Mapped[str] = mapped_column(String(30))
    closed_by_id: Mapped[int | None] = mapped_column(Integer)
    closed_by_name: Mapped[str] = mapped_column(String(400), default="")
    category: Mapped[str | None] = mapped_column(String(128))
    summary: Mapped[str | None] = mapped_column(String(512))
    assignee_id: Mapped[int | None] = mapped_column(Integer)
    assignee_first_name: Mapped[str] = mapped_column(String(200), default="")
    assignee_last_name: Mapped[str] = mapped_column(String(200), default="")
    assignee_email: Mapped[str] = mapped_column(String(320), default="")
    assignee_team: Mapped[str | None] = mapped_column(String(200))
    opened_time: Mapped[int | None] = mapped_column(Integer)
    opened_by_source: Mapped[str | None] = mapped_column(String(30))
    channel: Mapped[str | None] = mapped_column(String(200))
    recorded_at: Mapped[float] = mapped_column(Float)
    detected_at: Mapped[int | None] = mapped_column(Integer)


class WorkflowRow(Base):
    """A workflow; `definition` is the trigger, steps and settings as JSON (see domain.workflow_codec)."""

    __tablename__ = "workflows"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    template_id: Mapped[str | None] = mapped_column(String(100))
    state: Mapped[str] = mapped_column(String(20), default="draft")
    version: Mapped[int] = mapped_column(Integer, default=0)
    definition: Mapped[str] = mapped_column(Text)
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)


class RunRow(Base):
    """One workflow run on one event; `key` makes the same event planned twice one run."""

    __tablename__ = "runs"
    __table_args__ = (
        Index(None, "key", unique=True),
        Index(None, "workflow_id", "id"),
        Index(None, "contact_id", "id"),
        Index(None, "conversation_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(200))
    workflow_id: Mapped[int] = mapped_column(Integer)
    workflow_version: Mapped[int] = mapped_column(Integer)
    contact_id: Mapped[int] = mapped_column(Integer)
    conversation_id: Mapped[int | None] = mapped_column(Integer)
    started_at: Mapped[float] = mapped_column(Float)
    outcome: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(Text)
    undone: Mapped[bool] = mapped_column(Boolean, default=False)


class ChangeRow(Base):
    """One assignment change: the history, newest first by (at, id).

    An index on (x, at) also holds the rowid, which is `id`, so each one serves "x = ? ORDER BY at, id"
    without sorting. (source, at) also lets the per-day chart count each (day, source) from the index alone.
    """

    __tablename__ = "changes"
    __table_args__ = (
        Index(None, "at", "id"),
        Index(None, "from_agent_id", "at"),
        Index(None, "to_agent_id", "at"),
        Index(None, "contact_id", "at"),
        Index(None, "conversation_id"),
        Index(None, "workflow_id", "at"),
        Index(None, "run_id"),
        Index(None, "source", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    contact_id: Mapped[int] = mapped_column(Integer)
    conversation_id: Mapped[int | None] = mapped_column(Integer)
    at: Mapped[float] = mapped_column(Float)
    from_agent_id: Mapped[int | None] = mapped_column(Integer)
    to_agent_id: Mapped[int | None] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(20))
    actor: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    sync_state: Mapped[str] = mapped_column(String(20))
    workflow_id: Mapped[int | None] = mapped_column(Integer)
    run_id: Mapped[int | None] = mapped_column(Integer)


class CommandRow(Base):
    """A durable outbox command; `idempotency_key` is unique."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index(None, "idempotency_key", unique=True),
        Index(None, "state", "next_attempt_at", "id"),
        Index(None, "change_id"),
        Index(None, "run_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    contact_id: Mapped[int] = mapped_column(Integer)
    payload: Mapped[str] = mapped_column(Text, default="{}")
    idempotency_key: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[float] = mapped_column(Float, default=0.0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)
    run_id: Mapped[int | None] = mapped_column(Integer)
    change_id: Mapped[int | None] = mapped_column(Integer)
    # Who holds an in-flight command and until when; a claimer takes back only expired leases.
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    lease_until: Mapped[float | None] = mapped_column(Float)
    # Sent, and the platform's `contact.assignee.updated` about it has not come back yet.
    awaiting_echo: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class LeaseRow(Base):
    """A named lease one process holds at a time (the runner that sends and polls), with its holder and expiry."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    owner: Mapped[str] = mapped_column(String(200))
    pid: Mapped[int] = mapped_column(Integer)
    host: Mapped[str] = mapped_column(String(255))
    until: Mapped[float] = mapped_column(Float)
    since: Mapped[float] = mapped_column(Float)


class AvailabilityRow(Base):
    """The lead's word on an agent: available or away, and working hours as the lead wrote them (or null)."""

    __tablename__ = "availability"

    agent_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    presence: Mapped[str] = mapped_column(String(20), default="away")
    hours: Mapped[str | None] = mapped_column(String(100))
    updated_at: Mapped[float] = mapped_column(Float, default=0.0)


class MetaRow(Base):
    """Small named values Closeout keeps between runs (last poll time, round-robin positions)."""

    __tablename__ = "meta"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


# The Core tables, typed as Table, for bulk statements that skip the ORM's per-object work.
AGENTS: Table = Base.metadata.tables["agents"]
CONTACTS: Table = Base.metadata.tables["contacts"]
CLOSES: Table = Base.metadata.tables["closes"]
WORKFLOWS: Table = Base.metadata.tables["workflows"]
RUNS: Table = Base.metadata.tables["runs"]
CHANGES: Table = Base.metadata.tables["changes"]
OUTBOX: Table = Base.metadata.tables["outbox"]
META: Table = Base.metadata.tables["meta"]
LEASES: Table = Base.metadata.tables["leases"]
AVAILABILITY: Table = Base.metadata.tables["availability"]
