"""Words in an empty table that say why it is empty and what to do, over its viewport (nothing moves)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QAbstractItemView, QLabel


class EmptyState(QLabel):
    """Shown while the table's model has no rows (and is not still loading)."""

    def __init__(self, table: QAbstractItemView, text: str, busy: Callable[[], bool] = lambda: False) -> None:
        super().__init__(text, table.viewport())
        self._table = table
        self._busy = busy
        self.setWordWrap(True)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setProperty("role", "muted")
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        table.viewport().installEventFilter(self)
        model = table.model()
        for signal in (model.modelReset, model.rowsInserted, model.rowsRemoved, model.layoutChanged):
            signal.connect(self.update_state)
        self.update_state()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Stay centred in the viewport."""
        if event.type() == QEvent.Type.Resize:
            self._place()
        return False

    def _place(self) -> None:
        viewport = self._table.viewport()
        width = min(520, max(200, viewport.width() - 40))
        self.setGeometry((viewport.width() - width) // 2, 30, width, max(40, min(120, viewport.height() - 40)))

    def update_state(self, *_: object) -> None:
        """Show the words while there is nothing to show."""
        model = self._table.model()
        self._place()
        self.setVisible(model.rowCount() == 0 and not self._busy())
