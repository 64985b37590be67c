"""Workflows as the platform models them: one trigger with conditions, ordered steps, settings, and runs."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class WorkflowState(StrEnum):
    """A workflow is edited as a draft, runs once published, and can be stopped."""

    DRAFT = "draft"
    PUBLISHED = "published"
    STOPPED = "stopped"


class TriggerKind(StrEnum):
    """The events a workflow can start on."""

    CONVERSATION_CLOSED = "conversation_closed"
    CONVERSATION_OPENED = "conversation_opened"


class ConditionField(StrEnum):
    """What a trigger condition looks at."""

    CLOSED_BY_SOURCE = "closed_by_source"
    CLOSED_BY_USER = "closed_by_user"
    CATEGORY = "category"
    ASSIGNEE_AT_CLOSE = "assignee_at_close"
    ASSIGNEE_TEAM = "assignee_team"
    CONTACT_TAG = "contact_tag"
    OPENED_BY_SOURCE = "opened_by_source"


class ConditionOperator(StrEnum):
    """How a condition compares; each condition holds one or more values."""

    IS = "is"
    IS_NOT = "is_not"


class Join(StrEnum):
    """How a trigger's conditions combine."""

    AND = "and"
    OR = "or"


@dataclass(frozen=True, slots=True)
class Condition:
    """`field operator values`, e.g. category is Spam. Several values mean "is any of" / "is none of"."""

    field: ConditionField
    operator: ConditionOperator
    values: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Trigger:
    """The event a workflow starts on, and the conditions the event must meet."""

    kind: TriggerKind
    conditions: tuple[Condition, ...] = ()
    join: Join = Join.AND


class AssignAction(StrEnum):
    """Who an Assign To step picks."""

    UNASSIGN = "unassign"
    SPECIFIC_USER = "specific_user"
    TEAM_USER = "team_user"
    WORKSPACE_USER = "workspace_user"


class AssignLogic(StrEnum):
    """How an Assign To step chooses among team or workspace users."""

    ROUND_ROBIN = "round_robin"
    LEAST_OPEN_CONTACTS = "least_open_contacts"


SEVEN_DAYS = 7 * 24 * 3600


@dataclass(frozen=True, slots=True)
class AssignToStep:
    """Assign the contact to someone, or unassign it.

    `user_id` is for SPECIFIC_USER, `team_id` for TEAM_USER. `only_online` and `max_open_contacts` narrow
    who qualifies; when nobody does, the run waits up to `timeout_seconds` (the platform's default is 7 days).
    """

    action: AssignAction
    user_id: int | None = None
    team_id: int | None = None
    logic: AssignLogic = AssignLogic.ROUND_ROBIN
    only_online: bool = False
    max_open_contacts: int | None = None
    timeout_seconds: int = SEVEN_DAYS


@dataclass(frozen=True, slots=True)
class AddCommentStep:
    """Add an internal comment; `text` may hold {{contact.name}}, {{assignee.name}} and {{conversation.category}}."""

    text: str


Step = AssignToStep | AddCommentStep


@dataclass(frozen=True, slots=True)
class WorkflowSettings:
    """The advanced settings of a workflow.

    "Trigger once per contact" is OFF by default because the unassign workflow must run on every close.
    "Verify before unassign" makes the drain check the platform first, so a fresh assignment is never clobbered.
    """

    trigger_once_per_contact: bool = False
    verify_before_unassign: bool = True


@dataclass(frozen=True, slots=True)
class Workflow:
    """A workflow and its life cycle; `version` grows each time it is published."""

    name: str
    trigger: Trigger
    steps: tuple[Step, ...] = ()
    settings: WorkflowSettings = field(default_factory=WorkflowSettings)
    state: WorkflowState = WorkflowState.DRAFT
    version: int = 0
    template_id: str | None = None
    created_at: float = 0.0
    updated_at: float = 0.0
    id: int | None = None


class RunOutcome(StrEnum):
    """How a workflow run ended (or that it is still waiting for someone to assign)."""

    DONE = "done"
    SKIPPED = "skipped"
    FAILED = "failed"
    WAITING = "waiting"


@dataclass(frozen=True, slots=True)
class WorkflowRun:
    """One run of a workflow on one event, with its outcome and the reason in plain words.

    `key` is unique per (workflow, event): the same event planned twice yields one run.
    `started_at` is local Unix time in seconds.
    """

    key: str
    workflow_id: int
    workflow_version: int
    contact_id: int
    started_at: float
    outcome: RunOutcome
    reason: str
    conversation_id: int | None = None
    undone: bool = False
    id: int | None = None
