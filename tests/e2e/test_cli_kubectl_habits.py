"""kubectl's habits on the command line, against the session cluster, as a kubectl user
types them: the connection flags before the command, after it, or between a command and
its sub-command all mean the same; ``-A`` where a command looks across namespaces;
``-o`` wherever a format is chosen.

The kubeconfig given has the cluster's context and a current context whose server is
gone, and ``$KUBECONFIG`` names no file: a command succeeds only if it honoured
``--kubeconfig``, ``--context`` and ``-n`` wherever they were placed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubeops.testenv import Cluster, eventually


@dataclass
class Where:
    """How to reach the test's namespace, and how to run kubeops there."""

    kubeconfig: str
    context: str
    namespace: str
    env: dict[str, str]

    def flags(self) -> dict[str, list[str]]:
        return {
            "kubeconfig": ["--kubeconfig", self.kubeconfig],
            "context": ["--context", self.context],
            "namespace": ["-n", self.namespace],
        }

    def run(self, *commands: Sequence[str]) -> list[subprocess.CompletedProcess[str]]:
        """Run kubeops commands at the same time (Python's start-up dominates each)."""
        running = [
            subprocess.Popen(
                [sys.executable, "-m", "kubeops", *argv],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=self.env,
            )
            for argv in commands
        ]
        done = []
        for argv, process in zip(commands, running, strict=True):
            out, err = process.communicate(timeout=180)
            done.append(subprocess.CompletedProcess(list(argv), process.returncode, out, err))
        return done

    def ok(self, *commands: Sequence[str]) -> list[str]:
        """Run the commands; each must succeed, without a traceback.  Their stdout."""
        outputs = []
        for result in self.run(*commands):
            assert result.returncode == 0, f"{result.args}: {result.stderr}"
            assert "Traceback" not in result.stderr
            outputs.append(result.stdout)
        return outputs

    def placements(self, command: Sequence[str], rest: Sequence[str]) -> list[list[str]]:
        """``command`` (one or two words) and ``rest``, with the connection flags before
        the command, after it, between its words, and scattered."""
        flags = self.flags()
        every = [arg for group in flags.values() for arg in group]
        forms = [
            [*every, *command, *rest],
            [*command, *rest, *every],
            [*command, *every, *rest],
            [*flags["kubeconfig"], *command[:1], *flags["namespace"], *command[1:], *rest,
             *flags["context"]],
        ]  # fmt: skip
        if len(command) > 1:
            forms.append([*command[:1], *every, *command[1:], *rest])
        return forms


@pytest.fixture
def where(kube_cluster: Cluster, kube_namespace: str, tmp_path: Path) -> Where:
    config = yaml.safe_load(Path(kube_cluster.kubeconfig).read_text())
    context = config["current-context"]
    config["clusters"].append({"name": "gone", "cluster": {"server": "https://127.0.0.1:9"}})
    config["contexts"].append({"name": "gone", "context": {"cluster": "gone", "user": "nobody"}})
    config["users"].append({"name": "nobody", "user": {"token": "x"}})
    config["current-context"] = "gone"
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump(config))
    env = {**os.environ, "KUBECONFIG": str(tmp_path / "no-such-kubeconfig")}
    env.pop("COLUMNS", None)
    return Where(str(kubeconfig), context, kube_namespace, env)


def test_get_takes_the_connection_flags_anywhere(kube_cluster: Cluster, where: Where) -> None:
    name = f"habits-{uuid.uuid4().hex[:8]}"
    kube_cluster.admin.create(
        f"/api/v1/namespaces/{where.namespace}/configmaps",
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}},
    )
    forms = where.placements(["get"], ["configmaps", name, "-o", "name"])
    assert [out.strip() for out in where.ok(*forms)] == [f"configmap/{name}"] * len(forms)

    # -A before or after the command: the NAMESPACE column, with the test's namespace.
    flags = [*where.flags()["kubeconfig"], *where.flags()["context"]]
    selected = ["configmaps", "--field-selector", f"metadata.name={name}"]
    for table in where.ok(
        [*flags, "-A", "get", *selected],
        ["get", *selected, "--all-namespaces", *flags],
    ):
        lines = [line.split() for line in table.splitlines()]
        assert lines[0][:2] == ["NAMESPACE", "NAME"]
        assert lines[1][:2] == [where.namespace, name]


