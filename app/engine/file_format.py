"""Exported workflow files: versioned JSON, so a file from another Closeout imports or says why not."""

from __future__ import annotations

import json
from typing import Any

from app.domain.errors import WorkflowFileError
from app.domain.workflow_codec import definition_from_dict, definition_to_dict
from app.domain.workflows import Workflow, WorkflowState

FORMAT = "closeout.workflow"
VERSION = 1


def export_workflow(workflow: Workflow) -> str:
    """The workflow as a JSON document (the draft definition, not its runs or state)."""
    document: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "name": workflow.name,
        "template_id": workflow.template_id,
        **definition_to_dict(workflow.trigger, workflow.steps, workflow.settings),
    }
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def import_workflow(text: str | bytes) -> Workflow:
    """A new draft from an exported document; a bad file raises WorkflowFileError saying what is wrong."""
    try:
        document = json.loads(text, parse_constant=_refuse_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        raise WorkflowFileError(f"The file is not valid JSON ({exc}).") from None
    except RecursionError:
        raise WorkflowFileError("The file is not valid JSON (it is nested too deeply).") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise WorkflowFileError("The file is not a Closeout workflow export.")
    version = document.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise WorkflowFileError(f"The file's format version must be a whole number from 1, not {version!r}.")
    if version > VERSION:
        raise WorkflowFileError(
            f"The file uses format version {version!r}; this Closeout reads up to {VERSION}.",
            "Update Closeout to import it.",
        )
    name = document.get("name")
    if not isinstance(name, str) or not name.strip():
        raise WorkflowFileError("The workflow in the file has no name.")
    template_id = document.get("template_id")
    trigger, steps, settings = definition_from_dict(document)
    return Workflow(
        name=name.strip(),
        trigger=trigger,
        steps=steps,
        settings=settings,
        state=WorkflowState.DRAFT,
        template_id=template_id if isinstance(template_id, str) else None,
    )


def _refuse_constant(name: str) -> float:
    """JSON has no NaN or Infinity; Python's reader accepts them unless told not to."""
    raise ValueError(f"{name} is not a JSON number")
