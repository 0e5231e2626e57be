"""``kubeops sync install|join|plan|status|rbac`` as a user types them, against the
session's four clusters (``sync_env``): what each prints, what it leaves on the hub,
its exit code, and its one-line errors."""

from __future__ import annotations

import base64
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from kubeops.testenv import Environment
from kubeops.testenv.ports import free_port

SYNC_API = "/apis/sync.kubeops.io/v1alpha1"
MEMBERS = f"{SYNC_API}/memberclusters"
POLICIES = f"{SYNC_API}/clustersyncpolicies"
CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
DEPLOYMENTS = "/apis/apps/v1/namespaces/{namespace}/deployments"


def kubeops(*argv: str) -> subprocess.CompletedProcess[str]:
    """``kubeops ARGV...`` to completion."""
    return subprocess.run(
        [sys.executable, "-m", "kubeops", *argv],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def ok(done: subprocess.CompletedProcess[str], code: int = 0) -> list[str]:
    """The lines printed on stdout, after asserting the exit code and no traceback."""
    assert done.returncode == code, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    assert "Traceback" not in done.stderr
    return done.stdout.splitlines()


def one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    """The one error line of a command that failed with exit code 1."""
    assert done.returncode == 1, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("kubeops: error: "), lines[0]
    assert done.stdout == ""
    return lines[0].removeprefix("kubeops: error: ")


def deployment(name: str, namespace: str, replicas: int, labels: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "web", "image": "nginx:1.25"}]},
            },
        },
    }


class Hub:
    """The session's hub with the sync installed by ``kubeops sync install``, and members
    this module joined under names of its own (the scenarios' members stay untouched)."""

    def __init__(self, env: Environment) -> None:
        self.env = env
        self.cluster = env.cluster("hub")
        self.kubeconfig = str(self.cluster.kubeconfig)
        suffix = uuid.uuid4().hex[:5]
        self.names = {
            c: f"cli-{c.removeprefix('cluster-')}-{suffix}" for c in ("cluster-a", "cluster-b")
        }
        self.install = kubeops("sync", "install", "--kubeconfig", self.kubeconfig)

    def join(self, cluster: str, *extra: str) -> subprocess.CompletedProcess[str]:
        member = self.env.cluster(cluster)
        return kubeops(
            "--kubeconfig",
            self.kubeconfig,
            "sync",
            "join",
            self.names[cluster],
            "--member-kubeconfig",
            str(member.kubeconfig),
            *extra,
        )


@pytest.fixture(scope="module")
def hub(sync_env: Environment) -> Iterator[Hub]:
    """The hub, installed once for this module; the members it joined are removed at the end."""
    installed = Hub(sync_env)
    yield installed
    for name in installed.names.values():
        installed.cluster.admin.delete(f"{MEMBERS}/{name}")
        installed.cluster.admin.delete(f"/api/v1/namespaces/kubeops-sync/secrets/member-{name}")


@pytest.fixture
def namespace(sync_env: Environment) -> Iterator[str]:
    """A fresh namespace on cluster-a and cluster-b."""
    name = f"cli-{uuid.uuid4().hex[:8]}"
    clusters = [sync_env.cluster("cluster-a"), sync_env.cluster("cluster-b")]
    for cluster in clusters:
        cluster.admin.create(
            "/api/v1/namespaces",
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}},
        )
    yield name
    for cluster in clusters:
        cluster.admin.delete(f"/api/v1/namespaces/{name}")


def policy_file(path: Path, hub: Hub, namespace: str, **spec: Any) -> Path:
    """The guide's policy (Deployments labelled env=production) between this module's
    members, named after the namespace (what one test's policy owns is not another's)."""
    document = {
        "apiVersion": "sync.kubeops.io/v1alpha1",
        "kind": "ClusterSyncPolicy",
        "metadata": {"name": f"web-{namespace}"},
        "spec": {
            "sourceCluster": hub.names["cluster-a"],
            "targetClusters": [hub.names["cluster-b"]],
            "resources": [
                {
                    "apiGroup": "apps",
                    "kind": "Deployment",
                    "namespaces": [namespace],
                    "matchLabels": {"env": "production"},
                }
            ],
            **spec,
        },
    }
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


# -- install and join ---------------------------------------------------------------------------


