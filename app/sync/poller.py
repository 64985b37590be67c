"""The reconciling poller: finds the closes nobody reported, at a cost that follows the work, not the workspace.

A missed close is a contact the platform shows closed and still assigned that the cache did not know as
closed: it was closed while Closeout was not listening (offline, asleep, or the webhook was lost). So a poll
lists only assigned contacts, with the documented `assigneeUserId` filter (`exists`, else `isNotEqualTo
null`; where the platform refuses both with a 400, one `isEqualTo <userId>` query per agent), and says in
the log which form it uses. A cached contact it no longer lists has lost its assignee on the platform, and
the cache says so. Users, which change rarely, are listed on their own slower schedule.

A contact the cache knows as closed but with another assignee (Closeout unassigned it, say) that the platform
lists closed and assigned is one of two things: someone assigned the closed conversation, which is handled
and must be left alone, or it reopened, was assigned and closed again while no webhook came. The listing
cannot tell them apart (a contact carries no conversation id or close time), so the poll asks for that
contact's messages: one sent or received after the newest close Closeout recorded means a conversation was
open since, and the close now listed is a new one. At most MESSAGES_READ messages are read per contact;
no newer one among them leaves the contact alone, as does a conversation reopened and closed with no
message at all.

A close found this way becomes a close event with the source "detected by poll". Its `detected_at` is the
poll's time; its `closed_time` is the earliest it can have happened (the previous poll, as nothing says
when it really closed), so it is never shown as closing at the second the poll ran. It then goes through
intake like any other close.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

from app.domain.conversations import ClosedBySource, ClosedConversation
from app.domain.errors import AuthRejected, Offline, PlatformError, ValidationFailed
from app.domain.people import Agent, Contact, ContactStatus
from app.events import ChangeSet
from app.platform.client import ASSIGNED_FORMS, PlatformClient, assigned_filter, assignee_filter
from app.storage.store import Store
from app.sync.connectivity import ConnectivityState
from app.sync.intake import Intake

log = logging.getLogger("closeout.poller")

LAST_POLL = "last_poll_at"
USERS_EVERY = 900.0
"""Seconds between two listings of the workspace's users (they also refresh on a new token)."""
PER_AGENT = "isEqualTo per agent"
MESSAGES_READ = 500
"""How many of a contact's messages a poll reads, at most, looking for one newer than its last close."""


@dataclass(frozen=True, slots=True)
class PollResult:
    """What one poll saw: `agents` is 0 when users were not due for a refresh."""

    agents: int
    contacts: int
    detected: int
    requests: int = 0
    form: str = ""


def reassigned_while_closed(polled: list[Contact], cached: dict[int, Contact]) -> list[Contact]:
    """Contacts closed and assigned on the platform that the cache knows as closed with another assignee.

    Either someone assigned the closed conversation, or it reopened and closed again unseen: only the
    platform's messages tell which (see the module's docstring).
    """
    found = []
    for contact in polled:
        before = cached.get(contact.id)
        if contact.status is not ContactStatus.CLOSED or contact.assignee is None or before is None:
            continue
        if before.status is ContactStatus.CLOSED and before.assignee != contact.assignee:
            found.append(contact)
    return found


def detect_missed_closes(
    polled: list[Contact],
    cached: dict[int, Contact],
    detected_at: int,
    since: int | None = None,
    closed_again: Mapping[int, int] | None = None,
) -> list[ClosedConversation]:
    """Closes the cache never saw: closed and assigned on the platform, not closed in the cache.

    `closed_again` holds contacts cached as closed whose conversation reopened since, each with the time of
    a message after its last recorded close: their close now listed is a new one too, with that time as its
    `opened_time` (storage tells it from the recorded close by it). `since` is the previous poll, the
    earliest such a close can have happened; without one, the detection time stands in.
    """
    closed_again = closed_again or {}
    missed = []
    for contact in polled:
        before = cached.get(contact.id)
        if contact.status is not ContactStatus.CLOSED or contact.assignee is None:
            continue
        if before is not None and before.status is ContactStatus.CLOSED and contact.id not in closed_again:
            continue
        opened = closed_again.get(contact.id)
        earliest = detected_at if since is None else min(since, detected_at)
        missed.append(
            ClosedConversation(
                event_id=f"poll:{contact.id}:{detected_at}",
                contact=contact,
                closed_time=earliest if opened is None else min(max(earliest, opened), detected_at),
                closed_by_source=ClosedBySource.DETECTED_BY_POLL,
                assignee_at_close=contact.assignee,
                opened_time=opened,
                detected_at=detected_at,
            )
        )
    return missed


