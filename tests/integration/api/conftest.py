"""A kubeops Client for the session cluster, its default namespace set to the test's own."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from kubeops.api import Client, SyncClient
from kubeops.config import load_config
from kubeops.testenv import Cluster


@pytest.fixture
async def client(kube_cluster: Cluster, kube_namespace: str) -> AsyncIterator[Client]:
    async with Client(load_config(kube_cluster.kubeconfig, namespace=kube_namespace)) as client:
        yield client


@pytest.fixture
def sync_client(kube_cluster: Cluster, kube_namespace: str) -> Iterator[SyncClient]:
    with SyncClient(load_config(kube_cluster.kubeconfig, namespace=kube_namespace)) as client:
        yield client
