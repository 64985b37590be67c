"""The sync service against a fake on loopback when the network, the token or the platform misbehave."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from app.domain.history import HistoryFilter, SyncState
from app.domain.secret import Secret
from app.engine.catalog import use_template
from app.engine.lifecycle import publish
from app.events import EventBus
from app.platform.client import PlatformClient
from app.storage.store import Store
from app.sync.connectivity import Connectivity
from app.sync.service import SyncOptions, SyncService
from tests.helpers import wait_until
from tests.loopback import SECRET, LoopbackFake, free_port


def _client(fake: LoopbackFake, token: str | None = None, **options: object) -> PlatformClient:
    # A 449 waits minutes on the platform; here a fraction of a second, so the fault mix ends in seconds.
    settings = {"rate_limit": 0.0, "timeout": 2.0, "backoff_base": 0.05, "backoff_max": 0.2, "queued_wait": (0.2, 0.5)}
    settings.update(options)
    return PlatformClient(fake.url, Secret(token or fake.token), **settings)  # type: ignore[arg-type]


@pytest.fixture
async def sync(
    tmp_path: Path, launch: Callable[..., LoopbackFake]
) -> AsyncIterator[Callable[..., tuple[LoopbackFake, SyncService]]]:
    services: list[SyncService] = []
    stores: list[Store] = []

    async def make(token: str | None = None, **fake_options: object) -> tuple[LoopbackFake, SyncService]:
        port = free_port()
        fake = launch(webhook_urls=[f"http://127.0.0.1:{port}/webhook"], **fake_options)
        store = Store.open(f"sqlite:///{tmp_path / f'db{len(stores)}.sqlite3'}")
        stores.append(store)
        store.workflows.save(publish(use_template("unassign-after-close")))
        options = SyncOptions(poll_seconds=3600, webhook_port=port, webhook_secret=SECRET)
        service = SyncService(store, _client(fake, token), EventBus(), options)
        services.append(service)
        await service.start(poll=False)
        return fake, service

    yield make  # type: ignore[misc]
    for service in services:
        await service.stop()
        await service.client.aclose()
    for store in stores:
        store.close()


def _states(service: SyncService) -> list[SyncState]:
    return [c.sync_state for c in service.store.history.page(HistoryFilter(), limit=1000).rows]


async def test_offline_keeps_queueing_then_resumes(sync) -> None:  # type: ignore[no-untyped-def]
    fake, service = await sync(seed=21)
    fake.faults(probabilities={"reset": 1.0})  # every API request now loses its connection
    targets = fake.assigned_open(5)
    for contact_id in targets:
        fake.close(contact_id)

    await wait_until(lambda: service.connectivity.state is Connectivity.OFFLINE, timeout=40)
    await wait_until(lambda: len(_states(service)) == 5, timeout=40)
    assert set(_states(service)) == {SyncState.PENDING}
    assert service.store.outbox.depth() == 5
    assert None not in fake.assignees(targets)

    fake.faults(probabilities={})
    await wait_until(lambda: _states(service) == [SyncState.SYNCED] * 5, timeout=60)
    assert service.connectivity.state is Connectivity.ONLINE
    assert fake.assignees(targets) == [None] * 5
    assert set(fake.unassign_posts().values()) == {1}


async def test_a_rejected_token_pauses_the_drain_until_a_new_token(sync) -> None:  # type: ignore[no-untyped-def]
    fake, service = await sync(token="stale-token", seed=22)
    targets = fake.assigned_open(3)
    for contact_id in targets:
        fake.close(contact_id)

    await wait_until(lambda: service.connectivity.state is Connectivity.AUTH_FAILED, timeout=40)
    await wait_until(lambda: len(_states(service)) == 3, timeout=40)
    log_size = len(fake.log())
    assert service.store.outbox.depth() == 3
    assert "stale-token" not in service.connectivity.detail

    await service.set_client(_client(fake))

    await wait_until(lambda: _states(service) == [SyncState.SYNCED] * 3, timeout=60)
    assert fake.assignees(targets) == [None] * 3
    assert len(fake.log()) > log_size


async def test_the_fault_mix_loses_nothing_and_doubles_nothing(sync) -> None:  # type: ignore[no-untyped-def]
    fake, service = await sync(seed=23, contacts=120, stall_seconds=3)
    fake.faults(
        probabilities={
            "429": 0.05,
            "500": 0.05,
            "502": 0.02,
            "449": 0.03,
            "timeout": 0.02,
            "reset": 0.03,
            "garbage": 0.03,
        }
    )
    targets = fake.assigned_open(30)
    for contact_id in targets:
        fake.close(contact_id)

    await wait_until(lambda: len(_states(service)) == 30 and service.store.outbox.depth() == 0, timeout=240)
    fake.faults(probabilities={})
    assert fake.assignees(targets) == [None] * 30
    assert set(_states(service)) == {SyncState.SYNCED}
    posts = fake.unassign_posts()
    assert all(posts[c] <= 1 for c in targets), posts
    injected = fake.state()["faults_injected"]
    assert sum(injected.values()) > 0
