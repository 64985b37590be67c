"""Write tests/fixtures/schema_<revision>.sqlite: a small database at the current schema, with sample rows.

Run it once for each schema version Closeout releases, and commit the file: tests/storage/test_migrations.py
opens every fixture and upgrades it, so a migration that breaks old databases fails the suite.
"""

from __future__ import annotations

import sqlite3
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.domain.people import Agent, Team  # noqa: E402
from app.domain.workflows import (  # noqa: E402
    AssignAction,
    AssignToStep,
    Trigger,
    TriggerKind,
    Workflow,
    WorkflowState,
)
from app.storage.database import head_revision  # noqa: E402
from app.storage.store import Store  # noqa: E402
from tests.factories import close, unassign_plan  # noqa: E402


def main() -> int:
    """Build the fixture for the current head revision."""
    target = ROOT / "tests" / "fixtures" / f"schema_{head_revision()}.sqlite"
    target.unlink(missing_ok=True)
    store = Store.open(f"sqlite:///{target}")
    try:
        store.cache.upsert_agents([Agent(7, "Maya", "Lee", "maya@example.com", team=Team(1, "Support"))])
        workflow = store.workflows.save(
            Workflow(
                name="Assignment: Unassign After Conversation Closes",
                trigger=Trigger(TriggerKind.CONVERSATION_CLOSED),
                steps=(AssignToStep(AssignAction.UNASSIGN),),
                state=WorkflowState.PUBLISHED,
                version=1,
                template_id="unassign-after-close",
            )
        )
        assert workflow.id is not None
        at = time.time()
        store.plans.commit_many([unassign_plan(close(i), workflow.id, at=at + i) for i in range(1, 11)])
        store.meta.set("last_poll_at", str(at))
    finally:
        store.close()
    with sqlite3.connect(target) as raw:
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        raw.execute("PRAGMA journal_mode=DELETE")
    sys.stdout.write(f"wrote {target.relative_to(ROOT)}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