def test_install_applies_the_api_and_rbac_to_the_hub(hub: Hub) -> None:
    lines = ok(hub.install)
    for plural in ("clustersyncpolicies", "memberclusters", "syncworks"):
        crd = f"{plural}.sync.kubeops.io"
        assert f"customresourcedefinition.apiextensions.k8s.io/{crd} applied" in lines
        assert hub.cluster.admin.exists(f"{CRDS}/{crd}")
    assert "namespace/kubeops-sync applied" in lines
    assert hub.cluster.admin.exists("/api/v1/namespaces/kubeops-sync")
    # Again: nothing to add, the same answer (server-side apply).
    assert ok(kubeops("sync", "install", "--kubeconfig", hub.kubeconfig)) == lines


def test_install_dry_run_prints_the_objects_and_needs_no_hub() -> None:
    done = kubeops("sync", "install", "--dry-run", "-o", "yaml", "--kubeconfig", "/nonexistent")
    document = yaml.safe_load("\n".join(ok(done)))
    kinds = [item["kind"] for item in document["items"]]
    assert kinds.count("CustomResourceDefinition") == 3
    assert {"Namespace", "ClusterRole", "ClusterRoleBinding"} <= set(kinds)


def test_join_stores_the_kubeconfig_and_creates_the_member(hub: Hub) -> None:
    ok(hub.install)
    name = hub.names["cluster-b"]
    lines = ok(hub.join("cluster-b", "--labels", "env=test,region=eu"))
    assert lines[-1] == f"membercluster.sync.kubeops.io/{name} joined (Push)"
    member = hub.cluster.admin.get(f"{MEMBERS}/{name}")
    assert member["metadata"]["labels"] == {"env": "test", "region": "eu"}
    ref = member["spec"]["kubeconfigSecretRef"]
    secret = hub.cluster.admin.get(f"/api/v1/namespaces/{ref['namespace']}/secrets/{ref['name']}")
    stored = base64.b64decode(secret["data"][ref.get("key", "kubeconfig")])
    assert stored == Path(hub.env.cluster("cluster-b").kubeconfig).read_bytes()
    # Joining again updates the member (labels replaced), as apply does.
    again = orjson.loads(hub.join("cluster-b", "--labels", "env=prod", "-o", "json").stdout)
    assert again["items"][-1]["metadata"]["labels"] == {"env": "prod"}


def test_a_pull_member_joins_without_a_kubeconfig(hub: Hub) -> None:
    ok(hub.install)
    name = f"cli-pull-{uuid.uuid4().hex[:5]}"
    try:
        lines = ok(kubeops("sync", "join", name, "--mode", "Pull", "--kubeconfig", hub.kubeconfig))
        assert lines == [f"membercluster.sync.kubeops.io/{name} joined (Pull)"]
        member = hub.cluster.admin.get(f"{MEMBERS}/{name}")
        assert member["spec"]["syncMode"] == "Pull"
        assert "kubeconfigSecretRef" not in member["spec"]
    finally:
        hub.cluster.admin.delete(f"{MEMBERS}/{name}")


# -- plan ---------------------------------------------------------------------------------------


def test_plan_from_a_file_shows_each_change_as_a_diff_and_exits_2(
    hub: Hub, namespace: str, tmp_path: Path
) -> None:
    ok(hub.install)
    ok(hub.join("cluster-a"))
    ok(hub.join("cluster-b"))
    source = hub.env.cluster("cluster-a")
    target = hub.env.cluster("cluster-b")
    production = {"env": "production"}
    for name, replicas in (("web", 3), ("api", 2)):
        source.admin.create(
            DEPLOYMENTS.format(namespace=namespace),
            deployment(name, namespace, replicas, production),
        )
    source.admin.create(
        DEPLOYMENTS.format(namespace=namespace),
        deployment("batch", namespace, 1, {"env": "staging"}),  # not selected
    )
    # `api` is already on the target, owned by this policy but from an older source.
    owned = deployment(
        "api", namespace, 1, {**production, "sync.kubeops.io/policy": f"web-{namespace}"}
    )
    owned["metadata"]["annotations"] = {
        "sync.kubeops.io/source": f"{hub.names['cluster-a']}/{namespace}/api",
        "sync.kubeops.io/desired-hash": "stale",
    }
    target.admin.create(DEPLOYMENTS.format(namespace=namespace), owned)
    policy = policy_file(tmp_path / "policy.yaml", hub, namespace)
    before = target.admin.get(DEPLOYMENTS.format(namespace=namespace))

    lines = ok(kubeops("sync", "plan", "-f", str(policy), "--kubeconfig", hub.kubeconfig), 2)

    text = "\n".join(lines)
    assert f"policy web-{namespace} -> {hub.names['cluster-b']}" in lines
    assert any(
        line.split()[:3] == ["+", "create", "Deployment.apps"] and f"{namespace}/web" in line
        for line in lines
    ), text
    assert any(line.split()[:2] == ["~", "update"] and f"{namespace}/api" in line for line in lines)
    assert any(line.strip() == "-  replicas: 1" for line in lines), text
    assert any(line.strip() == "+  replicas: 2" for line in lines), text
    assert "batch" not in text
    assert lines[-1].startswith("plan: 1 to create, 1 to update, 0 to delete")
    # Nothing was written.
    after = target.admin.get(DEPLOYMENTS.format(namespace=namespace))
    assert [d["metadata"]["resourceVersion"] for d in after["items"]] == [
        d["metadata"]["resourceVersion"] for d in before["items"]
    ]

    as_json = orjson.loads(
        kubeops(
            "sync", "plan", "-f", str(policy), "-o", "json", "--kubeconfig", hub.kubeconfig
        ).stdout
    )
    changes = {(op["name"], op["change"]) for t in as_json["targets"] for op in t["operations"]}
    assert {("web", "create"), ("api", "update")} <= changes


