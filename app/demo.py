"""The built-in demo workspace: the fake platform in process, with its simulator on.

A first launch finds the unassign template already published, so the queue comes alive at once. The
demo keeps its own database file, so demo data never mixes with a real workspace's history. The fake
runs on a loop of its own (`ThreadedFake`), as a remote workspace would, so the window's loop only does
what it would do against the real platform: send requests, take events, plan and draw.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import random
import secrets as random_source
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from app import paths
from app.domain.availability import Availability, Presence, WorkingHours
from app.domain.conversations import ClosedBySource, ClosedConversation, PlatformEvent
from app.domain.errors import WebhookRejected
from app.domain.history import AssignmentChange, ChangeSource, SyncState
from app.domain.people import Contact, ContactStatus, UserRef
from app.domain.plan import Plan, PlannedAction, PlannedRun
from app.domain.secret import Secret
from app.domain.workflows import RunOutcome, Workflow, WorkflowRun
from app.platform.client import PlatformClient
from app.platform.fake.platform import IN_PROCESS_URL, FakePlatform, create_fake_platform
from app.platform.fake.state import FakeUser
from app.platform.fake.threaded import ThreadedFake
from app.platform.webhooks import parse_event
from app.settings import DEMO_CLOSES_PER_MINUTE, Settings

if TYPE_CHECKING:
    from app.storage.store import Store

log = logging.getLogger("closeout.demo")

DEMO_SEED = 7
DEMO_USERS = 12
DEMO_CONTACTS = 400
UNASSIGN_TEMPLATE = "unassign-after-close"
SEEDED = "demo_seeded"
AVAILABILITY_SEEDED = "demo_availability_seeded"
PAST_DAYS = 30
SHIFTS = ("Mon-Fri 08:00-16:00", "Mon-Fri 14:00-22:00", "Sat-Sun 00:00-24:00")


def demo_database_url() -> str:
    """The demo's own SQLite file, beside the real one."""
    return f"sqlite:///{paths.data_dir() / 'demo.sqlite3'}"


def _ref(user: FakeUser) -> UserRef:
    return UserRef(user.id, user.first_name, user.last_name, user.email)


def workspace_contacts(fake: FakePlatform) -> tuple[Contact, ...]:
    """The simulated workspace's contacts with their current assignee, as the platform would list them."""
    users = fake.state.users
    return tuple(
        Contact(
            c.id,
            c.first_name,
            c.last_name,
            c.phone,
            c.email,
            _ref(users[c.assignee_id]) if c.assignee_id in users else None,
            ContactStatus.OPEN if c.status == "open" else ContactStatus.CLOSED,
            created_at=c.created_at,
        )
        for c in fake.state.contacts.values()
    )


def past_plans(fake: FakePlatform, workflow: Workflow, now: float, days: int = PAST_DAYS) -> list[Plan]:
    """A month of closes as the published unassign workflow would have handled them, already synced.

    Busier on weekdays and in working hours; most closes are by the assigned agent and unassigned, a few were
    reassigned before the unassign went out (skipped, with the reason), and some closed by a bot or auto-close.
    They record history only: nothing goes to the outbox, and the cache keeps the workspace's present state.
    """
    rng = random.Random(DEMO_SEED)
    users = [u for u in fake.state.users.values() if u.role != "owner"] or list(fake.state.users.values())
    contacts = list(fake.state.contacts.values())
    categories = [note["category"] for note in fake.state.closing_notes] or ["Resolved"]
    channel_names = {channel["id"]: channel["name"] for channel in fake.state.channels}
    today = dt.datetime.fromtimestamp(now).replace(hour=0, minute=0, second=0, microsecond=0)
    plans: list[Plan] = []
    for back in range(days, 0, -1):
        day = today - dt.timedelta(days=back)
        count = rng.randint(25, 45) if day.weekday() < 5 else rng.randint(4, 12)
        for _ in range(count):
            at = day + dt.timedelta(hours=rng.uniform(8, 19))
            stamp = int(at.timestamp())
            contact = rng.choice(contacts)
            agent = _ref(rng.choice(users))
            source = (
                ClosedBySource.USER
                if rng.random() < 0.8
                else rng.choice((ClosedBySource.AUTO_CLOSE, ClosedBySource.BOT, ClosedBySource.WORKFLOW))
            )
            person = Contact(contact.id, contact.first_name, contact.last_name, contact.phone, contact.email, agent)
            event_id = f"demo-past-{stamp}-{contact.id}"
            close = ClosedConversation(
                event_id,
                person,
                stamp,
                source,
                closed_by=agent if source is ClosedBySource.USER else None,
                category=rng.choice(categories) if rng.random() < 0.85 else None,
                assignee_at_close=agent,
                channel=channel_names.get(rng.choice(contact.channel_ids)) if contact.channel_ids else None,
            )
            key = f"{workflow.id}:{event_id}"
            if rng.random() < 0.07:
                run = WorkflowRun(
                    key,
                    workflow.id or 0,
                    workflow.version,
                    contact.id,
                    stamp + 2.0,
                    RunOutcome.SKIPPED,
                    "skipped: contact reassigned after close",
                )
                plans.append(Plan(close=close, runs=(PlannedRun(run),)))
                continue
            reason = f"unassigned {agent.name}"  # as the planner words a live run
            run = WorkflowRun(key, workflow.id or 0, workflow.version, contact.id, stamp + 1.0, RunOutcome.DONE, reason)
            change = AssignmentChange(
                contact.id,
                stamp + 1.0,
                agent.id,
                None,
                ChangeSource.WORKFLOW,
                workflow.name,
                reason,
                SyncState.SYNCED,
                workflow_id=workflow.id,
            )
            plans.append(Plan(close=close, runs=(PlannedRun(run, (PlannedAction(change),)),)))
    return plans


