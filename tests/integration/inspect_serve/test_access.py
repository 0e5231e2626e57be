"""Who may read ``inspect serve``'s pages with ``--auth kubernetes``, against a real API
server: a ServiceAccount bound to ``get`` on the nonResourceURL ``/metrics`` scrapes
it (TokenReview, then SubjectAccessReview), one without that binding is refused, a
token the server does not know is unauthenticated, and the probes need nothing --
in this process, and through the command over HTTPS as Prometheus reaches it, logging
JSON lines."""

from __future__ import annotations

import json
import logging
import ssl
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from aiohttp.test_utils import TestClient, TestServer

from inspect_documents import document
from kubeops.api import Client
from kubeops.config import load_config
from kubeops.controller.serving import (
    JsonLogFormatter,
    ResourceAttributes,
    SecurePort,
    ServingOptions,
)
from kubeops.inspect.history import History
from kubeops.inspect.serve.metrics import InspectMetrics
from kubeops.inspect.serve.web import Site
from kubeops.testenv import Cluster, async_eventually
from kubeops.testenv.pki import create_cluster_pki

from .conftest import NOT_YET, Serve, free_port

SCRAPE = [{"nonResourceURLs": ["/metrics"], "verbs": ["get"]}]


def service_account_token(cluster: Cluster, rules: list[dict[str, Any]], **how: Any) -> str:
    """A new ServiceAccount allowed exactly ``rules``; its token."""
    name = f"scraper-{uuid.uuid4().hex[:6]}"
    path = cluster.service_account_kubeconfig(name, rules, **how)
    token: str = yaml.safe_load(path.read_text())["users"][0]["user"]["token"]
    return token


@pytest.fixture(scope="module")
def tokens(kube_clusters: list[Cluster]) -> dict[str, str]:
    cluster = kube_clusters[0]
    return {
        "scraper": service_account_token(cluster, SCRAPE, cluster_wide=True),
        "nobody": service_account_token(cluster, [], cluster_wide=True),
    }


