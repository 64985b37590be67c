"""Every `/v2` request the fake answered, kept cheaply: one tuple appended per request, JSON only when read."""

from __future__ import annotations

import json
import threading
from typing import Any, NamedTuple


class Entry(NamedTuple):
    """One request as the fake saw it; `fault` names an injected fault, if any."""

    time: float
    method: str
    path: str
    raw_path: str
    query: str
    body: bytes
    status: int
    fault: str | None


class RequestLog:
    """An append-only log with absolute indexes, trimmed to the newest `keep` entries.

    `GET /_fake/log?since=N` reads from index N on, so a test or tool polling it never re-reads everything.
    """

    def __init__(self, keep: int = 200_000) -> None:
        """Keep at most `keep` entries; older ones are dropped in chunks."""
        self._keep = keep
        self._entries: list[Entry] = []
        self._offset = 0
        self._lock = threading.Lock()

    def append(self, entry: Entry) -> None:
        """Record one request."""
        entries = self._entries
        entries.append(entry)
        if len(entries) > self._keep * 1.25:
            with self._lock:
                drop = len(entries) - self._keep
                del entries[:drop]
                self._offset += drop

    @property
    def total(self) -> int:
        """How many requests were ever logged; the index the next one will get."""
        return self._offset + len(self._entries)

    def since(self, index: int, limit: int = 1000) -> tuple[list[tuple[int, Entry]], int]:
        """Up to `limit` entries from `index` on, with their indexes, and the index to ask for next."""
        with self._lock:
            start = max(index, self._offset)
            chunk = self._entries[start - self._offset : start - self._offset + limit]
        pairs = [(start + position, entry) for position, entry in enumerate(chunk)]
        return pairs, start + len(chunk)

    @staticmethod
    def entry_json(index: int, entry: Entry) -> dict[str, Any]:
        """An entry as JSON; a body that is JSON is shown parsed, anything else as text."""
        body: Any = None
        if entry.body:
            try:
                body = json.loads(entry.body)
            except (ValueError, RecursionError):
                body = entry.body.decode("utf-8", "replace")
        return {
            "index": index,
            "time": entry.time,
            "method": entry.method,
            "path": entry.path,
            "raw_path": entry.raw_path,
            "query": entry.query,
            "body": body,
            "status": entry.status,
            "fault": entry.fault,
        }
