"""CSV export: every filtered row, formula cells neutralised, progress reported, cancel leaves no file."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from app.domain.errors import ExportCancelled
from app.domain.history import AssignmentChange, ChangeSource, SyncState
from app.domain.people import Contact
from app.storage.export import COLUMNS, escape_cell
from app.storage.history import HistoryFilter
from app.storage.store import Store


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+1+1", "'+1+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\tcmd"),
        ("\r=1", "'\r=1"),
        ("Maya Lee", "Maya Lee"),
        ("", ""),
        ("a=b", "a=b"),
    ],
)
def test_escape_cell(cell: str, expected: str) -> None:
    assert escape_cell(cell) == expected


def _history(store: Store, n: int) -> None:
    store.cache.upsert_contacts([Contact(1, "=cmd|' /C calc'!A0", "", email="x@example.com")])
    store.history.insert_many(
        AssignmentChange(
            contact_id=1 if i == 0 else 100 + i,
            at=1_700_000_000 + i,
            from_agent_id=7,
            to_agent_id=None,
            source=ChangeSource.WORKFLOW,
            actor="@workflow",
            reason="unassigned Maya Lee" if i else "-1 day",
            sync_state=SyncState.SYNCED,
        )
        for i in range(n)
    )


def test_export_writes_every_row_with_names_and_escapes_formulas(store: Store, tmp_path: Path) -> None:
    _history(store, 12)
    target = tmp_path / "history.csv"

    written = store.exporter.to_path(target, HistoryFilter(), {7: "+Maya Lee"})

    with target.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert written == len(rows) == 12
    assert tuple(rows[0]) == COLUMNS
    oldest = rows[-1]
    assert oldest["contact"] == "'=cmd|' /C calc'!A0"
    assert oldest["from_agent"] == "'+Maya Lee"
    assert oldest["actor"] == "'@workflow"
    assert oldest["reason"] == "'-1 day"
    assert oldest["at"] == "2023-11-14T22:13:20Z"
    assert rows[0]["to_agent_id"] == "" and rows[0]["sync_state"] == "synced"


def test_export_follows_the_filter(store: Store) -> None:
    _history(store, 30)
    out = io.StringIO()
    written = store.exporter.to_stream(out, HistoryFilter(since=1_700_000_020), {})
    assert written == 10
    assert len(out.getvalue().splitlines()) == 11


def test_progress_is_reported_and_cancel_removes_the_partial_file(store: Store, tmp_path: Path) -> None:
    _history(store, 12_000)
    exports = tmp_path / "exports"
    exports.mkdir()
    target = exports / "history.csv"
    calls: list[tuple[int, int]] = []

    def progress(done: int, total: int) -> bool:
        calls.append((done, total))
        return done < 5000

    with pytest.raises(ExportCancelled):
        store.exporter.to_path(target, HistoryFilter(), {}, progress)

    assert calls == [(5000, 12_000)]
    assert not target.exists()
    assert list(exports.iterdir()) == []

    calls.clear()
    assert store.exporter.to_path(target, HistoryFilter(), {}, lambda d, t: calls.append((d, t)) is None) == 12_000
    assert calls[-1] == (12_000, 12_000)
