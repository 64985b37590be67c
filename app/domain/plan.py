"""A plan: everything one event makes Closeout do, committed by storage in a single transaction."""

from __future__ import annotations

import re
from dataclasses import dataclass

from app.domain.conversations import ClosedConversation
from app.domain.history import AssignmentChange
from app.domain.outbox import OutboxCommand
from app.domain.people import Contact, UserRef
from app.domain.workflows import WorkflowRun


@dataclass(frozen=True, slots=True)
class PlannedAction:
    """A history row and the command that carries it to the platform; either may be absent (a comment has no row)."""

    change: AssignmentChange | None = None
    command: OutboxCommand | None = None


@dataclass(frozen=True, slots=True)
class PlannedRun:
    """A run and its actions; storage links the actions to the run (and to the close) when it writes them.

    A run that already has an id is one that waited: storage records its new outcome instead of inserting it.
    """

    run: WorkflowRun
    actions: tuple[PlannedAction, ...] = ()


@dataclass(frozen=True, slots=True)
class AssigneeUpdate:
    """Set a cached contact's assignee, so the cache shows the planned state at once."""

    contact_id: int
    assignee: UserRef | None


@dataclass(frozen=True, slots=True)
class Plan:
    """What to commit for one event.

    `close` is the close to record (its dedup keys make a replayed event commit nothing, runs included);
    `runs` are the workflow runs it caused; `observed` are changes seen on the platform, with no run;
    `contacts` are the platform's view of contacts, cached first; `cache_updates` then move the cache
    to the planned state; `undo_of` names a run whose changes this plan reverses, marked undone with it.
    """

    close: ClosedConversation | None = None
    runs: tuple[PlannedRun, ...] = ()
    observed: tuple[AssignmentChange, ...] = ()
    contacts: tuple[Contact, ...] = ()
    cache_updates: tuple[AssigneeUpdate, ...] = ()
    undo_of: int | None = None

    @property
    def is_empty(self) -> bool:
        """True when there is nothing to commit."""
        return self == Plan()


# A reason may name another run of the same batch before it has an id; storage puts the id in on commit.
RUN_REF = re.compile(r"\[run:([^\]]+)\]")


def run_ref(key: str) -> str:
    """The placeholder for the id of the run with `key`, in a reason (see RUN_REF)."""
    return f"[run:{key}]"
