"""A hand-made inspection document with every part a renderer must handle — many
findings across categories, severities, clusters and namespaces, an unreachable
cluster, checks that could not run, hostile strings and a ten-run history — so the
renderers can be previewed and tested without a cluster or the full catalogue.

``python -m kubeops.inspect.report.sample html > preview.html`` writes a preview.
"""

from __future__ import annotations

import datetime
import sys
from collections import Counter

from kubeops.inspect.document import SCHEMA, Document
from kubeops.inspect.model import Severity
from kubeops.inspect.scoring import CAPS, FORMULA, WEIGHTS, grade

GENERATED = datetime.datetime(2025, 11, 26, 6, 0, tzinfo=datetime.UTC)

# id, title, category, severity, kind, rationale, remediation, message template
CHECKS: list[tuple[str, str, str, str, str, str, str, str]] = [
    ("node-not-ready", "Node not Ready", "nodes", "critical", "Node",
     "A node that is not Ready runs no new Pods and its Pods are evicted.",
     "Look at `kubectl describe node` and the kubelet logs; drain and replace the node.",
     "Ready is Unknown (NodeStatusUnknown: Kubelet stopped posting node status)"),
    ("node-pressure", "Node under memory, disk or PID pressure", "nodes", "error", "Node",
     "Under pressure the kubelet evicts Pods and refuses new ones.",
     "Free or add the resource under pressure.", "DiskPressure is True"),
    ("node-cordoned", "Node cordoned", "nodes", "warning", "Node",
     "A forgotten cordon shrinks the cluster silently.",
     "Uncordon the node (`kubeops node uncordon NAME`).",
     "the node is cordoned (spec.unschedulable)"),
    ("pod-crashloop", "Container crash-looping", "pods", "error", "Pod",
     "A crash-looping container serves nothing and hides its real error behind back-off.",
     "Read the previous container's logs (`kubectl logs --previous`).",
     "container app is in CrashLoopBackOff (restarted {n} times)"),
    ("pod-restarts", "Container restarts often", "pods", "warning", "Pod",
     "Frequent restarts point at probes, memory limits or crashes.",
     "Check the termination reason; raise limits or fix the probe.",
     "container app restarted {n} times in 24h (threshold 5)"),
    ("sec-privileged", "Privileged container", "security", "critical", "Deployment",
     "A privileged container is root on the node.",
     "Drop `privileged: true`; grant only the capabilities needed.",
     "container {name} runs privileged"),
    ("sec-run-as-root", "Container may run as root", "security", "error", "Deployment",
     "A process running as UID 0 turns a container escape into node compromise.",
     "Set `runAsNonRoot: true` and a non-zero `runAsUser`.",
     "container {name} does not set runAsNonRoot"),
    ("sec-writable-rootfs", "Writable root filesystem", "security", "warning", "Deployment",
     "A writable root filesystem lets an attacker persist tools in the container.",
     "Set `readOnlyRootFilesystem: true` and mount an emptyDir where writes are needed.",
     "container {name} has a writable root filesystem"),
    ("wl-no-limits", "Container without resource limits", "workloads", "warning", "Deployment",
     "Without limits one container can starve its neighbours.",
     "Set memory limits and CPU requests on every container.",
     "container {name} has no memory limit"),
    ("wl-single-replica", "Deployment with one replica", "workloads", "info", "Deployment",
     "A single replica is unavailable during every rollout and node drain.",
     "Run two or more replicas with a PodDisruptionBudget.", "replicas is 1"),
    ("net-no-policy", "Namespace without NetworkPolicy", "networking", "warning", "Namespace",
     "Without a NetworkPolicy every Pod can reach every other Pod.",
     "Add a default-deny policy and allow what is needed.",
     "no NetworkPolicy selects any Pod in this namespace"),
    ("storage-pvc-pending", "PersistentVolumeClaim pending", "storage", "error",
     "PersistentVolumeClaim",
     "A pending claim blocks the Pods that mount it.",
     "Check the StorageClass and the provisioner's events.",
     "claim has been Pending for 3h (no StorageClass \"fast-ssd\")"),
    ("cfg-latest-tag", "Image uses the latest tag", "configuration", "warning", "Deployment",
     "A moving tag makes rollouts unreproducible and rollbacks impossible.",
     "Pin images by version or digest.", "image registry.example.com/{name}:latest"),
    ("rbac-cluster-admin", "Subject bound to cluster-admin", "rbac", "critical",
     "ClusterRoleBinding",
     "cluster-admin can do anything anywhere; few subjects should hold it.",
     "Bind a narrower role.", "ServiceAccount default/{name} is bound to cluster-admin"),
    ("quota-missing", "Namespace without ResourceQuota", "quotas", "info", "Namespace",
     "Without a quota one team can consume the whole cluster.",
     "Add a ResourceQuota per tenant namespace.", "no ResourceQuota in this namespace"),
    ("events-warnings", "Recurring warning events", "events", "info", "Pod",
     "Recurring warnings often precede outages.",
     "Read the events (`kubeops events --type Warning`).",
     "{n} FailedMount events in the last hour"),
    ("deprecated-api", "Object uses a deprecated API", "deprecations", "error", "Ingress",
     "Deprecated APIs are removed in a later release and break upgrades.",
     "Migrate the manifest to the served version.",
     "networking.k8s.io/v1beta1 Ingress is removed in v1.22"),
    ("usage-overcommit", "Node memory overcommitted", "usage", "warning", "Node",
     "Limits far above capacity make OOM kills likely under load.",
     "Lower limits or add capacity.", "memory limits are {n}% of allocatable"),
]  # fmt: skip

