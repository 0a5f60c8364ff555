"""judge validations get the runs' lease: owner, expiry, enqueued and claimed times, attempts, and a message

Judge validations become jobs like runs (backend.jobs): a worker holds one through a lease, and the sweep
queues again one whose worker stopped. Existing validations count as enqueued when they were created, so a
validation left "running" by a worker that died before this migration is found by the sweep and finished.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("progress_message", "lease_owner", "lease_expires_at", "enqueued_at", "claimed_at", "attempts")


def upgrade() -> None:
    with op.batch_alter_table("judge_validations") as batch_op:
        # The server default fills the existing rows; the ORM writes the message itself, as for runs.
        batch_op.add_column(sa.Column("progress_message", sa.Text(), server_default="", nullable=False))
        batch_op.add_column(sa.Column("lease_owner", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("enqueued_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("attempts", sa.Integer(), server_default="0", nullable=False))
    with op.batch_alter_table("judge_validations") as batch_op:
        batch_op.alter_column("progress_message", server_default=None)
    op.execute("UPDATE judge_validations SET enqueued_at = created_at")


def downgrade() -> None:
    with op.batch_alter_table("judge_validations") as batch_op:
        for column in reversed(COLUMNS):
            batch_op.drop_column(column)
