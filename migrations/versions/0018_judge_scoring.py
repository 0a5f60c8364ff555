"""a capability set scored by a judge definition: benchmarks.scoring holds "judge:<name>@<version>"

A judge's name is up to 100 characters, so the scoring rule's column widens from 40 to 120.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("benchmarks") as batch:
        batch.alter_column(
            "scoring", existing_type=sa.String(40), type_=sa.String(120), existing_server_default=""
        )


def downgrade() -> None:
    with op.batch_alter_table("benchmarks") as batch:
        batch.alter_column(
            "scoring", existing_type=sa.String(120), type_=sa.String(40), existing_server_default=""
        )
