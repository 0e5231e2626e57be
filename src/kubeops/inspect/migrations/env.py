"""Alembic's entry point for the history revisions, which
:class:`kubeops.inspect.history.History` runs under its database lock
(:func:`kubeops.config.database.run_migrations`)."""

from __future__ import annotations

from kubeops.config.database import run_migrations
from kubeops.inspect.migrations import VERSION_TABLE

if __name__ != "kubeops.inspect.migrations.env":  # run by Alembic, not imported
    run_migrations(VERSION_TABLE)
