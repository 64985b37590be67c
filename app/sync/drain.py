"""The drain: sends outbox commands to the platform, oldest first, within the client's pacing.

Commands are claimed in small batches; commands of different contacts go out concurrently, those of one
contact strictly in order (an undo's reassign must follow the unassign it reverses). Before an
unassign, the drain reads the contact back (unless the workflow turned verification off): a contact that
was reassigned or reopened since the close is left alone, and one already unassigned needs no POST.
That check is also what makes a command re-sent after a crash harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from app.backoff import Backoff
from app.domain.errors import AuthRejected, NotFound, Offline, PlatformError, RateLimited, StorageError
from app.domain.history import SyncState
from app.domain.outbox import CommandKind, OutboxCommand, OutboxState
from app.domain.people import Contact, ContactStatus
from app.domain.workflows import RunOutcome
from app.events import ChangeSet
from app.platform.client import PlatformClient
from app.storage.store import Store
from app.sync.connectivity import ConnectivityState

log = logging.getLogger("closeout.drain")

BATCH = 16
CONCURRENCY = 4
MAX_BACKOFF = 300.0
PROBE_MAX = 10.0
DEPTH_EVERY = 0.5
# Another process on the database (a second window, a CLI sync) commits commands without waking this loop:
# with nothing due, the drain still looks again this often.
LOOK_AGAIN_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class _Settled:
    state: OutboxState
    change: SyncState | None = None
    run: RunOutcome | None = None
    reason: str | None = None
    error: str | None = None
    contact: Contact | None = None
    seen_at: float | None = None  # when `contact` was read; None: when the send ended
    sent: bool = False  # a POST changed the platform


class _LeaseLost(Exception):
    """The command's lease passed to another process while this one held it: that process sends it now."""


RETRY = Backoff(1.0, MAX_BACKOFF)
"""A failed command's next try: doubling from 1 s, capped at 5 minutes."""
PROBE = Backoff(1.0, PROBE_MAX)
"""While offline, the next check of the platform: doubling from 1 s, capped at PROBE_MAX."""


