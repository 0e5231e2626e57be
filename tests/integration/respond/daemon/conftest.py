"""Fixtures for the daemon tests: the session cluster's kubeconfig, daemons started as
subprocesses (killed at the end), an HTTP session (defined in the harness, shared with
the end-to-end scenarios)."""

from __future__ import annotations

from .harness import http, kubeconfig, spawn

__all__ = ["http", "kubeconfig", "spawn"]
