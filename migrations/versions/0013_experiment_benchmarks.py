"""experiment benchmarks: an experiment's runs are evaluated on one benchmark or several, in order

Each existing experiment gets its one benchmark (experiments.benchmark_id, which stays the first) as the
only row.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "experiment_benchmarks",
        sa.Column("experiment_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("benchmark_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["experiment_id"],
            ["experiments.id"],
            name="experiment_benchmarks_experiment_id_fkey",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["benchmark_id"], ["benchmarks.id"], name="experiment_benchmarks_benchmark_id_fkey"
        ),
        sa.PrimaryKeyConstraint("experiment_id", "position", name="experiment_benchmarks_pkey"),
        sa.UniqueConstraint(
            "experiment_id", "benchmark_id", name="experiment_benchmarks_experiment_id_benchmark_id_key"
        ),
    )
    op.create_index("ix_experiment_benchmarks_benchmark_id", "experiment_benchmarks", ["benchmark_id"])
    op.execute(
        "INSERT INTO experiment_benchmarks (experiment_id, position, benchmark_id) "
        "SELECT id, 0, benchmark_id FROM experiments"
    )


def downgrade() -> None:
    op.drop_index("ix_experiment_benchmarks_benchmark_id", table_name="experiment_benchmarks")
    op.drop_table("experiment_benchmarks")
