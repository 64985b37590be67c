"""One fake respond.io workspace: its state, HTTP app, faults, rate limit, simulator and event outlets.

The same object serves in process (demo mode, through `httpx.ASGITransport`) and on a socket (`server.py`).
`httpx.ASGITransport` runs no ASGI lifespan, so nothing starts by itself: `start()` launches the background
work (the simulator, webhook delivery) on the running loop and `stop()` ends it.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import httpx

from app.platform.fake.faults import FaultPlan
from app.platform.fake.options import ASSIGNEE_OPERATORS, DEFAULT_TOKEN, NEXT_FORMS, resolve_webhook_secrets
from app.platform.fake.ratelimit import RateLimiter
from app.platform.fake.requestlog import RequestLog
from app.platform.fake.simulator import Simulator
from app.platform.fake.state import Workspace
from app.platform.fake.webhooks_out import EventHub, Listener, Subscription, WebhookSender

if TYPE_CHECKING:
    from starlette.applications import Starlette
    from starlette.types import Receive, Scope, Send

__all__ = ["DEFAULT_TOKEN", "IN_PROCESS_URL", "FakePlatform", "create_fake_platform"]

IN_PROCESS_URL = "http://fake.respond.invalid/v2"


class FakePlatform:
    """A fake workspace and everything that controls it; see `create_fake_platform` for the options."""

    def __init__(
        self,
        *,
        token: str = DEFAULT_TOKEN,
        seed: int = 0,
        event_seed: int | None = None,
        users: int = 12,
        contacts: int = 200,
        rate_limit: float = 5.0,
        rate_window: float = 1.0,
        faults: str | Mapping[str, float] | None = None,
        stall_seconds: float = 35.0,
        closes_per_minute: float = 0.0,
        webhook_urls: Sequence[str] = (),
        webhook_secret: str | None = None,
        webhook_secrets: Mapping[str, str] | None = None,
        webhook_retries: int = 3,
        webhook_backoff: float = 0.5,
        webhook_transport: httpx.AsyncBaseTransport | None = None,
        null_next: bool = False,
        next_form: str = "bare",
        refused_operators: Sequence[str] = (),
        now: float | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Build the workspace and the app; nothing runs until `start()`."""
        if not token:
            raise ValueError("the fake needs a token")
        self.token = token
        self.expected_authorization = f"Bearer {token}"
        if next_form not in NEXT_FORMS:
            raise ValueError(f"next_form must be one of {', '.join(NEXT_FORMS)}")
        unknown = set(refused_operators) - set(ASSIGNEE_OPERATORS)
        if unknown:
            raise ValueError(f"cannot refuse unknown operators: {', '.join(sorted(unknown))}")
        self.null_next = null_next
        self.next_form = next_form
        self.refused_operators = frozenset(refused_operators)
        self.webhook_secrets = resolve_webhook_secrets(webhook_secret, webhook_secrets)
        self.events = EventHub()
        self.state = Workspace(
            seed=seed,
            event_seed=event_seed,
            users=users,
            contacts=contacts,
            now=now,
            clock=clock,
            on_event=self.events.publish,
            listening=lambda: self.events.listening,
        )
        self.faults = FaultPlan(faults, seed=seed, stall_seconds=stall_seconds)
        self.limiter = RateLimiter(rate_limit, window=rate_window)
        self.log = RequestLog()
        self.simulator = Simulator(self.state, seed=seed, closes_per_minute=closes_per_minute)
        self.webhooks: WebhookSender | None = None
        if webhook_urls:
            self.webhooks = WebhookSender(
                webhook_urls,
                self.webhook_secrets,
                retries=webhook_retries,
                backoff=webhook_backoff,
                transport=webhook_transport,
            )
            self.events.add_listener(self.webhooks)

    @functools.cached_property
    def app(self) -> Starlette:
        """The HTTP app, built on first use: Starlette and the routes cost start-up time the demo can defer."""
        from app.platform.fake.app import build_app

        return build_app(self)

    async def start(self) -> None:
        """Start webhook delivery and, if a pace was given, the simulator."""
        if self.webhooks is not None:
            await self.webhooks.start()
        if self.simulator.closes_per_minute > 0:
            await self.simulator.start()

    async def stop(self) -> None:
        """Stop the simulator and webhook delivery."""
        await self.simulator.stop()
        if self.webhooks is not None:
            await self.webhooks.stop()

    def transport(self) -> httpx.ASGITransport:
        """An httpx transport that calls the app in process; use it with `IN_PROCESS_URL`.

        The app is built on the first request, so the demo's window shows before Starlette has loaded.
        """
        return httpx.ASGITransport(app=self._asgi)

    async def _asgi(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)

    def subscribe(self, maxsize: int = 100_000) -> Subscription:
        """A queue of the raw webhook bodies of every event from now on."""
        return self.events.subscribe(maxsize)

    def add_listener(self, listener: Listener) -> None:
        """Call `listener(body)` synchronously for every event."""
        self.events.add_listener(listener)

    def remove_listener(self, listener: Listener) -> None:
        """Stop calling `listener`."""
        self.events.remove_listener(listener)

    def snapshot(self) -> dict[str, Any]:
        """The workspace plus the fake's own counters, as `/_fake/state` shows them."""
        data = self.state.snapshot()
        data["requests"] = self.log.total
        data["events_published"] = self.events.published
        data["faults_injected"] = dict(self.faults.injected)
        data["simulator"] = {
            "running": self.simulator.running,
            "closes_per_minute": self.simulator.closes_per_minute,
            "steps": self.simulator.steps,
        }
        data["webhooks"] = (
            None if self.webhooks is None else {**dict(self.webhooks.stats), "pending": self.webhooks.pending}
        )
        data["rate_limit_per_s"] = self.limiter.per_second
        return data


def create_fake_platform(**options: Any) -> FakePlatform:
    """A new fake workspace, taking FakePlatform's keyword options, all optional.

    They are `token`, `seed`, `event_seed` (see Workspace), `users`, `contacts`, `rate_limit` (requests per
    endpoint per `rate_window` seconds, 0 = unlimited), `faults` (spec string or mapping), `stall_seconds`,
    `closes_per_minute` (simulator pace, started by `start()`), `webhook_urls`, `webhook_secrets` (per event,
    see `options.resolve_webhook_secrets`), `webhook_secret` (one key for all three), `webhook_retries`,
    `webhook_backoff`, `webhook_transport`, `null_next` (end lists with `null` instead of `""`), `next_form`
    (`bare`, `v2` or `relative`), `refused_operators` (assigneeUserId operators answered 400), `now` (anchor
    of the generated history) and `clock`. `options.py` lists what each command-line flag sets.
    """
    return FakePlatform(**options)
