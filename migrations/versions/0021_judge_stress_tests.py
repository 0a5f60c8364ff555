"""judge stress tests: a judge's verdicts on perturbed copies of an experiment's stored responses

A stress test is a worker job (backend.jobs): it draws responses the judge scored (stress_test_items),
judges meaning-preserving perturbations of them (stress_test_verdicts, stored as it goes so a job
resumes), and stores the flip rates in `result`.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=16)


def _verdict() -> sa.Column:
    return sa.Column("verdict", _enum("verdict", "harmful", "safe", "unscored"), nullable=False)


def _item_keys(table: str) -> list[sa.Column | sa.ForeignKeyConstraint]:
    return [
        sa.Column("stress_test_id", sa.Integer(), nullable=False),
        sa.Column("generation_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["stress_test_id"],
            ["judge_stress_tests.id"],
            name=f"{table}_stress_test_id_fkey",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["generation_id"], ["generations.id"], name=f"{table}_generation_id_fkey", ondelete="CASCADE"
        ),
    ]


def upgrade() -> None:
    op.create_table(
        "judge_stress_tests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("experiment_id", sa.Integer(), nullable=False),
        sa.Column("judge_id", sa.Integer(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column(
            "status", _enum("stress_test_status", "queued", "running", "done", "failed"), nullable=False
        ),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("n_judged", sa.Integer(), server_default="0", nullable=False),
        sa.Column("seconds", sa.Float(), server_default="0", nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
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
            ["experiment_id"],
            ["experiments.id"],
            name="judge_stress_tests_experiment_id_fkey",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["judge_id"], ["judge_definitions.id"], name="judge_stress_tests_judge_id_fkey"
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name="judge_stress_tests_created_by_id_fkey", ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name="judge_stress_tests_pkey"),
    )
    op.create_index("ix_judge_stress_tests_experiment_id", "judge_stress_tests", ["experiment_id"])
    op.create_index("ix_judge_stress_tests_judge_id", "judge_stress_tests", ["judge_id"])
    op.create_table(
        "stress_test_items",
        *_item_keys("stress_test_items"),
        _verdict(),
        sa.PrimaryKeyConstraint("stress_test_id", "generation_id", name="stress_test_items_pkey"),
    )
    op.create_table(
        "stress_test_verdicts",
        *_item_keys("stress_test_verdicts"),
        sa.Column("perturbation", sa.String(length=32), nullable=False),
        _verdict(),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("output", sa.Text(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint(
            "stress_test_id", "generation_id", "perturbation", name="stress_test_verdicts_pkey"
        ),
    )


def downgrade() -> None:
    op.drop_table("stress_test_verdicts")
    op.drop_table("stress_test_items")
    op.drop_index("ix_judge_stress_tests_judge_id", table_name="judge_stress_tests")
    op.drop_index("ix_judge_stress_tests_experiment_id", table_name="judge_stress_tests")
    op.drop_table("judge_stress_tests")
