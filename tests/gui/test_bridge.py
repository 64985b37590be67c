"""The bridge hands each signal's ids on with who asked for the change, and a slot may take the ids alone."""

from __future__ import annotations

from app.events import ChangeSet, EventBus
from ui.bridge import Bridge


def test_each_signal_carries_who_asked_and_a_one_argument_slot_gets_the_ids(qapp) -> None:
    bus = EventBus()
    bridge = Bridge(bus)
    asker = object()
    runs: list[tuple[list[int], object]] = []
    closes: list[list[int]] = []
    agents: list[object] = []
    bridge.runs_changed.connect(lambda ids, initiator: runs.append((ids, initiator)))
    bridge.closes_changed.connect(lambda ids: closes.append(ids))
    bridge.agents_changed.connect(agents.append)
    bus.publish(ChangeSet(runs=(1, 2), closes=(9,), agents_changed=True, initiator=asker))
    bus.publish(ChangeSet(runs=(3,)))
    assert runs == [([1, 2], asker), ([3], None)]
    assert closes == [[9]]
    assert agents == [asker]
    bridge.detach()
