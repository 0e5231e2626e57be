"""The chart grants nothing beyond what the daemons use: for each daemon's
ServiceAccount, every cell ``kubeops auth matrix --as system:serviceaccount:NS:SA``
answers "yes" must be a request that daemon made, with the answer it got below 400,
during its in-cluster run (the API server's audit log is the record)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from deploy.chart import fullname
from deploy.incluster_runs import (
    NAMESPACE,
    RELEASE,
    SyncRun,
    WebhookRun,
    http_get,
    scraper_token,
)
from kubeops.testenv import Environment, eventually
from kubeops.testenv.cluster import Cluster
from kubeops.testenv.pod import RunningPod

from .conftest import audit_requests

# What a grant or a request is compared by: verb, resource as RBAC names it
# (``deployments.apps``, ``pods/status``), namespace ("" for every one / cluster scope).
Cell = tuple[str, str, str]
# Where each daemon ran (sync agent beside its member, the rest on the hub).
WHERE = {
    "inspect": "hub",
    "respond": "hub",
    "sync": "hub",
    "policy-webhook": "hub",
    "sync-agent": "member",
}


# Grants whose code path the short in-cluster runs may not reach, each with that path
# (a path reached only sometimes, as a conflict's re-read, stays here too).  Everything
# else the chart grants must show in the audit log; trim this as scenarios grow.
NOT_REACHED: dict[tuple[str, str, str, str], str] = {
    ("respond", "get", "configmaps", NAMESPACE): "ledger: re-reading an entry after a conflict",
    ("respond", "delete", "configmaps", NAMESPACE): "ledger: pruning entries past retention",
    ("sync", "create", "namespaces", ""): "a member's work namespace (sync join made it first)",
    ("sync", "get", "syncworks.sync.kubeops.io", ""): "reading back a member's SyncWork",
    ("sync-agent", "get", "configmaps", ""): "reading a synced object that already exists",
    ("sync-agent", "update", "configmaps", ""): "updating a synced object that differs",
}


@pytest.fixture(scope="module")
def every_daemon_ran(
    inspect_pod: RunningPod, respond_pod: RunningPod, sync_run: SyncRun, webhook_run: WebhookRun
) -> None:
    """Each daemon's scenario, run once for the package, and each daemon's /metrics
    scraped as Prometheus does (its TokenReview and SubjectAccessReview are used then)."""
    hub, member = sync_run.hub, sync_run.member
    scrapes = [
        (inspect_pod, next(iter(inspect_pod.ports)), hub, False),
        (respond_pod, next(iter(respond_pod.ports)), hub, False),
        (sync_run.controller, sync_run.port, hub, False),
        (sync_run.agent, sync_run.port, member, False),
        (webhook_run.pod, webhook_run.port, hub, True),
    ]
    for pod, port, cluster, https in scrapes:
        token = scraper_token(cluster)
        eventually(
            lambda: http_get(pod, port, "/metrics", token=token, https=https)[0] == 200,  # noqa: B023
            timeout=15,
            message=f"{pod.name}'s /metrics for the scraper",
        )


def _label(resource: str, group: str, subresource: str = "") -> str:
    name = f"{resource}.{group}" if group else resource
    return f"{name}/{subresource}" if subresource else name


def _group(label: str) -> str:
    return label.split("/", maxsplit=1)[0].split(".", 1)[1]


def _bound_rules(cluster: Cluster, user: str) -> dict[str, list[dict[str, Any]]]:
    """The rules bound to ``user`` by namespace ("" for ClusterRoleBindings)."""
    admin = cluster.admin
    namespace, name = user.split(":")[2:]
    rbac = "/apis/rbac.authorization.k8s.io/v1"

    def binds(binding: dict[str, Any]) -> bool:
        return any(
            s.get("kind") == "ServiceAccount"
            and s.get("name") == name
            and s.get("namespace", binding["metadata"].get("namespace")) == namespace
            for s in binding.get("subjects") or []
        )

    rules: dict[str, list[dict[str, Any]]] = {}
    for binding in admin.get(f"{rbac}/clusterrolebindings")["items"]:
        if binds(binding):
            role = admin.get(f"{rbac}/clusterroles/{binding['roleRef']['name']}")
            rules.setdefault("", []).extend(role.get("rules") or [])
    for binding in admin.get(f"{rbac}/rolebindings")["items"]:
        if binds(binding):
            ns = binding["metadata"]["namespace"]
            ref = binding["roleRef"]
            path = (
                f"{rbac}/clusterroles/{ref['name']}"
                if ref["kind"] == "ClusterRole"
                else f"{rbac}/namespaces/{ns}/roles/{ref['name']}"
            )
            rules.setdefault(ns, []).extend(admin.get(path).get("rules") or [])
    return rules


def _matrix(cluster: Cluster, user: str, scope: list[str]) -> set[Cell]:
    """The cells ``kubeops auth matrix --as user`` says yes to."""
    done = subprocess.run(
        [sys.executable, "-m", "kubeops", "auth", "matrix", "--as", user, *scope, "-o", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "KUBECONFIG": str(cluster.kubeconfig)},
        check=False,
    )
    assert done.returncode == 0, f"kubeops auth matrix --as {user} {scope}: {done.stderr}"
    matrix = json.loads(done.stdout)
    return {
        (verb, row["resource"], matrix["namespace"])
        for row in matrix["resources"]
        for verb, allowed in row["verbs"].items()
        if allowed
    }


def _resources(rules: Iterable[dict[str, Any]], user: str) -> list[str]:
    """Every resource the rules name, as the matrix takes them (``name.group[/sub]``).

    RBAC grants only what a rule names, so these rows hold everything the rules can
    grant -- unless a rule names ``*``, which the chart must not.
    """
    found = set()
    for rule in rules:
        for group in rule.get("apiGroups") or []:
            for resource in rule.get("resources") or []:
                assert "*" not in (group, resource, *rule.get("verbs", ())), (user, rule)
                name, _, sub = resource.partition("/")
                found.add(_label(name, group, sub))
    return sorted(found)


def granted(cluster: Cluster, user: str) -> set[Cell]:
    """What ``kubeops auth matrix`` says ``user`` may do on the resources its bindings'
    rules name: in every namespace at once (-A), then in each namespace a RoleBinding
    gives it rules (what those add)."""
    rules = _bound_rules(cluster, user)
    # A group the cluster does not serve (metrics.k8s.io here) has nothing to grant or use.
    served = {group["name"] for group in cluster.admin.get("/apis")["groups"]}
    named = _resources((r for found in rules.values() for r in found), user)
    rows = ",".join(r for r in named if "." not in r.split("/")[0] or _group(r) in served)
    cells = _matrix(cluster, user, ["-A", "--resources", rows])
    for namespace in sorted(ns for ns in rules if ns):
        found = _matrix(cluster, user, ["-n", namespace, "--resources", rows])
        cells |= {c for c in found if (c[0], c[1], "") not in cells}
    return cells


def used(cluster: Cluster, user: str) -> set[Cell]:
    """What ``user`` asked of the cluster and was given, by the audit log."""
    return {
        (verb, _label(resource, group, sub), namespace)
        for verb, group, resource, sub, namespace in audit_requests(cluster, user)
    }


def unused(granted_cells: set[Cell], used_cells: set[Cell]) -> list[Cell]:
    """Grants no request used: a namespace's grant by a request there (or across
    namespaces), a grant across namespaces by a request anywhere.

    ``list`` counts as used where ``watch`` was: the reflector fills its cache with a
    streaming watch-list where the server offers one and falls back to a list where
    it does not, so both are needed while only the watch shows on a recent server.
    """
    seen = set(used_cells) | {("list", r, ns) for verb, r, ns in used_cells if verb == "watch"}
    anywhere = {(verb, resource) for verb, resource, _ in seen}
    return sorted(
        cell
        for cell in granted_cells
        if not (
            (cell[2] == "" and (cell[0], cell[1]) in anywhere)
            or cell in seen
            or (cell[0], cell[1], "") in seen
        )
    )


def _user(daemon: str) -> str:
    return f"system:serviceaccount:{NAMESPACE}:{fullname(daemon, RELEASE)}"


@pytest.fixture(scope="module")
def grants(deploy_env: Environment, every_daemon_ran: None) -> dict[str, set[Cell]]:
    """Each daemon's grants by ``kubeops auth matrix``, asked for all at once."""
    with ThreadPoolExecutor(len(WHERE)) as pool:
        futures = {
            daemon: pool.submit(granted, deploy_env.cluster(where), _user(daemon))
            for daemon, where in WHERE.items()
        }
        return {daemon: future.result() for daemon, future in futures.items()}


@pytest.mark.parametrize("daemon", list(WHERE))
def test_the_chart_grants_only_what_the_daemon_used(
    daemon: str, deploy_env: Environment, grants: dict[str, set[Cell]]
) -> None:
    cluster = deploy_env.cluster(WHERE[daemon])
    user = _user(daemon)
    assert grants[daemon], f"auth matrix shows no grant at all for {user}: is the chart applied?"
    unused_cells = unused(grants[daemon], used(cluster, user))
    extra = [c for c in unused_cells if (daemon, *c) not in NOT_REACHED]
    assert not extra, (
        f"{daemon}: the chart grants {user} what its in-cluster run never used "
        f"(verb, resource, namespace): {extra}; it used {sorted(used(cluster, user))}"
    )
