"""The storage facade: one open database and the repositories that work on it."""

from __future__ import annotations

from app.storage.availability import AvailabilityRepository
from app.storage.cache import ContactCache
from app.storage.closes import CloseRepository
from app.storage.database import Database
from app.storage.export import HistoryExporter
from app.storage.history import HistoryRepository
from app.storage.meta import MetaStore
from app.storage.outbox import Outbox
from app.storage.plans import PlanWriter
from app.storage.workflows import RunRepository, WorkflowRepository


class Store:
    """Everything storage offers. Repository methods are synchronous; run them through `db.write`/`db.read`."""

    def __init__(self, db: Database) -> None:
        """Build the repositories on `db`'s session factory."""
        self.db = db
        sessions = db.sessions
        self.cache = ContactCache(sessions)
        self.closes = CloseRepository(sessions)
        self.history = HistoryRepository(sessions)
        self.workflows = WorkflowRepository(sessions)
        self.runs = RunRepository(sessions)
        self.outbox = Outbox(sessions)
        self.plans = PlanWriter(sessions)
        self.meta = MetaStore(sessions)
        self.exporter = HistoryExporter(sessions)
        self.availability = AvailabilityRepository(sessions)

    @classmethod
    def open(cls, url: str | None = None, **options: int) -> Store:
        """Open (and migrate) the database at `url`, the default SQLite file when None (see `Database.open`)."""
        return cls(Database.open(url, **options))

    def close(self) -> None:
        """Finish pending writes and release the database."""
        self.db.close()
