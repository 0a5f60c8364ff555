"""run leases: the worker holding a run and until when, when it was last enqueued and claimed, attempts

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch_op:
        batch_op.add_column(sa.Column("lease_owner", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("enqueued_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("attempts", sa.Integer(), server_default="0", nullable=False))
    # Runs queued before leases existed count as enqueued when they were created, so the sweep can tell
    # whether their message was lost.
    op.execute("UPDATE runs SET enqueued_at = created_at")


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch_op:
        for column in ("attempts", "claimed_at", "enqueued_at", "lease_expires_at", "lease_owner"):
            batch_op.drop_column(column)
