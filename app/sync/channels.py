"""The channel each close happened on, looked up on the platform after the close is recorded.

The `conversation.closed` webhook, as far as any sample shows, names no channel, and neither does the
poll; the platform lists a contact's channels with their last message times (`GET /contact/{id}/channels`),
so the channel the contact last wrote on before the close is the conversation's. One request per close,
one at a time, only for closes recorded while this process sends (never the whole past), so the lookups
cost little of the rate budget. A close whose channel cannot be found keeps "" and shows "—".
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence

from app.domain.conversations import ClosedConversation
from app.domain.errors import AuthRejected, Offline, PlatformError, PlatformUnavailable, RateLimited
from app.domain.workspace import Channel
from app.events import ChangeSet
from app.platform.client import PlatformClient
from app.storage.store import Store

log = logging.getLogger("closeout.sync.channels")

BATCH = 20
RECENT_CLOSES = 1000
"""At start, closes this far back are looked up too when their channel is still unknown (a runner stopped or
handed over before it got to them); older ones keep "—" rather than spend the rate budget on the past."""
WAIT_FOR = (Offline, PlatformUnavailable, RateLimited, AuthRejected)
"""Failures that pass: the close is tried again later, never marked as having no channel."""
IDLE_SECONDS = 5.0
BACKOFF_SECONDS = 30.0


def channel_of(close: ClosedConversation, channels: Sequence[Channel]) -> str:
    """The channel the contact last wrote on at or before the close ("" when none is known).

    With no incoming message times (a channel the business wrote on first), the last message time decides,
    and a contact with one channel has talked there.
    """
    for field in ("last_incoming_message_time", "last_message_time"):
        timed = [
            (moment, c.id, c.name)
            for c in channels
            if (moment := getattr(c, field)) is not None and moment <= close.closed_time
        ]
        if timed:
            return max(timed)[2]
    return channels[0].name if len(channels) == 1 else ""


class ChannelLookup:
    """Fills in the channel of new closes, woken by each change-set that names closes."""

    def __init__(
        self, store: Store, client: Callable[[], PlatformClient], publish: Callable[[ChangeSet], None]
    ) -> None:
        """Work on `store`, through whatever client `client()` gives at the time."""
        self.store = store
        self._client = client
        self._publish = publish
        self._wake = asyncio.Event()
        self.looked_up = 0

    def closes_arrived(self, change: ChangeSet) -> None:
        """A bus handler: new closes may be waiting for their channel."""
        if change.closes:
            self._wake.set()

    async def run(self) -> None:
        """Look up new closes' channels until cancelled; a platform that does not answer is tried again later."""
        after = max(0, await self.store.db.read(self.store.closes.last_id) - RECENT_CLOSES)
        while True:
            closes = await self.store.db.read(self.store.closes.without_channel, after, BATCH)
            if not closes:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), IDLE_SECONDS)
                continue
            done: list[int] = []
            try:
                for close in closes:
                    assert close.id is not None
                    await self._look_up(close)
                    done.append(close.id)
                    after = close.id
            except WAIT_FOR as exc:
                log.info("channel look-up paused: %s", exc)
                await asyncio.sleep(BACKOFF_SECONDS)
            finally:
                if done:
                    self._publish(ChangeSet(closes=tuple(done)))

    async def _look_up(self, close: ClosedConversation) -> None:
        assert close.id is not None
        try:
            channels = await self._client().list_contact_channels(close.contact.id)
        except WAIT_FOR:
            raise
        except PlatformError as exc:  # the contact is gone, or the answer made no sense: say "—", move on
            log.info("no channel for close %d: %s", close.id, exc)
            channels = []
        name = channel_of(close, channels)
        await self.store.db.write(self.store.closes.set_channel, close.id, name)
        self.looked_up += 1
