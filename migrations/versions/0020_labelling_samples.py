"""labelling samples: an experiment's responses drawn for its members to label, and their labels

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "labelling_samples",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("experiment_id", sa.Integer(), nullable=False),
        sa.Column("measures", sa.String(length=16), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["experiment_id"],
            ["experiments.id"],
            name="labelling_samples_experiment_id_fkey",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name="labelling_samples_created_by_id_fkey", ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name="labelling_samples_pkey"),
    )
    op.create_index("ix_labelling_samples_experiment_id", "labelling_samples", ["experiment_id"])
    op.create_table(
        "labelling_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sample_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("generation_id", sa.Integer(), nullable=False),
        sa.Column("stratum", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["sample_id"], ["labelling_samples.id"], name="labelling_items_sample_id_fkey", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["generation_id"],
            ["generations.id"],
            name="labelling_items_generation_id_fkey",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="labelling_items_pkey"),
        sa.UniqueConstraint("sample_id", "position", name="labelling_items_sample_id_position_key"),
        sa.UniqueConstraint("sample_id", "generation_id", name="labelling_items_sample_id_generation_id_key"),
    )
    op.create_index("ix_labelling_items_sample_id", "labelling_items", ["sample_id"])
    op.create_table(
        "human_labels",
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column(
            "label",
            sa.Enum(
                "harmful",
                "safe",
                "cant_tell",
                name="human_label",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("labelled_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"], ["labelling_items.id"], name="human_labels_item_id_fkey", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="human_labels_user_id_fkey", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("item_id", "user_id", name="human_labels_pkey"),
    )
    op.create_index("ix_human_labels_user_id", "human_labels", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_human_labels_user_id", table_name="human_labels")
    op.drop_table("human_labels")
    op.drop_index("ix_labelling_items_sample_id", table_name="labelling_items")
    op.drop_table("labelling_items")
    op.drop_index("ix_labelling_samples_experiment_id", table_name="labelling_samples")
    op.drop_table("labelling_samples")
