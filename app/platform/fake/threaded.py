"""A FakePlatform on an asyncio loop of its own, in a daemon thread of this process, reached without a socket.

The demo workspace runs the fake this way. The fake stands in for a remote platform, so its work (the
simulator, the HTTP app answering each request) should not take turns with the window on the GUI's loop.
A client reaches it through `transport()`: an httpx transport that hands each request to the fake's loop
(`httpx.ASGITransport` there) and awaits the answer on the caller's loop.

Listeners added with `FakePlatform.add_listener` are called in the fake's thread; hand their work to your
own loop with `loop.call_soon_threadsafe`.
"""

from __future__ import annotations

import asyncio
import threading

import httpx

from app.platform.fake.platform import FakePlatform

START_TIMEOUT_S = 10.0


class ThreadedFake:
    """Runs `platform` on a loop in a daemon thread between `start()` and `stop()`."""

    def __init__(self, platform: FakePlatform) -> None:
        """Nothing runs until `start()`."""
        self.platform = platform
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        """True between `start()` and `stop()`."""
        return self._loop is not None

    def transport(self) -> httpx.AsyncBaseTransport:
        """A transport for `IN_PROCESS_URL` that serves each request on the fake's loop."""
        return _CrossLoopTransport(self)

    def loop(self) -> asyncio.AbstractEventLoop | None:
        """The fake's loop while it runs."""
        return self._loop

    async def start(self) -> None:
        """Start the thread and its loop, then the platform's background work (simulator, webhooks) on it."""
        if self._loop is not None:
            return
        ready = threading.Event()
        loops: list[asyncio.AbstractEventLoop] = []

        def run() -> None:
            # The runner's close cancels what is left on the loop once it stops, and closes it.
            with asyncio.Runner() as runner:
                loops.append(runner.get_loop())
                ready.set()
                loops[0].run_forever()

        thread = threading.Thread(target=run, name="closeout-demo-platform", daemon=True)
        thread.start()
        if not await asyncio.to_thread(ready.wait, START_TIMEOUT_S):
            raise TimeoutError("the demo workspace's thread did not start")
        self._loop, self._thread = loops[0], thread
        await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(self.platform.start(), self._loop))

    async def stop(self) -> None:
        """Stop the platform's background work, then the loop and the thread."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        try:
            await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(self.platform.stop(), loop))
        finally:
            self._loop = self._thread = None
            loop.call_soon_threadsafe(loop.stop)
            await asyncio.to_thread(thread.join, START_TIMEOUT_S)


class _CrossLoopTransport(httpx.AsyncBaseTransport):
    """Serves each request with the fake's in-process ASGI transport, on the fake's loop."""

    def __init__(self, owner: ThreadedFake) -> None:
        self._owner = owner
        self._inner = owner.platform.transport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        loop = self._owner.loop()
        if loop is None:
            raise httpx.ConnectError("The demo workspace is not running.", request=request)
        # The ASGI transport reads the whole answer before it returns, so the response reads without the fake.
        answer = asyncio.run_coroutine_threadsafe(self._inner.handle_async_request(request), loop)
        return await asyncio.wrap_future(answer)
