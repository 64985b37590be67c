"""The history: pages, counts, charts and export of every assignment change, and its filters' look-ups."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from app.domain.conversations import ClosedConversation
from app.domain.history import AssignmentChange, Cursor, HistoryFilter, HistoryPage
from app.domain.people import Contact, Team
from app.services.core import Service, connected

if TYPE_CHECKING:
    from app.storage.export import Progress

FILTER_CONTACTS = 100
"""Contacts a name, phone or email filter matches at most (the history merges one index read per contact)."""


class HistoryService(Service):
    """What the History page reads and exports."""

    @connected
    async def history_page(self, flt: HistoryFilter, after: Cursor | None = None, limit: int = 200) -> HistoryPage:
        """One page of the history, newest first."""
        store = self._core.store
        return await store.db.read(store.history.page, flt, after, limit)

    @connected
    async def history_count(self, flt: HistoryFilter) -> int:
        """How many history rows match."""
        store = self._core.store
        return await store.db.read(store.history.count, flt)

    @connected
    async def history_rows(self, change_ids: Sequence[int]) -> list[AssignmentChange]:
        """These history rows as they are now (to refresh the rows a change-set names), in no order."""
        store = self._core.store

        def load() -> list[AssignmentChange]:
            rows = (store.history.get(change_id) for change_id in change_ids)
            return [row for row in rows if row is not None]

        return await store.db.read(load)

    @connected
    async def per_day_by_source(self, flt: HistoryFilter) -> list[tuple[int, str, int]]:
        """Changes per day and source, the days breaking at midnight in this machine's zone (across DST changes)."""
        store = self._core.store
        return await store.db.read(store.history.per_day_by_source, flt, None)

    @connected
    async def open_load(self) -> dict[int, int]:
        """Open contacts per agent now."""
        store = self._core.store
        return await store.db.read(store.cache.open_load)

    @connected
    async def export_csv(
        self, path: Path, flt: HistoryFilter, progress: Progress | None = None, for_excel: bool = False
    ) -> int:
        """Write the filtered history to `path` as CSV (with a UTF-8 BOM `for_excel`); returns the number of rows."""
        names = {agent_id: agent.name for agent_id, agent in (await self.agents()).items()}
        store = self._core.store
        return await store.db.read(store.exporter.to_path, path, flt, names, progress, for_excel)

    @connected
    async def find_contacts(self, text: str, limit: int = 20) -> list[Contact]:
        """Cached contacts by id, or whose name, phone or email contains `text` (the filters' look-up)."""
        store = self._core.store
        stripped = text.strip()
        if stripped.isdigit():
            found = await store.db.read(store.cache.contacts, [int(stripped)])
            if found:
                return list(found.values())
        return await store.db.read(store.cache.find, stripped, limit)

    @connected
    async def find_conversations(self, text: str, limit: int = 200) -> list[ClosedConversation]:
        """Stored closes by id, or the latest of the contacts whose name, phone or email contains `text`."""
        store = self._core.store
        stripped = text.strip()
        if stripped.isdigit():
            found = await store.db.read(store.closes.by_ids, [int(stripped)])
            if found:
                return found
        contacts = await self.find_contacts(stripped, FILTER_CONTACTS)
        return await store.db.read(store.closes.of_contacts, [c.id for c in contacts], limit)

    @connected
    async def teams(self) -> list[tuple[Team, tuple[int, ...]]]:
        """The teams of the cached agents with their members' ids, by name (the history's team filter)."""
        members: dict[int, tuple[Team, list[int]]] = {}
        for agent in (await self.agents()).values():
            if agent.team is not None:
                members.setdefault(agent.team.id, (agent.team, []))[1].append(agent.id)
        return sorted(
            ((team, tuple(sorted(ids))) for team, ids in members.values()), key=lambda p: (p[0].name.lower(), p[0].id)
        )