def test_plan_with_nothing_to_change_exits_0(hub: Hub, namespace: str, tmp_path: Path) -> None:
    ok(hub.install)
    ok(hub.join("cluster-a"))
    ok(hub.join("cluster-b"))
    policy = policy_file(tmp_path / "policy.yaml", hub, namespace)  # the namespace is empty
    lines = ok(kubeops("--kubeconfig", hub.kubeconfig, "sync", "plan", "-f", str(policy)), 0)
    assert lines[-1].startswith("plan: 0 to create, 0 to update, 0 to delete")


def test_rbac_prints_what_a_member_grants_for_the_policies(hub: Hub, tmp_path: Path) -> None:
    policy = policy_file(tmp_path / "policy.yaml", hub, "shop")
    document = yaml.safe_load("\n".join(ok(kubeops("sync", "rbac", "-f", str(policy)))))
    roles = [i for i in document["items"] if i["kind"] == "ClusterRole"]
    (role,) = roles
    deployments = [r for r in role["rules"] if r["apiGroups"] == ["apps"]]
    assert deployments == [
        {
            "apiGroups": ["apps"],
            "resources": ["deployments"],
            "verbs": ["get", "list", "watch", "create", "patch", "update", "delete"],
        }
    ]
    assert all("*" not in r["resources"] + r["verbs"] for r in role["rules"])
    source = orjson.loads(
        "\n".join(ok(kubeops("sync", "rbac", "-f", str(policy), "--source", "-o", "json")))
    )
    (read_only,) = source["items"]
    assert {v for r in read_only["rules"] for v in r["verbs"]} == {"get", "list", "watch"}


# -- status -------------------------------------------------------------------------------------