NAMESPACES = {
    "payments": ["api", "ledger", "worker"],
    "checkout": ["cart", "web", "pricing"],
    "monitoring": ["prometheus", "grafana", "alertmanager"],
    "ingress-nginx": ["controller"],
    "kube-system": ["coredns", "metrics-server"],
    "default": ["debug-shell"],
}

# How many findings each check has on each reachable cluster (0 for a check that
# ran clean: JUnit's passing test cases).
COUNTS = {
    "prod-eu": [1, 2, 3, 4, 6, 2, 5, 7, 9, 4, 3, 1, 4, 1, 2, 0, 2, 2],
    "staging": [0, 1, 1, 2, 3, 0, 3, 5, 6, 6, 4, 2, 5, 0, 4, 2, 1, 0],
}

NOT_RUN = [
    ("events-warnings", "prod-eu", "the check failed: KeyError: 'involvedObject'"),
    (
        "rbac-cluster-admin",
        "staging",
        'clusterrolebindings.rbac.authorization.k8s.io is forbidden: User "ci-reader" cannot list resource "clusterrolebindings" at the cluster scope',
    ),
    ("usage-overcommit", "staging", "the metrics.k8s.io API is not served (metrics-server absent)"),
]

# Strings a hostile or careless cluster could put in a report.
HOSTILE = {
    ("prod-eu", "pod-crashloop", 0): '<script>alert("pwned")</script> exited with code 1',
    ("prod-eu", "cfg-latest-tag", 1): "image a|b `tick` *star* [link](x) & <b>bold</b>",
    ("staging", "wl-no-limits", 0): "first line\nsecond line | with a pipe",
}

# A second finding of one check on one object (JUnit makes one test case of both).
EXTRA = [("prod-eu", 1, "MemoryPressure is True")]


def sample_document(*, scale: int = 1, history: int = 10) -> Document:
    """The sample document; ``scale`` multiplies the findings (scale 48 gives about
    5,000 rows, for load tests), ``history`` is how many runs the trend holds."""
    findings: list[Document] = []
    for cluster, counts in COUNTS.items():
        for index, spec in enumerate(CHECKS):
            for n in range(counts[index] * scale):
                findings.append(_finding(cluster, spec, n))
    for cluster, index, message in EXTRA:
        findings.append({**_finding(cluster, CHECKS[index], 0), "message": message})
    findings.sort(key=lambda f: (-Severity.parse(f["severity"]), f["cluster"], f["check"]))
    by_severity = _by_severity(findings)
    overall = _score(findings)
    clusters: list[Document] = [
        _cluster("prod-eu", "https://prod-eu.k8s.example.com:6443", "v1.30.4", findings, 41.2),
        _cluster("staging", "https://staging.k8s.example.com:6443", "v1.29.8", findings, 17.9),
        {
            "name": "dev-lab",
            "server": "https://dev-lab.k8s.example.com:6443",
            "version": "",
            "reachable": False,
            "error": "GET /version: connect to dev-lab.k8s.example.com:6443 failed: Connection refused",
            "score": None,
            "grade": None,
            "seconds": 15.004,
            "checks_run": 0,
            "not_run": 0,
            "objects": {},
            "categories": {},
            "namespaces": {},
        },
    ]
    for entry in clusters:
        entry["not_run"] = sum(1 for _, name, _ in NOT_RUN if name == entry["name"])
        if entry["reachable"]:
            entry["checks_run"] = len(CHECKS) - entry["not_run"]
    return {
        "schema": SCHEMA,
        "generated": GENERATED.isoformat(timespec="seconds"),
        "mode": "live",
        "score": overall,
        "grade": grade(overall),
        "summary": {
            "clusters": len(clusters),
            "unreachable": 1,
            "checks": len(CHECKS),
            "findings": len(findings),
            "by_severity": by_severity,
            "not_run": len(NOT_RUN),
        },
        "clusters": clusters,
        "findings": findings,
        "not_run": [{"check": c, "cluster": k, "reason": r} for c, k, r in NOT_RUN],
        "checks": {
            spec[0]: {
                "id": spec[0],
                "title": spec[1],
                "category": spec[2],
                "severity": spec[3],
                "rationale": spec[5],
                "remediation": spec[6],
                "thresholds": {},
                "static": spec[4] != "Node",
            }
            for spec in CHECKS
        },
        "scoring": FORMULA.strip(),
        "history": _history(history, overall, by_severity, clusters),
    }


