"""The first release's audit table: one row per decision of a matched rule.

``at`` is the decision's time in seconds since the epoch (a float sorts and
compares alike on SQLite and PostgreSQL); ``record_key`` is generated once per
record, so a batch retried after a connection lost during its commit is not
stored twice.

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

TABLE = "kubeops_respond_audit"


def upgrade() -> None:
    """Create the audit table and the indexes its queries use."""
    op.create_table(
        TABLE,
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("at", sa.Float(precision=53), nullable=False),
        sa.Column("replica", sa.String(255), nullable=False),
        sa.Column("rule", sa.String(255), nullable=False),
        sa.Column("event_name", sa.String(255), nullable=False),
        sa.Column("event_source", sa.String(32), nullable=False),
        sa.Column("event_identity", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(512), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("action_id", sa.String(64), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(64), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("record_key", sa.String(32), nullable=False),
    )
    op.create_index(f"ix_{TABLE}_at", TABLE, ["at"])
    op.create_index(f"ix_{TABLE}_rule_at", TABLE, ["rule", "at"])
    op.create_index(f"ix_{TABLE}_subject_at", TABLE, ["subject", "at"])
    op.create_index(f"ix_{TABLE}_outcome_at", TABLE, ["outcome", "at"])
    op.create_index(f"ix_{TABLE}_action_id", TABLE, ["action_id"])
    op.create_index(f"ix_{TABLE}_record_key", TABLE, ["record_key"], unique=True)


def downgrade() -> None:
    """Drop the audit table."""
    op.drop_table(TABLE)