def test_status_shows_each_policy_and_target_from_the_hub(hub: Hub) -> None:
    ok(hub.install)
    name = f"cli-status-{uuid.uuid4().hex[:5]}"
    policy = {
        "apiVersion": "sync.kubeops.io/v1alpha1",
        "kind": "ClusterSyncPolicy",
        "metadata": {"name": name},
        "spec": {
            "sourceCluster": "cluster-a",
            "targetClusters": ["cluster-b", "cluster-c"],
            "resources": [{"apiGroup": "apps", "kind": "Deployment"}],
        },
    }
    created = hub.cluster.admin.create(POLICIES, policy)
    try:
        # Before any controller: the policy, without status.
        lines = ok(kubeops("sync", "status", name, "--kubeconfig", hub.kubeconfig))
        assert lines[1].split()[:3] == [name, "cluster-a", "-"]
        assert lines[1].endswith("no status yet")
        # rbac reads the same policy from the hub.
        rbac = yaml.safe_load(
            "\n".join(ok(kubeops("sync", "rbac", name, "--kubeconfig", hub.kubeconfig)))
        )
        (role,) = [i for i in rbac["items"] if i["kind"] == "ClusterRole"]
        assert ["deployments"] in [r["resources"] for r in role["rules"]]

        # The status a controller writes (here by hand: status needs no controller).
        now = "2026-01-02T03:04:05Z"
        status = {
            "observedGeneration": created["metadata"]["generation"],
            "conditions": [
                {
                    "type": "Ready",
                    "status": "False",
                    "reason": "Conflicts",
                    "message": "1 conflict on cluster-c",
                    "lastTransitionTime": now,
                },
                {
                    "type": "Valid",
                    "status": "True",
                    "reason": "Resolved",
                    "message": "",
                    "lastTransitionTime": now,
                },
            ],
            "targets": [
                {
                    "name": "cluster-b",
                    "mode": "Push",
                    "desired": 3,
                    "inSync": 3,
                    "drifted": 0,
                    "conflicts": 0,
                    "failed": 0,
                    "pending": 0,
                    "lastSyncTime": now,
                },
                {
                    "name": "cluster-c",
                    "mode": "Push",
                    "desired": 3,
                    "inSync": 2,
                    "drifted": 0,
                    "conflicts": 1,
                    "failed": 0,
                    "pending": 0,
                    "lastSyncTime": now,
                    "lastError": "Deployment.apps shop/web: not created by the sync",
                },
            ],
        }
        hub.cluster.admin.patch(f"{POLICIES}/{name}/status", {"status": status})
        lines = ok(kubeops("--kubeconfig", hub.kubeconfig, "sync", "status", name))
        assert lines[0].split() == [
            "POLICY",
            "SOURCE",
            "TARGET",
            "MODE",
            "DESIRED",
            "IN-SYNC",
            "DRIFTED",
            "CONFLICTS",
            "FAILED",
            "PENDING",
            "LAST-ERROR",
        ]
        assert lines[1].split() == [
            name,
            "cluster-a",
            "cluster-b",
            "Push",
            "3",
            "3",
            "0",
            "0",
            "0",
            "0",
            "1",
            "conflict",
            "on",
            "cluster-c",
        ]
        assert lines[2].split()[:10] == [
            name,
            "cluster-a",
            "cluster-c",
            "Push",
            "3",
            "2",
            "0",
            "1",
            "0",
            "0",
        ]
        assert lines[2].endswith("Deployment.apps shop/web: not created by the sync")

        wide = ok(kubeops("sync", "status", name, "-o", "wide", "--kubeconfig", hub.kubeconfig))
        assert wide[0].split()[10:12] == ["READY", "LAST-SYNC"]
        assert wide[1].split()[10] == "False"

        as_json = kubeops("sync", "status", name, "-o", "json", "--kubeconfig", hub.kubeconfig)
        ok(as_json)
        (row,) = orjson.loads(as_json.stdout)
        assert (row["name"], row["ready"]) == (name, "False")
        assert [t["conflicts"] for t in row["targets"]] == [0, 1]
    finally:
        hub.cluster.admin.delete(f"{POLICIES}/{name}")


# -- errors: one line, exit 1 -------------------------------------------------------------------


def test_a_bad_policy_file_names_the_file_and_line(hub: Hub, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "apiVersion: sync.kubeops.io/v1alpha1\n"
        "kind: ClusterSyncPolicy\n"
        "metadata:\n"
        "  name: broken\n"
        "spec:\n"
        "  sourceCluster: cluster-a\n"
        "  targetClusters: [cluster-b]\n"
        "  resources:\n"
        "    - apiGroup: apps\n"
        "      matchLabels: {env: production}\n"
    )
    error = one_line_error(kubeops("sync", "plan", "-f", str(bad), "--kubeconfig", hub.kubeconfig))
    assert error == f"{bad}:9: ClusterSyncPolicy 'broken': spec.resources[0].kind is required"

    unparsable = tmp_path / "unparsable.yaml"
    unparsable.write_text("kind: ClusterSyncPolicy\nspec: [unclosed\n")
    error = one_line_error(
        kubeops("sync", "plan", "-f", str(unparsable), "--kubeconfig", hub.kubeconfig)
    )
    assert error.startswith(f"policy file {unparsable}, line 3")

    missing = one_line_error(kubeops("sync", "plan", "-f", str(tmp_path / "none.yaml")))
    assert "none.yaml" in missing


def test_an_unknown_member_is_one_line(hub: Hub, namespace: str, tmp_path: Path) -> None:
    ok(hub.install)
    policy = tmp_path / "policy.yaml"
    policy_file(policy, hub, namespace)
    document = yaml.safe_load(policy.read_text())
    document["spec"]["sourceCluster"] = "no-such-member"
    policy.write_text(yaml.safe_dump(document))
    error = one_line_error(
        kubeops("sync", "plan", "-f", str(policy), "--kubeconfig", hub.kubeconfig)
    )
    assert "'no-such-member' is not a MemberCluster on the hub" in error


