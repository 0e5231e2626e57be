"""``kubeops rollout|scale|wait`` as a user types them, side by side with the kubectl that
testenv builds, against the same cluster.

Most tests use twins: two Deployments (or StatefulSets) made alike, one driven by
kubeops and one by kubectl through the same steps.  Afterwards both print the same
(object names and pod-template hashes aside) and the server holds the same for
both: templates, annotations, revisions.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from kubeops.testenv import Cluster, ensure_assets

# Rollouts need the controller-manager and kwok nodes.
pytestmark = pytest.mark.full

HASH = re.compile(r"pod-template-hash=\w+")


@pytest.fixture(scope="module")
def kubectl_path() -> Path:
    return ensure_assets(["kubectl"]).path("kubectl")


class Shell:
    """Runs kubeops and kubectl against one cluster and namespace."""

    def __init__(self, cluster: Cluster, namespace: str, kubectl: Path) -> None:
        self.kubeconfig = str(cluster.kubeconfig)
        self.namespace = namespace
        self.kubectl_path = str(kubectl)

    def _kubeops_command(self, args: Sequence[str], kubeconfig: str | None = None) -> list[str]:
        where = ["--kubeconfig", kubeconfig or self.kubeconfig, "-n", self.namespace]
        return [sys.executable, "-m", "kubeops", *args, *where]

    def _kubectl_command(self, args: Sequence[str], kubeconfig: str | None = None) -> list[str]:
        where = ["--kubeconfig", kubeconfig or self.kubeconfig, "-n", self.namespace]
        return [self.kubectl_path, *where, *args]

    @staticmethod
    def _run_all(*commands: list[str]) -> list[subprocess.CompletedProcess[str]]:
        """Run commands at the same time (the CLI's start-up dominates), in order of results."""
        running = [
            subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for c in commands
        ]
        done = []
        for command, process in zip(commands, running, strict=True):
            out, err = process.communicate(timeout=120)
            done.append(subprocess.CompletedProcess(command, process.returncode, out, err))
        return done

    def kubeops(
        self, *args: str, kubeconfig: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        return self._run_all(self._kubeops_command(args, kubeconfig))[0]

    def kubectl(
        self, *args: str, kubeconfig: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        return self._run_all(self._kubectl_command(args, kubeconfig))[0]

    def many(self, *commands: list[str]) -> list[subprocess.CompletedProcess[str]]:
        """Several kubeops commands at the same time."""
        return self._run_all(*(self._kubeops_command(c) for c in commands))

    def both(
        self, ours: list[str], theirs: list[str]
    ) -> tuple[subprocess.CompletedProcess[str], subprocess.CompletedProcess[str]]:
        """A kubeops and a kubectl command at the same time."""
        mine, kubectl = self._run_all(self._kubeops_command(ours), self._kubectl_command(theirs))
        return mine, kubectl

    def both_ok(self, ours: list[str], theirs: list[str]) -> tuple[str, str]:
        mine, kubectl = self.both(ours, theirs)
        assert mine.returncode == 0, mine.stderr
        assert "Traceback" not in mine.stderr
        assert kubectl.returncode == 0, kubectl.stderr
        return mine.stdout, kubectl.stdout

    def ok(self, *args: str) -> str:
        result = self.kubeops(*args)
        assert result.returncode == 0, result.stderr
        assert "Traceback" not in result.stderr
        return result.stdout

    def ctl(self, *args: str) -> str:
        result = self.kubectl(*args)
        assert result.returncode == 0, result.stderr
        return result.stdout

    def get(self, kind: str, name: str) -> dict[str, Any]:
        obj: dict[str, Any] = json.loads(self.ctl("get", kind, name, "-o", "json"))
        return obj

    def create(self, manifest: dict[str, Any]) -> None:
        result = subprocess.run(
            self._kubectl_command(["create", "-f", "-"]),
            input=json.dumps(manifest),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr


@pytest.fixture
def sh(kube_cluster: Cluster, kube_namespace: str, kubectl_path: Path) -> Shell:
    return Shell(kube_cluster, kube_namespace, kubectl_path)


def workload(kind: str, name: str, image: str, replicas: int = 2, **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "replicas": replicas,
        "selector": {"matchLabels": {"app": name}},
        "template": {
            "metadata": {"labels": {"app": name}},
            "spec": {"containers": [{"name": "app", "image": image}]},
        },
        **spec,
    }
    if kind == "StatefulSet":
        body["serviceName"] = name
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": name}, "spec": body}


def same(ours: str, theirs: str, our_name: str, their_name: str) -> tuple[list[str], list[str]]:
    """Both outputs, each line without trailing blanks, object names and hashes masked."""

    def norm(text: str, name: str) -> list[str]:
        text = HASH.sub("pod-template-hash=HASH", text.replace(name, "NAME"))
        return [line.rstrip() for line in text.splitlines()]

    return norm(ours, our_name), norm(theirs, their_name)


def last_line(text: str) -> str:
    return text.strip().splitlines()[-1]


def template(obj: dict[str, Any], name: str) -> Any:
    masked = json.dumps(obj["spec"]["template"]).replace(name, "NAME")
    return json.loads(HASH.sub("", masked))


def test_set_image_undo_and_history_match_kubectl(sh: Shell) -> None:
    ours, theirs = "by-kubeops", "by-kubectl"
    for name in (ours, theirs):
        sh.create(workload("Deployment", name, "nginx:1"))
    steps: list[tuple[list[str], list[str]]] = [
        (["rollout", "set-image", f"deploy/{ours}", "app=nginx:2"],
         ["set", "image", f"deploy/{theirs}", "app=nginx:2"]),
        (["rollout", "set-image", f"deploy/{ours}", "app=nginx:3"],
         ["set", "image", f"deploy/{theirs}", "app=nginx:3"]),
        (["rollout", "undo", f"deploy/{ours}"], ["rollout", "undo", f"deploy/{theirs}"]),
        (["rollout", "undo", f"deploy/{ours}", "--to-revision", "1"],
         ["rollout", "undo", f"deploy/{theirs}", "--to-revision=1"]),
        (["rollout", "undo", f"deploy/{ours}", "--to-revision", "5"],
         ["rollout", "undo", f"deploy/{theirs}", "--to-revision=5"]),
    ]  # fmt: skip
    for our_step, their_step in steps:
        a, b = same(*sh.both_ok(our_step, their_step), ours, theirs)
        assert a == b
        status_ours, status_theirs = sh.both_ok(
            ["rollout", "status", f"deploy/{ours}", "--timeout", "60s"],
            ["rollout", "status", f"deploy/{theirs}", "--timeout=60s"],
        )
        assert same(last_line(status_ours), last_line(status_theirs), ours, theirs)[0] == [
            'deployment "NAME" successfully rolled out'
        ]
        a, b = same(
            *sh.both_ok(
                ["rollout", "history", f"deploy/{ours}"],
                ["rollout", "history", f"deploy/{theirs}"],
            ),
            ours,
            theirs,
        )
        assert a == b

    # 1 -> 2 -> 3, undo to 2 (renumbered 4), to 1 (renumbered 5), then to 5: skipped.
    history = sh.ok("rollout", "history", f"deploy/{ours}").splitlines()
    assert history[1:5] == ["REVISION  CHANGE-CAUSE", "3         <none>", "4         <none>",
                           "5         <none>"]  # fmt: skip
    for revision in ("3", "4", "5"):
        a, b = same(
            *sh.both_ok(
                ["rollout", "history", f"deploy/{ours}", "--revision", revision],
                ["rollout", "history", f"deploy/{theirs}", f"--revision={revision}"],
            ),
            ours,
            theirs,
        )
        assert a == b
    our_obj, their_obj = sh.get("deploy", ours), sh.get("deploy", theirs)
    assert template(our_obj, ours) == template(their_obj, theirs)
    assert our_obj["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1"
    assert our_obj["metadata"]["annotations"] == their_obj["metadata"]["annotations"]

    # An unknown revision: both refuse, and nothing changes.
    mine, kubectl = sh.both(
        ["rollout", "undo", f"deploy/{ours}", "--to-revision", "99"],
        ["rollout", "undo", f"deploy/{theirs}", "--to-revision=99"],
    )
    assert (mine.returncode, kubectl.returncode) == (1, 1)
    assert "unable to find specified revision 99 in history" in kubectl.stderr
    assert mine.stderr.splitlines() == [
        f'kubeops: error: rollout undo deployment.apps/{ours} in namespace "{sh.namespace}": '
        "unable to find specified revision 99 in history (revisions: 3, 4, 5)"
    ]
    assert sh.get("deploy", ours)["metadata"]["generation"] == our_obj["metadata"]["generation"]


def test_statefulset_rollback_matches_kubectl(sh: Shell) -> None:
    ours, theirs = "sts-kubeops", "sts-kubectl"
    for name in (ours, theirs):
        sh.create(workload("StatefulSet", name, "db:1"))
    # kubectl records a change-cause by annotating first: the new revision copies it.
    sh.ctl("annotate", f"sts/{theirs}", "kubernetes.io/change-cause=db 2")
    sh.both_ok(
        ["rollout", "set-image", f"sts/{ours}", "app=db:2", "--change-cause", "db 2"],
        ["set", "image", f"sts/{theirs}", "app=db:2"],
    )
    for args_ours, args_theirs in (
        (["rollout", "status", f"sts/{ours}"], ["rollout", "status", f"sts/{theirs}"]),
        (["rollout", "undo", f"sts/{ours}"], ["rollout", "undo", f"sts/{theirs}"]),
        (["rollout", "status", f"sts/{ours}"], ["rollout", "status", f"sts/{theirs}"]),
        (["rollout", "history", f"sts/{ours}"], ["rollout", "history", f"sts/{theirs}"]),
        (["rollout", "history", f"sts/{ours}", "--revision", "2"],
         ["rollout", "history", f"sts/{theirs}", "--revision=2"]),
    ):  # fmt: skip
        mine, kubectl = sh.both_ok(args_ours, args_theirs)
        assert same(last_line(mine), last_line(kubectl), ours, theirs)
    a, b = same(
        *sh.both_ok(["rollout", "history", f"sts/{ours}"], ["rollout", "history", f"sts/{theirs}"]),
        ours,
        theirs,
    )
    assert a == b
    assert a[1:4] == ["REVISION  CHANGE-CAUSE", "2         db 2", "3         <none>"]
    assert template(sh.get("sts", ours), ours) == template(sh.get("sts", theirs), theirs)


def test_pause_resume_and_restart_match_kubectl(sh: Shell) -> None:
    ours, theirs = "pause-kubeops", "pause-kubectl"
    for name in (ours, theirs):
        sh.create(workload("Deployment", name, "app:1", replicas=1))
    for verb, code in (("pause", 0), ("pause", 1), ("restart", 1), ("resume", 0), ("resume", 1),
                       ("restart", 0)):  # fmt: skip
        mine, kubectl = sh.both(
            ["rollout", verb, f"deploy/{ours}"], ["rollout", verb, f"deploy/{theirs}"]
        )
        assert (mine.returncode, kubectl.returncode) == (code, code), (verb, mine.stderr)
        a, b = same(mine.stdout, kubectl.stdout, ours, theirs)
        assert a == b
        if code:
            assert len(mine.stderr.splitlines()) == 1
            assert mine.stderr.startswith(f"kubeops: error: rollout {verb} deployment.apps/{ours}")
    for name in (ours, theirs):
        obj = sh.get("deploy", name)
        assert not obj["spec"].get("paused")
        assert (
            "kubectl.kubernetes.io/restartedAt"
            in obj["spec"]["template"]["metadata"]["annotations"]
        )
    status = sh.kubeops("rollout", "status", f"deploy/{ours}")
    assert status.stdout == f'deployment "{ours}" successfully rolled out\n'


def test_a_stuck_rollout_fails_like_kubectl_and_shows_progress(sh: Shell) -> None:
    stuck = workload("Deployment", "stuck", "stuck:1", replicas=1, progressDeadlineSeconds=1)
    stuck["spec"]["template"]["spec"]["nodeSelector"] = {"kubeops.test/nowhere": "true"}
    sh.create(stuck)
    mine, kubectl = sh.both(
        ["rollout", "status", "deploy/stuck", "--timeout", "30s"],
        ["rollout", "status", "deploy/stuck", "--timeout=30s"],
    )
    assert (mine.returncode, kubectl.returncode) == (1, 1)
    assert 'deployment "stuck" exceeded its progress deadline' in kubectl.stderr
    assert mine.stdout == ""
    errors = [line for line in mine.stderr.splitlines() if line.startswith("kubeops: error:")]
    assert len(errors) == 1
    assert 'deployment "stuck" exceeded its progress deadline' in errors[0]

    slow = workload("Deployment", "slow", "slow:1", replicas=1)
    slow["spec"]["template"]["spec"]["nodeSelector"] = {"kubeops.test/nowhere": "true"}
    sh.create(slow)
    mine = sh.kubeops("rollout", "status", "deploy/slow", "--timeout", "1s")
    assert mine.returncode == 1
    lines = mine.stderr.splitlines()
    progress = [line for line in lines if line.startswith('Waiting for deployment "slow"')]
    assert progress, lines
    assert progress[-1].endswith("(updated 1/1, ready 0/1, available 0/1)")
    assert lines[-1].startswith("kubeops: error: rollout status deployment.apps/slow")
    assert "timed out after 1s" in lines[-1]
    once = sh.kubeops("rollout", "status", "deploy/slow", "--watch=false", "-o", "json")
    assert once.returncode == 0
    assert json.loads(once.stdout)["done"] is False


def test_scale_matches_kubectl(sh: Shell) -> None:
    ours, theirs = "scale-kubeops", "scale-kubectl"
    for name in (ours, theirs):
        sh.create(workload("Deployment", name, "app:1", replicas=1))
    a, b = same(
        *sh.both_ok(
            ["scale", f"deploy/{ours}", "--replicas", "3", "--timeout", "60s"],
            ["scale", f"deploy/{theirs}", "--replicas=3", "--timeout=60s"],
        ),
        ours,
        theirs,
    )
    assert a == b == ["deployment.apps/NAME scaled"]
    for name in (ours, theirs):
        obj = sh.get("deploy", name)
        assert (obj["spec"]["replicas"], obj["status"]["replicas"]) == (3, 3)

    mine, kubectl = sh.both(
        ["scale", f"deploy/{ours}", "--replicas", "5", "--current-replicas", "2"],
        ["scale", f"deploy/{theirs}", "--replicas=5", "--current-replicas=2"],
    )
    assert (mine.returncode, kubectl.returncode) == (1, 1)
    assert "Expected replicas to be 2, was 3" in kubectl.stderr
    assert mine.stderr.splitlines() == [
        f'kubeops: error: scale deployment.apps/{ours} in namespace "{sh.namespace}": '
        "expected replicas to be 2, was 3"
    ]
    assert sh.get("deploy", ours)["spec"]["replicas"] == 3

    as_json = json.loads(
        sh.ok("scale", f"deploy/{ours}", "--replicas", "2", "--current-replicas", "3", "-o", "json")
    )
    assert (as_json["previous"], as_json["replicas"]) == (3, 2)

    sh.ctl("create", "configmap", "plain")
    mine, kubectl = sh.both(
        ["scale", "configmap/plain", "--replicas", "2"],
        ["scale", "configmap/plain", "--replicas=2"],
    )
    assert (mine.returncode, kubectl.returncode) == (1, 1)
    assert len(mine.stderr.splitlines()) == 1
    assert "configmaps has no scale subresource" in mine.stderr


def test_wait_matches_kubectl(sh: Shell) -> None:
    sh.create(workload("Deployment", "waited", "app:1", replicas=2))
    for condition in ("condition=Available", "jsonpath={.status.readyReplicas}=2"):
        mine, kubectl = sh.both(
            ["wait", "deploy/waited", f"--for={condition}", "--timeout", "60s"],
            ["wait", "deploy/waited", f"--for={condition}", "--timeout=60s"],
        )
        assert (mine.returncode, kubectl.returncode) == (0, 0), mine.stderr
        assert mine.stdout == kubectl.stdout == "deployment.apps/waited condition met\n"
    mine, kubectl = sh.both(
        ["wait", "pods", "-l", "app=waited", "--for=condition=Ready"],
        ["wait", "pods", "-l", "app=waited", "--for=condition=Ready"],
    )
    assert sorted(mine.stdout.splitlines()) == sorted(kubectl.stdout.splitlines())
    assert len(mine.stdout.splitlines()) == 2

    mine, kubectl = sh.both(
        ["wait", "deploy/waited", "--for=condition=Bogus", "--timeout", "1s"],
        ["wait", "deploy/waited", "--for=condition=Bogus", "--timeout=1s"],
    )
    assert (mine.returncode, kubectl.returncode) == (1, 1)
    error = mine.stderr.splitlines()[-1]
    assert error == (
        f'kubeops: error: wait for condition=Bogus on deployment.apps/waited in namespace "{sh.namespace}": '
        "timed out after 1s: it has no Bogus condition (it has Available=True, Progressing=True)"
    )
    assert mine.stderr.splitlines()[0].startswith("waiting for condition=Bogus")  # progress

    mine, kubectl = sh.both(
        ["wait", "deploy/waited", "--for=condition=Available=False", "--timeout", "0"],
        ["wait", "deploy/waited", "--for=condition=Available=False", "--timeout=0"],
    )
    assert (mine.returncode, kubectl.returncode) == (1, 1)
    assert "condition not met" in kubectl.stderr
    assert "condition not met: Available is True" in mine.stderr

    sh.ctl("create", "configmap", "doomed")
    sh.ctl("delete", "configmap", "doomed", "--wait=false")
    mine = sh.kubeops("wait", "cm/doomed", "--for=delete", "-o", "json")
    assert mine.returncode == 0
    [result] = json.loads(mine.stdout) if mine.stdout.startswith("[") else [json.loads(mine.stdout)]
    assert (result["target"], result["met"]) == ("configmap/doomed", True)


def test_json_output_and_one_line_errors(sh: Shell, kube_cluster: Cluster) -> None:
    sh.create(workload("Deployment", "shown", "app:1", replicas=1))
    status = json.loads(sh.ok("rollout", "status", "deploy/shown", "-o", "json"))
    assert status["done"] is True
    assert status["target"] == "deployment.apps/shown"
    updated = json.loads(
        sh.ok(
            "rollout",
            "set-image",
            "deploy/shown",
            "app=app:2",
            "--change-cause",
            "v2",
            "-o",
            "json",
        )
    )
    assert (updated["action"], updated["changed"]) == ("image updated", True)
    sh.ok("rollout", "status", "deploy/shown")
    history = json.loads(sh.ok("rollout", "history", "deploy/shown", "-o", "json"))
    assert [(r["revision"], r["changeCause"]) for r in history["revisions"]] == [
        (1, None),
        (2, "v2"),
    ]
    assert history["revisions"][1]["template"]["spec"]["containers"][0]["image"] == "app:2"
    undone = json.loads(sh.ok("rollout", "undo", "deploy/shown", "-o", "json"))
    assert (undone["action"], undone["revision"]) == ("rolled back", 1)
    for verb, action in (("pause", "paused"), ("resume", "resumed")):
        assert json.loads(sh.ok("rollout", verb, "deploy/shown", "-o", "json"))["action"] == action

    read_only = kube_cluster.service_account_kubeconfig(
        "cli-reader",
        [{"apiGroups": ["apps"], "resources": ["deployments", "replicasets"],
          "verbs": ["get", "list", "watch"]}],
        namespace=sh.namespace,
    )  # fmt: skip
    mine = sh.kubeops("rollout", "restart", "deploy/shown", kubeconfig=str(read_only))
    kubectl = sh.kubectl("rollout", "restart", "deploy/shown", kubeconfig=str(read_only))
    assert (mine.returncode, kubectl.returncode) == (1, 1)
    assert "forbidden" in kubectl.stderr
    assert len(mine.stderr.splitlines()) == 1
    assert mine.stderr.startswith('kubeops: error: patch deployments.apps "shown"')
    assert "Forbidden" in mine.stderr

    bad_input = [
        (["wait", "deploy/shown", "--for=ready"], "unrecognized wait condition 'ready'"),
        (["wait", "deploy/shown", "--for=delete", "--timeout", "soon"], "invalid duration 'soon'"),
        (["rollout", "status", "configmap/x"], "rollout status is not supported for configmaps"),
        (["rollout", "pause", "sts/x"], "pausing is not supported"),
        (["rollout", "set-image", "deploy/shown", "nope=img:1"], "unable to find container named 'nope'"),
        (["rollout", "history", "deploy/shown", "--revision", "9"], "unable to find revision 9"),
        (["rollout", "status", "deploy/ghost"], 'deployments.apps "ghost"'),
    ]  # fmt: skip
    results = sh.many(*(args for args, _ in bad_input))
    for (args, message), result in zip(bad_input, results, strict=True):
        assert result.returncode == 1, args
        assert len(result.stderr.splitlines()) == 1, result.stderr
        assert message in result.stderr
        assert "Traceback" not in result.stderr
