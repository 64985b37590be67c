"""The Team page: the lead marks agents available or away and gives them working hours.

respond.io reports no presence, so this is where "only online users" gets its answer. Changes are saved at
once; a run waiting for someone available gets its chance as soon as one is marked.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from typing_extensions import override

from PySide6.QtCore import QTimer
from PySide6.QtGui import QHideEvent, QShowEvent
from PySide6.QtWidgets import QHeaderView, QWidget

from app.domain.availability import Presence, WorkingHours
from app.domain.errors import CloseoutError
from app.services.team import TeamMember, TeamService
from app.settings import TIME_ZONE
from ui.bridge import Bridge
from ui.models import team_model
from ui.models.team_model import TeamModel
from ui.style import needs_input_color
from ui.tasks import OwnedTasks
from ui.views.team_view import TeamView
from ui.widgets.notifications import Notifier

CLOCK_MS = 60_000
EXPLAINER = (
    "respond.io does not share who is online, so “Only online users” in Assign To, and the Round Robin + Online "
    "Only template, assign only to the agents marked available here, inside their working hours if they have "
    "any. An agent not set yet counts as away. Double-click the working hours to change them, e.g. "
    "“Mon-Fri 09:00-17:00” (empty: any time). Times are in {zone}."
)


class TeamPage(TeamView):
    """Owns the team model; refreshes when shown and when the agents or their availability change."""

    def __init__(self, team: TeamService, bridge: Bridge, notifier: Notifier, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._service = team
        self._notifier = notifier
        self.tasks = OwnedTasks("team")
        self.model = TeamModel(self)
        self.table.setModel(self.model)
        # The agent's name and email take the room left, so every column fits from 1024 pixels wide up.
        header = self.table.horizontalHeader()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(team_model.AGENT, QHeaderView.ResizeMode.Stretch)
        for column, width in ((team_model.TEAM, 140), (team_model.AVAILABLE, 110), (team_model.HOURS, 190)):
            header.resizeSection(column, width)
        header.resizeSection(team_model.NOW, 120)
        self.explainer.setText(EXPLAINER.format(zone=self._zone_words()))
        self._dirty = True
        self.model.presence_requested.connect(self._presence_requested)
        self.model.hours_requested.connect(self._hours_requested)
        self.refresh.clicked.connect(self.reload_soon)
        bridge.agents_changed.connect(self._agents_changed)
        # "Now" follows the clock: working hours begin and end while the page is open.
        self._clock = QTimer(self)
        self._clock.setInterval(CLOCK_MS)
        self._clock.timeout.connect(self.reload_soon)

    def _zone_words(self) -> str:
        try:
            name = self._service.settings.get(TIME_ZONE)
        except CloseoutError as exc:
            return f"this computer's time zone ({exc.message})"
        return f"{name} (Settings: {TIME_ZONE.label})" if name.strip() else "this computer's time zone"

    @override
    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._clock.start()
        if self._dirty:
            self.reload_soon()

    @override
    def hideEvent(self, event: QHideEvent) -> None:
        self._clock.stop()
        super().hideEvent(event)

    def _agents_changed(self, initiator: object = None) -> None:
        if initiator is self:  # the page's own save: it refreshes that row, not the table
            return
        if self.isVisible():
            self.reload_soon()
        else:
            self._dirty = True

    def reload_soon(self) -> None:
        """Read the agents and their availability again."""
        self._dirty = False
        self.tasks.spawn(self.reload(), "reload")

    async def reload(self) -> list[TeamMember]:
        """Fill the table from the cache; returns what it shows."""
        members = await self._service.team()
        self.model.replace_all(members)
        if not members:
            self._say("No agents in the cache yet: they arrive with the first sync with respond.io.", ok=True)
        return members

    def _presence_requested(self, agent_id: int, available: bool) -> None:
        self.tasks.spawn(self.set_presence(agent_id, Presence.AVAILABLE if available else Presence.AWAY), "presence")

    def _hours_requested(self, agent_id: int, text: str) -> None:
        self.tasks.spawn(self.set_hours(agent_id, text), "hours")

    async def set_presence(self, agent_id: int, presence: Presence) -> bool:
        """Save an agent's presence; says what happened in words."""
        return await self._save(agent_id, lambda: self._service.set_presence(agent_id, presence, initiator=self))

    async def set_hours(self, agent_id: int, text: str) -> bool:
        """Parse and save an agent's working hours (empty clears them); a typo is refused in words."""

        async def save() -> object:
            hours = WorkingHours.parse(text) if text.strip() else None
            return await self._service.set_hours(agent_id, hours, initiator=self)

        return await self._save(agent_id, save)

    async def _save(self, agent_id: int, save: Callable[[], Awaitable[object]]) -> bool:
        try:
            await save()
        except CloseoutError as exc:
            self._say(f"Not saved: {exc.message} {exc.action}".strip(), ok=False)
            return False
        await self._refresh_row(agent_id)
        return True

    async def _refresh_row(self, agent_id: int) -> None:
        member = next((m for m in await self._service.team() if m.agent.id == agent_id), None)
        if member is None:
            return
        self.model.update_member(member)
        hours = member.availability.hours.describe() if member.availability.hours else "at any time"
        state = "available" if member.availability.presence is Presence.AVAILABLE else "away"
        self._say(f"Saved: {member.agent.name} is {state}, {hours}.", ok=True)

    def _say(self, text: str, *, ok: bool) -> None:
        self.message.setText(text)
        self.message.setStyleSheet("" if ok else f"color: {needs_input_color(self.palette()).name()}")
