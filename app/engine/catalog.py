"""The template gallery, and Use Template: a draft copy with the fields that need input listed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from app.domain.errors import WorkflowError
from app.domain.workflow_codec import MAX_ID
from app.domain.workflows import (
    AssignAction,
    AssignLogic,
    AssignToStep,
    Step,
    Trigger,
    TriggerKind,
    Workflow,
    WorkflowState,
)


@dataclass(frozen=True, slots=True)
class Template:
    """A gallery card: what it is for, a sketch of trigger → steps, and the inputs it needs before publishing."""

    id: str
    category: str
    name: str
    purpose: str
    sketch: tuple[str, ...]
    needs_input: tuple[str, ...]
    trigger: Trigger
    steps: tuple[Step, ...]


UNASSIGN_AFTER_CLOSE = Template(
    id="unassign-after-close",
    category="Assignment",
    name="Assignment: Unassign After Conversation Closes",
    purpose="Unassign the contact every time a conversation closes, so nobody waits on an agent who is away.",
    sketch=("Conversation Closed", "Assign To: Unassign"),
    needs_input=(),
    trigger=Trigger(TriggerKind.CONVERSATION_CLOSED),
    steps=(AssignToStep(AssignAction.UNASSIGN),),
)
ROUND_ROBIN_ONLINE = Template(
    id="round-robin-online",
    category="Assignment",
    name="Assignment: Round Robin + Online Only",
    purpose=(
        "Share new conversations in turn among a team's agents marked available on the Team page: low-cost support."
    ),
    sketch=("Conversation Opened", "Assign To: a team, round robin, online only"),
    needs_input=("team",),
    trigger=Trigger(TriggerKind.CONVERSATION_OPENED),
    steps=(AssignToStep(AssignAction.TEAM_USER, logic=AssignLogic.ROUND_ROBIN, only_online=True),),
)
LEAST_OPEN_CONTACTS = Template(
    id="least-open-contacts",
    category="Assignment",
    name="Assignment: Least Open Contacts",
    purpose="Give each new conversation to the team member with the fewest open contacts: high-quality support.",
    sketch=("Conversation Opened", "Assign To: a team, least open contacts"),
    needs_input=("team",),
    trigger=Trigger(TriggerKind.CONVERSATION_OPENED),
    steps=(AssignToStep(AssignAction.TEAM_USER, logic=AssignLogic.LEAST_OPEN_CONTACTS),),
)
BLANK = Template(
    id="blank",
    category="Start from scratch",
    name="Blank workflow",
    purpose="An empty workflow: choose a trigger and add steps yourself.",
    sketch=("Conversation Closed", "(no steps yet)"),
    needs_input=("steps",),
    trigger=Trigger(TriggerKind.CONVERSATION_CLOSED),
    steps=(),
)

TEMPLATES: tuple[Template, ...] = (UNASSIGN_AFTER_CLOSE, ROUND_ROBIN_ONLINE, LEAST_OPEN_CONTACTS, BLANK)


def template(template_id: str) -> Template:
    """The template with this id, or a WorkflowError listing the ids there are."""
    for entry in TEMPLATES:
        if entry.id == template_id:
            return entry
    known = ", ".join(t.id for t in TEMPLATES)
    raise WorkflowError(f"There is no template called {template_id!r}.", f"Choose one of: {known}.")


def use_template(template_id: str, name: str | None = None, values: Mapping[str, str] | None = None) -> Workflow:
    """A draft copy of a template; `values` fill its inputs (today: `team`, a team id).

    The draft may still lack inputs: publishing says what is missing, as the platform marks it in red.
    """
    entry = template(template_id)
    values = dict(values or {})
    steps = entry.steps
    if "team" in values:
        raw = values.pop("team")
        team_id = int(raw) if raw.isdigit() else -1
        if not 0 <= team_id <= MAX_ID:
            raise WorkflowError(f"The team must be given by its id (a whole number), not {raw!r}.")
        steps = tuple(replace(s, team_id=team_id) if isinstance(s, AssignToStep) else s for s in steps)
    if values:
        raise WorkflowError(f"This template has no input called {', '.join(sorted(values))}.")
    return Workflow(
        name=name or entry.name,
        trigger=entry.trigger,
        steps=steps,
        state=WorkflowState.DRAFT,
        template_id=entry.id,
    )
