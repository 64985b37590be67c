"""Reading enum choices back from combo boxes.

Qt stores a `StrEnum` item's data as a plain QString, so `currentData()` returns `str`, not the member; code
that compares with `is` (as the domain does) needs the member back.
"""

from __future__ import annotations

from enum import Enum
from typing import TypeVar

from PySide6.QtWidgets import QComboBox

E = TypeVar("E", bound=Enum)


def current_enum(combo: QComboBox, kind: type[E]) -> E | None:
    """The member of `kind` the combo's current item holds, or None for an item without data."""
    data = combo.currentData()
    return None if data is None else kind(data)
