"""The issue's sync scenarios end to end: the shared sync fixtures (hub with members,
namespaces per test, policies, the controller in-process, ``kubeops sync`` as a
subprocess) come from the integration tests' conftest."""

from __future__ import annotations

from integration.sync.conftest import (
    make_policy,
    register_member,
    spawn_sync,
    start_controller,
    sync_ns,
    sync_world,
)

__all__ = [
    "make_policy",
    "register_member",
    "spawn_sync",
    "start_controller",
    "sync_ns",
    "sync_world",
]
