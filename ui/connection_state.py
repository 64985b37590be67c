"""Where Closeout stands with the platform, held once for the window: the status bar and Settings both read it."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from app.services.connection import ConnectionService, Connectivity
from ui.bridge import Bridge


class ConnectionState(QObject):
    """The one connection state the window shows; fed by the bridge's transitions and the status polls."""

    changed = Signal(str, str)  # the Connectivity value and its detail

    def __init__(self, connection: ConnectionService, bridge: Bridge, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.state = Connectivity.DEMO if connection.is_demo else Connectivity.STARTING
        self.detail = ""
        bridge.connectivity_changed.connect(lambda value: self.set(Connectivity(value), self.detail))

    def set(self, state: Connectivity, detail: str = "") -> None:
        """Take a new state; listeners hear of it only when it differs."""
        if state is self.state and detail == self.detail:
            return
        self.state, self.detail = state, detail
        self.changed.emit(state.value, detail)

    def sentence(self, demo: bool) -> str:
        """The state as the Settings page says it."""
        if demo:
            return (
                "Closeout is running the built-in demo workspace. Paste your respond.io API token, test it, save it, "
                "then restart Closeout to leave the demo."
            )
        detail = f" ({self.detail})" if self.detail else ""
        return {
            Connectivity.STARTING: "Closeout is connecting to your respond.io workspace…",
            Connectivity.ONLINE: "Closeout is connected to your respond.io workspace.",
            Connectivity.OFFLINE: "Offline: respond.io cannot be reached"
            f"{detail}. Changes wait in the outbox and are sent when it answers again.",
            Connectivity.AUTH_FAILED: "respond.io refused the API token, so nothing is sent. Paste a new token below.",
            Connectivity.DEMO: "Closeout is running the built-in demo workspace.",
        }[self.state]