class Poller:
    """Polls at start-up and every `interval` seconds; lists users every `users_interval` seconds."""

    def __init__(
        self,
        store: Store,
        client: Callable[[], PlatformClient],
        intake: Intake,
        connectivity: ConnectivityState,
        publish: Callable[[ChangeSet], None],
        interval: float,
        *,
        users_interval: float = USERS_EVERY,
    ) -> None:
        """`client` gives the current client (it changes when a new token is set)."""
        self._store = store
        self._client = client
        self._intake = intake
        self._connectivity = connectivity
        self._publish = publish
        self.interval = interval
        self.users_interval = users_interval
        self.form: str | None = None
        self._users_at: float | None = None
        self._wakeup = asyncio.Event()
        self.last: PollResult | None = None
        self.last_at: float | None = None

    def poll_soon(self) -> None:
        """Poll now instead of at the next interval (a new token, a manual refresh), users included."""
        self._users_at = None
        self._wakeup.set()

    def refresh_users_soon(self) -> None:
        """List the users again at the next poll."""
        self._users_at = None

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
        """Refresh users if due, list the assigned contacts, and submit every missed close."""
        client = self._client()
        db = self._store.db
        sent_before = client.requests_sent
        agents: list[Agent] = []
        started = time.time()
        users_due = self._users_at is None or started - self._users_at >= self.users_interval
        if users_due:
            agents = await client.list_users()
            self._connectivity.reached()
            await db.write(self._store.cache.upsert_agents, agents)
            self._users_at = started
        listed_at = time.time()  # the version of what the listing reads: older than anything written after it
        # Once on per-agent queries, the cheaper forms are tried again with the users, in case they now work.
        polled, form = await self._assigned_contacts(client, retry_forms=users_due)
        requests = client.requests_sent - sent_before
        self._connectivity.reached()
        cached = await db.read(self._store.cache.contacts, [c.id for c in polled])
        previous = await db.read(self._store.meta.get, LAST_POLL)
        now = int(time.time())
        since = int(float(previous)) if previous else None
        closed_again = await self._closed_again(client, reassigned_while_closed(polled, cached))
        missed = detect_missed_closes(polled, cached, now, since, closed_again)
        missed_ids = {close.contact.id for close in missed}
        released = await self._released(polled)
        fresh = [c for c in polled if c.id not in missed_ids] + released
        await db.write(self._store.cache.upsert_contacts, fresh, listed_at)
        changed = tuple(c.id for c in polled) + tuple(c.id for c in released)
        self._publish(ChangeSet(agents_changed=bool(agents), contacts=changed))
        if missed:
            log.info("poll found %d closes that no webhook reported", len(missed))
            outcomes = await asyncio.gather(*(self._intake.submit(close) for close in missed), return_exceptions=True)
            for close, outcome in zip(missed, outcomes, strict=True):
                if isinstance(outcome, Exception):  # refused alone (and logged by intake); the others are stored
                    log.warning("contact %s: the detected close was not stored: %s", close.contact.id, outcome)
        await db.write(self._store.meta.set, LAST_POLL, str(time.time()))
        self.last = PollResult(len(agents), len(polled), len(missed), requests, form)
        self.last_at = time.time()
        return self.last

    async def _closed_again(self, client: PlatformClient, candidates: list[Contact]) -> dict[int, int]:
        """The candidates with a message after their newest recorded close, with that message's time."""
        if candidates:  # the cache of a contact with a command to settle shows the plan, not the platform
            unsettled = await self._store.db.read(self._store.cache.unsettled, [c.id for c in candidates])
            candidates = [contact for contact in candidates if contact.id not in unsettled]
        if not candidates:
            return {}
        last = await self._store.db.read(self._store.closes.last_closed_times, [c.id for c in candidates])
        found = {}
        for contact in candidates:
            closed = last.get(contact.id)
            message_at = None if closed is None else await self._message_after(client, contact.id, closed)
            if message_at is not None:
                found[contact.id] = message_at
            else:
                log.info(
                    "contact %s was assigned to %s while closed, with no message since its close: left alone",
                    contact.id,
                    contact.assignee.name if contact.assignee else "nobody",
                )
        return found

    @staticmethod
    async def _message_after(client: PlatformClient, contact_id: int, closed_time: int) -> int | None:
        """The time of a message of the contact's later than `closed_time`, or None among MESSAGES_READ."""
        read = 0
        async for at in client.message_times(contact_id):
            if at is not None and at > closed_time:
                return at
            read += 1
            if read >= MESSAGES_READ:
                log.info("contact %s: no message after its last close among the %d read", contact_id, read)
                break
        return None

    async def _released(self, polled: list[Contact]) -> list[Contact]:
        """Cached contacts the complete listing no longer shows assigned, as unassigned."""
        listed = {contact.id for contact in polled}
        gone = await self._store.db.read(self._store.cache.assigned_at_rest) - listed
        if not gone:
            return []
        cached = await self._store.db.read(self._store.cache.contacts, gone)
        log.info("%d contacts lost their assignee on the platform with no webhook saying so", len(cached))
        return [replace(contact, assignee=None) for contact in cached.values()]

    async def _assigned_contacts(self, client: PlatformClient, *, retry_forms: bool) -> tuple[list[Contact], str]:
        """Every assigned contact, and the filter form that listed them."""
        forms = [form for form in ASSIGNED_FORMS if form == self.form] + [f for f in ASSIGNED_FORMS if f != self.form]
        if self.form != PER_AGENT or retry_forms:
            for form in forms:
                try:
                    found = [c async for c in client.list_contacts(filter=assigned_filter(form))]
                except ValidationFailed as exc:
                    log.info("the platform refuses the assigneeUserId %r filter: %s", form, exc.message)
                    continue
                self._use(form)
                return found, form
        self._use(PER_AGENT)
        agents = await self._store.db.read(self._store.cache.agents)
        found = []
        for agent in agents:
            found.extend([c async for c in client.list_contacts(filter=assignee_filter(agent.id))])
        return found, PER_AGENT

    def _use(self, form: str) -> None:
        if form == self.form:
            return
        self.form = form
        if form == PER_AGENT:
            log.warning(
                "the platform refuses every 'assigned' filter form; polling with one assigneeUserId isEqualTo "
                "query per agent (more requests per poll)"
            )
        else:
            log.info("polling assigned contacts with the assigneeUserId %r filter", form)
