"""kubeops' main job: a local cluster, a realistic sample, and its health report.

Run with ``make demo``.  It starts a full control plane (API server,
controller-manager, scheduler and simulated kwok nodes) on 127.0.0.1, deploys
``examples/sample/``: a healthy web shop and a ``legacy`` namespace full of
deliberate faults (root and privileged containers, a mutable image tag, Pods
that cannot be scheduled, a Service with no endpoints, an Ingress to nowhere, a
Pending volume claim, a cluster-admin ServiceAccount, an expired and an
expiring TLS certificate, a cordoned and a NotReady node, a cache at its memory
limit and a node at 97% CPU, as metrics-server reports them...), runs
``kubeops inspect`` on it, and writes the HTML report.  ``--keep`` leaves the
cluster up until Ctrl-C and prints how to use it with kubectl and kubeops.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import sys
import time
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from kubeops.api import Client
from kubeops.api.manifest import apply_manifests, load_manifests
from kubeops.config import load_config
from kubeops.inspect import InspectConfig, build_document, inspect_clusters, resolve_targets
from kubeops.inspect.report import print_summary, render
from kubeops.testenv import Cluster, Environment, ensure_assets, eventually

HERE = Path(__file__).parent
REPORTS = HERE.parent / "build" / "demo"
SERVICE_NAME_LABEL = "kubernetes.io/service-name"


def say(line: str) -> None:
    print(f"  {line}", file=sys.stderr, flush=True)


def tls_secret(name: str, namespace: str, host: str, days_left: int) -> dict[str, Any]:
    """A kubernetes.io/tls Secret whose certificate expires ``days_left`` days from now."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    not_after = now + datetime.timedelta(days=days_left)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(min(now, not_after) - datetime.timedelta(days=90))
        .not_valid_after(not_after)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    pem_key = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "kubernetes.io/tls",
        "metadata": {"name": name, "namespace": namespace},
        "stringData": {
            "tls.crt": cert.public_bytes(serialization.Encoding.PEM).decode(),
            "tls.key": pem_key.decode(),
        },
    }


def cache_deployment() -> dict[str, Any]:
    """legacy/cache: one Pod with a 256Mi memory limit, which it will nearly fill."""
    container = {
        "name": "cache",
        "image": "registry.example/cache:7.2",
        "resources": {
            "requests": {"cpu": "100m", "memory": "256Mi"},
            "limits": {"memory": "256Mi"},
        },
    }
    labels = {"app": "cache"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "cache", "namespace": "legacy", "labels": labels},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}},
        },
    }


def show_usage(cluster: Cluster) -> None:
    """Give the sample real usage figures: legacy/cache near its memory limit, node
    kwok-node-1 at 97% of its CPU (the shop stays idle); wait until metrics.k8s.io
    (metrics-server scraping kwok's simulated kubelets) reports them."""
    pods = eventually(
        lambda: cluster.admin.get("/api/v1/namespaces/legacy/pods?labelSelector=app%3Dcache")[
            "items"
        ],
        timeout=60,
        message="the legacy/cache Pod",
    )
    node = cluster.admin.get("/api/v1/nodes/kwok-node-1")
    for pod in pods:
        cluster.set_usage(pod, cpu="50m", memory="245Mi")
    cluster.set_usage(node, cpu="31", memory="64Gi")
    say("usage set: legacy/cache at 245Mi of its 256Mi memory limit, kwok-node-1 at 31 of 32 CPUs")
    for pod in pods:
        cluster.wait_usage(pod, memory="245Mi")
    cluster.wait_usage(node, cpu="31", tolerance=0.02)
    say("metrics.k8s.io reports them")


def unmanaged_node(name: str) -> dict[str, Any]:
    """A Node no simulated kubelet looks after: it stops reporting, so it is NotReady."""
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
        "spec": {"taints": [{"key": "node.kubernetes.io/unreachable", "effect": "NoSchedule"}]},
    }


async def deploy_sample(client: Client) -> None:
    applied = await apply_manifests(client, load_manifests([HERE / "sample"]))
    say(f"sample applied: {len(applied)} objects from examples/sample/")
    for secret in (
        tls_secret("web-tls", "shop", "shop.example.com", 365),
        tls_secret("old-api-tls", "legacy", "old-api.example.com", -12),
        tls_secret("partner-tls", "legacy", "partner.example.com", 9),
    ):
        await client.create(secret)
    await client.create(cache_deployment())
    await client.patch("node", "kwok-node-2", {"spec": {"unschedulable": True}})
    await client.create(unmanaged_node("edge-1"))
    stopped = {
        "type": "Ready",
        "status": "Unknown",
        "reason": "NodeStatusUnknown",
        "message": "Kubelet stopped posting node status.",
    }
    await client.patch(
        "node", "edge-1", {"status": {"conditions": [stopped]}}, subresource="status"
    )
    say("TLS secrets created; node kwok-node-2 cordoned; node edge-1 stopped reporting")


