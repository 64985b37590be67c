"""Schema 1: cache, closes, workflows, runs, history, outbox and meta.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agents",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("first_name", sa.String(200), nullable=False),
        sa.Column("last_name", sa.String(200), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.Column("team_name", sa.String(200), nullable=True),
        sa.Column("online", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_agents"),
    )
    op.create_table(
        "contacts",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("first_name", sa.String(200), nullable=False),
        sa.Column("last_name", sa.String(200), nullable=False),
        sa.Column("phone", sa.String(40), nullable=True),
        sa.Column("email", sa.String(320), nullable=True),
        sa.Column("assignee_id", sa.Integer(), nullable=True),
        sa.Column("assignee_first_name", sa.String(200), nullable=False),
        sa.Column("assignee_last_name", sa.String(200), nullable=False),
        sa.Column("assignee_email", sa.String(320), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("tags", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_contacts"),
    )
    op.create_index("ix_contacts_assignee_id_status", "contacts", ["assignee_id", "status"])
    op.create_table(
        "closes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(100), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("contact_first_name", sa.String(200), nullable=False),
        sa.Column("contact_last_name", sa.String(200), nullable=False),
        sa.Column("contact_phone", sa.String(40), nullable=True),
        sa.Column("contact_email", sa.String(320), nullable=True),
        sa.Column("contact_tags", sa.Text(), nullable=False),
        sa.Column("closed_time", sa.Integer(), nullable=False),
        sa.Column("closed_by_source", sa.String(30), nullable=False),
        sa.Column("closed_by_id", sa.Integer(), nullable=True),
        sa.Column("closed_by_name", sa.String(400), nullable=False),
        sa.Column("category", sa.String(128), nullable=True),
        sa.Column("summary", sa.String(512), nullable=True),
        sa.Column("assignee_id", sa.Integer(), nullable=True),
        sa.Column("assignee_first_name", sa.String(200), nullable=False),
        sa.Column("assignee_last_name", sa.String(200), nullable=False),
        sa.Column("assignee_email", sa.String(320), nullable=False),
        sa.Column("assignee_team", sa.String(200), nullable=True),
        sa.Column("opened_time", sa.Integer(), nullable=True),
        sa.Column("opened_by_source", sa.String(30), nullable=True),
        sa.Column("channel", sa.String(200), nullable=True),
        sa.Column("recorded_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_closes"),
    )
    op.create_index("ix_closes_event_id", "closes", ["event_id"], unique=True)
    op.create_index("ix_closes_contact_id_closed_time", "closes", ["contact_id", "closed_time"], unique=True)
    op.create_index("ix_closes_closed_time_id", "closes", ["closed_time", "id"])
    op.create_table(
        "workflows",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("template_id", sa.String(100), nullable=True),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("definition", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_workflows"),
    )
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("workflow_id", sa.Integer(), nullable=False),
        sa.Column("workflow_version", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=True),
        sa.Column("started_at", sa.Float(), nullable=False),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("undone", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_runs"),
    )
    op.create_index("ix_runs_key", "runs", ["key"], unique=True)
    op.create_index("ix_runs_workflow_id_id", "runs", ["workflow_id", "id"])
    op.create_index("ix_runs_contact_id_id", "runs", ["contact_id", "id"])
    op.create_index("ix_runs_conversation_id", "runs", ["conversation_id"])
    op.create_table(
        "changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=True),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("from_agent_id", sa.Integer(), nullable=True),
        sa.Column("to_agent_id", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("sync_state", sa.String(20), nullable=False),
        sa.Column("workflow_id", sa.Integer(), nullable=True),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_changes"),
    )
    op.create_index("ix_changes_at_id", "changes", ["at", "id"])
    op.create_index("ix_changes_from_agent_id_at", "changes", ["from_agent_id", "at"])
    op.create_index("ix_changes_to_agent_id_at", "changes", ["to_agent_id", "at"])
    op.create_index("ix_changes_contact_id_at", "changes", ["contact_id", "at"])
    op.create_index("ix_changes_conversation_id", "changes", ["conversation_id"])
    op.create_index("ix_changes_workflow_id_at", "changes", ["workflow_id", "at"])
    op.create_index("ix_changes_run_id", "changes", ["run_id"])
    op.create_index("ix_changes_source_at", "changes", ["source", "at"])
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("idempotency_key", sa.String(200), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.Float(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("change_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_outbox"),
    )
    op.create_index("ix_outbox_idempotency_key", "outbox", ["idempotency_key"], unique=True)
    op.create_index("ix_outbox_state_next_attempt_at_id", "outbox", ["state", "next_attempt_at", "id"])
    op.create_index("ix_outbox_change_id", "outbox", ["change_id"])
    op.create_index("ix_outbox_run_id", "outbox", ["run_id"])
    op.create_table(
        "meta",
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_meta"),
    )
