"""coherence: each generation's coherence score and mark, and each prompt cell's count of incoherent
responses

generations.coherence is the base model's mean per-token log-likelihood of the response (nats per
token), generations.incoherent the rule's mark (worker.coherence); prompt_cells.incoherent counts the
cell's judged responses marked incoherent. All are NULL for responses generated before coherence was
measured.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-08
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("generations") as batch:
        batch.add_column(sa.Column("coherence", sa.Float(), nullable=True))
        batch.add_column(sa.Column("incoherent", sa.Boolean(), nullable=True))
    with op.batch_alter_table("prompt_cells") as batch:
        batch.add_column(sa.Column("incoherent", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("prompt_cells") as batch:
        batch.drop_column("incoherent")
    with op.batch_alter_table("generations") as batch:
        batch.drop_column("incoherent")
        batch.drop_column("coherence")
