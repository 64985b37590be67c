"""The plain-Python event bus."""

from __future__ import annotations

import gc
import logging

import pytest

from app.events import ChangeSet, EventBus, OpChanges


class Listener:
    def __init__(self) -> None:
        self.seen: list[ChangeSet] = []

    def on_change(self, change: ChangeSet) -> None:
        self.seen.append(change)


def test_publish_reaches_every_subscriber_in_order() -> None:
    bus = EventBus()
    order: list[str] = []
    bus.subscribe(lambda c: order.append("first"))
    bus.subscribe(lambda c: order.append("second"))
    bus.publish(ChangeSet(closes=(1,)))
    assert order == ["first", "second"]


def test_empty_change_sets_are_not_published() -> None:
    bus = EventBus()
    seen: list[ChangeSet] = []
    bus.subscribe(seen.append)
    bus.publish(ChangeSet())
    assert seen == []


def test_bound_methods_are_held_weakly() -> None:
    bus = EventBus()
    listener = Listener()
    bus.subscribe(listener.on_change)
    bus.publish(ChangeSet(runs=(1,)))
    assert listener.seen == [ChangeSet(runs=(1,))]
    del listener
    gc.collect()
    bus.publish(ChangeSet(runs=(2,)))
    assert bus._handlers == []


def test_unsubscribe() -> None:
    bus = EventBus()
    listener = Listener()
    bus.subscribe(listener.on_change)
    bus.unsubscribe(listener.on_change)
    bus.publish(ChangeSet(runs=(1,)))
    assert listener.seen == []


@pytest.mark.log_errors_expected
def test_a_failing_handler_is_logged_and_does_not_stop_the_others(caplog: pytest.LogCaptureFixture) -> None:
    bus = EventBus()
    seen: list[ChangeSet] = []

    def broken(change: ChangeSet) -> None:
        raise RuntimeError("view crashed")

    bus.subscribe(broken)
    bus.subscribe(seen.append)
    with caplog.at_level(logging.ERROR):
        bus.publish(ChangeSet(changes=(3,)))
    assert seen == [ChangeSet(changes=(3,))]
    assert "view crashed" in caplog.text


def test_who_asked_is_carried_but_is_not_itself_a_change() -> None:
    asker = object()
    bus = EventBus()
    listener = Listener()
    bus.subscribe(listener.on_change)
    bus.publish(ChangeSet(initiator=asker))  # nothing changed: nothing is published
    change = ChangeSet(runs=(4,), initiator=asker)
    bus.publish(change)
    assert listener.seen == [ChangeSet(runs=(4,))]
    assert listener.seen[0].initiator is asker
    done = OpChanges("the result", change)
    assert done.result == "the result" and done.changes is change and done.initiator is asker