@pytest.mark.full  # logs need kwok's nodes
def test_logs_take_the_connection_flags_anywhere(kube_cluster: Cluster, where: Where) -> None:
    name = f"habits-{uuid.uuid4().hex[:8]}"
    path = f"/api/v1/namespaces/{where.namespace}/pods"
    kube_cluster.admin.create(
        path,
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
         "spec": {"containers": [{"name": "app", "image": "app:1"}]}},
    )  # fmt: skip

    def running() -> bool:
        statuses = kube_cluster.admin.get(f"{path}/{name}").get("status", {})
        return any("running" in c.get("state", {}) for c in statuses.get("containerStatuses") or [])

    eventually(running, message=f"pod {name} to run")
    marker = f"habits {uuid.uuid4().hex}"
    kube_cluster.append_container_log(marker)
    forms = where.placements(["logs"], [f"pod/{name}", "--tail", "20"])
    for out in where.ok(*forms):
        assert marker in out.splitlines()

    # -A means nothing to logs: one line saying so, exit code 1 (kubectl: unknown flag).
    [refused] = where.run(["-A", "logs", name, *where.flags()["kubeconfig"]])
    assert refused.returncode == 1
    assert refused.stderr == (
        "kubeops: error: -A/--all-namespaces does not apply to `kubeops logs`; "
        "name a namespace with -n\n"
    )


@pytest.mark.full
def test_rollout_takes_the_connection_flags_anywhere(kube_cluster: Cluster, where: Where) -> None:
    name = f"habits-{uuid.uuid4().hex[:8]}"
    kube_cluster.admin.create(
        f"/apis/apps/v1/namespaces/{where.namespace}/deployments",
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
         "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                  "template": {"metadata": {"labels": {"app": name}},
                               "spec": {"containers": [{"name": "app", "image": "app:1"}]}}}},
    )  # fmt: skip
    forms = where.placements(["rollout", "status"], [f"deploy/{name}", "--timeout", "90s"])
    for out in where.ok(*forms):
        assert out.strip().splitlines()[-1] == f'deployment "{name}" successfully rolled out'
    [as_json] = where.ok(["-n", where.namespace, "rollout", "history", f"deploy/{name}",
                          "-o", "json", "--context", where.context,
                          "--kubeconfig", where.kubeconfig])  # fmt: skip
    assert json.loads(as_json)["namespace"] == where.namespace


def inspected(out: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(out)
    [cluster] = document["clusters"]
    assert cluster["reachable"], cluster
    return document


def test_inspect_takes_the_connection_flags_anywhere_and_o_for_its_format(
    kube_cluster: Cluster, where: Where, tmp_path: Path
) -> None:
    name = f"habits-{uuid.uuid4().hex[:8]}"
    kube_cluster.admin.create(
        f"/apis/apps/v1/namespaces/{where.namespace}/deployments",
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
         "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                  "template": {"metadata": {"labels": {"app": name}},
                               "spec": {"containers": [{"name": "app", "image": "app:1",
                                        "securityContext": {"privileged": True}}]}}}},
    )  # fmt: skip
    report = tmp_path / "report.html"
    k, c, n = (where.flags()[f] for f in ("kubeconfig", "context", "namespace"))
    one, two, three, everywhere, html = where.ok(
        [*k, *c, "inspect", "-q", *n, "-o", "json"],
        ["inspect", "-q", "--output", "json", *k, *n, *c],
        [*n, "inspect", "--format", "json", "-q", *c, *k],
        [*k, *c, *n, "inspect", "-A", "-q", "-o", "json"],
        ["inspect", "-q", "-o", "html", "--out", str(report), *k, *c, *n],
    )
    for out in (one, two, three):
        document = inspected(out)
        assert document["clusters"][0]["name"] == where.context
        assert set(document["clusters"][0]["namespaces"]) == {where.namespace}
        flagged = {(f["check"], f["object"]["name"]) for f in document["findings"]}
        assert ("sec-privileged", name) in flagged
        assert {f["object"].get("namespace") for f in document["findings"]} <= {
            where.namespace,
            None,  # cluster-scoped objects (nodes) are inspected whatever the namespace
        }
    # -A: every namespace, even with -n given before it.
    namespaces = inspected(everywhere)["clusters"][0]["namespaces"]
    assert {where.namespace, "default", "kube-system"} <= set(namespaces)
    assert name in html  # the terminal summary, laid out wide for no terminal
    assert any(f"Deployment/{where.namespace}/{name}" in line for line in html.splitlines())
    assert name in report.read_text()
