"""accounts, sessions, API tokens, projects with roles, share links; data belongs to a project

Existing experiments and uploaded datasets move to a project named "default" (created only when there is
something to move); the built-in datasets belong to no project. The first start of the API makes the local
owner account the owner of every project without members.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DATASET_TABLES = ("benchmarks", "training_sets")


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=16)


def _user_table(name: str, *columns: sa.Column) -> None:
    """A table of rows that belong to a user and are found by the SHA-256 of a secret token."""
    op.create_table(
        name,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        *columns,
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=f"{name}_user_id_fkey", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=f"{name}_pkey"),
        sa.UniqueConstraint("token_hash", name=f"{name}_token_hash_key"),
    )
    op.create_index(f"ix_{name}_user_id", name, ["user_id"])


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="users_pkey"),
        sa.UniqueConstraint("email", name="users_email_key"),
    )
    op.create_table(
        "projects",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="projects_pkey"),
    )
    op.create_table(
        "project_members",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("role", _enum("project_role", "viewer", "editor", "owner"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name="project_members_project_id_fkey", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="project_members_user_id_fkey", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("project_id", "user_id", name="project_members_pkey"),
    )
    op.create_index("ix_project_members_user_id", "project_members", ["user_id"])
    _user_table(
        "user_sessions",
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
    )
    _user_table(
        "api_tokens",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("can_write", sa.Boolean(), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    )
    _user_table(
        "login_tokens",
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "login_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("client_address", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="login_failures_pkey"),
    )
    for column in ("email", "client_address", "created_at"):
        op.create_index(f"ix_login_failures_{column}", "login_failures", [column])
    op.create_table(
        "share_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("experiment_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("scope", _enum("share_scope", "figures", "responses"), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["experiment_id"], ["experiments.id"], name="share_links_experiment_id_fkey", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name="share_links_created_by_id_fkey", ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name="share_links_pkey"),
        sa.UniqueConstraint("token_hash", name="share_links_token_hash_key"),
    )
    op.create_index("ix_share_links_experiment_id", "share_links", ["experiment_id"])

    default_project = _default_project_for_existing_rows()
    with op.batch_alter_table("experiments") as batch_op:
        batch_op.add_column(sa.Column("project_id", sa.Integer(), nullable=True))
    if default_project is not None:
        op.execute(sa.text("UPDATE experiments SET project_id = :id").bindparams(id=default_project))
    with op.batch_alter_table("experiments") as batch_op:
        batch_op.alter_column("project_id", existing_type=sa.Integer(), nullable=False)
        batch_op.create_foreign_key("experiments_project_id_fkey", "projects", ["project_id"], ["id"])
        batch_op.create_index("ix_experiments_project_id", ["project_id"])
    for table in DATASET_TABLES:
        with op.batch_alter_table(table) as batch_op:
            batch_op.add_column(sa.Column("project_id", sa.Integer(), nullable=True))
            batch_op.create_foreign_key(f"{table}_project_id_fkey", "projects", ["project_id"], ["id"])
            batch_op.create_index(f"ix_{table}_project_id", ["project_id"])
            batch_op.drop_constraint(f"{table}_name_version_key", type_="unique")
            batch_op.create_unique_constraint(
                f"{table}_project_id_name_version_key", ["project_id", "name", "version"]
            )
        if default_project is not None:
            op.execute(
                sa.text(f"UPDATE {table} SET project_id = :id WHERE source <> 'builtin'").bindparams(
                    id=default_project
                )
            )


def _default_project_for_existing_rows() -> int | None:
    """The id of a new project "default" if experiments or uploaded datasets exist, else None."""
    connection = op.get_bind()
    has_rows = any(
        connection.execute(sa.text(query)).first() is not None
        for query in (
            "SELECT 1 FROM experiments",
            "SELECT 1 FROM benchmarks WHERE source <> 'builtin'",
            "SELECT 1 FROM training_sets WHERE source <> 'builtin'",
        )
    )
    if not has_rows:
        return None
    projects = sa.table("projects", sa.column("id", sa.Integer), sa.column("name"), sa.column("created_at"))
    connection.execute(sa.insert(projects).values(name="default", created_at=datetime.now(UTC)))
    return connection.execute(sa.select(sa.func.max(projects.c.id))).scalar_one()


def downgrade() -> None:
    # Datasets of different projects may share a name and version, which the old key forbids: the
    # older upload keeps the name, and the others are dropped with the experiments that use them.
    for table in DATASET_TABLES:
        op.execute(
            f"DELETE FROM experiments WHERE {'benchmark_id' if table == 'benchmarks' else 'training_set_id'} "
            f"IN (SELECT d.id FROM {table} d WHERE EXISTS (SELECT 1 FROM {table} o "
            f"WHERE o.name = d.name AND o.version = d.version AND o.id < d.id))"
        )
        op.execute(
            f"DELETE FROM {table} WHERE EXISTS (SELECT 1 FROM {table} o "
            f"WHERE o.name = {table}.name AND o.version = {table}.version AND o.id < {table}.id)"
        )
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_constraint(f"{table}_project_id_name_version_key", type_="unique")
            batch_op.create_unique_constraint(f"{table}_name_version_key", ["name", "version"])
            batch_op.drop_index(f"ix_{table}_project_id")
            batch_op.drop_constraint(f"{table}_project_id_fkey", type_="foreignkey")
            batch_op.drop_column("project_id")
    with op.batch_alter_table("experiments") as batch_op:
        batch_op.drop_index("ix_experiments_project_id")
        batch_op.drop_constraint("experiments_project_id_fkey", type_="foreignkey")
        batch_op.drop_column("project_id")
    op.drop_index("ix_share_links_experiment_id", table_name="share_links")
    op.drop_table("share_links")
    for column in ("email", "client_address", "created_at"):
        op.drop_index(f"ix_login_failures_{column}", table_name="login_failures")
    op.drop_table("login_failures")
    for table in ("login_tokens", "api_tokens", "user_sessions"):
        op.drop_index(f"ix_{table}_user_id", table_name=table)
        op.drop_table(table)
    op.drop_index("ix_project_members_user_id", table_name="project_members")
    op.drop_table("project_members")
    op.drop_table("projects")
    op.drop_table("users")