def is_ready(pod: dict[str, Any]) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


async def not_yet_healthy(client: Client, namespace: str) -> list[str]:
    """What in ``namespace`` is not healthy yet: a Deployment short of available
    replicas, a Pod not Ready, a Service whose EndpointSlices do not list every ready
    Pod it selects as a ready endpoint (the endpoint controller follows the Pods a
    moment later; a report taken in between would flag the Service)."""
    waiting: list[str] = []
    for deployment in (await client.list("deployments", namespace))["items"]:
        want = deployment["spec"].get("replicas", 1)
        have = (deployment.get("status") or {}).get("availableReplicas", 0)
        if have != want:
            waiting.append(
                f"deployment {namespace}/{deployment['metadata']['name']} {have}/{want} available"
            )
    pods = (await client.list("pods", namespace))["items"]
    ready = {p["metadata"]["name"]: p["metadata"].get("labels") or {} for p in pods if is_ready(p)}
    waiting += [
        f"pod {namespace}/{p['metadata']['name']} not Ready" for p in pods if not is_ready(p)
    ]
    slices = (await client.list("endpointslices", namespace))["items"]
    for service in (await client.list("services", namespace))["items"]:
        name, selector = service["metadata"]["name"], service["spec"].get("selector")
        if not selector:
            continue
        selected = {p for p, labels in ready.items() if selector.items() <= labels.items()}
        endpoints = {
            (endpoint.get("targetRef") or {}).get("name")
            for endpoint_slice in slices
            if (endpoint_slice["metadata"].get("labels") or {}).get(SERVICE_NAME_LABEL) == name
            for endpoint in endpoint_slice.get("endpoints") or []
            if endpoint.get("addresses") and (endpoint.get("conditions") or {}).get("ready")
        }
        if not selected or endpoints != selected:
            waiting.append(
                f"service {namespace}/{name}: {len(endpoints & selected)} of {len(selected)} "
                "ready Pods are ready endpoints"
            )
    return waiting


async def settle(client: Client, timeout: float = 120.0) -> None:
    """Wait until what the demo calls healthy is healthy, and the faulty part has shown
    its faults, so the report shows the sample rather than a moment of its start-up."""
    deadline = time.monotonic() + timeout
    shown: list[str] = []
    while True:
        waiting = await not_yet_healthy(client, "shop")
        events = await client.list("events", "legacy", field_selector="reason=FailedScheduling")
        if not events["items"]:
            waiting.append("legacy: no FailedScheduling event yet")
        if not waiting:
            say("shop is healthy: every Pod Ready and a ready endpoint of its Service")
            return
        if waiting != shown:
            say("waiting for: " + "; ".join(waiting))
            shown = waiting
        if time.monotonic() > deadline:
            raise SystemExit(
                f"kubeops demo: the sample did not settle in time: {'; '.join(waiting)}"
            )
        await asyncio.sleep(1)


async def prepare(kubeconfig: Path) -> None:
    async with Client(load_config(kubeconfig)) as client:
        await deploy_sample(client)
        await settle(client)


async def inspect(kubeconfig: Path) -> dict[str, Any]:
    say("inspecting the cluster")
    report = await inspect_clusters(
        resolve_targets(str(kubeconfig), []), InspectConfig(), progress=say
    )
    return build_document(report)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="keep the cluster until Ctrl-C")
    parser.add_argument("--nodes", type=int, default=3, help="simulated nodes (default 3)")
    parser.add_argument(
        "--output", type=Path, default=REPORTS, help=f"report directory (default {REPORTS})"
    )
    args = parser.parse_args()

    print(
        "kubeops demo: a local cluster, a sample with deliberate faults, a health report",
        file=sys.stderr,
    )
    with Environment(["demo"], nodes=args.nodes, metrics=True, progress=say) as env:
        cluster = env.cluster()
        asyncio.run(prepare(cluster.kubeconfig))
        show_usage(cluster)
        document = asyncio.run(inspect(cluster.kubeconfig))
        print_summary(document)
        args.output.mkdir(parents=True, exist_ok=True)
        html = args.output / "inspect-report.html"
        html.write_text(render(document, "html"), encoding="utf-8")
        (args.output / "inspect-report.json").write_text(render(document, "json"), encoding="utf-8")
        print(
            f"\nHealth report: {html.resolve()}\n"
            f"Grade {document['grade']} (score {document['score']}/100), "
            f"{document['summary']['findings']} findings"
        )
        if args.keep:
            kubectl = ensure_assets(["kubectl"]).path("kubectl")
            print(f"\n{kubectl} --kubeconfig {cluster.kubeconfig} get pods -A")
            print(f"kubeops inspect --kubeconfig {cluster.kubeconfig} -o html --out report.html")
            print("\nthe cluster is up; Ctrl-C stops it", file=sys.stderr)
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                pass
    print("kubeops demo: done; every process stopped", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
