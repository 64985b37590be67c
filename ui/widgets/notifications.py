"""Non-blocking notifications: what happened and what to do next, with an optional action button."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QToolButton, QVBoxLayout, QWidget

from app.domain.errors import CloseoutError

MAX_SHOWN = 3
INFO_SECONDS = 8


@dataclass(frozen=True)
class Notice:
    """One notification. `key` replaces an earlier notice with the same key (e.g. the connectivity one)."""

    level: str  # "info", "warning" or "error"
    text: str
    action_label: str = ""
    action: Callable[[], None] | None = None
    key: str = ""


class Notifier(QObject):
    """Where widgets post notices; the notification area shows them."""

    posted = Signal(object)
    withdrawn = Signal(str)

    def info(self, text: str, key: str = "") -> None:
        """Something worth knowing; it fades after a few seconds."""
        self.posted.emit(Notice("info", text, key=key))

    def warning(
        self, text: str, key: str = "", action_label: str = "", action: Callable[[], None] | None = None
    ) -> None:
        """Something is wrong but Closeout copes."""
        self.posted.emit(Notice("warning", text, action_label, action, key))

    def error(
        self,
        error: CloseoutError | str,
        key: str = "",
        action_label: str = "",
        action: Callable[[], None] | None = None,
    ) -> None:
        """A failure, in words, with what to do next."""
        text = error if isinstance(error, str) else f"{error.message} {error.action}".strip()
        self.posted.emit(Notice("error", text, action_label, action, key))

    def withdraw(self, key: str) -> None:
        """Remove the notice posted under `key`, if shown."""
        self.withdrawn.emit(key)


class NoticeFrame(QFrame):
    """One shown notice."""

    dismissed = Signal()

    def __init__(self, notice: Notice, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.notice = notice
        self.setProperty("role", "notice")
        self.setProperty("level", notice.level)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 6, 6)
        icon = {"info": "•", "warning": "⚠", "error": "✖"}[notice.level]
        self.label = QLabel(f"{icon}  {notice.text}")
        self.label.setWordWrap(True)
        layout.addWidget(self.label, 1)
        self.action_button: QPushButton | None = None
        if notice.action is not None and notice.action_label:
            self.action_button = QPushButton(notice.action_label)
            self.action_button.clicked.connect(self._act)
            layout.addWidget(self.action_button)
        self.close_button = QToolButton()
        self.close_button.setText("✕")
        self.close_button.setToolTip("Dismiss")
        self.close_button.setAutoRaise(True)
        self.close_button.clicked.connect(self.dismissed)
        layout.addWidget(self.close_button)

    def _act(self) -> None:
        if self.notice.action is not None:
            self.notice.action()
        self.dismissed.emit()


class NotificationArea(QWidget):
    """A stack of notices above the page, newest on top; info notices go away by themselves."""

    def __init__(self, notifier: Notifier, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(4)
        notifier.posted.connect(self.show_notice)
        notifier.withdrawn.connect(self.withdraw)
        self.hide()

    def frames(self) -> list[NoticeFrame]:
        """The notices shown, newest first."""
        found = []
        for i in range(self._layout.count()):
            item = self._layout.itemAt(i)
            widget = item.widget() if item is not None else None
            if isinstance(widget, NoticeFrame) and not widget.property("closing"):
                found.append(widget)
        return found

    def notices(self) -> list[Notice]:
        """What is shown, newest first."""
        return [frame.notice for frame in self.frames()]

    def show_notice(self, notice: Notice) -> None:
        """Show `notice`, replacing one with the same key."""
        if notice.key:
            self.withdraw(notice.key)
        frame = NoticeFrame(notice)
        frame.dismissed.connect(lambda: self._remove(frame))
        self._layout.insertWidget(0, frame)
        for extra in self.frames()[MAX_SHOWN:]:
            self._remove(extra)
        if notice.level == "info":
            timer = QTimer(frame)
            timer.setSingleShot(True)
            timer.timeout.connect(lambda: self._remove(frame))
            timer.start(INFO_SECONDS * 1000)
        self.show()

    def withdraw(self, key: str) -> None:
        """Remove the notice with this key."""
        for frame in self.frames():
            if frame.notice.key == key:
                self._remove(frame)

    def _remove(self, frame: NoticeFrame) -> None:
        if frame.property("closing"):
            return
        frame.setProperty("closing", True)
        frame.hide()
        self._layout.removeWidget(frame)
        frame.deleteLater()
        self._update_visibility()

    def _update_visibility(self) -> None:
        self.setVisible(bool(self.frames()))
