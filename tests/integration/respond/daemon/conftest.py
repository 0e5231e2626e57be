"""Fixtures for the daemon tests: the session cluster's kubeconfig, daemons started as
subprocesses (killed at the end), an HTTP session."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from kubeops.testenv import Cluster

from .harness import Spawn, daemons


@pytest.fixture
def kubeconfig(kube_cluster: Cluster) -> str:
    return str(kube_cluster.kubeconfig)


@pytest.fixture
async def spawn() -> AsyncIterator[Spawn]:
    async with daemons() as start:
        yield start


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        yield session
