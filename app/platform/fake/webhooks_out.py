"""How the fake announces its events: in process to subscribers, and by signed webhook POSTs.

Each event is encoded once, to the exact bytes a webhook would carry, so an in-process consumer (demo mode)
goes through the same `parse_event` as a real receiver. Publishing never waits: subscribers get the bytes
on a bounded queue (oldest dropped when full), and webhook deliveries are queued for background workers
that retry with backoff while the receiver is down.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import Counter, deque
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any

import httpx

from app.backoff import Backoff
from app.platform.webhooks import SIGNATURE_HEADER, sign

log = logging.getLogger("closeout.fake.webhooks")

Listener = Callable[[bytes], None]


class Subscription:
    """A queue of raw event bodies for one in-process consumer; `dropped` counts what overflowed."""

    def __init__(self, hub: EventHub, maxsize: int) -> None:
        """Register with `hub`; `close()` unregisters."""
        self._hub = hub
        self._maxsize = maxsize
        self._items: deque[bytes] = deque()
        self._ready = asyncio.Event()
        self.dropped = 0

    def _push(self, body: bytes) -> None:
        if len(self._items) >= self._maxsize:
            self._items.popleft()
            self.dropped += 1
        self._items.append(body)
        self._ready.set()

    def get_nowait(self) -> bytes | None:
        """The oldest waiting event, or None."""
        if not self._items:
            return None
        return self._items.popleft()

    async def get(self) -> bytes:
        """Wait for the next event."""
        while not self._items:
            self._ready.clear()
            await self._ready.wait()
        return self._items.popleft()

    def __len__(self) -> int:
        return len(self._items)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while True:
            yield await self.get()

    def close(self) -> None:
        """Stop receiving events."""
        self._hub.remove_listener(self._push)


class EventHub:
    """Fan-out of the workspace's events to listeners, each handed the encoded body."""

    def __init__(self) -> None:
        """No listeners yet."""
        self._listeners: list[Listener] = []
        self.published = 0

    def publish(self, payload: dict[str, Any]) -> None:
        """Encode and hand out one event; a failing listener is logged and does not stop the others."""
        self.published += 1
        if not self._listeners:
            return
        body = json.dumps(payload, separators=(",", ":")).encode()
        for listener in tuple(self._listeners):
            try:
                listener(body)
            except Exception:
                log.exception("an event listener failed")

    @property
    def listening(self) -> bool:
        """Whether anyone receives events."""
        return bool(self._listeners)

    def add_listener(self, listener: Listener) -> None:
        """Call `listener(body)` for every event, synchronously; it must not block."""
        self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        """Stop calling `listener`."""
        with contextlib.suppress(ValueError):
            self._listeners.remove(listener)

    def subscribe(self, maxsize: int = 100_000) -> Subscription:
        """A new queue of event bodies."""
        subscription = Subscription(self, maxsize)
        self.add_listener(subscription._push)
        return subscription


class WebhookSender:
    """Delivers event bodies to webhook URLs, signed, from background workers.

    A respond.io webhook is one URL and one event, with its own signing key, so each body is signed with
    the key of its `event_type` (`secrets`, keyed by event type); an event type without a key is not sent.

    A delivery that fails (no connection, timeout, non-2xx) is tried again after `backoff`, doubling, up to
    `retries` more times, then counted as failed. The queue is bounded; when full, the oldest delivery is
    dropped and counted, so a dead receiver cannot make the fake grow without end.
    """

    def __init__(
        self,
        urls: Sequence[str],
        secrets: Mapping[str, str],
        *,
        retries: int = 3,
        backoff: float = 0.5,
        timeout: float = 5.0,
        workers: int = 4,
        maxsize: int = 100_000,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        """Nothing is sent until `start()`; events queued before it wait."""
        self.urls = list(urls)
        self._secrets = dict(secrets)
        self._retries = retries
        self._backoff = Backoff(backoff, jitter=(1.0, 1.0))  # a test server: the same waits every run
        self._timeout = timeout
        self._workers = workers
        self._maxsize = maxsize
        self._transport = transport
        self._queue: deque[tuple[str, str, bytes]] = deque()
        self._wakeup: asyncio.Event | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._client: httpx.AsyncClient | None = None
        self.stats: Counter[str] = Counter()

    def __call__(self, body: bytes) -> None:
        """Queue `body` for every URL (the EventHub listener), with the key of its event type."""
        event_type = json.loads(body).get("event_type")
        key = self._secrets.get(event_type) if isinstance(event_type, str) else None
        if key is None:
            self.stats["unsigned"] += 1
            return
        for url in self.urls:
            if len(self._queue) >= self._maxsize:
                self._queue.popleft()
                self.stats["dropped"] += 1
            self._queue.append((url, key, body))
        if self._wakeup is not None:
            self._wakeup.set()

    @property
    def pending(self) -> int:
        """Deliveries waiting for a worker."""
        return len(self._queue)

    async def start(self) -> None:
        """Start the workers on the running loop."""
        if self._tasks:
            return
        self._wakeup = asyncio.Event()
        self._client = httpx.AsyncClient(transport=self._transport, timeout=self._timeout, trust_env=False)
        for _ in range(self._workers):
            task = asyncio.create_task(self._work(), name="fake-webhook-worker")
            self._tasks.add(task)
        if self._queue:
            self._wakeup.set()

    async def stop(self) -> None:
        """Cancel the workers; deliveries still queued are left undelivered."""
        tasks, self._tasks = self._tasks, set()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def _work(self) -> None:
        assert self._wakeup is not None
        while True:
            while not self._queue:
                self._wakeup.clear()
                await self._wakeup.wait()
            url, key, body = self._queue.popleft()
            await self._deliver(url, key, body)

    async def _deliver(self, url: str, key: str, body: bytes) -> None:
        assert self._client is not None
        headers = {"content-type": "application/json", SIGNATURE_HEADER: sign(key, body)}
        for attempt in range(self._retries + 1):
            self.stats["attempts"] += 1
            try:
                response = await self._client.post(url, content=body, headers=headers)
            except httpx.HTTPError as exc:
                problem = type(exc).__name__
            else:
                if 200 <= response.status_code < 300:
                    self.stats["delivered"] += 1
                    return
                problem = f"status {response.status_code}"
            if attempt < self._retries:
                self.stats["retries"] += 1
                delay = self._backoff.delay(attempt + 1)
                log.debug("webhook to %s failed (%s); retrying in %.2f s", url, problem, delay)
                await asyncio.sleep(delay)
        self.stats["failed"] += 1
        log.warning("webhook to %s failed %d times; giving up on this event", url, self._retries + 1)
