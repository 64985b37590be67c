"""Where Closeout stands with the platform: online, offline, token rejected, or the built-in demo."""

from __future__ import annotations

import logging
from collections.abc import Callable
from enum import StrEnum

log = logging.getLogger("closeout.sync")


class Connectivity(StrEnum):
    """The states the status bar shows.

    OFFLINE: connection errors; commands keep queueing, the drain backs off and probes, then resumes.
    AUTH_FAILED: a 401; the drain pauses until a new token is given. DEMO: the built-in workspace.
    """

    STARTING = "starting"
    ONLINE = "online"
    OFFLINE = "offline"
    AUTH_FAILED = "auth_failed"
    DEMO = "demo"

    @property
    def label(self) -> str:
        """Words for the status bar."""
        return {
            Connectivity.STARTING: "Connecting…",
            Connectivity.ONLINE: "Online",
            Connectivity.OFFLINE: "Offline",
            Connectivity.AUTH_FAILED: "Token rejected",
            Connectivity.DEMO: "Demo",
        }[self]


class ConnectivityState:
    """Holds the current state and tells a listener about each transition."""

    def __init__(self, demo: bool, on_change: Callable[[Connectivity], None]) -> None:
        """Start in STARTING (or DEMO, which never changes)."""
        self.demo = demo
        self.state = Connectivity.DEMO if demo else Connectivity.STARTING
        self.detail = ""
        self._on_change = on_change

    def _move(self, state: Connectivity, detail: str = "") -> None:
        if self.demo and state is not Connectivity.AUTH_FAILED:
            state = Connectivity.DEMO
        changed = state is not self.state or detail != self.detail
        self.state, self.detail = state, detail
        if changed:
            log.info("connectivity: %s %s", state.value, detail)
            self._on_change(state)

    def reached(self) -> None:
        """A request got an answer."""
        if self.state is not Connectivity.AUTH_FAILED:
            self._move(Connectivity.ONLINE)

    def unreachable(self, detail: str) -> None:
        """A request got no answer."""
        if self.state is not Connectivity.AUTH_FAILED:
            self._move(Connectivity.OFFLINE, detail)

    def rejected(self, detail: str) -> None:
        """The token was refused."""
        self._move(Connectivity.AUTH_FAILED, detail)

    def new_token(self) -> None:
        """A new token was given: try again; the next answered request makes it ONLINE."""
        self._move(Connectivity.STARTING)

    @property
    def can_send(self) -> bool:
        """Whether the drain may send (everything but a rejected token)."""
        return self.state is not Connectivity.AUTH_FAILED
