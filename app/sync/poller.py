"""The reconciling poller: refreshes the cache and finds the closes nobody reported.

A contact the cache did not know as closed that the platform now shows closed and still assigned was
closed while Closeout was not listening (offline, asleep, or the webhook was lost). It becomes a close
event with the source "detected by poll", at the time of the poll, and goes through intake like any other.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from app.domain.conversations import ClosedBySource, ClosedConversation
from app.domain.errors import AuthRejected, Offline, PlatformError
from app.domain.people import Contact, ContactStatus
from app.events import ChangeSet
from app.platform.client import PlatformClient
from app.storage.store import Store
from app.sync.connectivity import ConnectivityState
from app.sync.intake import Intake

log = logging.getLogger("closeout.poller")

LAST_POLL = "last_poll_at"


@dataclass(frozen=True, slots=True)
class PollResult:
    """What one poll saw."""

    agents: int
    contacts: int
    detected: int


def detect_missed_closes(polled: list[Contact], cached: dict[int, Contact], now: int) -> list[ClosedConversation]:
    """Closes the cache never saw: closed and assigned on the platform, not closed in the cache."""
    missed = []
    for contact in polled:
        before = cached.get(contact.id)
        if contact.status is not ContactStatus.CLOSED or contact.assignee is None:
            continue
        if before is not None and before.status is ContactStatus.CLOSED:
            continue
        missed.append(
            ClosedConversation(
                event_id=f"poll:{contact.id}:{now}",
                contact=contact,
                closed_time=now,
                closed_by_source=ClosedBySource.DETECTED_BY_POLL,
                assignee_at_close=contact.assignee,
            )
        )
    return missed


class Poller:
    """Polls at start-up and every `interval` seconds."""

    def __init__(
        self,
        store: Store,
        client: Callable[[], PlatformClient],
        intake: Intake,
        connectivity: ConnectivityState,
        publish: Callable[[ChangeSet], None],
        interval: float,
    ) -> None:
        """`client` gives the current client (it changes when a new token is set)."""
        self._store = store
        self._client = client
        self._intake = intake
        self._connectivity = connectivity
        self._publish = publish
        self.interval = interval
        self._wakeup = asyncio.Event()
        self.last: PollResult | None = None
        self.last_at: float | None = None

    def poll_soon(self) -> None:
        """Poll now instead of at the next interval (a new token, a manual refresh)."""
        self._wakeup.set()

    async def run(self) -> None:
        """Poll until cancelled; a failed poll is reported and tried again at the next interval."""
        while True:
            self._wakeup.clear()
            if self._connectivity.can_send:
                await self.poll_guarded()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), self.interval)

    async def poll_guarded(self) -> PollResult | None:
        """One poll, with platform errors turned into connectivity states instead of exceptions."""
        try:
            return await self.poll_once()
        except AuthRejected as exc:
            self._connectivity.rejected(exc.message)
        except Offline as exc:
            self._connectivity.unreachable(exc.message)
        except PlatformError as exc:
            log.warning("poll failed: %s", exc)
        return None

    async def poll_once(self) -> PollResult:
        """Refresh users and contacts, and submit every missed close; returns what it saw."""
        client = self._client()
        agents = await client.list_users()
        self._connectivity.reached()
        await self._store.db.write(self._store.cache.upsert_agents, agents)
        listed_at = time.time()  # the version of what the listing reads: older than anything written after it
        polled = [contact async for contact in client.list_contacts()]
        cached = await self._store.db.read(self._store.cache.contacts, [c.id for c in polled])
        now = int(time.time())
        missed = detect_missed_closes(polled, cached, now)
        missed_ids = {close.contact.id for close in missed}
        fresh = [c for c in polled if c.id not in missed_ids]
        await self._store.db.write(self._store.cache.upsert_contacts, fresh, listed_at)
        self._publish(ChangeSet(agents_changed=True, contacts=tuple(c.id for c in polled)))
        if missed:
            log.info("poll found %d closes that no webhook reported", len(missed))
            outcomes = await asyncio.gather(*(self._intake.submit(close) for close in missed), return_exceptions=True)
            for close, outcome in zip(missed, outcomes, strict=True):
                if isinstance(outcome, Exception):  # refused alone (and logged by intake); the others are stored
                    log.warning("contact %s: the detected close was not stored: %s", close.contact.id, outcome)
        await self._store.db.write(self._store.meta.set, LAST_POLL, str(time.time()))
        self.last = PollResult(len(agents), len(polled), len(missed))
        self.last_at = time.time()
        return self.last
