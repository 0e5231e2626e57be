"""S11's inputs, made the same way every time from a seed: the manifests (apps of a
Deployment, a Service and a ConfigMap, about half of them failing some policy), the 30
policies as conftest Rego files and as ValidatingAdmissionPolicies with bindings, and the
admission load (the same objects as JSON lines for the Go load generator).

    cd bench && ../.venv/bin/python -m harness.s11_corpus OUT_DIR [MANIFESTS]   # look at it
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from harness.s11_rules import ALLOWED_REGISTRIES, RULES, Obj, Rule, failures, message

SEED = 14
BAD = 0.03  # each bad feature's chance: about half the Deployments fail something
APP_KINDS = ("Deployment", "Service", "ConfigMap")
VAP_PREFIX = "s11-"


@dataclass(frozen=True)
class Corpus:
    """Where a generated corpus lies, and what the answer key says about it."""

    manifests: Path
    rego: Path  # conftest's layout: every policy a file of package main
    rego_packages: Path  # a package per policy (conftest needs --all-namespaces)
    vap: Path
    objects: int
    files: int
    expected_failures: int
    failing_objects: int


def _maybe(rng: random.Random) -> bool:
    return rng.random() < BAD


def _container(rng: random.Random, app: str, index: int) -> Obj:
    registry = "docker.io/library/" if _maybe(rng) else rng.choice(ALLOWED_REGISTRIES)
    tag = rng.choice(("", ":latest")) if _maybe(rng) else f":1.{rng.randrange(40)}.{index}"
    c: Obj = {"name": f"{app}-{index}" if index else app, "image": f"{registry}{app}{tag}"}
    limits = {"cpu": f"{rng.choice((250, 500, 1000))}m", "memory": f"{rng.choice((256, 512))}Mi"}
    requests = {"cpu": "100m", "memory": "128Mi"}
    for part in (limits, requests):
        for key in ("cpu", "memory"):
            if _maybe(rng):
                del part[key]
    resources = {k: v for k, v in (("limits", limits), ("requests", requests)) if v}
    if resources:
        c["resources"] = resources
    sc: Obj = {
        "runAsNonRoot": not _maybe(rng),
        "allowPrivilegeEscalation": _maybe(rng),
        "readOnlyRootFilesystem": not _maybe(rng),
    }
    if _maybe(rng):
        # The API server refuses privileged with allowPrivilegeEscalation false (and
        # CAP_SYS_ADMIN likewise): objects it would refuse anyway prove nothing.
        sc["privileged"] = sc["allowPrivilegeEscalation"] = True
    sc["capabilities"] = {
        "drop": ["ALL"],
        **({"add": ["NET_BIND_SERVICE", "NET_ADMIN"]} if _maybe(rng) else {}),
    }
    if _maybe(rng):
        sc = {k: v for k, v in sc.items() if rng.random() < 0.5}
    if sc:
        c["securityContext"] = sc
    port: Obj = {"containerPort": 8080 + index, "protocol": "TCP"}
    if not _maybe(rng):
        port["name"] = f"http-{index}"
    c["ports"] = [port]
    probe = {"httpGet": {"path": "/healthz", "port": 8080 + index}, "periodSeconds": 10}
    for name in ("livenessProbe", "readinessProbe"):
        if not _maybe(rng):
            c[name] = probe
    env = [{"name": "LOG_LEVEL", "value": "info"}]
    if _maybe(rng):
        env.append({"name": "DB_PASSWORD", "value": f"hunter{rng.randrange(100)}"})
    else:
        env.append(
            {
                "name": "DB_PASSWORD",
                "valueFrom": {"secretKeyRef": {"name": f"{app}-db", "key": "password"}},
            }
        )
    c["env"] = env
    return c


def _labels(rng: random.Random, app: str, team: str, required: tuple[str, ...]) -> dict[str, str]:
    labels = {"app": app, "app.kubernetes.io/name": app, "team": team, "owner": f"{team}-lead"}
    for key in required:
        if _maybe(rng):
            del labels[key]
    return labels


def deployment(rng: random.Random, app: str, team: str) -> Obj:
    """A Deployment of one to four containers."""
    count = 4 if _maybe(rng) else rng.choice((1, 1, 1, 2, 2, 3))
    pod: Obj = {
        "containers": [_container(rng, app, i) for i in range(count)],
        "serviceAccountName": "default" if _maybe(rng) else app,
    }
    if _maybe(rng):
        pod["hostNetwork"] = True
    if _maybe(rng):
        pod["hostPID"] = True
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": app,
            "labels": _labels(rng, app, team, ("app.kubernetes.io/name", "team", "owner")),
        },
        "spec": {
            "replicas": 1 if _maybe(rng) else rng.choice((2, 3, 5)),
            "selector": {"matchLabels": {"app": app}},
            "template": {"metadata": {"labels": {"app": app}}, "spec": pod},
        },
    }


def service(rng: random.Random, app: str, team: str) -> Obj:
    """A Service in front of the app, now and then of a type or shape policy forbids."""
    ports: list[Obj] = [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}]
    if rng.random() < 0.3:
        ports.append({"name": "metrics", "port": 9090, "targetPort": 9090, "protocol": "TCP"})
    elif _maybe(rng):
        del ports[0]["name"]  # a single port may go unnamed (the API server allows it)
    spec: Obj = {"ports": ports}
    if not _maybe(rng):
        spec["selector"] = {"app": app}
    kind = rng.random()
    if kind < BAD:
        spec["type"] = "NodePort"
    elif kind < 2 * BAD:
        spec["type"] = "LoadBalancer"
    else:
        spec["type"] = "ClusterIP"
    if _maybe(rng):
        spec["externalIPs"] = [f"192.0.2.{rng.randrange(1, 255)}"]
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": app, "labels": _labels(rng, app, team, ("owner",))},
        "spec": spec,
    }


def configmap(rng: random.Random, app: str, team: str) -> Obj:
    """The app's settings, now and then with a password key or an oversized value."""
    data = {
        "settings.yaml": f"app: {app}\nteam: {team}\nworkers: {rng.randrange(1, 9)}\n",
        "log-level": "info",
    }
    if _maybe(rng):
        data["db-password"] = "changeme"
    if _maybe(rng):
        data["blob"] = "x" * 1500
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": f"{app}-config", "labels": _labels(rng, app, team, ("owner",))},
        "data": data,
    }


