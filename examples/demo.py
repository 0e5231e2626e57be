"""kubeops' demo: two local clusters, a sample app on each, and its Pods running.

Run with ``make demo``.  It starts two full control planes (API server,
controller-manager, scheduler and simulated kwok nodes) on 127.0.0.1, deploys
the same three-replica web app to both, waits until every Pod runs, prints
them per cluster, and stops everything.  ``--keep`` leaves the clusters up
until Ctrl-C and prints how to use them with kubectl.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from kubeops.testenv import Cluster, Environment, ensure_assets

APP = "hello"


def deployment(replicas: int) -> dict[str, Any]:
    labels = {"app": APP}
    container = {
        "name": "web",
        "image": "nginx:1.27",
        "ports": [{"containerPort": 80}],
        "resources": {"requests": {"cpu": "50m", "memory": "32Mi"}},
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": APP, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}},
        },
    }


def pods(cluster: Cluster) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = cluster.admin.get(
        f"/api/v1/namespaces/default/pods?labelSelector=app%3D{APP}"
    )["items"]
    return items


def running(cluster: Cluster) -> int:
    return sum(p.get("status", {}).get("phase") == "Running" for p in pods(cluster))


def say(line: str) -> None:
    print(f"  {line}", file=sys.stderr, flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the clusters until Ctrl-C")
    args = parser.parse_args()

    print("kubeops demo: two local clusters with a sample app", file=sys.stderr)
    with Environment(["east", "west"], nodes=2, progress=say) as env:
        for cluster in env.clusters:
            cluster.admin.create(
                "/apis/apps/v1/namespaces/default/deployments", deployment(args.replicas)
            )
            say(f"cluster {cluster.name}: deployment/{APP} created ({args.replicas} replicas)")
        deadline = time.monotonic() + 120
        while True:
            counts = {c.name: running(c) for c in env.clusters}
            say("running pods: " + ", ".join(f"{n} {k}/{args.replicas}" for n, k in counts.items()))
            if all(k == args.replicas for k in counts.values()):
                break
            if time.monotonic() > deadline:
                print("kubeops demo: pods did not all reach Running within 120s", file=sys.stderr)
                return 1
            time.sleep(1)

        print(f"\n{'CLUSTER':<8} {'POD':<28} {'NODE':<12} {'PHASE':<8} IP")
        for cluster in env.clusters:
            for pod in sorted(pods(cluster), key=lambda p: p["metadata"]["name"]):
                status = pod["status"]
                print(
                    f"{cluster.name:<8} {pod['metadata']['name']:<28} "
                    f"{pod['spec'].get('nodeName', '-'):<12} {status.get('phase', '-'):<8} "
                    f"{status.get('podIP', '-')}"
                )
        if args.keep:
            kubectl = ensure_assets(["kubectl"]).path("kubectl")
            for cluster in env.clusters:
                print(f"\n{kubectl} --kubeconfig {cluster.kubeconfig} get pods -o wide")
            print("\nclusters are up; Ctrl-C stops them", file=sys.stderr)
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                pass
    print("\nkubeops demo: done; every process stopped", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
