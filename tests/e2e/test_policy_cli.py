"""`kubeops policy test|export|audit` and `kubeops apply --policies` as a kubectl user
types them, each in a process of its own: findings with file and line, every report
format, one-line errors, exit codes 0 (clean), 1 (could not run), 2 (denied); a set
with one denied object applies nothing; the audit of live objects."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import yaml

from kubeops.testenv import Cluster

DATA = Path(__file__).parent / "policy" / "data"
MANIFESTS = DATA / "manifests"
TEAM = DATA / "policies" / "team-label.yaml"
IMAGES = DATA / "policies" / "images.yaml"
BROKEN = DATA / "broken" / "bad-cel.yaml"
GATEKEEPER = DATA / "gatekeeper"


def kubeops(
    *args: str, stdin: str | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kubeops", *args],
        capture_output=True, text=True, timeout=120, check=False, input=stdin, cwd=cwd,
        env={**os.environ, "KUBECONFIG": os.devnull},
    )  # fmt: skip


def rows(stdout: str) -> list[list[str]]:
    """The table's rows, split on runs of spaces (first four columns)."""
    return [line.split()[:4] for line in stdout.splitlines()[1:-1]]


def test_test_reports_findings_with_file_and_line_and_exits_2(tmp_path: Path) -> None:
    done = kubeops("policy", "test", "-f", "manifests/", "--policies", str(TEAM),
                   "--no-builtins", cwd=DATA)  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert done.stderr == ""
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["LOCATION", "OBJECT", "POLICY", "ACTION", "MESSAGE"]
    assert rows(done.stdout) == [
        ["manifests/app.yaml:23", "Deployment/default/worker", "team-label", "Deny"]
    ]
    assert lines[1].endswith("Deployments need a team label")
    assert lines[-1] == "3 objects, 1 policy: 1 denied (1 object)"

    # -n names the namespace of manifests that give none; -f - reads stdin.
    text = (MANIFESTS / "app.yaml").read_text()
    piped = kubeops("policy", "test", "-f", "-", "-n", "shop", "--policies", str(TEAM),
                    "--no-builtins", stdin=text)  # fmt: skip
    assert piped.returncode == 2
    assert rows(piped.stdout) == [["<stdin>:23", "Deployment/shop/worker", "team-label", "Deny"]]

    # --fail-on: warnings gate only when asked; never reports and passes.
    warned = ["policy", "test", "-f", str(MANIFESTS), "--policies", str(IMAGES)]
    latest = tmp_path / "latest.yaml"
    latest.write_text(text.replace("nginx:1.27", "nginx"))
    warned[3] = str(latest)
    done = kubeops(*warned)
    assert done.returncode == 0, done.stderr
    assert [r[2:4] for r in rows(done.stdout)] == [["images", "Warn"], ["images", "Warn"]]
    assert done.stdout.splitlines()[-1] == "3 objects, 1 policy: 2 warnings"
    assert kubeops(*warned, "--fail-on", "warn").returncode == 2
    assert kubeops("policy", "test", "-f", str(MANIFESTS), "--policies", str(TEAM),
                   "--no-builtins", "--fail-on", "never").returncode == 0  # fmt: skip

    # A clean set: exit 0.
    clean = tmp_path / "clean.yaml"
    clean.write_text(text.replace("labels: {app: worker}", "labels: {app: worker, team: x}"))
    done = kubeops("policy", "test", "-f", str(clean), "--policies", str(TEAM), "--no-builtins")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout == "3 objects, 1 policy: no violations\n"