MAKERS = {"Deployment": deployment, "Service": service, "ConfigMap": configmap}


def objects(count: int, seed: int = SEED) -> list[list[Obj]]:
    """``count`` objects as app files of up to three documents, the same every time."""
    rng = random.Random(seed)
    teams = ("payments", "search", "checkout", "identity", "ledger", "growth")
    files: list[list[Obj]] = []
    made = 0
    app_number = 0
    while made < count:
        app_number += 1
        app, team = f"app-{app_number:05d}", rng.choice(teams)
        docs = [MAKERS[kind](rng, app, team) for kind in APP_KINDS[: count - made]]
        files.append(docs)
        made += len(docs)
    return files


def rego_module(index: int, rule: Rule, package: str = "main") -> str:
    """One policy as a conftest module with its deny rules, in ``package``."""
    lines = [f"package {package}", "", "import rego.v1", ""]
    text = json.dumps(message(index, rule))
    for body in rule.rego:
        guard = " ".join(f'input.kind == "{k}"' for _, _, k in rule.kinds)
        kinds = [k for _, _, k in rule.kinds]
        lines.append("deny contains msg if {")
        if len(kinds) == 1:
            lines.append(f"\t{guard}")
        else:
            lines.append(f"\tinput.kind in {json.dumps(kinds)}")
        lines += [f"\t{line}" for line in body.split("\n")]
        lines += [f"\tmsg := {text}", "}", ""]
    return "\n".join(lines)


