"""The facade refuses users and teams the cached workspace lacks, the same way for the CLI and the GUI."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from app.bootstrap import Supervisor
from app.demo import SEEDED
from app.domain.errors import PublishBlocked, WorkflowError
from app.domain.workflows import AssignToStep, Condition, ConditionField, ConditionOperator, WorkflowState
from app.settings import Settings
from tests import inside
from tests.factories import MAYA, RAVI


@pytest.fixture
async def supervisor(tmp_path: Path) -> AsyncIterator[Supervisor]:
    settings = Settings({"demo_closes_per_minute": 0}, path=tmp_path / "settings.json")
    opened = await Supervisor.open(settings=settings, demo=True, db_url=f"sqlite:///{tmp_path / 'db.sqlite3'}")
    await inside.store(opened).db.write(inside.store(opened).meta.set, SEEDED, "1")
    await inside.store(opened).db.write(inside.store(opened).cache.upsert_agents, [MAYA, RAVI])
    try:
        yield opened
    finally:
        await opened.close()


async def test_use_template_with_a_team_the_workspace_lacks_is_refused(supervisor: Supervisor) -> None:
    with pytest.raises(WorkflowError) as caught:
        await supervisor.workflow_service.use_template("round-robin-online", values={"team": "999"})
    assert "there is no team 999 in this workspace (there are: 1 Support)" in str(caught.value)
    assert await supervisor.workflow_service.workflows() == []
    draft = (await supervisor.workflow_service.use_template("round-robin-online", values={"team": "1"})).result
    assert (
        draft.id is not None
        and (await supervisor.workflow_service.publish(draft.id)).result.state is WorkflowState.PUBLISHED
    )


async def test_a_draft_may_hold_an_unknown_team_but_cannot_be_published_or_saved_published(
    supervisor: Supervisor,
) -> None:
    draft = (await supervisor.workflow_service.use_template("round-robin-online", values={"team": "1"})).result
    step = draft.steps[0]
    assert isinstance(step, AssignToStep)
    wrong = (
        await supervisor.workflow_service.save_workflow(replace(draft, steps=(replace(step, team_id=999),)))
    ).result
    assert await supervisor.workflow_service.invalid_values(wrong) == (
        "Step 1 (Assign To): there is no team 999 in this workspace (there are: 1 Support)",
    )
    assert wrong.id is not None
    with pytest.raises(PublishBlocked) as caught:
        await supervisor.workflow_service.publish(wrong.id)
    assert caught.value.missing == await supervisor.workflow_service.invalid_values(wrong)
    with pytest.raises(PublishBlocked):
        await supervisor.workflow_service.save_workflow(replace(wrong, state=WorkflowState.PUBLISHED))
    assert (await supervisor.workflow_service.workflow(wrong.id)).state is WorkflowState.DRAFT


async def test_categories_are_checked_against_the_workspaces_closing_notes(supervisor: Supervisor) -> None:
    await supervisor.start(poll=False, drain=False)  # the demo's workspace answers while it runs
    draft = (await supervisor.workflow_service.use_template("unassign-after-close")).result
    misspelt = Condition(ConditionField.CATEGORY, ConditionOperator.IS, ("Spma",))
    wrong = (
        await supervisor.workflow_service.save_workflow(
            replace(draft, trigger=replace(draft.trigger, conditions=(misspelt,)))
        )
    ).result
    assert wrong.id is not None
    with pytest.raises(PublishBlocked) as caught:
        await supervisor.workflow_service.publish(wrong.id)
    assert "there is no closing-note category 'Spma' in this workspace (there are: Billing question" in str(
        caught.value
    )
    right = replace(misspelt, values=("spam",))
    fixed = (
        await supervisor.workflow_service.save_workflow(
            replace(wrong, trigger=replace(wrong.trigger, conditions=(right,)))
        )
    ).result
    assert (
        fixed.id is not None
        and (await supervisor.workflow_service.publish(fixed.id)).result.state is WorkflowState.PUBLISHED
    )
