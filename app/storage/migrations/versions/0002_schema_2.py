"""Schema 2: leases on outbox commands, a runner lease, a version on cached contacts, awaited echoes, the
availability the lead keeps per agent (respond.io reports no presence), and when the poll found a close
(`detected_at`, apart from when it closed).

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("lease_owner", sa.String(200), nullable=True))
        batch.add_column(sa.Column("lease_until", sa.Float(), nullable=True))
        batch.add_column(sa.Column("awaiting_echo", sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table("contacts") as batch:
        batch.add_column(sa.Column("seen_at", sa.Float(), nullable=False, server_default="0"))
    with op.batch_alter_table("closes") as batch:
        batch.add_column(sa.Column("detected_at", sa.Integer(), nullable=True))
    op.create_table(
        "leases",
        sa.Column("name", sa.String(50), nullable=False),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("until", sa.Float(), nullable=False),
        sa.Column("since", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_leases"),
    )
    op.create_table(
        "availability",
        sa.Column("agent_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("presence", sa.String(20), nullable=False),
        sa.Column("hours", sa.String(100), nullable=True),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("agent_id", name="pk_availability"),
    )


def downgrade() -> None:
    op.drop_table("availability")
    op.drop_table("leases")
    with op.batch_alter_table("closes") as batch:
        batch.drop_column("detected_at")
    with op.batch_alter_table("contacts") as batch:
        batch.drop_column("seen_at")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("awaiting_echo")
        batch.drop_column("lease_until")
        batch.drop_column("lease_owner")
