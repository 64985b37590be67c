"""CSV export of the history: streamed in batches, with progress, cancel, and formula-injection escaping."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import Select, and_, func, select
from sqlalchemy.orm import Session, sessionmaker

from app.domain.history import HistoryFilter
from app.storage.history import conditions
from app.storage.models import CHANGES, CONTACTS, WORKFLOWS

COLUMNS = (
    "at",
    "contact_id",
    "contact",
    "conversation_id",
    "from_agent_id",
    "from_agent",
    "to_agent_id",
    "to_agent",
    "source",
    "actor",
    "workflow_id",
    "workflow",
    "run_id",
    "sync_state",
    "reason",
)
BATCH = 5000
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

Progress = Callable[[int, int], bool]
"""Called with (rows written, rows in total) after each batch; returning False cancels the export."""


class ExportCancelled(Exception):
    """The progress callback asked to stop; the partial file has been removed."""


def escape_cell(value: str) -> str:
    """Neutralise a cell a spreadsheet would run as a formula, by prefixing a quote (OWASP's advice)."""
    return "'" + value if value.startswith(FORMULA_START) else value


def _iso(at: float) -> str:
    return dt.datetime.fromtimestamp(at, dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _query(flt: HistoryFilter) -> Select[Any]:
    contact_name = (CONTACTS.c.first_name + " " + CONTACTS.c.last_name).label("contact_name")
    return (
        select(CHANGES, contact_name, WORKFLOWS.c.name.label("workflow_name"))
        .select_from(
            CHANGES.outerjoin(CONTACTS, CONTACTS.c.id == CHANGES.c.contact_id).outerjoin(
                WORKFLOWS, WORKFLOWS.c.id == CHANGES.c.workflow_id
            )
        )
        .where(and_(True, *conditions(flt)))
        .order_by(CHANGES.c.at.desc(), CHANGES.c.id.desc())
    )


class HistoryExporter:
    """Writes the filtered history to CSV without holding it in memory."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        """Work through `sessions`."""
        self._sessions = sessions

    def to_path(
        self,
        path: Path,
        flt: HistoryFilter,
        agent_names: Mapping[int, str],
        progress: Progress | None = None,
    ) -> int:
        """Export to `path` (written to a temporary name first, so a cancelled or failed export leaves no file)."""
        partial = path.with_name(path.name + ".partial")
        try:
            with partial.open("w", encoding="utf-8", newline="") as handle:
                written = self.to_stream(handle, flt, agent_names, progress)
            partial.replace(path)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        return written

    def to_stream(
        self,
        handle: TextIO,
        flt: HistoryFilter,
        agent_names: Mapping[int, str],
        progress: Progress | None = None,
    ) -> int:
        """Write the header and every matching row, newest first; returns the number of rows."""
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        written = 0
        with self._sessions() as session:
            total = (
                int(
                    session.execute(
                        select(func.count()).select_from(CHANGES).where(and_(True, *conditions(flt)))
                    ).scalar_one()
                )
                if progress
                else 0
            )
            result = session.execute(_query(flt).execution_options(yield_per=BATCH))
            for batch in result.partitions(BATCH):
                writer.writerows(_cells(row, agent_names) for row in batch)
                written += len(batch)
                if progress is not None and progress(written, total) is False:
                    raise ExportCancelled(f"Export cancelled after {written} rows.")
        if progress is not None:
            progress(written, total)
        return written


def _cells(row: Any, agents: Mapping[int, str]) -> tuple[object, ...]:
    from_id = row.from_agent_id
    to_id = row.to_agent_id
    return (
        _iso(row.at),
        row.contact_id,
        escape_cell((row.contact_name or "").strip()),
        row.conversation_id,
        from_id,
        escape_cell(agents.get(from_id, "")) if from_id is not None else "",
        to_id,
        escape_cell(agents.get(to_id, "")) if to_id is not None else "",
        row.source,
        escape_cell(row.actor),
        row.workflow_id,
        escape_cell(row.workflow_name or ""),
        row.run_id,
        row.sync_state,
        escape_cell(row.reason),
    )
