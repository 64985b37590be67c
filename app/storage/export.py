"""CSV export of the history: streamed in batches, with progress, cancel, and formula-injection escaping.

Rows are read as plain tuples and written by the stdlib `csv` module. Cells that repeat (agent and workflow
names, actors, reasons) are escaped once per export rather than once per row.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import Select, and_, func, select
from sqlalchemy.orm import Session, sessionmaker

from app.domain.errors import ExportCancelled
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
MEMO_LIMIT = 10_000
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

Progress = Callable[[int, int], bool]
"""Called with (rows written, rows in total) after each batch; returning False cancels the export."""


WORKFLOW_SOURCE = "workflow"


def escape_cell(value: str) -> str:
    """Neutralise a cell a spreadsheet would run as a formula, by prefixing a quote (OWASP's advice)."""
    return "'" + value if value.startswith(FORMULA_START) else value


def _iso(at: float) -> str:
    """UTC to the second, e.g. 2026-11-28T21:40:00Z (half the cost of going through datetime)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))


def _query(flt: HistoryFilter) -> Select[Any]:
    """The exported columns, in the order `_Lines` reads them."""
    c = CHANGES.c
    return (
        select(
            c.at,
            c.contact_id,
            CONTACTS.c.first_name + " " + CONTACTS.c.last_name,
            c.conversation_id,
            c.from_agent_id,
            c.to_agent_id,
            c.source,
            c.actor,
            c.workflow_id,
            WORKFLOWS.c.name,
            c.run_id,
            c.sync_state,
            c.reason,
        )
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
        for_excel: bool = False,
    ) -> int:
        """Export to `path` (written to a temporary name first, so a cancelled or failed export leaves no file).

        `for_excel` writes a UTF-8 byte-order mark first, so Excel shows names like "Lucía" and "João" right.
        """
        partial = path.with_name(path.name + ".partial")
        try:
            # "utf-8-sig" starts the file with a byte-order mark: without it Excel reads UTF-8 as a legacy code page.
            with partial.open("w", encoding="utf-8-sig" if for_excel else "utf-8", newline="") as handle:
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
        cells = _Cells(agent_names)
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
            # Closed on cancel too: on PostgreSQL the rows come through a server-side cursor.
            with session.execute(_query(flt).execution_options(yield_per=BATCH)) as result:
                for batch in result.partitions(BATCH):
                    writer.writerows(cells(batch))
                    written += len(batch)
                    if progress is not None and progress(written, total) is False:
                        raise ExportCancelled(f"Export cancelled after {written} rows.")
        if progress is not None:
            progress(written, total)
        return written


class _Cells:
    """The CSV cells of exported rows (as `_query` selects them)."""

    def __init__(self, agent_names: Mapping[int, str]) -> None:
        self._agents = _Memo(lambda agent_id: escape_cell(agent_names.get(agent_id, "")))
        self._agents[None] = ""
        self._texts = _Memo(lambda text: escape_cell(text or ""))

    def __call__(self, rows: Iterable[Sequence[Any]]) -> Iterator[tuple[object, ...]]:
        agents, texts = self._agents, self._texts
        for (
            at,
            contact_id,
            contact,
            conversation,
            from_id,
            to_id,
            source,
            actor,
            workflow_id,
            workflow,
            run,
            sync,
            reason,
        ) in rows:
            yield (
                _iso(at),
                contact_id,
                escape_cell((contact or "").strip()),
                conversation,
                from_id,
                agents[from_id],
                to_id,
                agents[to_id],
                source,
                texts[actor],
                workflow_id,
                # The name at the time of the change: a workflow's own changes carry it as their actor.
                texts[actor if source == WORKFLOW_SOURCE and workflow_id is not None else workflow],
                run,
                sync,
                texts[reason],
            )


class _Memo(dict[Any, str]):
    """The cells of a column whose values repeat, each rendered on first use (up to MEMO_LIMIT values)."""

    def __init__(self, render: Callable[[Any], str]) -> None:
        super().__init__()
        self._render = render

    def __missing__(self, value: Any) -> str:
        cell = self._render(value)
        if len(self) < MEMO_LIMIT:
            self[value] = cell
        return cell
