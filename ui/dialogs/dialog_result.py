"""Waiting for a dialog without a nested event loop: `exec()` inside a coroutine would re-enter asyncio."""

from __future__ import annotations

import asyncio

from PySide6.QtWidgets import QDialog


async def finished(dialog: QDialog) -> int:
    """Open `dialog` window-modally and return its result code once it is closed."""
    future: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    def done(code: int) -> None:
        if not future.done():
            future.set_result(code)

    dialog.finished.connect(done)
    dialog.open()
    try:
        return await future
    finally:
        dialog.finished.disconnect(done)
