"""project invitations: adding a member by email invites the address, whether or not it has an account

The invitation becomes a membership when an account with that email is next seen (signed in, by token or
single sign-on), so the answer to an invitation says nothing about which addresses have accounts.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "project_invitations",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column(
            "role",
            sa.Enum(
                "viewer",
                "editor",
                "owner",
                name="invitation_role",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name="project_invitations_project_id_fkey", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("project_id", "email", name="project_invitations_pkey"),
    )
    op.create_index("ix_project_invitations_email", "project_invitations", ["email"])


def downgrade() -> None:
    op.drop_index("ix_project_invitations_email", table_name="project_invitations")
    op.drop_table("project_invitations")