@pytest.fixture
async def history(tmp_path: Path) -> AsyncIterator[History]:
    opened = await History.open(f"sqlite:///{tmp_path / 'inspect.db'}")
    await opened.record(document())
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
async def reviewer(kube_clusters: list[Cluster]) -> AsyncIterator[Client]:
    """The daemon's own client: it creates the TokenReviews and SubjectAccessReviews."""
    async with Client(load_config(kube_clusters[0].kubeconfig)) as client:
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_a_bound_service_account_scrapes_and_others_are_refused(
    history: History,
    reviewer: Client,
    tokens: dict[str, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="kubeops")
    port = SecurePort(ServingOptions(host="0.0.0.0", auth="kubernetes"), reviewer)
    site = Site(history, InspectMetrics(), lambda: {"status": "ok"})
    client: TestClient[Any, Any] = TestClient(TestServer(site.app(port), host="127.0.0.1"))
    await client.start_server()

    async def status(path: str, headers: dict[str, str]) -> int:
        async with client.get(path, headers=headers) as response:
            return response.status

    try:
        scraped = await client.get("/metrics", headers=bearer(tokens["scraper"]))
        assert scraped.status == 200
        assert "kubeops_inspect_score" in await scraped.text()
        # Its ClusterRole names /metrics only: the reports stay closed to it.
        assert await status("/report.json", bearer(tokens["scraper"])) == 403
        assert await status("/runs/1.json", bearer(tokens["scraper"])) == 403
        assert await status("/metrics", bearer(tokens["nobody"])) == 403
        assert await status("/metrics", bearer("not-a-token")) == 401
        assert await status("/metrics", {}) == 401
        assert await status("/healthz", {}) == 200
        assert await status("/readyz", {}) == 200
        # Answers are kept briefly: a second scrape is served from the cache.
        assert await status("/metrics", bearer(tokens["scraper"])) == 200
    finally:
        await client.close()
    shown = JsonLogFormatter()
    denials = [shown.format(r) for r in caplog.records if r.getMessage() == "request denied"]
    # One line per caller and cause: the scraper's second 403 (another path) is folded.
    assert len(denials) == 4
    assert all("\n" not in line for line in denials)
    assert any("system:serviceaccount:" in line and '"status":403' in line for line in denials)
    assert not any(tokens["scraper"] in shown.format(r) for r in caplog.records)


async def test_requests_authorized_against_a_resource_instead_of_the_path(
    history: History,
    reviewer: Client,
    kube_clusters: list[Cluster],
    tokens: dict[str, str],
) -> None:
    # As kube-rbac-proxy's resourceAttributes: access to the page is access to a Service's
    # proxy subresource in one namespace.
    namespace = "default"
    proxy = [
        {
            "apiGroups": [""],
            "resources": ["services/proxy"],
            "resourceNames": ["kubeops-inspect"],
            "verbs": ["get"],
        }
    ]
    viewer = service_account_token(kube_clusters[0], proxy, namespace=namespace)
    attributes = ResourceAttributes(
        "services", subresource="proxy", name="kubeops-inspect", namespace=namespace
    )
    options = ServingOptions(auth="kubernetes", resource_attributes=attributes)
    port = SecurePort(options, reviewer)
    site = Site(history, InspectMetrics(), lambda: {"status": "ok"})
    client: TestClient[Any, Any] = TestClient(TestServer(site.app(port), host="127.0.0.1"))
    await client.start_server()
    try:
        for path in ("/", "/runs/1.json", "/metrics"):
            assert (await client.get(path, headers=bearer(viewer))).status == 200, path
        # Allowed /metrics as a nonResourceURL, but not this resource.
        assert (await client.get("/metrics", headers=bearer(tokens["scraper"]))).status == 403
    finally:
        await client.close()


async def test_the_command_serves_metrics_over_https_to_prometheus_service_account(
    kubeconfig: str,
    kube_clusters: list[Cluster],
    spawn: Callable[..., Awaitable[Serve]],
    tokens: dict[str, str],
    tmp_path: Path,
) -> None:
    pki = create_cluster_pki(tmp_path / "pki", "inspect-serve")
    port = free_port()
    serve = await spawn(
        "--kubeconfig",
        kubeconfig,
        "--context",
        kube_clusters[0].name,
        "--interval",
        "1h",
        "--history",
        f"sqlite:///{tmp_path / 'inspect.db'}",
        "--listen",
        f"127.0.0.1:{port}",
        "--auth",
        "kubernetes",
        "--tls-cert-file",
        str(pki.apiserver.cert_file),
        "--tls-private-key-file",
        str(pki.apiserver.key_file),
        "--log-format",
        "json",
    )
    base = f"https://127.0.0.1:{port}"
    context = ssl.create_default_context(cafile=str(pki.ca.cert_file))
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:

        async def get(path: str, token: str | None = None) -> tuple[int, str]:
            headers = bearer(token) if token else {}
            async with http.get(base + path, headers=headers, ssl=context) as response:
                return response.status, await response.text()

        async def scraped() -> str:
            status, text = await get("/metrics", tokens["scraper"])
            assert status == 200, text
            assert 'kubeops_inspect_score{cluster="member-a"}' in text
            return text

        await async_eventually(
            scraped, timeout=60, ignore=NOT_YET, message="the scraper reads the first run"
        )
        assert (await get("/metrics", tokens["nobody"]))[0] == 403
        assert (await get("/metrics"))[0] == 401
        assert (await get("/healthz"))[0] == 200
        # Authorization comes first: a path the caller may not read reveals nothing.
        assert (await get("/runs/99999999999999999999.json", tokens["scraper"]))[0] == 403
    assert await serve.stop() == 0
    lines = [json.loads(line) for line in serve.log.splitlines()]  # every line one object
    assert any(e["message"].startswith("serving https://127.0.0.1") for e in lines)
    denied = [e for e in lines if e["message"] == "request denied"]
    assert {e["status"] for e in denied} == {401, 403}
    assert "Traceback" not in serve.log
    assert tokens["scraper"] not in serve.log
