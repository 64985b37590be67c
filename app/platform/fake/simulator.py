"""A busy inbox for the fake: contacts write in, agents get assigned, conversations close.

Each simulated step opens one conversation (a contact writing in, mostly) and closes another, so the numbers
of open and closed conversations stay level however long it runs. Steps run at `closes_per_minute`, in
batches on a short tick, which sustains hundreds of closes per second. The choices come from a seeded
generator, so the sequence of steps is the same on every run; only how many fit in a given time varies.
"""

from __future__ import annotations

import asyncio
import contextlib
import random

from app.platform.fake import names
from app.platform.fake.state import FakeContact, FakeUser, Workspace

_AGENT_CLOSE_SOURCES = (("user", 0.8), ("auto_close", 0.12), ("workflow", 0.08))
_UNASSIGNED_CLOSE_SOURCES = (("auto_close", 0.6), ("workflow", 0.3), ("bot", 0.1))
_OPEN_SOURCES = (("contact", 0.88), ("user", 0.06), ("workflow", 0.04), ("growth_widget", 0.02))


def _weighted(rng: random.Random, options: tuple[tuple[str, float], ...]) -> str:
    draw = rng.random()
    for value, weight in options:
        draw -= weight
        if draw < 0:
            return value
    return options[-1][0]


class Simulator:
    """Drives a Workspace on the running loop; `start`, `set_rate` and `stop` may be called at any time."""

    def __init__(
        self, workspace: Workspace, *, seed: int = 0, closes_per_minute: float = 0.0, tick: float = 0.05
    ) -> None:
        """Nothing happens until `start()`."""
        self.workspace = workspace
        self.closes_per_minute = closes_per_minute
        self._tick = tick
        self._rng = random.Random(f"{seed}-simulator")
        self._task: asyncio.Task[None] | None = None
        self.steps = 0

    @property
    def running(self) -> bool:
        """Whether the background task is alive."""
        return self._task is not None and not self._task.done()

    def set_rate(self, closes_per_minute: float) -> None:
        """Change the pace; 0 pauses without stopping the task."""
        if closes_per_minute < 0:
            raise ValueError("closes per minute cannot be negative")
        self.closes_per_minute = closes_per_minute

    async def start(self, closes_per_minute: float | None = None) -> None:
        """Start (or keep) the background task, optionally at a new pace."""
        if closes_per_minute is not None:
            self.set_rate(closes_per_minute)
        if not self.running:
            self._task = asyncio.create_task(self._run(), name="fake-simulator")

    async def stop(self) -> None:
        """Stop the background task."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        last = loop.time()
        due = 0.0
        while True:
            await asyncio.sleep(self._tick)
            now = loop.time()
            elapsed, last = now - last, now
            per_second = self.closes_per_minute / 60.0
            # A stall (a paused debugger, a loaded machine) is not made up with a burst beyond one second.
            due = min(due + per_second * elapsed, max(1.0, per_second))
            for _ in range(int(due)):
                self.step()
            due -= int(due)

    def step(self) -> None:
        """One contact writes in (or is contacted) and one open conversation closes."""
        workspace = self.workspace
        rng = self._rng
        self.steps += 1
        if workspace.closed_ids:
            self.open_one(workspace.contacts[workspace.closed_ids.choice(rng)])
        if workspace.open_ids:
            self.close_one(workspace.contacts[workspace.open_ids.choice(rng)])

    def open_one(self, contact: FakeContact) -> None:
        """A new conversation: the contact writes in, and an agent takes it if nobody has it."""
        workspace = self.workspace
        rng = self._rng
        source = _weighted(rng, _OPEN_SOURCES)
        if not workspace.open_conversation(contact, source, first_message=rng.choice(names.INCOMING_TEXTS)):
            return
        if contact.assignee_id is None and rng.random() < 0.85:
            agent = self._pick_agent()
            if agent is not None:
                workspace.assign(contact, agent)
        if contact.assignee_id is not None and rng.random() < 0.7:
            sender = {"source": "user", "userId": contact.assignee_id}
            workspace.add_message(contact, "outgoing", rng.choice(names.OUTGOING_TEXTS), sender)

    def close_one(self, contact: FakeContact) -> None:
        """The assignee (or auto-close, or a workflow) closes the conversation with a random category."""
        workspace = self.workspace
        rng = self._rng
        assignee = workspace.users.get(contact.assignee_id) if contact.assignee_id is not None else None
        source = _weighted(rng, _AGENT_CLOSE_SOURCES if assignee else _UNASSIGNED_CLOSE_SOURCES)
        category: str | None = None
        summary: str | None = None
        if rng.random() < 0.85:
            note = rng.choice(workspace.closing_notes)
            category = note["category"]
            if rng.random() < 0.4:
                summary = f"{note['description']} (simulated)"
        closer = assignee if source == "user" else None
        workspace.close_conversation(contact, source, closer, category, summary)

    def _pick_agent(self) -> FakeUser | None:
        users = self.workspace.users
        pool = [user for user in users.values() if user.role != "owner"] or list(users.values())
        return self._rng.choice(pool) if pool else None
