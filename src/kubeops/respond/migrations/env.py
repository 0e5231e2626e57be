"""Alembic's entry point for the audit log's revisions, which
:class:`kubeops.respond.audit.AuditLog` runs under its database lock
(:func:`kubeops.config.database.run_migrations`)."""

from __future__ import annotations

from kubeops.config.database import run_migrations
from kubeops.respond.migrations import VERSION_TABLE

if __name__ != "kubeops.respond.migrations.env":  # run by Alembic, not imported
    run_migrations(VERSION_TABLE)
