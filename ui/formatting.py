"""Words and numbers for people: times, names, sources and outcomes, shared by every view."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterable

from app.domain.conversations import ClosedBySource, ClosedConversation
from app.domain.history import ChangeSource, SyncState
from app.domain.workflows import RunOutcome, Workflow, WorkflowState

NONE = "—"


def _by_age(at: float | None, now: float | None, today_form: str, year_form: str, older_form: str) -> str:
    """`at` in local time, in the form for today, for earlier this year, or for before."""
    if at is None:
        return NONE
    moment = dt.datetime.fromtimestamp(at)
    today = dt.datetime.fromtimestamp(now if now is not None else time.time())
    if moment.date() == today.date():
        return moment.strftime(today_form)
    return moment.strftime(year_form if moment.year == today.year else older_form)


def when(at: float | None, now: float | None = None) -> str:
    """`14:03:22` today, `Tue 12 Mar 14:03` this year, `12 Mar 2024 14:03` otherwise."""
    return _by_age(at, now, "%H:%M:%S", "%a %d %b %H:%M", "%d %b %Y %H:%M")


def short_when(at: float | None, now: float | None = None) -> str:
    """`14:03:22` today, `02 Nov` earlier this year, `Nov 2024` before: what fits a narrow column.

    The full date and time (`when`) goes in the cell's tooltip.
    """
    return _by_age(at, now, "%H:%M:%S", "%d %b", "%b %Y")


def ago(at: float | None, now: float | None = None) -> str:
    """`just now`, `12 s ago`, `4 min ago`, `2 h ago`, or a date."""
    if at is None:
        return "never"
    seconds = (now if now is not None else time.time()) - at
    if seconds < 2:
        return "just now"
    if seconds < 60:
        return f"{int(seconds)} s ago"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 86_400:
        return f"{int(seconds // 3600)} h ago"
    return when(at, now)


def closed_by(close: ClosedConversation) -> str:
    """`Priya Ng (User)`, `Detected by poll at 14:02 (closed earlier)`, or just the source when no person closed it."""
    source = close.closed_by_source.label
    if close.detected_at is not None:  # its time is the earliest it can have closed, not when it did
        return f"{source} at {dt.datetime.fromtimestamp(close.detected_at).strftime('%H:%M')} (closed earlier)"
    if close.closed_by is not None and close.closed_by_source is ClosedBySource.USER:
        return f"{close.closed_by.name} ({source})"
    return source


def source_label(source: ChangeSource | str) -> str:
    """A history row's source in words."""
    return {"workflow": "Workflow", "undo": "Undo", "platform": "Platform"}.get(str(source), str(source).title())


SYNC_WORDS = {
    SyncState.PENDING: "pending",
    SyncState.SYNCED: "synced",
    SyncState.FAILED: "failed",
    SyncState.UNDONE: "undone",
    SyncState.SKIPPED: "skipped",
}

OUTCOME_WORDS = {
    RunOutcome.DONE: "done",
    RunOutcome.SKIPPED: "skipped",
    RunOutcome.FAILED: "failed",
    RunOutcome.WAITING: "waiting",
}

STATE_WORDS = {
    WorkflowState.DRAFT: "Draft",
    WorkflowState.PUBLISHED: "Published",
    WorkflowState.STOPPED: "Stopped",
}


def agent_name(agent_id: int | None, names: dict[int, str]) -> str:
    """An agent's name, `unassigned` for None, or `user 12` when the agent is not cached."""
    if agent_id is None:
        return "unassigned"
    return names.get(agent_id, f"user {agent_id}")


def workflow_labels(workflows: Iterable[Workflow]) -> dict[int, str]:
    """Each workflow's name, told apart where two share one: `Unassign (#4, v2)`."""
    listed = [w for w in workflows if w.id is not None]
    counts: dict[str, int] = {}
    for workflow in listed:
        key = workflow.name.strip().lower()
        counts[key] = counts.get(key, 0) + 1
    labels: dict[int, str] = {}
    for workflow in listed:
        assert workflow.id is not None
        shared = counts[workflow.name.strip().lower()] > 1
        labels[workflow.id] = f"{workflow.name} (#{workflow.id}, v{workflow.version})" if shared else workflow.name
    return labels
