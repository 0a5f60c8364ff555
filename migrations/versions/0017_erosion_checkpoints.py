"""erosion checkpoints: runs that evaluate a training run's intermediate checkpoints

runs.checkpoint_of_id names the run whose checkpoint at runs.checkpoint_fraction of its training the row
evaluates (training.evaluate_at); such a row has no condition of its own (runs.condition_id is NULL), so
no statistic over a condition's runs counts it. A CHECK keeps every row one kind or the other.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-10
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHECK = (
    "(condition_id IS NULL) = (checkpoint_of_id IS NOT NULL) "
    "AND (checkpoint_of_id IS NULL) = (checkpoint_fraction IS NULL)"
)


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("checkpoint_of_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("checkpoint_fraction", sa.Float(), nullable=True))
        batch.alter_column("condition_id", existing_type=sa.Integer(), nullable=True)
        batch.create_foreign_key(
            "runs_checkpoint_of_id_fkey", "runs", ["checkpoint_of_id"], ["id"], ondelete="CASCADE"
        )
        batch.create_index("ix_runs_checkpoint_of_id", ["checkpoint_of_id"])
        batch.create_unique_constraint(
            "runs_checkpoint_of_id_checkpoint_fraction_key", ["checkpoint_of_id", "checkpoint_fraction"]
        )
        batch.create_check_constraint(op.f("ck_runs_condition_or_checkpoint"), sa.text(CHECK))


def downgrade() -> None:
    # The checkpoints' evaluations go: the schema before this revision has no place for them.
    op.execute("DELETE FROM runs WHERE checkpoint_of_id IS NOT NULL")
    with op.batch_alter_table("runs") as batch:
        batch.drop_constraint(op.f("ck_runs_condition_or_checkpoint"), type_="check")
        batch.drop_constraint("runs_checkpoint_of_id_checkpoint_fraction_key", type_="unique")
        batch.drop_index("ix_runs_checkpoint_of_id")
        batch.drop_constraint("runs_checkpoint_of_id_fkey", type_="foreignkey")
        batch.alter_column("condition_id", existing_type=sa.Integer(), nullable=False)
        batch.drop_column("checkpoint_fraction")
        batch.drop_column("checkpoint_of_id")