def test_every_report_format_parses() -> None:
    base = ("policy", "test", "-f", str(MANIFESTS), "--policies", str(TEAM), str(IMAGES))
    as_json = kubeops(*base, "-o", "json")
    assert as_json.returncode == 2
    document = json.loads(as_json.stdout)
    assert document["schema"] == "kubeops.io/inspect/v1"
    assert document["policy"]["denied"] == 1
    (finding,) = [f for f in document["findings"] if f["check"] == "team-label"]
    assert finding["location"] == {"file": str(MANIFESTS / "app.yaml"), "line": 23}
    assert finding["policy"]["engine"] == "cel"
    assert finding["policy"]["actions"] == ["Deny"]

    sarif = json.loads(kubeops(*base, "-o", "sarif").stdout)
    run = sarif["runs"][0]
    assert run["tool"]["driver"]["name"] == "kubeops policy"
    (result,) = [r for r in run["results"] if r["ruleId"] == "team-label"]
    region = result["locations"][0]["physicalLocation"]["region"]
    assert region == {"startLine": 23}

    junit = ET.fromstring(kubeops(*base, "-o", "junit").stdout)
    assert junit.get("name") == "kubeops policy"
    assert [f.get("message") for f in junit.iter("failure")] != []
    assert "<html" in kubeops(*base, "-o", "html").stdout.lower()


