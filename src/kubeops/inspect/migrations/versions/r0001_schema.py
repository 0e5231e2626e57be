"""The first release's schema: runs, per-cluster scores and a schema-version row.

Releases before Alembic created these tables themselves and wrote version 1 into
``kubeops_inspect_schema``; on such a database every table already exists and
this revision only records that it is there.  The version row stays: those
releases read it and refuse a database whose version is newer than theirs, and
every later revision keeps them able to write (see ``r0002_run_key``).

Revision ID: 0001
Revises: -
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

SEVERITIES = ("critical", "error", "warning", "info")


def upgrade() -> None:
    """Create each table of the first release that is absent, and its version row."""
    bind = op.get_bind()
    existing = set(sa.inspect(bind).get_table_names())
    if "kubeops_inspect_schema" not in existing:
        op.create_table(
            "kubeops_inspect_schema",
            sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
        )
    if "kubeops_inspect_runs" not in existing:
        op.create_table(
            "kubeops_inspect_runs",
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("generated", sa.String(64), nullable=False),
            sa.Column("score", sa.Integer, nullable=True),
            sa.Column("grade", sa.String(8), nullable=True),
            sa.Column("findings", sa.Integer, nullable=False),
            *(sa.Column(s, sa.Integer, nullable=False) for s in SEVERITIES),
            sa.Column("clusters", sa.Integer, nullable=False),
            sa.Column("unreachable", sa.Integer, nullable=False),
            sa.Column("runner", sa.String(255), nullable=False),
            sa.Column("seconds", sa.Float, nullable=True),
            sa.Column("document", sa.LargeBinary, nullable=False),
        )
        op.create_index("ix_kubeops_inspect_runs_generated", "kubeops_inspect_runs", ["generated"])
    if "kubeops_inspect_cluster_scores" not in existing:
        op.create_table(
            "kubeops_inspect_cluster_scores",
            sa.Column("run_id", sa.Integer, primary_key=True),
            sa.Column("cluster", sa.String(255), primary_key=True),
            sa.Column("score", sa.Integer, nullable=True),
            sa.Column("grade", sa.String(8), nullable=True),
            sa.Column("reachable", sa.Boolean, nullable=False),
            sa.ForeignKeyConstraint(["run_id"], ["kubeops_inspect_runs.id"]),
        )
    schema = sa.table("kubeops_inspect_schema", sa.column("version", sa.Integer))
    if bind.execute(sa.select(sa.func.count()).select_from(schema)).scalar() == 0:
        bind.execute(sa.insert(schema).values(version=1))


def downgrade() -> None:
    """Nothing: the first release's tables hold the runs and are never dropped."""
