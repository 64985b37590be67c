"""Named leases: renewals are readable by another Store (another process), and a lease moves only through its holder."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest

from app.storage import leases
from app.storage.leases import RUNNER
from app.storage.store import Store
from tests.pg import PgServer


def test_a_renewal_is_readable_by_another_holder(store: Store, db_url: str) -> None:
    other = Store.open(db_url)
    try:
        first = store.leases.acquire(RUNNER, 30, now=1_000.0)
        assert (first.since, first.renewed) == (1_000.0, 1_000.0)
        store.leases.acquire(RUNNER, 30, now=1_012.5)
        seen = other.leases.acquire(RUNNER, 30, now=1_013.0)
        assert seen.holder == store.holder
        assert (seen.since, seen.renewed, seen.until) == (1_000.0, 1_012.5, 1_042.5)
    finally:
        other.close()


def test_a_request_reaches_the_holder_who_hands_the_lease_over(store: Store, db_url: str) -> None:
    asker = Store.open(db_url)
    try:
        store.leases.acquire(RUNNER, 30, now=1_000.0)
        asker.leases.request(RUNNER, 60, now=1_001.0)
        assert asker.leases.asked(RUNNER) is False  # the request ran out long ago by the wall clock
        asker.leases.request(RUNNER, 60)
        assert asker.leases.asked(RUNNER)
        renewed = store.leases.acquire(RUNNER, 30)
        assert renewed.holder == store.holder and renewed.asked_by == asker.holder
        # The asker cannot take a live lease by itself: it still belongs to the holder.
        assert asker.leases.acquire(RUNNER, 30).holder == store.holder
        assert store.leases.hand_over(RUNNER, asker.holder, 30)
        assert not store.leases.hand_over(RUNNER, asker.holder, 30)  # no longer ours to give
        assert not asker.leases.asked(RUNNER)  # the request went with the hand-over
        taken = asker.leases.acquire(RUNNER, 30)
        assert taken.holder == asker.holder and taken.asked_by is None
        assert store.leases.acquire(RUNNER, 30).holder == asker.holder
    finally:
        asker.close()


def test_a_request_ends_when_the_asker_takes_a_lapsed_lease_itself(store: Store, db_url: str) -> None:
    asker = Store.open(db_url)
    try:
        store.leases.acquire(RUNNER, 1, now=1_000.0)  # lapsed by the wall clock
        asker.leases.request(RUNNER, 60)
        assert asker.leases.acquire(RUNNER, 30).holder == asker.holder
        assert not asker.leases.asked(RUNNER)
        assert asker.leases.acquire(RUNNER, 30).asked_by is None
    finally:
        asker.close()


@pytest.mark.postgres
def test_on_a_shared_database_a_lease_is_judged_by_the_servers_clock(
    pg_server: PgServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A desktop whose clock runs 30 s ahead must not see the runner's live lease as run out, and take it."""
    url = pg_server.new_database()
    runner, ahead = Store.open(url), Store.open(url)
    try:
        runner.leases.acquire(RUNNER, 6)
        real = time.time
        monkeypatch.setattr(leases, "time", SimpleNamespace(time=lambda: real() + 30))
        held = ahead.leases.get(RUNNER)
        assert held is not None and held.holder == runner.holder
        assert ahead.leases.acquire(RUNNER, 6).holder == runner.holder
    finally:
        runner.close()
        ahead.close()
