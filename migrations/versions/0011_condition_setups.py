"""condition setups: each condition stores its base model and training set, and the training set's row

Until now the base model and the training set were the experiment's. Existing conditions take their
experiment's, in their stored definition (the training set as its pinned "name@version") and in the new
`conditions.training_set_id`, so every reader finds them on the condition.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

experiments = sa.table(
    "experiments",
    sa.column("id", sa.Integer),
    sa.column("base_model", sa.String),
    sa.column("base_model_revision", sa.String),
    sa.column("training_set_id", sa.Integer),
)
training_sets = sa.table(
    "training_sets",
    sa.column("id", sa.Integer),
    sa.column("name", sa.String),
    sa.column("version", sa.String),
)
conditions = sa.table(
    "conditions",
    sa.column("id", sa.Integer),
    sa.column("experiment_id", sa.Integer),
    sa.column("spec", sa.JSON),
    sa.column("training_set_id", sa.Integer),
)


def upgrade() -> None:
    with op.batch_alter_table("conditions") as batch_op:
        batch_op.add_column(sa.Column("training_set_id", sa.Integer(), nullable=True))
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(
            conditions.c.id,
            conditions.c.spec,
            experiments.c.base_model,
            experiments.c.base_model_revision,
            experiments.c.training_set_id,
            training_sets.c.name,
            training_sets.c.version,
        )
        .join(experiments, conditions.c.experiment_id == experiments.c.id)
        .join(training_sets, experiments.c.training_set_id == training_sets.c.id)
    ).all()
    for row in rows:
        spec = {
            **row.spec,
            "base_model": row.base_model,
            "base_model_revision": row.base_model_revision,
            "training_set": f"{row.name}@{row.version}",
        }
        connection.execute(
            conditions.update()
            .where(conditions.c.id == row.id)
            .values(spec=spec, training_set_id=row.training_set_id)
        )
    with op.batch_alter_table("conditions") as batch_op:
        batch_op.alter_column("training_set_id", existing_type=sa.Integer(), nullable=False)
        batch_op.create_foreign_key(
            "fk_conditions_training_set_id", "training_sets", ["training_set_id"], ["id"]
        )
        batch_op.create_index("ix_conditions_training_set_id", ["training_set_id"])


def downgrade() -> None:
    with op.batch_alter_table("conditions") as batch_op:
        batch_op.drop_index("ix_conditions_training_set_id")
        batch_op.drop_constraint("fk_conditions_training_set_id", type_="foreignkey")
        batch_op.drop_column("training_set_id")
    connection = op.get_bind()
    for row in connection.execute(sa.select(conditions.c.id, conditions.c.spec)).all():
        spec = {
            k: v
            for k, v in row.spec.items()
            if k not in ("base_model", "base_model_revision", "training_set")
        }
        connection.execute(conditions.update().where(conditions.c.id == row.id).values(spec=spec))
