"""A table model that loads its rows a page at a time, off the GUI thread, as the view scrolls (keyset paging)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from typing_extensions import override

from PySide6.QtCore import Signal

from ui.models.table_model import ROOT, Index, Row, RowTableModel
from ui.tasks import OwnedTasks

PageFetch = Callable[[Any], Awaitable[tuple[Sequence[Any], Any]]]
"""Given the cursor of the last page (None for the first), return (rows, next cursor or None)."""


class PagedTableModel(RowTableModel[Row]):
    """Rows arrive through `fetch`; `set_fetch` starts over (a new filter), dropping pages still in flight.

    Subclasses give `columns` and `cell(row, column, role)`.
    """

    loading_changed = Signal(bool)
    rows_loaded = Signal(int)
    """A page arrived: the number of rows now shown."""

    def __init__(self, tasks: OwnedTasks, page_size: int = 200, parent: Any = None) -> None:
        super().__init__(parent)
        self._tasks = tasks
        self._fetch: PageFetch | None = None
        self._cursor: Any = None
        self._more = False
        self._generation = 0
        self._loading: asyncio.Task[None] | None = None
        self.page_size = page_size

    # -- Qt ---------------------------------------------------------------------------------------------------

    @override
    def canFetchMore(self, parent: Index = ROOT) -> bool:
        return not parent.isValid() and self._more and self._loading is None

    @override
    def fetchMore(self, parent: Index = ROOT) -> None:
        if self.canFetchMore(parent):
            self._start_page()

    # -- loading -------------------------------------------------------------------------------------------

    @property
    def loading(self) -> bool:
        """Whether a page is on its way."""
        return self._loading is not None

    @property
    def has_more(self) -> bool:
        """Whether older rows remain to be fetched."""
        return self._more

    def rows(self) -> list[Row]:
        """The rows loaded so far (a copy)."""
        return list(self._rows)

    def row_at(self, row: int) -> Row:
        """The row shown at `row`."""
        return self._rows[row]

    def set_fetch(self, fetch: PageFetch) -> None:
        """Start over with a new source of pages; the first page is fetched at once."""
        self._generation += 1
        if self._loading is not None:
            self._loading.cancel()
            self._loading = None
        self.beginResetModel()
        self._rows = []
        self._cursor = None
        self._more = True
        self._fetch = fetch
        self.endResetModel()
        self._start_page()

    def _start_page(self) -> None:
        self._loading = self._tasks.spawn(self._load(self._generation), "page")
        if self._loading is not None:
            self.loading_changed.emit(True)

    async def _load(self, generation: int) -> None:
        assert self._fetch is not None
        try:
            rows, cursor = await self._fetch(self._cursor)
        except BaseException:
            if generation == self._generation:
                self._more = False  # do not retry in a loop; a new filter starts over
            raise
        finally:
            if generation == self._generation:
                self._loading = None
                self.loading_changed.emit(False)
        if generation != self._generation:
            return
        self._cursor = cursor
        self._more = cursor is not None and bool(rows)
        if rows:
            start = len(self._rows)
            self.beginInsertRows(ROOT, start, start + len(rows) - 1)
            self._rows.extend(rows)
            self.endInsertRows()
        self.rows_loaded.emit(len(self._rows))

    async def wait_idle(self) -> None:
        """Return once no page is in flight (tests and the benchmark await this)."""
        while self._loading is not None:
            await asyncio.wait({self._loading})

    async def load_next(self) -> int:
        """Fetch the next page now and wait for it; returns the rows shown."""
        await self.wait_idle()
        if self._more:
            self._start_page()
            await self.wait_idle()
        return len(self._rows)

    # -- live updates --------------------------------------------------------------------------------------

    def replace_where(self, fresh: dict[int, Row], key: Callable[[Row], int | None]) -> int:
        """Replace the loaded rows whose key is in `fresh`; returns how many changed."""
        changed = []
        for i, row in enumerate(self._rows):
            k = key(row)
            if k is not None and k in fresh:
                self._rows[i] = fresh[k]
                changed.append(i)
        if changed:
            self.dataChanged.emit(self.index(min(changed), 0), self.index(max(changed), len(self.columns) - 1))
        return len(changed)

    def prepend(self, rows: Sequence[Row]) -> None:
        """Insert newer rows at the top."""
        if rows:
            self.beginInsertRows(ROOT, 0, len(rows) - 1)
            self._rows[0:0] = list(rows)
            self.endInsertRows()
