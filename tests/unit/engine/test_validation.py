"""Values a workflow names are checked against the cached workspace; imported files are checked field by field."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from app.domain.errors import PublishBlocked, WorkflowError, WorkflowFileError
from app.domain.workflows import AssignAction, AssignToStep, Condition, ConditionField, ConditionOperator
from app.engine.catalog import use_template
from app.engine.file_format import export_workflow, import_workflow
from app.engine.lifecycle import invalid_values, publish
from tests.factories import MAYA, RAVI


def test_a_team_the_workspace_does_not_have_is_refused_in_words() -> None:
    draft = use_template("round-robin-online", values={"team": "999"})
    assert invalid_values(draft, [MAYA, RAVI]) == (
        "Step 1 (Assign To): there is no team 999 in this workspace (there are: 1 Support)",
    )
    with pytest.raises(PublishBlocked) as caught:
        publish(draft, [MAYA, RAVI])
    assert "there is no team 999" in str(caught.value)
    assert invalid_values(use_template("round-robin-online", values={"team": "1"}), [MAYA, RAVI]) == ()


def test_unknown_users_in_steps_and_conditions_are_named_with_their_place() -> None:
    draft = use_template("blank", name="x")
    draft = replace(
        draft,
        trigger=replace(
            draft.trigger,
            conditions=(
                Condition(ConditionField.ASSIGNEE_AT_CLOSE, ConditionOperator.IS, ("7", "12")),
                Condition(ConditionField.ASSIGNEE_TEAM, ConditionOperator.IS_NOT, ("Support",)),
                Condition(ConditionField.CATEGORY, ConditionOperator.IS, ("Anything",)),
            ),
        ),
        steps=(AssignToStep(AssignAction.SPECIFIC_USER, user_id=99),),
    )
    assert invalid_values(draft, [MAYA, RAVI]) == (
        "Condition 1: there is no user 12 in this workspace (there are: 7 Maya Lee, 8 Ravi Shah)",
        "Condition 2: there is no team Support in this workspace (there are: 1 Support)",
        "Step 1 (Assign To): there is no user 99 in this workspace (there are: 7 Maya Lee, 8 Ravi Shah)",
    )


def test_with_no_agent_cached_yet_nothing_is_refused() -> None:
    assert invalid_values(use_template("round-robin-online", values={"team": "999"}), []) == ()


def _document(**changes: object) -> str:
    document = json.loads(export_workflow(use_template("round-robin-online", values={"team": "3"})))
    document.update(changes)
    return json.dumps(document)


def _with_step_field(key: str, raw: str) -> str:
    text = _document()
    document = json.loads(text)
    document["steps"][0][key] = "@@"
    return json.dumps(document).replace('"@@"', raw)


@pytest.mark.parametrize("version", ["true", "false", "0", "-1", "1.5", '"1"', "null"])
def test_an_import_with_a_format_version_that_is_not_a_whole_number_is_refused(version: str) -> None:
    text = _document().replace('"version": 1', f'"version": {version}')
    with pytest.raises(WorkflowFileError) as caught:
        import_workflow(text)
    assert "format version" in caught.value.message


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ("null", "timeout_seconds must be a whole number"),
        ("[1]", "timeout_seconds must be a whole number"),
        ("true", "timeout_seconds must be a whole number"),
        ("1e400", "timeout_seconds must be a whole number"),
        ("Infinity", "Infinity is not a JSON number"),
        ("NaN", "NaN is not a JSON number"),
        ("99999999999999999999999", "timeout_seconds must be a whole number"),
    ],
)
def test_an_import_with_a_bad_timeout_is_refused_in_words(raw: str, words: str) -> None:
    with pytest.raises(WorkflowFileError) as caught:
        import_workflow(_with_step_field("timeout_seconds", raw))
    assert words in caught.value.message


@pytest.mark.parametrize("raw", ["99999999999999999999999", "-3", '"abc"', "2.5"])
def test_an_import_with_an_id_out_of_range_is_refused_in_words(raw: str) -> None:
    with pytest.raises(WorkflowFileError) as caught:
        import_workflow(_with_step_field("team_id", raw))
    assert "an id must be a whole number" in caught.value.message


def test_an_import_nested_too_deeply_is_refused_in_words() -> None:
    with pytest.raises(WorkflowFileError) as caught:
        import_workflow("[" * 100_000 + "]" * 100_000)
    assert "not valid JSON" in caught.value.message


def test_a_good_export_still_imports() -> None:
    imported = import_workflow(_with_step_field("timeout_seconds", "3600"))
    step = imported.steps[0]
    assert isinstance(step, AssignToStep) and (step.timeout_seconds, step.team_id) == (3600, 3)


@pytest.mark.parametrize("raw", ["-3", "abc", "", "99999999999999999999999", "1.5"])
def test_a_team_given_on_use_template_must_be_an_id(raw: str) -> None:
    with pytest.raises(WorkflowError) as caught:
        use_template("round-robin-online", values={"team": raw})
    assert "The team must be given by its id" in caught.value.message


def test_a_category_the_workspace_does_not_have_is_refused_and_case_does_not_matter() -> None:
    draft = use_template("unassign-after-close")
    condition = Condition(ConditionField.CATEGORY, ConditionOperator.IS, ("spam", "Spma"))
    draft = replace(draft, trigger=replace(draft.trigger, conditions=(condition,)))
    assert invalid_values(draft, [MAYA], ["Resolved", "Spam"]) == (
        "Condition 1: there is no closing-note category 'Spma' in this workspace (there are: Resolved, Spam)",
    )
    assert invalid_values(draft, [MAYA]) == ()  # the workspace's categories are not known: nothing to check
