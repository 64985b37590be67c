"""The built-in demo workspace: the fake platform in process, with its simulator on.

A first launch finds the unassign template already published, so the queue comes alive at once. The
demo keeps its own database file, so demo data never mixes with a real workspace's history. The fake
runs on a loop of its own (`ThreadedFake`), as a remote workspace would, so the window's loop only does
what it would do against the real platform: send requests, take events, plan and draw.
"""

from __future__ import annotations

import asyncio
import logging
import secrets as random_source
from typing import TYPE_CHECKING

from app import paths
from app.domain.conversations import PlatformEvent
from app.domain.errors import WebhookRejected
from app.domain.secret import Secret
from app.platform.client import PlatformClient
from app.platform.fake.platform import IN_PROCESS_URL, FakePlatform, create_fake_platform
from app.platform.fake.threaded import ThreadedFake
from app.platform.webhooks import parse_event
from app.settings import DEMO_CLOSES_PER_MINUTE, Settings

if TYPE_CHECKING:
    from app.bootstrap import Supervisor

log = logging.getLogger("closeout.demo")

DEMO_SEED = 7
DEMO_USERS = 12
DEMO_CONTACTS = 400
SEEDED = "demo_seeded"


def demo_database_url() -> str:
    """The demo's own SQLite file, beside the real one."""
    return f"sqlite:///{paths.data_dir() / 'demo.sqlite3'}"


class DemoWorkspace:
    """Owns the in-process fake and feeds its events to intake, as webhooks would."""

    def __init__(self, fake: FakePlatform) -> None:
        """Use `create`."""
        self.fake = fake
        self._runner = ThreadedFake(fake)
        self._supervisor: Supervisor | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @classmethod
    def create(cls, settings: Settings) -> DemoWorkspace:
        """The same workspace (users, contacts) on every launch, with fresh event ids each time."""
        fake = create_fake_platform(
            seed=DEMO_SEED,
            event_seed=random_source.randbits(64),
            users=DEMO_USERS,
            contacts=DEMO_CONTACTS,
            rate_limit=0,
            closes_per_minute=settings.get(DEMO_CLOSES_PER_MINUTE),
        )
        return cls(fake)

    def client(self) -> PlatformClient:
        """A client that talks to the fake in process."""
        return PlatformClient(IN_PROCESS_URL, Secret(self.fake.token), rate_limit=0, transport=self._runner.transport())

    async def start(self, supervisor: Supervisor) -> None:
        """Publish the unassign template on the first launch, then start the simulated workspace."""
        self._supervisor = supervisor
        if await supervisor.store.db.read(supervisor.store.meta.get, SEEDED) is None:
            draft = await supervisor.use_template("unassign-after-close")
            assert draft.id is not None
            await supervisor.publish(draft.id)
            await supervisor.store.db.write(supervisor.store.meta.set, SEEDED, "1")
            log.info("demo: published %r", draft.name)
        self._loop = asyncio.get_running_loop()
        self.fake.add_listener(self._deliver)
        await self._runner.start()

    async def stop(self) -> None:
        """Stop the simulator and stop listening."""
        self.fake.remove_listener(self._deliver)
        self._supervisor = None  # events already on their way to the app's loop are dropped
        await self._runner.stop()

    def _deliver(self, body: bytes) -> None:
        """Take an event the way the webhook receiver would, minus the signature (it never left the process).

        Called in the fake's thread: the event is parsed there and handed to intake on the app's loop.
        """
        supervisor, loop = self._supervisor, self._loop
        if supervisor is None or loop is None:
            return
        try:
            event = parse_event(body)
        except WebhookRejected as exc:
            log.debug("demo: ignoring %s", exc.message)
            return
        try:
            loop.call_soon_threadsafe(self._submit, event)
        except RuntimeError:  # the app's loop has closed: the demo is shutting down
            log.debug("demo: the app has stopped; dropping an event")

    def _submit(self, event: PlatformEvent) -> None:
        """On the app's loop: hand the event to intake, unless the demo stopped meanwhile."""
        if self._supervisor is not None:
            self._supervisor.sync.submit_nowait(event)
