"""derived training sets: a training set may record how its responses were written

A run with `training.responses: self` stores the base model's own answers to its training set's prompts
as a new training set; `training_sets.derivation` says from which set, by which model, with which seed and
settings (backend.provenance.SelfWrittenResponses). Uploads and built-ins have none.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("training_sets") as batch_op:
        batch_op.add_column(sa.Column("derivation", sa.JSON(), nullable=True))


def downgrade() -> None:
    # Derived sets stay, as plain training sets: runs' provenance still names them.
    with op.batch_alter_table("training_sets") as batch_op:
        batch_op.drop_column("derivation")
