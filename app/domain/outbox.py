"""Commands waiting to be sent to the platform, kept durably until the platform has answered."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType


class CommandKind(StrEnum):
    """What a command asks the platform to do."""

    UNASSIGN = "unassign"
    ASSIGN = "assign"
    ADD_COMMENT = "add_comment"


class OutboxState(StrEnum):
    """A command's life: pending → in_flight → done | failed | skipped, or back to pending for a retry."""

    PENDING = "pending"
    IN_FLIGHT = "in_flight"
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"


def _empty() -> Mapping[str, object]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class OutboxCommand:
    """One platform call to make.

    `idempotency_key` is unique: enqueueing the same key twice keeps one command. `payload` holds the
    JSON-able arguments (for example the assignee expected at close, which the drain verifies).
    `next_attempt_at` is local Unix time in seconds.
    """

    kind: CommandKind
    contact_id: int
    idempotency_key: str
    payload: Mapping[str, object] = field(default_factory=_empty)
    state: OutboxState = OutboxState.PENDING
    attempts: int = 0
    next_attempt_at: float = 0.0
    last_error: str | None = None
    created_at: float = 0.0
    run_id: int | None = None
    change_id: int | None = None
    id: int | None = None