def test_bad_input_is_one_line_and_exit_1(tmp_path: Path) -> None:
    def one_line(done: subprocess.CompletedProcess[str]) -> str:
        assert done.returncode == 1, done.stdout + done.stderr
        assert done.stdout == ""
        lines = done.stderr.splitlines()
        assert len(lines) == 1, done.stderr
        return lines[0]

    missing = one_line(kubeops("policy", "test", "-f", str(tmp_path / "nope.yaml")))
    assert missing == f"kubeops: error: cannot read manifests from {tmp_path / 'nope.yaml'}: " \
        "no such file or directory"  # fmt: skip
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: [\n")
    assert str(bad_yaml) in one_line(kubeops("policy", "test", "-f", str(bad_yaml)))
    usage = one_line(kubeops("policy", "test", "-f", str(MANIFESTS), "-o", "yaml"))
    assert usage.startswith("kubeops policy test: error: argument -o/--output: invalid choice")
    assert "(see 'kubeops policy test --help')" in usage
    nowhere = kubeops("policy", "test", "-f", str(MANIFESTS), "--policies", str(tmp_path / "no"))
    assert nowhere.returncode == 1
    assert nowhere.stderr.splitlines() == [
        f"{tmp_path / 'no'}: no such file or directory",
        "kubeops: error: 1 problem in the policies; nothing was evaluated",
    ]
    scan = tmp_path / "scan.json"
    scan.write_text("{}")
    assert str(scan) in one_line(
        kubeops("policy", "test", "-f", str(MANIFESTS), "--scan", str(scan))
    )
    assert "give --policies" in one_line(
        kubeops("policy", "test", "-f", str(MANIFESTS), "--no-builtins")
    )
    assert "-A/--all-namespaces does not apply" in one_line(
        kubeops("policy", "test", "-A", "-f", str(MANIFESTS))
    )

    # A policy that cannot be loaded: each problem on its line, nothing evaluated.
    done = kubeops("--context", "prod", "policy", "test", "-f", str(MANIFESTS),
                   "--policies", str(TEAM), str(BROKEN))  # fmt: skip
    assert done.returncode == 1
    assert done.stdout == ""
    first, last = done.stderr.splitlines()
    assert first.startswith(f"{BROKEN}:13: policy broken-cel: spec.validations[0].expression: ")
    assert last == "kubeops: error: 1 problem in the policies; nothing was evaluated"


def test_export_prints_apply_ready_objects(kube_cluster: Cluster) -> None:
    done = kubeops("policy", "export", "--policies", str(TEAM))
    assert done.returncode == 0, done.stderr
    objects = list(yaml.safe_load_all(done.stdout))
    assert [(o["kind"], o["metadata"]["name"]) for o in objects] == [
        ("ValidatingAdmissionPolicy", "team-label"),
        ("ValidatingAdmissionPolicyBinding", "team-label"),
    ]
    listed = json.loads(kubeops("policy", "export", "--policies", str(TEAM), "-o", "json").stdout)
    assert listed["kind"] == "List"
    assert listed["items"] == objects
    # The API server takes them as they are (a server dry run: nothing is registered on
    # the shared cluster).
    applied = kubeops("apply", "-f", "-", "--dry-run", "server",
                      "--kubeconfig", str(kube_cluster.kubeconfig), stdin=done.stdout)  # fmt: skip
    assert applied.returncode == 0, applied.stderr
    assert applied.stdout.splitlines() == [
        "validatingadmissionpolicy/team-label created (server dry run)",
        "validatingadmissionpolicybinding/team-label created (server dry run)",
    ]
    none = kubeops("policy", "export", "--policies", str(IMAGES))
    assert none.returncode == 1
    assert none.stderr.startswith("kubeops: error: no ValidatingAdmissionPolicy in ")


def _exists(cluster: Cluster, namespace: str) -> list[str]:
    found = []
    for path, kind in ((f"/api/v1/namespaces/{namespace}/configmaps", "ConfigMap"),
                       (f"/apis/apps/v1/namespaces/{namespace}/deployments", "Deployment")):  # fmt: skip
        for item in cluster.admin.get(path)["items"]:
            if item["metadata"]["name"] != "kube-root-ca.crt":
                found.append(f"{kind}/{item['metadata']['name']}")
    return sorted(found)


def test_apply_with_policies_applies_nothing_of_a_denied_set_then_all_of_a_good_one(
    kube_cluster: Cluster, kube_namespace: str, tmp_path: Path
) -> None:
    connect = ("--kubeconfig", str(kube_cluster.kubeconfig), "-n", kube_namespace)
    text = (MANIFESTS / "app.yaml").read_text().replace("nginx:1.27", "nginx")
    denied = tmp_path / "app.yaml"
    denied.write_text(text)
    done = kubeops("apply", "-f", str(denied), "--policies", str(TEAM), str(IMAGES), *connect)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stdout == ""
    errors = done.stderr.splitlines()
    assert f"kubeops: denied: {denied}:23: Deployment {kube_namespace}/worker: policy " \
        "team-label: Deployments need a team label" in errors  # fmt: skip
    assert errors[-1] == "kubeops: error: 1 of 3 object(s) denied by policy; nothing was applied"
    assert _exists(kube_cluster, kube_namespace) == []  # not even the ConfigMap before it

    fixed = tmp_path / "fixed.yaml"
    fixed.write_text(text.replace("labels: {app: worker}", "labels: {app: worker, team: x}"))
    done = kubeops("apply", "-f", str(fixed), "--policies", str(TEAM), str(IMAGES), *connect)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "configmap/web-config created", "deployment/web created", "deployment/worker created",
    ]  # fmt: skip
    warnings = done.stderr.splitlines()
    assert len(warnings) == 2
    assert warnings[0].startswith(f"Warning: {fixed}:21: Deployment {kube_namespace}/web: "
                                  'policy images: container "web" image "nginx"')  # fmt: skip
    assert _exists(kube_cluster, kube_namespace) == [
        "ConfigMap/web-config", "Deployment/web", "Deployment/worker",
    ]  # fmt: skip
    # A policy that cannot be loaded stops apply before it connects: exit 1.
    broken = kubeops("apply", "-f", str(fixed), "--policies", str(BROKEN), *connect)
    assert broken.returncode == 1
    assert broken.stderr.splitlines()[-1].endswith("nothing was evaluated")


