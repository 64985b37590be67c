"""The history: filters, a lazily paged table, the count, the charts, and CSV export with progress and cancel.

Every query runs on the store's reader threads through the facade; the table asks for the next page (keyset
paging) only as it scrolls, so a million-row history opens as fast as a small one.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

from typing_extensions import override

from PySide6.QtCore import QTimer, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import QWidget

from app import portable
from app.domain.errors import CloseoutError, ExportCancelled
from app.domain.history import ChangeSource, Cursor, HistoryFilter, SyncState
from app.services.history import HistoryService
from ui import formatting
from ui.bridge import Bridge
from ui.coalescer import Coalescer
from ui.combo import current_enum
from ui.compat import asyncSlot
from ui.dialogs.date_range_dialog import DateRangeDialog
from ui.dialogs.export_path_dialog import ExportPathDialog
from ui.models import history_model
from ui.models.history_model import HistoryEntry, HistoryModel
from ui.tasks import OwnedTasks
from ui.views.history_view import HistoryView
from ui.widgets.column_fit import Column, ColumnFitter
from ui.widgets.delegates import ChipDelegate
from ui.widgets.empty_state import EmptyState
from ui.widgets.notifications import Notifier

log = logging.getLogger("closeout.ui.history")

PAGE = 200
PRESETS = (
    "Today",
    "Yesterday",
    "Last 7 days",
    "Last 14 days",
    "Last 30 days",
    "This month",
    "Last month",
    "All time",
    "Custom range",
)
DEFAULT_PRESET = "Last 7 days"
LIVE_MS = 1_000
CHARTS_MS = 5_000
TEXT_MS = 300
DAY = 86_400
FILTER_CONTACTS = 100
FILTER_CONVERSATIONS = 200


def names_of(people: list[Any], shown: int = 5) -> str:
    """The first few names of a list, and an ellipsis when there are more."""
    return ", ".join(p.name for p in people[:shown]) + ("…" if len(people) > shown else "")


def preset_days(preset: str) -> int | None:
    """How many days the per-day chart shows for a preset (None: the days that have data)."""
    if preset in ("Today", "Yesterday"):
        return 1
    if preset.startswith("Last ") and preset.endswith(" days"):
        return int(preset.split()[1])
    return None


def preset_range(
    preset: str, today: dt.date, custom: tuple[dt.date, dt.date] | None = None
) -> tuple[float | None, float | None]:
    """(since, until) in local Unix seconds for a date preset; `until` is exclusive, None means open."""

    def midnight(day: dt.date) -> float:
        return dt.datetime.combine(day, dt.time()).astimezone().timestamp()

    if preset == "Today":
        return midnight(today), None
    if preset == "Yesterday":
        return midnight(today - dt.timedelta(days=1)), midnight(today)
    if preset.startswith("Last ") and preset.endswith(" days"):
        days = int(preset.split()[1])
        return midnight(today - dt.timedelta(days=days - 1)), None
    if preset == "This month":
        return midnight(today.replace(day=1)), None
    if preset == "Last month":
        first = today.replace(day=1)
        previous = (first - dt.timedelta(days=1)).replace(day=1)
        return midnight(previous), midnight(first)
    if preset == "Custom range" and custom is not None:
        return midnight(custom[0]), midnight(custom[1] + dt.timedelta(days=1))
    return None, None


class HistoryPanel(HistoryView):
    """Owns the history model, the filters and the export."""

    export_progressed = Signal(int, int)
    """(rows written, rows in total), emitted from the database thread and delivered in the GUI thread."""
    filter_applied = Signal(object)

    def __init__(
        self, history: HistoryService, bridge: Bridge, notifier: Notifier, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self._service = history
        self._notifier = notifier
        self.tasks = OwnedTasks("history")
        self.model = HistoryModel(self.tasks, PAGE, parent=self)
        self.table.setModel(self.model)
        self.table.setItemDelegateForColumn(history_model.OUTCOME, ChipDelegate(history_model.STATUS_ROLE, self.table))
        h = history_model
        self.fitter = ColumnFitter(
            self.table,
            (
                Column(0, 110, 70, priority=0),
                Column(1, 150, 100, priority=0),
                Column(2, 130, 80, priority=2),
                Column(3, 130, 80, priority=1),
                Column(4, 80, 64, priority=3),
                Column(5, 170, 80, priority=4),
                Column(h.OUTCOME, 90, 84, key=True),
            ),
            stretch=len(h.COLUMNS) - 1,
        )
        self.filter = HistoryFilter()
        self._custom: tuple[dt.date, dt.date] | None = None
        self._agent_names: dict[int, str] = {}
        self._generation = 0
        self._dirty = True
        self._charts: tuple[Any, Any] | None = None
        self._cancel_export = threading.Event()
        self.exporting = False
        self.count_value: int | None = None

        self.preset.addItems(PRESETS)
        self.preset.setCurrentText(DEFAULT_PRESET)
        self.source.addItem("Any source", None)
        for source in ChangeSource:
            self.source.addItem(formatting.source_label(source), source)
        self.outcome.addItem("Any outcome", None)
        for state in SyncState:
            self.outcome.addItem(formatting.SYNC_WORDS[state], state)
        self.agent.addItem("Any agent", None)
        self.team.addItem("Any team", None)
        self.workflow.addItem("Any workflow", None)

        self._text_timer = QTimer(self)
        self._text_timer.setSingleShot(True)
        self._text_timer.setInterval(TEXT_MS)
        self._text_timer.timeout.connect(self._text_settled)
        self._contact_match: tuple[str, tuple[int, ...] | None] = ("", None)
        self._conversation_match: tuple[str, tuple[int, ...] | None] = ("", None)
        self._team_members: dict[int, tuple[int, ...]] = {}
        self._live = Coalescer(LIVE_MS, self._refresh_changes, self)
        self._charts_timer = QTimer(self)
        self._charts_timer.setSingleShot(True)
        self._charts_timer.setInterval(CHARTS_MS)
        self._charts_timer.timeout.connect(self._refresh_charts)

        self.preset.currentTextChanged.connect(self._preset_changed)
        self.range_button.clicked.connect(self._choose_range)
        for combo in (self.agent, self.team, self.source, self.workflow, self.outcome):
            combo.currentIndexChanged.connect(self.apply_filters)
        for field in (self.contact, self.conversation):
            field.textChanged.connect(self._text_timer.start)
        self.export.clicked.connect(self._export_clicked)
        self.reset.clicked.connect(self.reset_filters)
        self.empty = EmptyState(
            self.table,
            "No assignment change matches these filters. Widen the dates or press Reset filters; "
            "changes appear here as workflows run.",
            busy=lambda: bool(self.model.loading),
        )
        self.model.rows_loaded.connect(self.empty.update_state)
        self.cancel_export.clicked.connect(self._cancel_export.set)
        self.export_progressed.connect(self._show_export_progress)
        self.model.rows_loaded.connect(self._update_count_label)
        bridge.changes_changed.connect(self._changes_arrived)
        bridge.agents_changed.connect(self._reload_choices)
        bridge.workflows_changed.connect(self._reload_choices)

    # -- life cycle ------------------------------------------------------------------------------------------

    @override
    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._charts is None:
            self._build_charts()
        if self._dirty:
            self._dirty = False
            self.tasks.spawn(self._open(), "open")

    def _build_charts(self) -> None:
        from ui.widgets.charts import OpenLoadChart, PerDayChart

        per_day, load = PerDayChart(), OpenLoadChart()
        self.per_day_slot.addWidget(per_day, 1)
        self.load_slot.addWidget(load, 1)
        self._charts = (per_day, load)

    async def _open(self) -> None:
        await self._load_choices()
        self.apply_filters()

    def _reload_choices(self, *_: Any) -> None:
        self.tasks.spawn(self._load_choices(), "choices")

    async def _load_choices(self) -> None:
        agents = await self._service.agents()
        workflows = await self._service.workflows()
        teams = await self._service.teams()
        self._team_members = {team.id: members for team, members in teams}
        self._fill(self.team, "Any team", [(f"{team.name} ({len(members)})", team.id) for team, members in teams])
        self._agent_names = {agent_id: agent.name for agent_id, agent in agents.items()}
        self.model.set_agent_names(self._agent_names)
        self._fill(
            self.agent, "Any agent", sorted(((a.name, a.id) for a in agents.values()), key=lambda p: p[0].lower())
        )
        labels = formatting.workflow_labels(workflows)
        self._fill(self.workflow, "Any workflow", [(labels.get(w.id or 0, w.name), w.id) for w in workflows])
        self.model.set_same_named({w.id for w in workflows if w.id is not None and labels.get(w.id) != w.name})

    @staticmethod
    def _fill(combo: Any, anything: str, choices: list[tuple[str, Any]]) -> None:
        current = combo.currentData()
        combo.blockSignals(True)
        combo.clear()
        combo.addItem(anything, None)
        for label, value in choices:
            combo.addItem(label, value)
        found = combo.findData(current)
        combo.setCurrentIndex(max(0, found))
        combo.blockSignals(False)

    # -- filters -----------------------------------------------------------------------------------------------

    def _preset_changed(self, preset: str) -> None:
        self.range_button.setVisible(preset == "Custom range")
        if preset == "Custom range" and self._custom is None:
            self._choose_range()
            return
        self.apply_filters()

    @asyncSlot()
    async def _choose_range(self) -> None:
        today = dt.date.today()
        first, last = self._custom or (today - dt.timedelta(days=6), today)
        chosen = await DateRangeDialog.ask(self, first, last)
        if chosen is not None:
            self._custom = chosen
            self.range_button.setText(f"{chosen[0]:%d %b %Y} to {chosen[1]:%d %b %Y}")
            self.apply_filters()

    def _text_settled(self) -> None:
        self.tasks.spawn(self._resolve_text_then_apply(), "text-filters")

    async def _resolve_text_then_apply(self) -> None:
        """The contact and conversation fields take a name, phone, email or id: find what each one means."""
        contact_text, conversation_text = self.contact.text().strip(), self.conversation.text().strip()
        contacts, contact_tip = await self._resolve_contacts(contact_text)
        conversations, conversation_tip = await self._resolve_conversations(conversation_text)
        if (contact_text, conversation_text) != (self.contact.text().strip(), self.conversation.text().strip()):
            return  # typed on meanwhile: the next pause resolves it
        self._contact_match = (contact_text, contacts)
        self._conversation_match = (conversation_text, conversations)
        for field, text, found, tip in (
            (self.contact, contact_text, contacts, contact_tip),
            (self.conversation, conversation_text, conversations, conversation_tip),
        ):
            field.setProperty("needsInput", bool(text) and not found)
            field.style().polish(field)
            field.setToolTip(tip or field.property("help"))
        self.apply_filters()

    async def _resolve_contacts(self, text: str) -> tuple[tuple[int, ...] | None, str]:
        """The contacts `text` finds (one when it names one exactly), and a tooltip that says which."""
        if not text:
            return None, ""
        found = await self._service.find_contacts(text, FILTER_CONTACTS)
        exact = [c for c in found if c.name.lower() == text.lower() or str(c.id) == text]
        if len(found) == 1 or len(exact) == 1:
            contact = found[0] if len(found) == 1 else exact[0]
            return (contact.id,), f"{contact.name} (id {contact.id})"
        if not found:
            return (), f"No contact's name, phone or email contains “{text}”."
        more = "+" if len(found) >= FILTER_CONTACTS else ""
        return tuple(c.id for c in found), f"{len(found)}{more} contacts match: {names_of(found)}. Type more to narrow."

    async def _resolve_conversations(self, text: str) -> tuple[tuple[int, ...] | None, str]:
        """The conversations (stored closes) `text` finds: by id, or the latest of the contacts it matches."""
        if not text:
            return None, ""
        found = await self._service.find_conversations(text, FILTER_CONVERSATIONS)
        if not found:
            return (), f"No conversation has id {text}, and no contact with one matches “{text}”."
        if text.isdigit() and len(found) == 1 and found[0].id == int(text):
            return (int(text),), f"Conversation {text}, of {found[0].contact.name}"
        contacts = list({c.contact.id: c.contact for c in found}.values())
        shown = f"The newest {len(found)}" if len(found) >= FILTER_CONVERSATIONS else f"{len(found)}"
        return tuple(c.id for c in found if c.id is not None), f"{shown} conversations of {names_of(contacts)}."

    def current_filter(self) -> HistoryFilter:
        """The filter the fields describe now."""
        since, until = preset_range(self.preset.currentText(), dt.date.today(), self._custom)
        contacts = self._matched(self.contact, self._contact_match)
        conversations = self._matched(self.conversation, self._conversation_match)
        team = self.team.currentData()
        return HistoryFilter(
            since=since,
            until=until,
            agent_id=self.agent.currentData(),
            source=current_enum(self.source, ChangeSource),
            workflow_id=self.workflow.currentData(),
            contact_id=contacts[0] if contacts is not None and len(contacts) == 1 else None,
            conversation_id=conversations[0] if conversations is not None and len(conversations) == 1 else None,
            sync_state=current_enum(self.outcome, SyncState),
            agent_ids=None if team is None else self._team_members.get(team, ()),
            contact_ids=contacts if contacts is not None and len(contacts) != 1 else None,
            conversation_ids=conversations if conversations is not None and len(conversations) != 1 else None,
        )

    @staticmethod
    def _matched(field: Any, match: tuple[str, tuple[int, ...] | None]) -> tuple[int, ...] | None:
        """The ids a text field stands for: what it last resolved to, or its number until it is resolved."""
        text = field.text().strip()
        if not text:
            return None
        matched_text, ids = match
        if matched_text == text and ids is not None:
            return ids
        return (int(text),) if text.isdigit() else ()

    def reset_filters(self) -> None:
        """Every filter back to its default (the last 7 days, nothing else), in one reload."""
        widgets = (
            self.preset,
            self.agent,
            self.team,
            self.source,
            self.workflow,
            self.outcome,
            self.contact,
            self.conversation,
        )
        for widget in widgets:
            widget.blockSignals(True)
        try:
            self.preset.setCurrentIndex(max(0, self.preset.findText(DEFAULT_PRESET)))
            self.range_button.setVisible(False)
            for combo in (self.agent, self.team, self.source, self.workflow, self.outcome):
                combo.setCurrentIndex(0)
            for field in (self.contact, self.conversation):
                field.clear()
                field.setProperty("needsInput", False)
                field.style().polish(field)
                field.setToolTip(field.property("help"))
            self._contact_match = self._conversation_match = ("", None)
        finally:
            for widget in widgets:
                widget.blockSignals(False)
        self.apply_filters()

    def apply_filters(self, *_: Any) -> None:
        """Start over with the filter the fields describe: first page, count and charts, all off the GUI thread."""
        self._text_timer.stop()  # this covers a pending edit of the id fields too
        self.set_filter(self.current_filter())

    def set_filter(self, flt: HistoryFilter) -> None:
        """Show the history matching `flt`."""
        self.filter = flt
        self._generation += 1
        self.count_value = None
        self.count.setText("Counting…")

        async def fetch(cursor: Cursor | None) -> tuple[list[HistoryEntry], Cursor | None]:
            page = await self._service.history_page(flt, after=cursor, limit=PAGE)
            names = await self._service.contact_names([row.contact_id for row in page.rows])
            entries = [HistoryEntry(row, names.get(row.contact_id, f"contact {row.contact_id}")) for row in page.rows]
            return entries, page.next

        self.model.set_fetch(fetch)
        self.tasks.spawn(self._count(self._generation, flt), "count")
        self._refresh_charts()
        self.filter_applied.emit(flt)

    async def _count(self, generation: int, flt: HistoryFilter) -> None:
        total = await self._service.history_count(flt)
        if generation == self._generation:
            self.count_value = total
            self._update_count_label()

    def _update_count_label(self, *_: Any) -> None:
        if self.count_value is None:
            return
        shown = self.model.rowCount()
        self.count.setText(f"{self.count_value:,} changes match · {shown:,} loaded")

    # -- live updates ------------------------------------------------------------------------------------------

    def _changes_arrived(self, ids: list[int]) -> None:
        if self.isVisible():
            self._live.add(ids)
        else:
            self._dirty = True

    def _refresh_changes(self, ids: set[int]) -> None:
        if ids and self.isVisible() and not self.model.loading:
            self.tasks.spawn(self._apply_changes(self._generation, ids), "live")

    async def _apply_changes(self, generation: int, ids: set[int]) -> None:
        flt = self.filter
        known = {entry.change.id for entry in self.model.rows()}
        fresh_rows = await self._service.history_rows([i for i in ids if i in known])
        if generation != self._generation:
            return
        if fresh_rows:
            current = {entry.change.id: entry for entry in self.model.rows()}
            replaced = {
                row.id: HistoryEntry(row, current[row.id].contact)
                for row in fresh_rows
                if row.id is not None and row.id in current
            }
            self.model.replace_where(replaced, lambda entry: entry.change.id)
        if any(i not in known for i in ids):
            rows = self.model.rows()
            top = rows[0].change if rows else None
            newer_filter = flt if top is None else replace(flt, since=max(flt.since or 0.0, top.at))
            page = await self._service.history_page(newer_filter, None, PAGE)
            if generation != self._generation:
                return
            newer = [
                row
                for row in page.rows
                if row.id not in known and (top is None or (row.at, row.id or 0) > (top.at, top.id or 0))
            ]
            if newer:
                names = await self._service.contact_names([row.contact_id for row in newer])
                if generation != self._generation:
                    return
                self.model.prepend([HistoryEntry(r, names.get(r.contact_id, f"contact {r.contact_id}")) for r in newer])
            total = await self._service.history_count(flt)
            if generation == self._generation:
                self.count_value = total
                self._update_count_label()
            if not self._charts_timer.isActive():
                self._charts_timer.start()

    def _refresh_charts(self) -> None:
        if self._charts is not None:
            self.tasks.spawn(self._load_charts(self._generation, self.filter), "charts")

    async def _load_charts(self, generation: int, flt: HistoryFilter) -> None:
        per_day = await self._service.per_day_by_source(flt)
        loads = await self._service.open_load()
        if generation != self._generation or self._charts is None:
            return
        per_day_chart, load_chart = self._charts
        per_day_chart.set_data(per_day, preset_days(self.preset.currentText()))
        load_chart.set_data(loads, self._agent_names)

    # -- export ------------------------------------------------------------------------------------------------

    @asyncSlot()
    async def _export_clicked(self) -> None:
        suggested = portable.documents_dir() / f"closeout-history-{dt.date.today():%Y-%m-%d}.csv"
        path = await ExportPathDialog.ask(self, suggested)
        if path is not None:
            await self.export_to(path)

    def _progress(self, done: int, total: int) -> bool:
        # Runs on the database thread: only emit (queued to the GUI thread) and read a thread-safe flag.
        self.export_progressed.emit(done, total)
        return not self._cancel_export.is_set()

    def _show_export_progress(self, done: int, total: int) -> None:
        self.export_progress.setMaximum(max(1, total))
        self.export_progress.setValue(min(done, max(1, total)))
        self.export_progress.setFormat(f"{done:,} / {total:,} rows")

    async def export_to(self, path: Path) -> int | None:
        """Write the filtered rows to `path`; returns the row count, or None when cancelled or refused."""
        if self.exporting:
            return None
        self.exporting = True
        self._cancel_export.clear()
        self.export.setEnabled(False)
        self.export_progress.setValue(0)
        self.export_progress.show()
        self.cancel_export.show()
        try:
            written = await self._service.export_csv(
                path, self.filter, self._progress, for_excel=self.for_excel.isChecked()
            )
        except ExportCancelled:
            self._notifier.info("Export cancelled; no file was written.")
            return None
        except CloseoutError as exc:
            self._notifier.error(exc)
            return None
        except OSError as exc:
            self._notifier.error(f"The file could not be written: {exc.strerror or exc}. Choose another folder.")
            return None
        finally:
            self.exporting = False
            self.export.setEnabled(True)
            self.export_progress.hide()
            self.cancel_export.hide()
        self._notifier.info(f"Exported {written:,} changes to {path}.")
        return written
