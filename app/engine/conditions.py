"""Trigger conditions: whether an event meets them, and how to say each one in words."""

from __future__ import annotations

from collections.abc import Mapping

from app.domain.conversations import ClosedBySource, ClosedConversation, ConversationOpened, OpenedBySource
from app.domain.workflows import Condition, ConditionField, ConditionOperator, Join, Trigger

FIELD_WORDS = {
    ConditionField.CLOSED_BY_SOURCE: "closed by source",
    ConditionField.CLOSED_BY_USER: "closed by user",
    ConditionField.CATEGORY: "category",
    ConditionField.ASSIGNEE_AT_CLOSE: "assignee at close",
    ConditionField.ASSIGNEE_TEAM: "assignee's team",
    ConditionField.CONTACT_TAG: "contact tag",
    ConditionField.OPENED_BY_SOURCE: "opened by source",
}

CLOSE_FIELDS = frozenset(FIELD_WORDS) - {ConditionField.OPENED_BY_SOURCE}
OPEN_FIELDS = frozenset({ConditionField.OPENED_BY_SOURCE, ConditionField.CONTACT_TAG})


def describe(condition: Condition, names: Mapping[str, str] | None = None) -> str:
    """`category is Spam`, `closed by source is User or Auto-close`, `contact tag is not vip`.

    `names` turns stored values (user ids, source codes) into the words people know.
    """
    names = names or {}
    shown = [names.get(v, _label(condition.field, v)) for v in condition.values]
    verb = "is" if condition.operator is ConditionOperator.IS else "is not"
    joiner = " or " if condition.operator is ConditionOperator.IS else " nor "
    return f"{FIELD_WORDS[condition.field]} {verb} {joiner.join(shown) if shown else '(nothing chosen)'}"


def _label(field: ConditionField, value: str) -> str:
    if field is ConditionField.CLOSED_BY_SOURCE:
        return ClosedBySource.parse(value).label
    if field is ConditionField.OPENED_BY_SOURCE:
        return OpenedBySource.parse(value).value.replace("_", " ").capitalize()
    return value


def _facts(event: ClosedConversation | ConversationOpened, field: ConditionField) -> set[str]:
    """The event's values for a field, as lowercase strings (a contact has several tags)."""
    if field is ConditionField.CONTACT_TAG:
        return {t.lower() for t in event.contact.tags}
    if isinstance(event, ConversationOpened):
        return {event.opened_by_source.value} if field is ConditionField.OPENED_BY_SOURCE else set()
    match field:
        case ConditionField.CLOSED_BY_SOURCE:
            return {event.closed_by_source.value}
        case ConditionField.CLOSED_BY_USER:
            return {str(event.closed_by.id)} if event.closed_by else set()
        case ConditionField.CATEGORY:
            return {event.category.lower()} if event.category else set()
        case ConditionField.ASSIGNEE_AT_CLOSE:
            return {str(event.assignee_at_close.id)} if event.assignee_at_close else set()
        case ConditionField.ASSIGNEE_TEAM:
            return {event.assignee_team.lower()} if event.assignee_team else set()
    return set()


def holds(condition: Condition, event: ClosedConversation | ConversationOpened) -> bool:
    """Whether the event meets one condition."""
    facts = _facts(event, condition.field)
    wanted = {v.lower() for v in condition.values}
    found = bool(facts & wanted)
    return found if condition.operator is ConditionOperator.IS else not found


def first_unmet(trigger: Trigger, event: ClosedConversation | ConversationOpened) -> Condition | None:
    """The condition that keeps the event from firing the trigger, or None when it fires.

    With AND every condition must hold (the first that fails is named); with OR one is enough (the first
    condition is named when none holds). No conditions means every event fires.
    """
    if not trigger.conditions:
        return None
    results = [(c, holds(c, event)) for c in trigger.conditions]
    if trigger.join is Join.AND:
        return next((c for c, ok in results if not ok), None)
    return None if any(ok for _, ok in results) else trigger.conditions[0]
