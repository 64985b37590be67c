"""One trigger condition in the editor: field, is / is not, and the values, chosen from real workspace data."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Signal
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLineEdit, QMenu, QPushButton, QToolButton, QWidget

from app.domain.conversations import ClosedBySource, OpenedBySource
from app.domain.workflows import Condition, ConditionField, ConditionOperator, TriggerKind
from ui.combo import current_enum
from ui.compat import nullable

FIELD_LABELS = {
    ConditionField.CLOSED_BY_SOURCE: "Closed by source",
    ConditionField.CLOSED_BY_USER: "Closed by user",
    ConditionField.CATEGORY: "Category",
    ConditionField.ASSIGNEE_AT_CLOSE: "Assignee at close",
    ConditionField.ASSIGNEE_TEAM: "Assignee's team",
    ConditionField.CONTACT_TAG: "Contact tag",
    ConditionField.OPENED_BY_SOURCE: "Opened by source",
}
CLOSE_FIELDS = tuple(f for f in FIELD_LABELS if f is not ConditionField.OPENED_BY_SOURCE)
OPEN_FIELDS = (ConditionField.OPENED_BY_SOURCE, ConditionField.CONTACT_TAG)
FREE_TEXT = {ConditionField.CATEGORY, ConditionField.CONTACT_TAG}


def fields_for(kind: TriggerKind) -> tuple[ConditionField, ...]:
    """The fields a trigger's conditions can look at."""
    return CLOSE_FIELDS if kind is TriggerKind.CONVERSATION_CLOSED else OPEN_FIELDS


def opened_label(source: OpenedBySource) -> str:
    """`Growth widget` for growth_widget."""
    return source.value.replace("_", " ").capitalize()


class StayOpenMenu(QMenu):
    """A menu of checkable values that stays open while the lead ticks several."""

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        """Toggle the value under the pointer without closing the menu."""
        action = nullable(self.actionAt(event.position().toPoint()))
        if action is not None and action.isCheckable() and action.isEnabled():
            action.trigger()
            event.accept()
            return
        super().mouseReleaseEvent(event)


class ValuesField(QWidget):
    """The values of a condition: picked from a menu, or typed (comma-separated) where free text makes sense."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        self.text = QLineEdit()
        self.text.setPlaceholderText("choose values")
        layout.addWidget(self.text, 1)
        self.pick = QToolButton()
        self.pick.setText("Choose")  # the popup mode draws the arrow
        self.pick.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.menu = StayOpenMenu(self)
        self.pick.setMenu(self.menu)
        layout.addWidget(self.pick)
        self._options: list[tuple[str, str]] = []
        self._free = False
        self._values: list[str] = []
        self.text.textEdited.connect(self._typed)

    def set_options(self, options: Sequence[tuple[str, str]], free_text: bool) -> None:
        """(value, label) pairs to pick from; with `free_text` any typed value is accepted too."""
        self._options = list(options)
        self._free = free_text
        self.text.setReadOnly(not free_text)
        self.text.setPlaceholderText("type or choose values, comma-separated" if free_text else "choose values")
        self._rebuild_menu()

    def _rebuild_menu(self) -> None:
        self.menu.clear()
        chosen = set(self._values)
        for value, label in self._options:
            action = self.menu.addAction(label)
            action.setCheckable(True)
            action.setChecked(value in chosen)
            action.toggled.connect(lambda checked, v=value: self._toggle(v, checked))
        self.pick.setEnabled(bool(self._options))

    def _label(self, value: str) -> str:
        for option, label in self._options:
            if option == value:
                return label
        return value

    def _toggle(self, value: str, checked: bool) -> None:
        if checked and value not in self._values:
            self._values.append(value)
        elif not checked and value in self._values:
            self._values.remove(value)
        self._show()
        self.changed.emit()

    def _typed(self, text: str) -> None:
        labels = {label.lower(): value for value, label in self._options}
        parts = [part.strip() for part in text.split(",") if part.strip()]
        self._values = [labels.get(part.lower(), part) for part in parts]
        self.changed.emit()

    def _show(self) -> None:
        self.text.setText(", ".join(self._label(v) for v in self._values))

    def values(self) -> tuple[str, ...]:
        """The chosen values, as stored in the workflow."""
        return tuple(self._values)

    def set_values(self, values: Sequence[str]) -> None:
        """Show these values."""
        self._values = list(values)
        self._show()
        self._rebuild_menu()


class ConditionRow(QWidget):
    """`field is/is not values`, with Remove."""

    changed = Signal()
    remove_requested = Signal()

    def __init__(self, options: dict[ConditionField, list[tuple[str, str]]], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._options = options
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.field = QComboBox()
        self.operator = QComboBox()
        self.operator.addItem("is", ConditionOperator.IS)
        self.operator.addItem("is not", ConditionOperator.IS_NOT)
        self.values = ValuesField()
        self.remove = QPushButton("Remove")
        layout.addWidget(self.field)
        layout.addWidget(self.operator)
        layout.addWidget(self.values, 1)
        layout.addWidget(self.remove)
        self.field.currentIndexChanged.connect(self._field_changed)
        self.operator.currentIndexChanged.connect(self.changed)
        self.values.changed.connect(self.changed)
        self.remove.clicked.connect(self.remove_requested)

    def set_trigger(self, kind: TriggerKind) -> None:
        """Offer the fields that apply to this trigger (a field that no longer applies stays, to be marked)."""
        current = current_enum(self.field, ConditionField)
        self.field.blockSignals(True)
        self.field.clear()
        for field in fields_for(kind):
            self.field.addItem(FIELD_LABELS[field], field)
        if current is not None and self.field.findData(current) < 0:
            self.field.addItem(f"{FIELD_LABELS[current]} (does not apply)", current)
        self.field.setCurrentIndex(max(0, self.field.findData(current)))
        self.field.blockSignals(False)
        self._apply_options()

    def _field_changed(self) -> None:
        self.values.set_values(())
        self._apply_options()
        self.changed.emit()

    def _apply_options(self) -> None:
        field = current_enum(self.field, ConditionField)
        if field is not None:
            self.values.set_options(self._options.get(field, []), field in FREE_TEXT)

    def set_condition(self, condition: Condition, kind: TriggerKind) -> None:
        """Show `condition`."""
        self.field.blockSignals(True)
        self.field.clear()
        self.field.addItem(FIELD_LABELS[condition.field], condition.field)
        self.field.blockSignals(False)
        self.set_trigger(kind)
        self.field.setCurrentIndex(max(0, self.field.findData(condition.field)))
        self.operator.setCurrentIndex(max(0, self.operator.findData(condition.operator)))
        self._apply_options()
        self.values.set_values(condition.values)

    def condition(self) -> Condition:
        """The condition as the form shows it."""
        field = current_enum(self.field, ConditionField) or ConditionField.CLOSED_BY_SOURCE
        operator = current_enum(self.operator, ConditionOperator) or ConditionOperator.IS
        return Condition(field, operator, self.values.values())


def source_options() -> dict[ConditionField, list[tuple[str, str]]]:
    """The fixed choices: close and open sources, in the platform's words."""
    return {
        ConditionField.CLOSED_BY_SOURCE: [
            (s.value, s.label) for s in ClosedBySource if s is not ClosedBySource.UNKNOWN
        ],
        ConditionField.OPENED_BY_SOURCE: [
            (s.value, opened_label(s)) for s in OpenedBySource if s is not OpenedBySource.UNKNOWN
        ],
    }