def vap_documents(index: int, rule: Rule, labels: dict[str, str] | None) -> list[Obj]:
    """One policy as a ValidatingAdmissionPolicy and its binding (Deny); with ``labels``,
    the binding matches only the namespaces that carry them."""
    name = f"{VAP_PREFIX}p{index + 1:02d}-{rule.name}"
    groups: dict[tuple[str, str], list[str]] = {}
    for group, resource, _ in rule.kinds:
        groups.setdefault((group, "apps/v1" if group else "v1"), []).append(resource)
    rules = [
        {
            "apiGroups": [group],
            "apiVersions": [version.split("/")[-1]],
            "operations": ["CREATE", "UPDATE"],
            "resources": resources,
        }
        for (group, version), resources in groups.items()
    ]
    policy = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": name},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {"resourceRules": rules},
            "validations": [{"expression": rule.cel, "message": message(index, rule)}],
        },
    }
    binding: Obj = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": name},
        "spec": {"policyName": name, "validationActions": ["Deny"]},
    }
    if labels is not None:
        binding["spec"]["matchResources"] = {"namespaceSelector": {"matchLabels": labels}}
    return [policy, binding]


def write_policies(out: Path) -> tuple[Path, Path, Path]:
    """The Rego directories (package main; a package per policy) and the VAP directory
    (bindings match everything) under ``out``."""
    rego, packages, vap = out / "rego", out / "rego-packages", out / "vap"
    for directory in (rego, packages, vap):
        directory.mkdir(parents=True, exist_ok=True)
    for index, rule in enumerate(RULES):
        stem = f"p{index + 1:02d}-{rule.name}"
        (rego / f"{stem}.rego").write_text(rego_module(index, rule))
        (packages / f"{stem}.rego").write_text(rego_module(index, rule, f"p{index + 1:02d}"))
        docs = vap_documents(index, rule, None)
        (vap / f"{stem}.yaml").write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return rego, packages, vap


def generate(out: Path, count: int) -> Corpus:
    """The corpus of ``count`` manifests and both forms of the policies, under ``out``."""
    manifests = out / "manifests"
    manifests.mkdir(parents=True, exist_ok=True)
    files = objects(count)
    for docs in files:
        name = docs[0]["metadata"]["name"]
        (manifests / f"{name}.yaml").write_text(yaml.safe_dump_all(docs, sort_keys=False))
    rego, packages, vap = write_policies(out)
    flat = [o for docs in files for o in docs]
    failing = sum(1 for o in flat if failures([o]))
    return Corpus(manifests, rego, packages, vap, len(flat), len(files), failures(flat), failing)


def load_lines(count: int) -> list[dict[str, Any]]:
    """The admission load: the corpus's objects for the Go generator.  Services become
    headless ClusterIP ones with no external IPs, since the no-policy baseline creates every
    one of them and node ports and cluster IPs would run out; their other rules still run."""
    lines = []
    for docs in objects(count):
        for obj in docs:
            if obj["kind"] == "Service":  # objects() made it afresh: no copy needed
                obj["spec"]["type"] = "ClusterIP"
                obj["spec"]["clusterIP"] = "None"
                obj["spec"].pop("externalIPs", None)
            group = "apps" if obj["kind"] == "Deployment" else ""
            resource = obj["kind"].lower() + "s"
            lines.append({"group": group, "resource": resource, "body": obj})
    return lines


def write_load(path: Path, count: int) -> list[bool]:
    """The load file (one request a line); returns, for each line, whether the policies
    deny it (the answer key)."""
    lines = load_lines(count)
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return [failures([line["body"]]) > 0 for line in lines]


if __name__ == "__main__":
    import sys

    target = Path(sys.argv[1])
    made = generate(target, int(sys.argv[2]) if len(sys.argv) > 2 else 5_000)
    print(made)
