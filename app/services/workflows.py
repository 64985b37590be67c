"""Workflows: the template gallery, drafts, publishing and stopping, import and export, and the dry run."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING

from app.domain.errors import PlatformError, PublishBlocked, WorkflowError
from app.domain.people import Agent
from app.domain.workflows import ConditionField, TriggerKind, Workflow, WorkflowState
from app.engine import catalog, lifecycle
from app.engine.catalog import Template
from app.engine.dry_run import DryRunReport, dry_run
from app.engine.file_format import export_workflow, import_workflow
from app.events import ChangeSet, OpChanges
from app.services.core import Service, connected
from app.sync.connectivity import Connectivity

if TYPE_CHECKING:
    from app.storage.workflows import WorkflowStats

log = logging.getLogger("closeout")


class WorkflowService(Service):
    """What the Workflows page and the editor do; every change returns its change-set (`OpChanges`)."""

    def templates(self) -> tuple[Template, ...]:
        """The gallery."""
        return catalog.TEMPLATES

    @connected
    async def use_template(
        self,
        template_id: str,
        name: str | None = None,
        values: Mapping[str, str] | None = None,
        *,
        initiator: object | None = None,
    ) -> OpChanges[Workflow]:
        """Save a draft copy of a template; a value the workspace does not have is refused."""
        draft = catalog.use_template(template_id, name, values)
        if values:
            invalid = await self.invalid_values(draft)
            if invalid:
                raise WorkflowError("; ".join(invalid) + ".", "Choose a user or team the workspace has.")
        return await self.save_workflow(draft, initiator=initiator)

    @connected
    async def save_workflow(self, workflow: Workflow, *, initiator: object | None = None) -> OpChanges[Workflow]:
        """Store a workflow (a published workflow keeps running with the saved definition).

        A published workflow must stay publishable: PublishBlocked says what is missing or names a user or
        team the workspace lacks. A draft may hold anything; `missing_fields` and `invalid_values` say what.
        """
        if workflow.state is WorkflowState.PUBLISHED:
            problems = lifecycle.missing_fields(workflow) + await self.invalid_values(workflow)
            if problems:
                raise PublishBlocked(workflow.name or "This workflow", problems)
        store = self._core.store
        saved = await store.db.write(store.workflows.save, workflow)
        if saved.state is WorkflowState.PUBLISHED:
            await self._core.sync.intake.load_workflows()
        change = ChangeSet(workflows=(saved.id,) if saved.id is not None else (), initiator=initiator)
        self._core.bus.publish(change)
        return OpChanges(saved, change)

    @connected
    async def workflow(self, workflow_id: int) -> Workflow:
        """One workflow."""
        store = self._core.store
        return await store.db.read(store.workflows.get, workflow_id)

    @connected
    async def workflow_stats(self) -> dict[int, WorkflowStats]:
        """Runs today and the last outcome, per workflow."""
        midnight = dt.datetime.now().astimezone().replace(hour=0, minute=0, second=0, microsecond=0)
        store = self._core.store
        return await store.db.read(store.workflows.stats, midnight.timestamp())

    def missing_fields(self, workflow: Workflow) -> tuple[str, ...]:
        """What must be filled in before publishing."""
        return lifecycle.missing_fields(workflow)

    @connected
    async def invalid_values(self, workflow: Workflow) -> tuple[str, ...]:
        """The users, teams and closing-note categories `workflow` names that the workspace lacks, in words."""
        uses_categories = any(c.field is ConditionField.CATEGORY for c in workflow.trigger.conditions)
        categories = await self.closing_categories() if uses_categories else ()
        return lifecycle.invalid_values(workflow, list((await self.agents()).values()), categories)

    @connected
    async def closing_categories(self) -> tuple[str, ...]:
        """The workspace's closing-note categories, asked at most once per poll; empty when the platform cannot say.

        Not asked while Closeout knows the platform is unreachable or the token rejected, so checking a
        workflow offline never waits on retries; an answer that fails is not asked again until the next poll.
        """
        core = self._core
        if core.categories is None:
            if core.sync.connectivity.state in (Connectivity.OFFLINE, Connectivity.AUTH_FAILED):
                return ()
            try:
                notes = await core.sync.client.list_closing_notes()
            except PlatformError as exc:
                log.info("closing-note categories unavailable, so not checked: %s", exc)
                notes = []
            core.categories = tuple(note.category for note in notes)
        return core.categories

    def warnings(self, workflow: Workflow) -> tuple[str, ...]:
        """What is allowed but probably not meant."""
        return lifecycle.warnings(workflow)

    @connected
    async def publish(self, workflow_id: int, *, initiator: object | None = None) -> OpChanges[Workflow]:
        """Publish a workflow (PublishBlocked lists what is missing); it runs on the next event."""
        workflow = await self.workflow(workflow_id)
        invalid = await self.invalid_values(workflow)
        if invalid:
            raise PublishBlocked(workflow.name or "This workflow", lifecycle.missing_fields(workflow) + invalid)
        return await self.save_workflow(lifecycle.publish(workflow), initiator=initiator)

    @connected
    async def publish_template(self, template_id: str) -> Workflow:
        """A template's draft, published as it is (the demo's first launch)."""
        draft = (await self.use_template(template_id)).result
        assert draft.id is not None
        return (await self.publish(draft.id)).result

    async def overlap_warnings(self, workflow_id: int) -> tuple[str, ...]:
        """Warnings naming each other published workflow whose trigger overlaps this one's."""
        workflow = await self.workflow(workflow_id)
        store = self._core.store
        published = await store.db.read(store.workflows.all, WorkflowState.PUBLISHED)
        return lifecycle.overlaps(workflow, published)

    @connected
    async def stop_workflow(self, workflow_id: int, *, initiator: object | None = None) -> OpChanges[Workflow]:
        """Stop a workflow; its runs and history stay."""
        stopped = await self.save_workflow(lifecycle.stop(await self.workflow(workflow_id)), initiator=initiator)
        await self._core.sync.intake.load_workflows()
        return stopped

    @connected
    async def export_workflow(self, workflow_id: int) -> str:
        """The workflow as an export document."""
        return export_workflow(await self.workflow(workflow_id))

    @connected
    async def import_workflow(self, text: str | bytes, *, initiator: object | None = None) -> OpChanges[Workflow]:
        """A new draft from an export document."""
        return await self.save_workflow(import_workflow(text), initiator=initiator)

    @connected
    async def dry_run(self, workflow: Workflow, since: float, until: float | None = None) -> DryRunReport:
        """What `workflow` would have done over the closes recorded in [since, until).

        Only a Conversation Closed workflow can be replayed: the past Closeout records is closes.
        """
        if workflow.trigger.kind is not TriggerKind.CONVERSATION_CLOSED:
            raise WorkflowError(
                "A dry run replays past closes, so it is for Conversation Closed workflows only; this one starts "
                "when a conversation opens.",
                "Publish it to see it run, or change its trigger to Conversation Closed.",
            )
        until = time.time() if until is None else until
        store = self._core.store
        closes = await store.db.read(store.closes.between, int(since), int(until) + 1)
        agents = await self.agents()
        loads = await store.db.read(store.cache.open_load)
        book = await store.db.read(store.availability.book)
        return dry_run(workflow, closes, list(agents.values()), dict(loads), book)

    @connected
    async def recent_categories(self, limit: int = 500) -> list[str]:
        """Closing-note categories seen on the newest closes, most frequent first (the editor's suggestions)."""
        store = self._core.store
        closes = await store.db.read(store.closes.newest, limit, None)
        counts: dict[str, int] = {}
        for close in closes:
            if close.category:
                counts[close.category] = counts.get(close.category, 0) + 1
        return sorted(counts, key=lambda category: (-counts[category], category.lower()))


def unknown_references(workflow: Workflow, agents: Mapping[int, Agent]) -> tuple[str, ...]:
    """The users and teams the workflow names that the cached agents do not have, as the engine words them.

    The messages read like `missing_fields`' ("Step 1 (Assign To): ..."), so the editor marks the same field.
    """
    return lifecycle.invalid_values(workflow, list(agents.values()))