def demo_availability(fake: FakePlatform) -> list[Availability]:
    """A team lead's usual word on the agents: most available (some on shifts), a few away.

    Half of those available have no hours, so someone is available at any time of day and "only online
    users" has people to choose from on a first run; the shifts make the Team page show both sides.
    """
    agents = sorted((u for u in fake.state.users.values() if u.role != "owner"), key=lambda u: u.id)
    entries: list[Availability] = []
    for position, user in enumerate(agents):
        kind = position % 4
        if kind == 3:
            entries.append(Availability(user.id, Presence.AWAY))
        elif kind == 2:
            hours = WorkingHours.parse(SHIFTS[(position // 4) % len(SHIFTS)])
            entries.append(Availability(user.id, Presence.AVAILABLE, hours))
        else:
            entries.append(Availability(user.id, Presence.AVAILABLE))
    return entries


class DemoWorkspace:
    """Owns the in-process fake and feeds its events to intake, as webhooks would."""

    def __init__(self, fake: FakePlatform) -> None:
        """Use `create`."""
        self.fake = fake
        self._runner = ThreadedFake(fake)
        self._submit_event: Callable[[PlatformEvent], None] | None = None
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

    async def start(
        self,
        store: Store,
        publish_template: Callable[[str], Awaitable[Workflow]],
        submit: Callable[[PlatformEvent], None],
    ) -> None:
        """Seed `store` on the first launch, then start the simulated workspace, whose events go to `submit`.

        The first launch publishes the unassign template through `publish_template` (a template id in, the
        published workflow out) and records a month of past closes as it would have handled them.
        """
        self._submit_event = submit
        if await store.db.read(store.meta.get, SEEDED) is None:
            published = await publish_template(UNASSIGN_TEMPLATE)
            plans = [Plan(contacts=workspace_contacts(self.fake)), *past_plans(self.fake, published, time.time())]
            await store.db.write(store.plans.commit_many, plans)
            await store.db.write(store.meta.set, SEEDED, "1")
            log.info("demo: published %r and recorded %d past closes", published.name, len(plans) - 1)
        else:
            # The simulated workspace starts from the same state on every launch, but the cache remembers the last
            # one: take the workspace's contacts as they are now, so the first poll finds nothing that changed
            # and records no close a second time.
            await store.db.write(store.plans.commit, Plan(contacts=workspace_contacts(self.fake)))
        if await store.db.read(store.meta.get, AVAILABILITY_SEEDED) is None:
            # Once, as for the history: what the lead changes on the Team page afterwards stays.
            entries = demo_availability(self.fake)
            for entry in entries:
                await store.db.write(store.availability.set, entry)
            await store.db.write(store.meta.set, AVAILABILITY_SEEDED, "1")
            log.info("demo: recorded the availability of %d agents", len(entries))
        self._loop = asyncio.get_running_loop()
        self.fake.add_listener(self._deliver)
        await self._runner.start()

    async def stop(self) -> None:
        """Stop the simulator and stop listening."""
        self.fake.remove_listener(self._deliver)
        self._submit_event = None  # events already on their way to the app's loop are dropped
        await self._runner.stop()

    def _deliver(self, body: bytes) -> None:
        """Take an event the way the webhook receiver would, minus the signature (it never left the process).

        Called in the fake's thread: the event is parsed there and handed to intake on the app's loop.
        """
        submit, loop = self._submit_event, self._loop
        if submit is None or loop is None:
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
        if self._submit_event is not None:
            self._submit_event(event)