def test_audit_reports_the_live_objects_that_violate(
    kube_cluster: Cluster, kube_namespace: str
) -> None:
    connect = ("--kubeconfig", str(kube_cluster.kubeconfig), "-n", kube_namespace)
    applied = kubeops("apply", "-f", str(MANIFESTS), *connect)
    assert applied.returncode == 0, applied.stderr
    done = kubeops("policy", "audit", "--policies", str(TEAM), "--no-builtins", *connect)
    assert done.returncode == 2, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["OBJECT", "POLICY", "ACTION", "MESSAGE"]
    assert [line.split()[:3] for line in lines[1:-1]] == [
        [f"Deployment/{kube_namespace}/worker", "team-label", "Deny"]
    ]
    assert lines[-1] == "2 objects, 1 policy: 1 denied (1 object)"  # the policy's kinds only
    as_json = kubeops("policy", "audit", "--policies", str(TEAM), "--no-builtins", "-q",
                      "-o", "json", *connect)  # fmt: skip
    document = json.loads(as_json.stdout)
    assert document["mode"] == "live"
    assert [f["object"]["name"] for f in document["findings"]] == ["worker"]
    assert as_json.stderr == ""
    # --kinds names what to read; a kind the cluster does not serve is one line.
    kinds = kubeops("policy", "audit", "--policies", str(TEAM), "--no-builtins",
                    "--kinds", "configmaps", *connect)  # fmt: skip
    assert kinds.returncode == 0, kinds.stderr
    unknown = kubeops("policy", "audit", "--policies", str(TEAM), "--kinds", "widgets", *connect)
    assert unknown.returncode == 1
    assert unknown.stderr.splitlines()[-1] == (
        "kubeops: error: --kinds: the cluster serves no resource 'widgets'"
    )


def test_audit_serve_audits_on_an_interval_and_logs_each_run(
    kube_cluster: Cluster, kube_namespace: str
) -> None:
    connect = ("--kubeconfig", str(kube_cluster.kubeconfig), "-n", kube_namespace)
    assert kubeops("apply", "-f", str(MANIFESTS), *connect).returncode == 0
    done = kubeops("policy", "audit", "--policies", str(TEAM), "--no-builtins", "--serve",
                   "--runs", "2", "--interval", "100ms", "--listen", "127.0.0.1:0",
                   "--log-format", "json", *connect)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    logged = [json.loads(line) for line in done.stderr.splitlines()]  # each line one object
    serving = next(e for e in logged if e["message"] == "policy audit serving")
    assert serving["url"].startswith("http://127.0.0.1:")
    assert not serving["url"].endswith(":0/")
    audits = [e for e in logged if e["message"] == "audit done"]
    assert [(e["objects"], e["violations"], e["denied"]) for e in audits] == [(2, 1, 1)] * 2
    bad = kubeops("policy", "audit", "--serve", "--interval", "soon", *connect)
    assert bad.returncode == 1
    assert bad.stderr.startswith("kubeops: error: --interval: ")


def test_a_big_set_reports_progress_on_stderr_unless_quiet() -> None:
    configmaps = "".join(
        f"---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c{i}}}\n" for i in range(600)
    )
    base = ("policy", "test", "-f", "-", "--policies", str(TEAM), "--no-builtins")
    done = kubeops(*base, stdin=configmaps)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "600 objects, 1 policy: no violations\n"
    first, last = done.stderr.splitlines()
    assert first == "  600 objects, 1 policy (cel 1)"
    assert last.startswith("  600 objects judged in ")
    assert kubeops(*base, "-q", stdin=configmaps).stderr == ""


def test_one_set_of_every_engine_in_ci_and_in_the_audit(
    kube_cluster: Cluster, kube_namespace: str
) -> None:
    # CEL, conftest Rego, a Gatekeeper constraint in dryrun and a PolicyLibrary.
    mixed = ("--policies", str(DATA / "policies"), str(GATEKEEPER))
    done = kubeops("policy", "test", "-f", str(MANIFESTS), *mixed, "-o", "json")
    assert done.returncode == 2, done.stderr
    document = json.loads(done.stdout)
    assert document["policy"]["engines"] == {"builtin": 1, "cel": 1, "gatekeeper": 1, "rego": 1}
    found = {(f["check"], f["object"]["name"], tuple(f["policy"]["actions"]))
             for f in document["findings"]}  # fmt: skip
    assert found == {
        ("team-label", "worker", ("Deny",)),
        ("main", "worker", ("Warn",)),
        ("deployments-need-owner", "web", ("Audit",)),
        ("deployments-need-owner", "worker", ("Audit",)),
    }
    # Gatekeeper's audit: the dryrun constraint's records on live objects.
    connect = ("--kubeconfig", str(kube_cluster.kubeconfig), "-n", kube_namespace)
    assert kubeops("apply", "-f", str(MANIFESTS), *connect).returncode == 0
    audit = ("policy", "audit", "--policies", str(GATEKEEPER), "--no-builtins", *connect)
    done = kubeops(*audit)
    assert done.returncode == 0, done.stderr  # Audit-only records do not fail by default
    assert [line.split()[:3] for line in done.stdout.splitlines()[1:-1]] == [
        [f"Deployment/{kube_namespace}/web", "deployments-need-owner", "Audit"],
        [f"Deployment/{kube_namespace}/worker", "deployments-need-owner", "Audit"],
    ]
    assert kubeops(*audit, "--fail-on", "any").returncode == 2


