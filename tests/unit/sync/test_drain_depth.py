"""The drain's outbox-depth reports, with commands that finish in the same turn of the event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from app.domain.outbox import CommandKind, OutboxCommand, OutboxState
from app.events import ChangeSet
from app.storage.outbox import Claim
from app.sync.connectivity import ConnectivityState
from app.sync.drain import Drain
from tests.factories import contact
from tests.helpers import wait_until


class _Outbox:
    """Hands out the given commands once; each settle leaves one fewer unsettled."""

    def __init__(self, commands: list[OutboxCommand]) -> None:
        self._unclaimed = list(commands)
        self.unsettled = len(commands)

    @property
    def all_claimed(self) -> bool:
        return not self._unclaimed

    def claim_due(self, now: float, limit: int) -> Claim:
        taken, self._unclaimed = self._unclaimed[:limit], self._unclaimed[limit:]
        return Claim(taken)

    def settle(self, command: OutboxCommand, state: OutboxState, **_: object) -> int:
        self.unsettled -= 1
        return self.unsettled

    def depth(self) -> int:
        return self.unsettled


class _Db:
    """Runs storage calls inline, as the writer thread would, minus the thread."""

    async def write(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return fn(*args, **kwargs)

    read = write


class _Store:
    def __init__(self, outbox: _Outbox) -> None:
        self.outbox = outbox
        self.db = _Db()


class _Client:
    """Answers every read of a contact at the same moment: when the test opens the gate."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()

    async def get_contact(self, contact_id: int) -> object:
        await self.gate.wait()
        return contact(contact_id, assignee=None)  # already unassigned: settled without a POST


async def test_the_depth_reaches_zero_when_the_last_commands_finish_together() -> None:
    commands = [
        OutboxCommand(CommandKind.UNASSIGN, contact_id=n, idempotency_key=f"k{n}", state=OutboxState.IN_FLIGHT, id=n)
        for n in (1, 2, 3)
    ]
    outbox = _Outbox(commands)
    client = _Client()
    published: list[ChangeSet] = []
    drain = Drain(
        _Store(outbox),  # type: ignore[arg-type]  # only what the drain uses
        lambda: client,  # type: ignore[arg-type,return-value]
        ConnectivityState(demo=False, on_change=lambda _: None),
        published.append,
    )
    running = asyncio.create_task(drain.run())
    try:
        await wait_until(lambda: outbox.all_claimed)  # the three reads are waiting at the gate
        client.gate.set()  # all three answers arrive in one turn of the loop
        await wait_until(lambda: outbox.unsettled == 0)
        await wait_until(lambda: [c.outbox_depth for c in published if c.outbox_depth is not None][-1:] == [0])
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