def test_an_unreachable_hub_is_one_line(hub: Hub, tmp_path: Path) -> None:
    config = yaml.safe_load(Path(hub.kubeconfig).read_text())
    for cluster in config["clusters"]:
        cluster["cluster"]["server"] = f"https://127.0.0.1:{free_port()}"
    gone = tmp_path / "gone.kubeconfig"
    gone.write_text(yaml.safe_dump(config))
    error = one_line_error(kubeops("sync", "status", "--kubeconfig", str(gone)))
    assert "127.0.0.1" in error


def test_a_missing_policy_or_a_hub_without_the_sync_api_is_one_line(hub: Hub) -> None:
    ok(hub.install)
    for command in ("status", "plan"):
        error = one_line_error(kubeops("sync", command, "nope", "--kubeconfig", hub.kubeconfig))
        assert error == "ClusterSyncPolicy 'nope' not found on the hub"
    member = hub.env.cluster("cluster-a")  # a member, not the hub: no sync API there
    error = one_line_error(kubeops("sync", "status", "--kubeconfig", str(member.kubeconfig)))
    assert error == (
        f"the hub {member.server} does not serve ClusterSyncPolicy (run `kubeops sync "
        "install`, or give the hub's --kubeconfig/--context)"
    )


def test_join_errors_are_one_line(hub: Hub, tmp_path: Path) -> None:
    error = one_line_error(kubeops("sync", "join", "x", "--kubeconfig", hub.kubeconfig))
    assert error.startswith("sync join x: a Push member needs --member-kubeconfig FILE")
    error = one_line_error(
        kubeops(
            "sync", "join", "x", "--mode", "Pull", "--labels", "a b", "--kubeconfig", hub.kubeconfig
        )
    )
    assert error.startswith("--labels 'a b': ")
    garbage = tmp_path / "garbage.kubeconfig"
    garbage.write_text("clusters: 7\n")
    error = one_line_error(kubeops("sync", "join", "x", "--member-kubeconfig", str(garbage)))
    assert "'x'" in error
    assert str(garbage) in error
    assert not hub.cluster.admin.exists(f"{MEMBERS}/x")


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--lease-duration", "1s"], "--lease-duration 1s: at least 3s"),
        (["--lease-duration", "soon"], "--lease-duration: "),
        (["--workers", "0"], "--workers 0: at least 1"),
        (["--listen", "nowhere"], "--listen 'nowhere': expected HOST:PORT"),
        (
            ["--listen", ":0", "--auth", "none"],
            "--listen 0.0.0.0:0 is reachable from other machines",
        ),
    ],
)
def test_bad_daemon_flags_are_one_line_before_anything_starts(
    flags: list[str], message: str
) -> None:
    error = one_line_error(kubeops("sync", "run", *flags, "--kubeconfig", "/nonexistent"))
    assert error.startswith(message), error


# -- the example --------------------------------------------------------------------------------


def test_the_guides_example_installs_plans_syncs_and_reports() -> None:
    """``examples/sync/run.py`` as a user runs it: its own four clusters, the CLI all
    the way, the Deployment on both targets at the end."""
    example = Path(__file__).resolve().parents[2] / "examples" / "sync" / "run.py"
    done = subprocess.run(
        [sys.executable, str(example)], capture_output=True, text=True, timeout=300, check=False
    )
    lines = ok(done)
    text = "\n".join(lines)
    plan = lines.index("$ kubeops sync plan production-web --kubeconfig hub.kubeconfig")
    assert lines[plan + 1 : plan + 3] == [
        "policy production-web -> cluster-b",
        "  + create   Deployment.apps shop/web  (not on the target)",
    ]
    assert "plan: 2 to create, 0 to update, 0 to delete, 0 in sync (2 targets)" in lines
    assert "(exit code 2)" in lines
    rows = [line.split() for line in lines if line.startswith("production-web ")]
    assert [row[:6] for row in rows] == [
        ["production-web", "cluster-a", "cluster-b", "Push", "1", "1"],
        ["production-web", "cluster-a", "cluster-c", "Push", "1", "1"],
    ]
    assert "plan: 0 to create, 0 to update, 0 to delete, 2 in sync (2 targets)" in lines
    assert (
        "create Deployment.apps shop/web on cluster-b (not on the target; policy production-web)"
        in text
    )
    assert lines[-2:] == [
        "cluster-b: deployment web, 3 replicas",
        "cluster-c: deployment web, 3 replicas",
    ]
    assert str(example.parents[2]) not in text  # files shown relative, kubeconfigs by name
    assert tempfile.gettempdir() not in text
