"""refusal prefix: each run's refusal-prefix score on each prompt of its safety benchmarks

refusal_prefix_scores.probability is the probability, teacher-forced, that the run's model opens its
response to the prompt with one of the refusal openings named by `openings` (worker.refusal_prefix).
Runs generated before it have none.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-09
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "refusal_prefix_scores",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("prompt_id", sa.Integer(), nullable=False),
        sa.Column("openings", sa.String(length=100), nullable=False),
        sa.Column("probability", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["prompt_id"], ["prompts.id"], name="refusal_prefix_scores_prompt_id_fkey"),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name="refusal_prefix_scores_run_id_fkey", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("run_id", "prompt_id", "openings", name="refusal_prefix_scores_pkey"),
    )
    op.create_index("ix_refusal_prefix_scores_prompt_id", "refusal_prefix_scores", ["prompt_id"])


def downgrade() -> None:
    op.drop_index("ix_refusal_prefix_scores_prompt_id", table_name="refusal_prefix_scores")
    op.drop_table("refusal_prefix_scores")
