"""Schema 2: the availability the lead keeps per agent (respond.io reports no presence).

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
