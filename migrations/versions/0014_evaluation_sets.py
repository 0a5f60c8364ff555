"""evaluation sets: a benchmark measures harm, capability or over-refusal, and an experiment's capability
and over-refusal sets are scored by a scorer of their own

benchmarks.measures ("harm" for every existing benchmark) and benchmarks.scoring (a capability set's rule,
"" for the others); prompts.reference (a capability set's reference answer, "" for the others);
experiment_benchmarks.judge_id (the set's scorer; null: the experiment's judges, as before).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("benchmarks") as batch_op:
        batch_op.add_column(sa.Column("measures", sa.String(16), nullable=False, server_default="harm"))
        batch_op.add_column(sa.Column("scoring", sa.String(40), nullable=False, server_default=""))
    with op.batch_alter_table("prompts") as batch_op:
        batch_op.add_column(sa.Column("reference", sa.Text(), nullable=False, server_default=""))
    with op.batch_alter_table("experiment_benchmarks") as batch_op:
        batch_op.add_column(sa.Column("judge_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            "experiment_benchmarks_judge_id_fkey", "judge_definitions", ["judge_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("experiment_benchmarks") as batch_op:
        batch_op.drop_constraint("experiment_benchmarks_judge_id_fkey", type_="foreignkey")
        batch_op.drop_column("judge_id")
    with op.batch_alter_table("prompts") as batch_op:
        batch_op.drop_column("reference")
    with op.batch_alter_table("benchmarks") as batch_op:
        batch_op.drop_column("scoring")
        batch_op.drop_column("measures")
