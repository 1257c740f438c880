"""measure counts kept on write; case facts

The counts start empty: ``run.py db upgrade`` (and ``serve``) rebuild them from the task
index when they upgrade a database from 0001 (services/measure_counts.py).

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "measure_counts",
        sa.Column("metric", sa.String(length=40), nullable=False),
        sa.Column("pathway", sa.String(length=100), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.Column("region", sa.String(length=40), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("bucket", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("metric", "pathway", "label", "region", "month", "bucket",
                                name=op.f("pk_measure_counts")),
    )
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("facts", sa.JSON(), server_default="{}", nullable=False))
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_index("ix_tasks_milestone")  # the measures read the counts now
        batch_op.drop_index("ix_tasks_open_work")
        batch_op.create_index("ix_tasks_due", ["status", "due_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_index("ix_tasks_due")
        batch_op.create_index("ix_tasks_open_work", ["status", "region", "pathway", "name", "assignee", "due_at"],
                              unique=False)
        batch_op.create_index("ix_tasks_milestone", ["pathway", "element_id", "status", "case_id", "completed_at"],
                              unique=False)
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_column("facts")
    op.drop_table("measure_counts")
