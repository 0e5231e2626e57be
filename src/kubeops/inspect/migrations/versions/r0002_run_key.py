"""A unique key per run, so that recording is idempotent.

``History.record`` generates the key once per call and stores it with the run; a
retry after a connection lost during the commit first looks the key up, and the
unique index makes a second row impossible even if it did not.  The column is
nullable (a unique index admits any number of NULLs on SQLite and PostgreSQL),
so releases before this revision -- which insert runs without a key -- can still
write to an upgraded database during a rolling upgrade; the schema-version row
stays 1 for them.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Add ``run_key`` and its unique index to the runs."""
    op.add_column("kubeops_inspect_runs", sa.Column("run_key", sa.String(64), nullable=True))
    op.create_index(
        "ix_kubeops_inspect_runs_run_key", "kubeops_inspect_runs", ["run_key"], unique=True
    )


def downgrade() -> None:
    """Drop the index and the column (SQLite through a table copy)."""
    op.drop_index("ix_kubeops_inspect_runs_run_key", table_name="kubeops_inspect_runs")
    with op.batch_alter_table("kubeops_inspect_runs") as batch:
        batch.drop_column("run_key")
