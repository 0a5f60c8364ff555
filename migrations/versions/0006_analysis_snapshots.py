"""analysis snapshots: the dashboard's default views, stored per experiment for one state of its runs

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "analysis_snapshots",
        sa.Column("experiment_id", sa.Integer(), nullable=False),
        sa.Column("view", sa.String(length=100), nullable=False),
        sa.Column("state_key", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["experiment_id"],
            ["experiments.id"],
            name="analysis_snapshots_experiment_id_fkey",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("experiment_id", "view", name="analysis_snapshots_pkey"),
    )


def downgrade() -> None:
    op.drop_table("analysis_snapshots")
