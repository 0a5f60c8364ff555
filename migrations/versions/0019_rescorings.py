"""rescorings: judges added to an experiment after submit, and who chose its headline judge

A rescoring is a worker job (backend.jobs) in which a judge added to an experiment judges the responses its
runs had already stored. experiments.headline_chosen_by_id / headline_chosen_at record the editor who last
moved a judge first (the headline rate's), and when.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rescorings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("experiment_id", sa.Integer(), nullable=False),
        sa.Column("judge_id", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "queued",
                "running",
                "done",
                "failed",
                name="rescoring_status",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("n_judged", sa.Integer(), server_default="0", nullable=False),
        sa.Column("seconds", sa.Float(), server_default="0", nullable=False),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("progress_message", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_owner", sa.String(length=200), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("enqueued_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(
            ["experiment_id"], ["experiments.id"], name="rescorings_experiment_id_fkey", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["judge_id"], ["judge_definitions.id"], name="rescorings_judge_id_fkey"),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name="rescorings_created_by_id_fkey", ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name="rescorings_pkey"),
        sa.UniqueConstraint("experiment_id", "judge_id", name="rescorings_experiment_id_judge_id_key"),
    )
    op.create_index("ix_rescorings_experiment_id", "rescorings", ["experiment_id"])
    op.create_index("ix_rescorings_judge_id", "rescorings", ["judge_id"])
    with op.batch_alter_table("experiments") as batch:
        batch.add_column(sa.Column("headline_chosen_by_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("headline_chosen_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_foreign_key(
            "experiments_headline_chosen_by_id_fkey",
            "users",
            ["headline_chosen_by_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("experiments") as batch:
        batch.drop_constraint("experiments_headline_chosen_by_id_fkey", type_="foreignkey")
        batch.drop_column("headline_chosen_at")
        batch.drop_column("headline_chosen_by_id")
    op.drop_index("ix_rescorings_judge_id", table_name="rescorings")
    op.drop_index("ix_rescorings_experiment_id", table_name="rescorings")
    op.drop_table("rescorings")