def test_a_custom_resource_the_set_declares_cluster_scoped_gets_no_namespace() -> None:
    crd = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: backends.example.com}
spec:
  group: example.com
  scope: SCOPE
  names: {kind: Backend, plural: backends, singular: backend}
  versions: [{name: v1, served: true, storage: true,
              schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}}]
---
apiVersion: example.com/v1
kind: Backend
metadata:
  name: db
  annotations: {url: "postgresql://app:Tq8vZr3kLw9pXe2N@db:5432/app"}
"""
    secrets = DATA / "secrets.yaml"
    for scope, namespace in (("Cluster", None), ("Namespaced", "shop")):
        done = kubeops("policy", "test", "-f", "-", "-n", "shop", "--policies", str(secrets),
                       "-o", "json", stdin=crd.replace("SCOPE", scope))  # fmt: skip
        assert done.returncode == 2, done.stderr
        (finding,) = json.loads(done.stdout)["findings"]
        assert finding["object"] == {
            "apiVersion": "example.com/v1", "kind": "Backend", "namespace": namespace, "name": "db",
        }  # fmt: skip
        assert "Tq8vZr3kLw9pXe2N" not in done.stdout


def test_out_writes_the_report_and_prints_the_table(tmp_path: Path) -> None:
    report = tmp_path / "reports" / "policy.sarif"
    done = kubeops("policy", "test", "-f", str(MANIFESTS), "--policies", str(TEAM),
                   "--no-builtins", "-o", "sarif", "--out", str(report))  # fmt: skip
    assert done.returncode == 2
    assert done.stdout.splitlines()[-1] == "3 objects, 1 policy: 1 denied (1 object)"
    assert done.stderr == f"sarif report: {report}\n"
    assert json.loads(report.read_text())["runs"][0]["results"][0]["ruleId"] == "team-label"
    assert report.stat().st_mode & 0o777 == 0o600
    table = kubeops("policy", "test", "-f", str(MANIFESTS), "--out", str(report))
    assert table.returncode == 1
    assert (
        table.stderr
        == "kubeops: error: --out writes a report: give -o json, junit, sarif or html\n"
    )


def test_a_finding_is_at_its_field_line_in_a_list_too(tmp_path: Path) -> None:
    listed = tmp_path / "list.yaml"
    listed.write_text(
        "apiVersion: v1\nkind: List\nitems:\n"
        "  - {apiVersion: v1, kind: ConfigMap, metadata: {name: a}, data: {x: '1'}}\n"
        "  - apiVersion: v1\n    kind: ConfigMap\n    metadata: {name: b}\n    data:\n"
        "      LOG_LEVEL: info\n"
        "      DATABASE_URL: postgresql://shop:Tq8vZr3kLw9pXe2N@db:5432/shop\n"
    )
    done = kubeops("policy", "test", "-f", str(listed), "--policies", str(DATA / "secrets.yaml"))
    assert done.returncode == 2, done.stderr
    assert rows(done.stdout) == [[f"{listed}:10", "ConfigMap/default/b", "secrets", "Deny"]]