class Drain:
    """Owns the loop that empties the outbox."""

    def __init__(
        self,
        store: Store,
        client: Callable[[], PlatformClient],
        connectivity: ConnectivityState,
        publish: Callable[[ChangeSet], None],
        *,
        rng: random.Random | None = None,
    ) -> None:
        """`client` gives the current client (it changes when a new token is set)."""
        self._store = store
        self._client = client
        self._connectivity = connectivity
        self._publish = publish
        self._rng = rng or random.Random()
        self._wakeup = asyncio.Event()
        self._resume = asyncio.Event()
        self._offline = False
        self._depth_reported = 0.0
        self._held: set[int] = set()
        self.sent = 0
        self.finishing = False

    def finish(self) -> None:
        """Claim nothing more: `run` returns once the commands in hand are settled (handing the runner role on)."""
        self.finishing = True
        self._resume.set()
        self._wakeup.set()

    def wake(self) -> None:
        """New commands are due: look now rather than at the next timer."""
        self._wakeup.set()

    def resume(self) -> None:
        """A new token was given: start sending again."""
        self._resume.set()
        self._wakeup.set()

    async def run(self) -> None:
        """Drain until cancelled.

        Up to BATCH commands are in hand at once and each starts as soon as it is claimed, so a close that
        arrives while others are being sent does not wait for them to finish (at most CONCURRENCY send at
        the same moment). A claim never takes a contact's command while an earlier one of theirs is unsettled,
        so a contact's commands go out in order.
        """
        in_flight: set[asyncio.Task[None]] = set()
        gate = asyncio.Semaphore(CONCURRENCY)

        def finished(task: asyncio.Task[None]) -> None:
            if len(in_flight) == BATCH:  # the loop is waiting for room
                self._wakeup.set()
            in_flight.discard(task)

        keeper = asyncio.create_task(self.keep_leases(), name="closeout-drain-leases")
        try:
            while not self.finishing:
                if not self._connectivity.can_send:
                    self._resume.clear()
                    await self._resume.wait()
                    continue
                if self._offline:
                    await self._probe()
                self._wakeup.clear()
                room = BATCH - len(in_flight)
                claim = await self._store.db.write(self._store.outbox.claim_due, time.time(), room) if room else None
                commands = claim.commands if claim else []
                for command in commands:
                    task = asyncio.create_task(self._send_in_turn(command, gate, in_flight))
                    in_flight.add(task)
                    task.add_done_callback(finished)
                if room and len(commands) == room:
                    continue  # more may be due
                # With no room, a finished command wakes the loop; so does one that leaves others pending.
                due = claim.next_due_at if claim else None
                timeout = LOOK_AGAIN_SECONDS if due is None else min(LOOK_AGAIN_SECONDS, max(0.0, due - time.time()))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), timeout)
            await asyncio.gather(*in_flight)  # finishing: let what was claimed settle
        finally:
            keeper.cancel()
            for task in in_flight:
                task.cancel()
            await asyncio.gather(keeper, *in_flight, return_exceptions=True)

    async def keep_leases(self) -> None:
        """Renew the leases on the commands in hand, a few times per lease, while the platform is slow to answer."""
        outbox = self._store.outbox
        while True:
            await asyncio.sleep(outbox.lease_seconds / 3)
            if self._held:
                await self._store.db.write(outbox.renew, sorted(self._held))

    async def _send_in_turn(
        self, command: OutboxCommand, gate: asyncio.Semaphore, in_flight: set[asyncio.Task[None]]
    ) -> None:
        """Send within the gate; wake the loop if commands are left pending; report the outbox depth now and then."""
        async with gate:
            depth = await self._send_guarded(command)
        running = sum(not task.done() for task in in_flight)  # this one included
        if depth is None or depth > running - 1:
            # Put back for later, or others pending (perhaps one of this contact's, next in line now): the loop
            # must claim again, or learn when to.
            self._wakeup.set()
        now = time.monotonic()
        # The last command still running reports, so the final depth is never lost; a task that has finished
        # leaves `in_flight` only in its done-callback, after this, so count only those still running.
        if running <= 1 or now - self._depth_reported >= DEPTH_EVERY:
            self._depth_reported = now
            if depth is None:  # put back for later rather than settled: the count was not taken
                depth = await self._store.db.read(self._store.outbox.depth)
            self._publish(ChangeSet(outbox_depth=depth))

    async def run_until_idle(self) -> None:
        """Send everything that is due now, then return (for `sync --once`)."""
        keeper = asyncio.create_task(self.keep_leases(), name="closeout-drain-leases")
        try:
            while self._connectivity.can_send and not self._offline:
                claim = await self._store.db.write(self._store.outbox.claim_due, time.time(), BATCH)
                if not claim.commands:
                    return
                await self._send_batch(claim.commands)
        finally:
            keeper.cancel()
            await asyncio.gather(keeper, return_exceptions=True)

    async def _probe(self) -> None:
        """While offline, ask the platform something cheap, backing off, until it answers."""
        checks = 0
        while not self.finishing:  # handing the role on: the next runner probes for itself
            checks += 1
            try:
                await self._client().check_connection()
            except Offline as exc:
                self._connectivity.unreachable(exc.message)
            except AuthRejected as exc:
                self._offline = False
                self._connectivity.rejected(exc.message)
                return
            except PlatformError:
                pass
            else:
                self._offline = False
                self._connectivity.reached()
                return
            # New work (a webhook's command, a new token) wakes the probe early: it may mean the way is open.
            self._wakeup.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), PROBE.delay(checks, self._rng))

    async def _send_batch(self, commands: list[OutboxCommand]) -> None:
        """Send a claim's commands, CONCURRENCY at a time (a claim holds at most one command per contact)."""
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one(command: OutboxCommand) -> None:
            async with gate:
                await self._send_guarded(command)

        await asyncio.gather(*(one(command) for command in commands))
        depth = await self._store.db.read(self._store.outbox.depth)
        self._publish(ChangeSet(outbox_depth=depth))

    async def _send_guarded(self, command: OutboxCommand) -> int | None:
        """Send one command; when its result cannot be recorded, put it back for later rather than keep it.

        If even that fails (the disk is full), the command is let go: its lease is no longer renewed, and the next
        claim after it runs out takes it back, so one failed write never blocks the contact's later commands.
        """
        assert command.id is not None
        self._held.add(command.id)
        try:
            return await self._send(command)
        except StorageError as exc:
            log.warning("could not record the result of command %s: %s", command.id, exc.message)
            with contextlib.suppress(StorageError):
                when = time.time() + RETRY.delay(command.attempts, self._rng)
                await self._store.db.write(self._store.outbox.retry_at, command, when, exc.message)
            return None
        finally:
            self._held.discard(command.id)

    async def _send(self, command: OutboxCommand) -> int | None:
        """Send one command and record what happened; never raises for a platform answer.

        Returns the outbox depth when the command was settled, None when it was put back for a later try.
        """
        if self._offline or not self._connectivity.can_send:
            await self._store.db.write(self._store.outbox.retry_at, command, time.time(), "waiting for the platform")
            return None
        client = self._client()
        try:
            settled = await self._execute(client, command)
            seen_at = time.time()
        except _LeaseLost:
            log.warning("command %s passed to another process before it was sent; it sends it", command.id)
            return None
        except AuthRejected as exc:
            # A refusal of a token that has since been replaced says nothing about the new one.
            if client is self._client():
                self._connectivity.rejected(exc.message)
            await self._store.db.write(self._store.outbox.retry_at, command, time.time(), exc.message)
            return None
        except Offline as exc:
            self._offline = True
            self._connectivity.unreachable(exc.message)
            await self._store.db.write(self._store.outbox.retry_at, command, time.time(), exc.message)
            return None
        except RateLimited as exc:
            wait = exc.retry_after if exc.retry_after is not None else RETRY.delay(command.attempts, self._rng)
            await self._store.db.write(self._store.outbox.retry_at, command, time.time() + wait, exc.message)
            return None
        except PlatformError as exc:
            if exc.retryable:
                when = time.time() + RETRY.delay(command.attempts, self._rng)
                await self._store.db.write(self._store.outbox.retry_at, command, when, exc.message)
                return None
            settled = _Settled(
                OutboxState.FAILED,
                SyncState.FAILED,
                RunOutcome.FAILED,
                _failure_reason(exc),
                error=exc.message,
            )
            seen_at = time.time()
        self._connectivity.reached()
        depth = await self._store.db.write(
            self._store.outbox.settle,
            command,
            settled.state,
            error=settled.error,
            change_state=settled.change,
            run_outcome=settled.run,
            run_reason=settled.reason,
            contact=settled.contact,
            seen_at=settled.seen_at or seen_at,
            sent=settled.sent,
        )
        self.sent += 1
        self._publish(
            ChangeSet(
                commands=(command.id,) if command.id is not None else (),
                changes=(command.change_id,) if command.change_id is not None else (),
                runs=(command.run_id,) if command.run_id is not None else (),
                contacts=(command.contact_id,),
            )
        )
        return depth

    async def _still_ours(self, command: OutboxCommand) -> None:
        """Renew the command's lease right before the request that changes the platform, or raise _LeaseLost.

        A process whose loop stalled past its lease may find another one took the command over (and checked the
        contact, and is sending): sending as well would send it twice.
        """
        assert command.id is not None
        if not await self._store.db.write(self._store.outbox.renew, [command.id]):
            raise _LeaseLost

    async def _execute(self, client: PlatformClient, command: OutboxCommand) -> _Settled:
        payload = command.payload
        if command.kind is CommandKind.ADD_COMMENT:
            await self._still_ours(command)
            await client.add_comment(command.contact_id, str(payload.get("text", "")))
            return _Settled(OutboxState.DONE)

        target = payload.get("assignee") if command.kind is CommandKind.ASSIGN else None
        expected = payload.get("expected_assignee")
        verify = bool(payload.get("verify", True))
        contact: Contact | None = None
        read_at: float | None = None
        if verify:
            read_at = time.time()
            contact = await client.get_contact(command.contact_id)
            current = contact.assignee.id if contact.assignee else None
            if current == target:
                log.info("contact %s already has the wanted assignee; nothing sent", command.contact_id)
                return _Settled(OutboxState.DONE, SyncState.SYNCED, RunOutcome.DONE, contact=contact, seen_at=read_at)
            if current != expected:
                holder = contact.assignee.name if contact.assignee else "nobody"
                reason = (
                    f"skipped: contact was reassigned to {holder} after the close"
                    if command.kind is CommandKind.UNASSIGN
                    else f"skipped: contact is now with {holder}; left as it is"
                )
                return _Settled(
                    OutboxState.SKIPPED, SyncState.SKIPPED, RunOutcome.SKIPPED, reason, contact=contact, seen_at=read_at
                )
            if command.kind is CommandKind.UNASSIGN and contact.status is ContactStatus.OPEN and contact.assignee:
                reason = f"skipped: the conversation reopened and {contact.assignee.name} has it"
                return _Settled(
                    OutboxState.SKIPPED, SyncState.SKIPPED, RunOutcome.SKIPPED, reason, contact=contact, seen_at=read_at
                )
        # With verification, an answer that leaves it unsure whether the platform acted is not retried by the
        # client: the command comes back here, and the next attempt reads the contact before sending again.
        await self._still_ours(command)
        if command.kind is CommandKind.UNASSIGN:
            await client.unassign(command.contact_id, retry_if_unsure=not verify)
            # What the platform has now: the contact as read, without its assignee.
            after = replace(contact, assignee=None) if contact is not None else None
            return _Settled(OutboxState.DONE, SyncState.SYNCED, RunOutcome.DONE, contact=after, sent=True)
        else:
            if not isinstance(target, int | str):
                reason = "failed: the command names no user to assign"
                return _Settled(OutboxState.FAILED, SyncState.FAILED, RunOutcome.FAILED, reason, "no user")
            await client.assign(command.contact_id, target, retry_if_unsure=not verify)
        return _Settled(OutboxState.DONE, SyncState.SYNCED, RunOutcome.DONE, sent=True)


def _failure_reason(error: PlatformError) -> str:
    if isinstance(error, NotFound):
        return f"failed: {error.subject} not found on the platform"
    return f"failed: {error.message}"
