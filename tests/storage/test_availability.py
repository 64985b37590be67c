"""The availability the lead keeps survives a restart of Closeout and reaches the engine with its zone."""

from __future__ import annotations

import sqlite3
import zoneinfo
from pathlib import Path

import pytest
from sqlalchemy import text

from app.domain.availability import Availability, Presence, WorkingHours
from app.storage.store import Store


def test_availability_round_trips_through_the_file_and_replaces_per_agent(db_path: Path) -> None:
    store = Store.open(f"sqlite:///{db_path}")
    try:
        hours = WorkingHours.parse("Mon-Fri 09:00-17:00")
        store.availability.set(Availability(7, Presence.AVAILABLE, hours))
        store.availability.set(Availability(8, Presence.AWAY))
        store.availability.set(Availability(8, Presence.AVAILABLE))
    finally:
        store.close()

    reopened = Store.open(f"sqlite:///{db_path}")
    try:
        reopened.availability.zone = zoneinfo.ZoneInfo("Asia/Tokyo")
        book = reopened.availability.book()
        assert dict(book.entries) == {
            7: Availability(7, Presence.AVAILABLE, hours),
            8: Availability(8, Presence.AVAILABLE, None),
        }
        assert book.zone == zoneinfo.ZoneInfo("Asia/Tokyo")
    finally:
        reopened.close()
    with sqlite3.connect(db_path) as raw:
        assert raw.execute("SELECT agent_id, presence, hours FROM availability ORDER BY agent_id").fetchall() == [
            (7, "available", "Mon-Fri 09:00-17:00"),
            (8, "available", None),
        ]


def test_a_row_written_by_hand_that_cannot_be_read_is_skipped_with_a_warning(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    store.availability.set(Availability(7, Presence.AVAILABLE))
    with store.db.engine.begin() as raw:
        raw.execute(text("INSERT INTO availability VALUES (9, 'online', NULL, 0)"))
        raw.execute(text("INSERT INTO availability VALUES (10, 'away', 'whenever', 0)"))
    assert set(store.availability.book().entries) == {7}
    assert "ignoring unreadable availability for agent 9" in caplog.text
