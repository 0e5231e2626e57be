"""Fixtures for the bus daemon tests: the daemon harness's (subprocesses, HTTP, the
session cluster's kubeconfig)."""

from __future__ import annotations

from ..daemon.harness import http, kubeconfig, spawn

__all__ = ["http", "kubeconfig", "spawn"]
