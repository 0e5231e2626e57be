"""Alembic's entry point for the audit log's revisions: they run on the connection
that :class:`kubeops.respond.audit.AuditLog` hands over in ``config.attributes``,
inside the transaction that holds its database lock (Alembic then neither begins
nor commits one of its own)."""

from __future__ import annotations

from alembic import context

from kubeops.respond.migrations import VERSION_TABLE


def run_migrations() -> None:
    """Upgrade the database on the handed-over connection to the requested revision."""
    config = context.config
    context.configure(
        connection=config.attributes["connection"],
        target_metadata=config.attributes.get("metadata"),
        version_table=VERSION_TABLE,
    )
    with context.begin_transaction():
        context.run_migrations()


if __name__ != "kubeops.respond.migrations.env":  # run by Alembic, not imported
    run_migrations()
