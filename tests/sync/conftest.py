"""Sync tests: the real store (SQLite or PostgreSQL), the fake workspace in process, the real client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, replace

import pytest

from app.domain.secret import Secret
from app.domain.workflows import Workflow, WorkflowSettings
from app.engine.catalog import use_template
from app.engine.lifecycle import publish
from app.events import ChangeSet, EventBus
from app.platform.client import PlatformClient
from app.platform.fake.platform import IN_PROCESS_URL, FakePlatform, create_fake_platform
from app.platform.fake.requestlog import Entry
from app.platform.fake.state import FakeContact
from app.platform.webhooks import parse_event
from app.storage.store import Store
from app.sync.service import SyncOptions, SyncService


@dataclass
class Rig:
    fake: FakePlatform
    store: Store
    service: SyncService
    events: list[ChangeSet]

    async def publish_unassign(self, settings: WorkflowSettings | None = None) -> Workflow:
        workflow = publish(use_template("unassign-after-close"))
        if settings is not None:
            workflow = replace(workflow, settings=settings)
        saved = await self.store.db.write(self.store.workflows.save, workflow)
        await self.service.intake.load_workflows()
        return saved

    def feed_events(self) -> None:
        """Deliver the fake's events to intake, as the demo workspace does."""
        self.fake.add_listener(lambda body: self.service.submit_nowait(parse_event(body)))

    def assigned_contacts(self) -> list[FakeContact]:
        """Contacts with an open conversation and an assignee, ready to be closed."""
        return [c for c in self.fake.state.contacts.values() if c.assignee_id is not None and c.status == "open"]

    def close(self, contact: FakeContact, category: str = "Resolved") -> None:
        """Close as the assigned agent would in the inbox."""
        self.fake.state.close_conversation(contact, "user", self.fake.state.users[contact.assignee_id], category, "")

    async def close_and_record(self, contact: FakeContact) -> None:
        """Close the conversation and commit the close event, leaving the drain to the test."""
        bodies: list[bytes] = []
        self.fake.add_listener(bodies.append)
        try:
            self.close(contact)
        finally:
            self.fake.remove_listener(bodies.append)
        await self.service.intake.submit(parse_event(next(b for b in bodies if b"conversation.closed" in b)))

    def assignee_posts(self, contact_id: int | None = None) -> list[Entry]:
        """Successful assign/unassign POSTs the fake received."""
        entries, _ = self.fake.log.since(0, limit=1_000_000)
        return [
            e
            for _, e in entries
            if e.method == "POST"
            and e.path.endswith("/conversation/assignee")
            and e.status == 200
            and (contact_id is None or f"id:{contact_id}/" in e.path)
        ]


@pytest.fixture
async def rig(db_url: str) -> AsyncIterator[Rig]:
    fake = create_fake_platform(seed=3, users=6, contacts=40, rate_limit=0)
    store = Store.open(db_url)
    client = PlatformClient(IN_PROCESS_URL, Secret(fake.token), rate_limit=0, transport=fake.transport())
    bus = EventBus()
    events: list[ChangeSet] = []
    bus.subscribe(events.append)
    service = SyncService(store, client, bus, SyncOptions(poll_seconds=3600))
    try:
        yield Rig(fake, store, service, events)
    finally:
        await service.stop()
        await service.client.aclose()
        await fake.stop()
        store.close()
