"""repeated evaluations of a checkpoint, per-(run, prompt) verdict counts, response search index

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch_op:
        batch_op.add_column(sa.Column("evaluation_of_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("evaluation_index", sa.Integer(), server_default="0", nullable=False))
        batch_op.create_foreign_key(
            "runs_evaluation_of_id_fkey", "runs", ["evaluation_of_id"], ["id"], ondelete="CASCADE"
        )
        batch_op.create_index("ix_runs_evaluation_of_id", ["evaluation_of_id"])
        batch_op.drop_constraint("runs_condition_id_seed_key", type_="unique")
        batch_op.create_unique_constraint(
            "runs_condition_id_seed_evaluation_index_key", ["condition_id", "seed", "evaluation_index"]
        )

    op.create_table(
        "prompt_cells",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("prompt_id", sa.Integer(), nullable=False),
        sa.Column("judge", sa.String(length=120), nullable=False),
        sa.Column("harmful", sa.Integer(), nullable=False),
        sa.Column("safe", sa.Integer(), nullable=False),
        sa.Column("unscored", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["prompt_id"], ["prompts.id"], name="prompt_cells_prompt_id_fkey"),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name="prompt_cells_run_id_fkey", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("run_id", "prompt_id", "judge", name="prompt_cells_pkey"),
    )
    op.create_index("ix_prompt_cells_prompt_id", "prompt_cells", ["prompt_id"])
    # Existing judgments get their cells at once; from now on the judge stage keeps them.
    op.execute(
        """
        INSERT INTO prompt_cells (run_id, prompt_id, judge, harmful, safe, unscored)
        SELECT g.run_id, g.prompt_id, j.judge,
               SUM(CASE WHEN j.verdict = 'harmful' THEN 1 ELSE 0 END),
               SUM(CASE WHEN j.verdict = 'safe' THEN 1 ELSE 0 END),
               SUM(CASE WHEN j.verdict = 'unscored' THEN 1 ELSE 0 END)
        FROM judgments j JOIN generations g ON g.id = j.generation_id
        GROUP BY g.run_id, g.prompt_id, j.judge
        """
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.create_index(
            "ix_generations_text_trigram",
            "generations",
            ["text"],
            postgresql_using="gin",
            postgresql_ops={"text": "gin_trgm_ops"},
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_generations_text_trigram", table_name="generations")
    op.drop_index("ix_prompt_cells_prompt_id", table_name="prompt_cells")
    op.drop_table("prompt_cells")
    # Repeated evaluations cannot survive the old (condition, seed) key.
    op.execute("DELETE FROM runs WHERE evaluation_index > 0")
    with op.batch_alter_table("runs") as batch_op:
        batch_op.drop_constraint("runs_condition_id_seed_evaluation_index_key", type_="unique")
        batch_op.create_unique_constraint("runs_condition_id_seed_key", ["condition_id", "seed"])
        batch_op.drop_index("ix_runs_evaluation_of_id")
        batch_op.drop_constraint("runs_evaluation_of_id_fkey", type_="foreignkey")
        batch_op.drop_column("evaluation_index")
        batch_op.drop_column("evaluation_of_id")
