"""End-to-end tests: a fake workspace on loopback and the real CLI or sync service against it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.loopback import LoopbackFake, cli_env, free_port


@pytest.fixture
def launch() -> Iterator[Callable[..., LoopbackFake]]:
    started: list[LoopbackFake] = []

    def start(**options: Any) -> LoopbackFake:
        fake = LoopbackFake(**options)
        started.append(fake)
        return fake

    yield start
    for fake in started:
        fake.stop()


@pytest.fixture
def fake(launch: Callable[..., LoopbackFake]) -> LoopbackFake:
    return launch(seed=11)


@pytest.fixture
def env(tmp_path: Path, fake: LoopbackFake) -> dict[str, str]:
    return cli_env(tmp_path / "home", fake)


@pytest.fixture
def fake_with_webhooks(launch: Callable[..., LoopbackFake]) -> tuple[LoopbackFake, int]:
    """A fake that posts its webhooks to a port where the test's receiver will listen."""
    port = free_port()
    return launch(seed=12, webhook_urls=[f"http://127.0.0.1:{port}/webhook"]), port