def _finding(cluster: str, spec: tuple[str, ...], n: int) -> Document:
    check, title, category, severity, kind, _, remediation, template = spec
    if kind == "Node":
        prefix = "a" if cluster == "prod-eu" else "s"
        namespace, name = None, f"node-{prefix}{n + 1}"
    elif kind in {"Namespace", "ClusterRoleBinding"}:
        namespaces = list(NAMESPACES)
        namespace, name = (
            None,
            f"{namespaces[n % len(namespaces)]}"
            + (f"-{n // len(namespaces)}" if n >= len(namespaces) else ""),
        )
        if kind == "ClusterRoleBinding":
            name = f"{name}-admin"
    else:
        namespaces = list(NAMESPACES)
        namespace = namespaces[(n + len(check)) % len(namespaces)]
        workloads = NAMESPACES[namespace]
        name = workloads[n % len(workloads)] + (f"-{n // 6}" if n >= 6 else "")
        if kind == "Pod":
            name = f"{name}-7d9f8b6c4-{n:05x}"
    api_version = {
        "Node": "v1",
        "Pod": "v1",
        "Namespace": "v1",
        "PersistentVolumeClaim": "v1",
        "Deployment": "apps/v1",
        "ClusterRoleBinding": "rbac.authorization.k8s.io/v1",
        "Ingress": "networking.k8s.io/v1beta1",
    }[kind]
    message = HOSTILE.get((cluster, check, n)) or template.format(n=3 + n * 7 % 40, name=name)
    return {
        "check": check,
        "severity": severity,
        "category": category,
        "cluster": cluster,
        "object": {"apiVersion": api_version, "kind": kind, "namespace": namespace, "name": name},
        "message": message,
        "title": title,
        "remediation": remediation,
    }


def _by_severity(findings: list[Document]) -> dict[str, int]:
    counted = Counter(f["severity"] for f in findings)
    return {s: counted.get(s, 0) for s in ("critical", "error", "warning", "info")}


def _score(findings: list[Document], examined: int = 400) -> int:
    """A plausible score: the share of a fixed examined weight the findings lost,
    capped as the real formula caps it."""
    severities = [Severity.parse(f["severity"]) for f in findings]
    lost = sum(WEIGHTS[s] for s in severities)
    value = round(100 * (1 - lost / (lost + examined)))
    for severity, cap in CAPS.items():
        if any(s >= severity for s in severities):
            value = min(value, cap)
    return value


def _scope(items: list[Document], examined: int) -> Document:
    value = _score(items, examined)
    return {"score": value, "grade": grade(value), "findings": len(items)}


def _cluster(
    name: str, server: str, version: str, findings: list[Document], seconds: float
) -> Document:
    mine = [f for f in findings if f["cluster"] == name]
    value = _score(mine)
    skipped = {check for check, cluster, _ in NOT_RUN if cluster == name}
    ran = [spec[2] for spec in CHECKS if spec[0] not in skipped]
    categories = sorted(set(ran), key=[s[2] for s in CHECKS].index)
    return {
        "name": name,
        "server": server,
        "version": version,
        "reachable": True,
        "error": "",
        "score": value,
        "grade": grade(value),
        "seconds": seconds,
        "checks_run": 0,
        "not_run": 0,
        "objects": {
            "deployments": 64,
            "namespaces": len(NAMESPACES),
            "nodes": 6 if name == "prod-eu" else 3,
            "pods": 212 if name == "prod-eu" else 97,
            "services": 58,
        },
        "categories": {c: _scope([f for f in mine if f["category"] == c], 40) for c in categories},
        "namespaces": {
            ns: _scope([f for f in mine if f["object"]["namespace"] == ns], 60)
            for ns in sorted(NAMESPACES)
        },
    }


def _history(
    runs: int, score: int, by_severity: dict[str, int], clusters: list[Document]
) -> list[Document]:
    """Older runs that improved towards today's, one a day, oldest first."""
    entries = []
    for back in range(runs - 1, -1, -1):
        when = GENERATED - datetime.timedelta(days=back)
        worse = back * 3 - (back % 3) * 2
        counts = {s: n + (back * (i + 1)) // 2 for i, (s, n) in enumerate(by_severity.items())}
        value = max(0, score - worse)
        entries.append(
            {
                "generated": when.isoformat(timespec="seconds"),
                "score": value,
                "grade": grade(value),
                "findings": sum(counts.values()),
                "by_severity": counts,
                "clusters": {
                    c["name"]: {
                        "score": max(0, c["score"] - worse + back % 2 * 3),
                        "grade": grade(max(0, c["score"] - worse + back % 2 * 3)),
                    }
                    for c in clusters
                    if c["reachable"]
                },
            }
        )
    return entries


def main(argv: list[str] | None = None) -> int:
    """Print the sample document in a format (default html)."""
    from kubeops.inspect.report import FORMATS, render

    args = sys.argv[1:] if argv is None else argv
    fmt = args[0] if args else "html"
    if fmt not in FORMATS:
        print(f"usage: python -m kubeops.inspect.report.sample [{'|'.join(FORMATS)}]")
        return 2
    sys.stdout.write(render(sample_document(), fmt))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
