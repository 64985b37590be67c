"""Intake: platform facts in, committed plans out.

Events from the webhook receiver, the poller and the demo workspace are queued; one consumer takes
whatever has queued up (up to a batch), plans it on the writer thread and commits it in one
transaction, then tells the submitters and publishes a change-set. Under load the batches grow,
which is what keeps thousands of closes a second cheap; when quiet, each event commits alone at once.
A submitter that awaits `submit` knows its event is on disk: the webhook receiver answers 200 only then.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from app.domain.conversations import AssigneeChanged, ClosedConversation, PlatformEvent
from app.domain.errors import StorageError, UnstorableEvent
from app.domain.people import Contact, ContactStatus
from app.domain.plan import Plan, PlannedRun
from app.domain.workflows import RunOutcome, TriggerKind, Workflow, WorkflowRun, WorkflowState
from app.engine.conditions import describe, first_unmet
from app.engine.planner import plan_assignee_changed, plan_event, plan_resume, plan_run
from app.events import ChangeSet
from app.storage.plans import CommitResult
from app.storage.rows import unstorable
from app.storage.store import Store
from app.sync.store_view import StoreView

log = logging.getLogger("closeout.intake")

MAX_BATCH = 500
CONDITION_SKIP = "skipped: condition"  # how the planner's reason for an unmet condition begins
# An event whose commit meets a database problem (locked, disk full) is tried again this many times, backing off.
STORAGE_RETRIES = 5
RETRY_FIRST_SECONDS = 0.5
# How long a sent command waits for the platform's webhook about it; after that, a webhook is news again.
ECHO_WAIT_SECONDS = 600.0


@dataclass(frozen=True, slots=True)
class _Item:
    event: PlatformEvent
    done: asyncio.Future[CommitResult]
    attempt: int = 0
    retries: int = STORAGE_RETRIES


class Intake:
    """Plans and commits events in arrival order."""

    def __init__(self, store: Store, publish: Callable[[ChangeSet], None], on_commands: Callable[[], None]) -> None:
        """`publish` receives each commit's change-set; `on_commands` is called when commands were enqueued."""
        self._store = store
        self._publish = publish
        self._on_commands = on_commands
        self._queue: asyncio.Queue[_Item] = asyncio.Queue()
        self._workflows: list[Workflow] = []
        self._stamp: tuple[int, float] | None = None  # `published_stamp` when `_workflows` was read

    async def load_workflows(self) -> None:
        """Re-read the published workflows (after a publish, stop or edit)."""
        self._stamp = await self._store.db.read(self._store.workflows.published_stamp)
        self._workflows = await self._store.db.read(self._store.workflows.all, WorkflowState.PUBLISHED)

    def _published(self) -> list[Workflow]:
        """On the writer thread: the published workflows, read again if any process changed one since."""
        stamp = self._store.workflows.published_stamp()
        if stamp != self._stamp:
            self._workflows = self._store.workflows.all(WorkflowState.PUBLISHED)
            self._stamp = stamp
            log.info("%d published workflows, as another process left them", len(self._workflows))
        return self._workflows

    @property
    def backlog(self) -> int:
        """Events waiting to be planned."""
        return self._queue.qsize()

    async def submit(self, event: PlatformEvent, *, retries: int = STORAGE_RETRIES) -> CommitResult:
        """Queue an event and wait until its plan is committed (or was dropped as a replay).

        A database problem is tried again `retries` times before it is raised (a webhook's sender, which
        delivers again by itself, is better told at once).
        """
        done: asyncio.Future[CommitResult] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Item(event, done, retries=retries))
        return await done

    def submit_nowait(self, event: PlatformEvent) -> asyncio.Future[CommitResult]:
        """Queue an event without waiting; the future resolves when it is committed."""
        done: asyncio.Future[CommitResult] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Item(event, done))
        return done

    async def run(self) -> None:
        """Consume the queue until cancelled."""
        while True:
            items = [await self._queue.get()]
            while len(items) < MAX_BATCH and not self._queue.empty():
                items.append(self._queue.get_nowait())
            await self._commit(items)

    async def _commit(self, items: list[_Item]) -> None:
        """Commit the batch; if it fails, each event alone, so one bad event fails only itself."""
        storable: list[_Item] = []
        for item in items:
            words = unstorable(item.event)
            if words is None:
                storable.append(item)
            else:
                log.warning("refused an event: %s", words)
                _fail(item, UnstorableEvent(f"The event cannot be stored: {words}."))
        if not storable:
            return
        try:
            await self._commit_together(storable)
        except Exception as exc:
            if len(storable) == 1:
                self._retry_or_fail(storable[0], exc)
                return
            log.warning("could not commit a batch of %d events (%s); committing them one by one", len(storable), exc)
            for item in storable:
                try:
                    await self._commit_together([item])
                except Exception as one:
                    self._retry_or_fail(item, one)

    def _retry_or_fail(self, item: _Item, error: Exception) -> None:
        """Queue the event again later when the database was the problem; otherwise fail its submitter."""
        if isinstance(error, StorageError) and item.attempt < item.retries and not item.done.done():
            delay = RETRY_FIRST_SECONDS * 2**item.attempt
            log.warning("could not commit an event (%s); trying again in %.1f s", error.message, delay)
            again = replace(item, attempt=item.attempt + 1)
            asyncio.get_running_loop().call_later(delay, self._queue.put_nowait, again)
            return
        log.warning("could not commit an event: %s", error)
        _fail(item, error)

    async def _commit_together(self, items: list[_Item]) -> None:
        events = [item.event for item in items]
        result = await self._store.db.write(self._plan_and_commit, events)
        for item in items:
            if not item.done.done():
                item.done.set_result(result)
        self._publish(
            ChangeSet(
                closes=result.closes,
                runs=result.runs,
                changes=result.changes,
                commands=result.commands,
                contacts=result.contacts,
            )
        )
        if result.commands:
            self._on_commands()

    def _plan_and_commit(self, events: Sequence[PlatformEvent]) -> CommitResult:
        """On the writer thread: plan each event against the cache as the batch leaves it, then commit all."""
        workflows = self._published()
        now = time.time()
        view = StoreView(self._store)
        planned_contacts: dict[int, Contact] = {}
        changed = [event.contact.id for event in events if isinstance(event, AssigneeChanged)]
        cached_contacts = self._store.cache.contacts(changed) if changed else {}
        awaited = self._store.outbox.awaiting_echoes(sorted(set(changed)), now - ECHO_WAIT_SECONDS) if changed else {}
        echoed: list[int] = []
        plans: list[Plan] = []
        for event in events:
            if isinstance(event, AssigneeChanged):
                contact_id = event.contact.id
                new = event.contact.assignee.id if event.contact.assignee else None
                waiting = awaited.get(contact_id)
                if waiting:
                    command_id, target = waiting[0]
                    if new == target:  # the platform's word about our own POST: already recorded, already cached
                        echoed.append(command_id)
                        waiting.pop(0)
                        continue
                    # Sent before our POST took effect (webhooks come in order): history, but not the cache.
                    cached = cached_contacts.get(contact_id)
                    plan = replace(plan_assignee_changed(event, cached, now), contacts=())
                    plans.append(plan)
                    continue
                cached = planned_contacts.get(contact_id) or cached_contacts.get(contact_id)
                plan = plan_assignee_changed(event, cached, now)
                if not plan.observed and cached == event.contact:
                    continue  # the echo of our own change, already in the cache: nothing to write
            else:
                plan = plan_event(event, workflows, view, now)
            view.absorb(plan)
            for contact in plan.contacts:
                planned_contacts[contact.id] = contact
            for update in plan.cache_updates:
                if update.contact_id in planned_contacts:
                    planned_contacts[update.contact_id] = replace(
                        planned_contacts[update.contact_id], assignee=update.assignee
                    )
            plans.append(plan)
        result = self._store.plans.commit_many(plans)
        self._store.outbox.echoes_seen(echoed)
        if result.filled_in:
            more = self._reconsider(result.filled_in, workflows, now)
            result = replace(
                result,
                runs=result.runs + more.runs,
                changes=result.changes + more.changes,
                commands=result.commands + more.commands,
                contacts=result.contacts + more.contacts,
            )
        return result

    def _reconsider(
        self, filled: Sequence[tuple[int, ClosedConversation]], workflows: Sequence[Workflow], now: float
    ) -> CommitResult:
        """Evaluate the conditions again on the facts a late webhook gave a close the poll detected first.

        A run the webhook's facts no longer allow is skipped if its commands were not sent yet; a run the poll's
        facts had skipped on a condition runs now, on the same close.
        """
        view = StoreView(self._store)
        plans: list[Plan] = []
        for close_id, close in filled:
            runs = {run.workflow_id: run for run in self._store.runs.of_conversation(close_id)}
            for workflow in sorted(workflows, key=lambda w: w.id or 0):
                run = runs.get(workflow.id or 0)
                if run is None or run.undone or workflow.state is not WorkflowState.PUBLISHED:
                    continue
                if workflow.trigger.kind is not TriggerKind.CONVERSATION_CLOSED:
                    continue
                unmet = first_unmet(workflow.trigger, close)
                if unmet is not None and run.outcome is not RunOutcome.SKIPPED and run.id is not None:
                    reason = f'skipped: condition "{describe(unmet)}" not met (the webhook came after the poll)'
                    kept = replace(close.contact, status=ContactStatus.CLOSED, assignee=close.assignee_at_close)
                    if not self._store.plans.cancel_unsent(run.id, reason, kept):
                        log.warning(
                            "close %s: the webhook's facts skip run %s, but it was already sent", close_id, run.id
                        )
                elif unmet is None and run.outcome is RunOutcome.SKIPPED and run.reason.startswith(CONDITION_SKIP):
                    planned, update = plan_run(close, workflow, view, now)
                    planned = PlannedRun(replace(planned.run, conversation_id=close_id), planned.actions)
                    plan = Plan(runs=(planned,), cache_updates=(update,) if update else ())
                    view.absorb(plan)
                    plans.append(plan)
        return self._store.plans.commit_many(plans)

    async def resume_waiting(self) -> CommitResult:
        """Try again every run waiting for someone to assign; assign, end at the timeout, or keep waiting."""
        result = await self._store.db.write(self._resume_waiting)
        self._publish(ChangeSet(runs=result.runs, changes=result.changes, commands=result.commands))
        if result.commands:
            self._on_commands()
        return result

    def _resume_waiting(self) -> CommitResult:
        """Every waiting run, oldest first, a chunk at a time, so no run waits behind newer ones for ever."""
        total = CommitResult()
        after = 0
        while True:
            waiting = self._store.runs.oldest(RunOutcome.WAITING, after_id=after, limit=MAX_BATCH)
            if not waiting:
                return total
            after = waiting[-1].id or after
            result = self._resume_chunk(waiting)
            total = CommitResult(
                runs=total.runs + result.runs,
                changes=total.changes + result.changes,
                commands=total.commands + result.commands,
                contacts=total.contacts + result.contacts,
            )
            if len(waiting) < MAX_BATCH:
                return total

    def _resume_chunk(self, waiting: list[WorkflowRun]) -> CommitResult:
        now = time.time()
        view = StoreView(self._store)
        workflows = {w.id: w for w in self._store.workflows.all()}
        contacts = self._store.cache.contacts(run.contact_id for run in waiting)
        plans = []
        for run in waiting:
            workflow = workflows.get(run.workflow_id)
            contact = contacts.get(run.contact_id)
            if workflow is None or contact is None:
                continue
            plan = plan_resume(run, workflow, contact, view, now)
            if plan is not None:
                view.absorb(plan)
                plans.append(plan)
        return self._store.plans.commit_many(plans)

    async def commit_plan(self, plan: Plan, initiator: object | None = None) -> tuple[CommitResult, ChangeSet]:
        """Commit a plan made elsewhere (an undo), with the same change-set and drain wake-up; returns both.

        The run an undo reverses changed too (it is undone now), so the change-set names it beside the new one.
        """
        result = await self._store.db.write(self._store.plans.commit, plan)
        undone = (plan.undo_of,) if plan.undo_of is not None and result.runs else ()
        change = ChangeSet(
            runs=result.runs + undone,
            changes=result.changes,
            commands=result.commands,
            contacts=result.contacts,
            initiator=initiator,
        )
        self._publish(change)
        if result.commands:
            self._on_commands()
        return result, change


def _fail(item: _Item, error: BaseException) -> None:
    if not item.done.done():
        item.done.set_exception(error)
