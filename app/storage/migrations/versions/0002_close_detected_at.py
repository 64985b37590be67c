"""Schema 2: a close found by the poll keeps when it was found (`detected_at`) apart from when it closed.

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
    with op.batch_alter_table("closes") as batch:
        batch.add_column(sa.Column("detected_at", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("closes") as batch:
        batch.drop_column("detected_at")
