"""What tests arrange or watch below the facade: the store they seed, the parts of sync they time or break.

The app never does this (its code goes through the Supervisor's services); tests that must, do it here, in
one place, rather than through attributes the Supervisor does not offer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.bootstrap import Supervisor
    from app.demo import DemoWorkspace
    from app.storage.store import Store
    from app.sync.service import SyncService


def store(supervisor: Supervisor) -> Store:
    """The supervisor's database (after `connect`)."""
    return supervisor._core.store


def sync(supervisor: Supervisor) -> SyncService:
    """The supervisor's sync service (after `connect`)."""
    return supervisor._core.sync


def demo(supervisor: Supervisor) -> DemoWorkspace | None:
    """The demo workspace, when the supervisor runs one (after `connect`)."""
    return supervisor._demo
