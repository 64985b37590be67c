"""Non-blocking notifications: what happened and what to do next, with an optional action button."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QEvent, QObject, QTimer, Signal
from PySide6.QtGui import QEnterEvent
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
    hovered = Signal(bool)

    def __init__(self, notice: Notice, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.notice = notice
        self.setProperty("role", "notice")
        self.setProperty("level", notice.level)
        self.row = layout = QHBoxLayout(self)
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

    def enterEvent(self, event: QEnterEvent) -> None:
        """Keep the notice while the pointer is over it."""
        super().enterEvent(event)
        self.hovered.emit(True)

    def leaveEvent(self, event: QEvent) -> None:
        """The pointer left: an info notice may go away again."""
        super().leaveEvent(event)
        self.hovered.emit(False)

    def _act(self) -> None:
        if self.notice.action is not None:
            self.notice.action()
        self.dismissed.emit()


class NotificationArea(QWidget):
    """Notices that float over the bottom right of `anchor`, newest at the bottom; they never move the layout.

    An info notice goes away by itself after a few seconds, but not while the pointer is over it: its timer
    starts again when the pointer leaves.
    """

    MARGIN = 12
    MAX_WIDTH = 560

    def __init__(self, notifier: Notifier, anchor: QWidget | None = None) -> None:
        super().__init__(anchor)
        self.setObjectName("notifications")
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(4)
        self._timers: dict[NoticeFrame, QTimer] = {}
        notifier.posted.connect(self.show_notice)
        notifier.withdrawn.connect(self.withdraw)
        if anchor is not None:
            anchor.installEventFilter(self)
        self.hide()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Follow the anchor's size."""
        if watched is self.parent() and event.type() == QEvent.Type.Resize:
            self.place()
        return False

    def place(self) -> None:
        """Float over the anchor's bottom right corner, as tall as the notices need."""
        anchor = self.parentWidget()
        if anchor is None:
            return
        width = max(200, min(self.MAX_WIDTH, anchor.width() - 2 * self.MARGIN))
        # Each frame as tall as its wrapped text at this width, measured with its style's font and margins
        # (a frame not yet shown is not polished: measured unpolished, the text of two long notices was cut).
        frames = self.frames()
        for frame in frames:
            frame.ensurePolished()
            frame.label.ensurePolished()
        self._layout.invalidate()
        heights = [self._frame_height(frame, width) for frame in frames]
        height = sum(heights) + self._layout.spacing() * max(0, len(frames) - 1)
        height = min(height, max(0, anchor.height() - 2 * self.MARGIN))
        self.setGeometry(anchor.width() - width - self.MARGIN, anchor.height() - height - self.MARGIN, width, height)
        self._layout.activate()
        self.raise_()

    @staticmethod
    def _frame_height(frame: NoticeFrame, width: int) -> int:
        """The height `frame` needs at `width`: its wrapped label, or its buttons if they are taller."""
        layout = frame.row
        margins = layout.contentsMargins()
        border = 2 * frame.frameWidth()  # the layout works inside the frame's border
        buttons = [b for b in (frame.action_button, frame.close_button) if b is not None]
        spacing = layout.spacing() * len(buttons)
        beside = margins.left() + margins.right() + border + spacing + sum(b.sizeHint().width() for b in buttons)
        inner = max([frame.label.heightForWidth(max(1, width - beside))] + [b.sizeHint().height() for b in buttons])
        return inner + margins.top() + margins.bottom() + border

    def frames(self) -> list[NoticeFrame]:
        """The notices shown, newest first."""
        found = []
        for i in range(self._layout.count()):
            item = self._layout.itemAt(i)
            widget = item.widget() if item is not None else None
            if isinstance(widget, NoticeFrame) and not widget.property("closing"):
                found.append(widget)
        return found[::-1]

    def notices(self) -> list[Notice]:
        """What is shown, newest first."""
        return [frame.notice for frame in self.frames()]

    def show_notice(self, notice: Notice) -> None:
        """Show `notice`, replacing one with the same key."""
        if notice.key:
            self.withdraw(notice.key)
        frame = NoticeFrame(notice)
        frame.dismissed.connect(lambda: self._remove(frame))
        frame.hovered.connect(lambda inside: self._hovered(frame, inside))
        self._layout.addWidget(frame)
        frame.show()  # a layout shows a child of a visible widget only on a later pass: measure it now
        for extra in self.frames()[MAX_SHOWN:]:
            self._remove(extra)
        if notice.level == "info":
            timer = QTimer(frame)
            timer.setSingleShot(True)
            timer.setInterval(INFO_SECONDS * 1000)
            timer.timeout.connect(lambda: self._remove(frame))
            self._timers[frame] = timer
            timer.start()
        self.show()
        self.place()

    def _hovered(self, frame: NoticeFrame, inside: bool) -> None:
        timer = self._timers.get(frame)
        if timer is None:
            return
        if inside:
            timer.stop()
        else:
            timer.start()

    def withdraw(self, key: str) -> None:
        """Remove the notice with this key."""
        for frame in self.frames():
            if frame.notice.key == key:
                self._remove(frame)

    def _remove(self, frame: NoticeFrame) -> None:
        if frame.property("closing"):
            return
        frame.setProperty("closing", True)
        self._timers.pop(frame, None)
        frame.hide()
        self._layout.removeWidget(frame)
        frame.deleteLater()
        self._update_visibility()

    def _update_visibility(self) -> None:
        self.setVisible(bool(self.frames()))
        self.place()
