"""The security checks on manifests: which settings count, where they may be set
(Pod or container level), and the severity each finding gets."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from kubeops.inspect.catalog import catalog
from kubeops.inspect.checks.security import capability_name, sensitive_host_path
from kubeops.inspect.config import InspectConfig
from kubeops.inspect.model import Severity
from kubeops.inspect.runner import run_checks
from kubeops.inspect.snapshot import Snapshot

Object = dict[str, Any]
NOW = datetime.datetime(2025, 6, 1, tzinfo=datetime.UTC)
SECURITY_CHECKS = {
    "sec-run-as-root",
    "sec-privileged",
    "sec-privilege-escalation",
    "sec-host-network",
    "sec-host-pid",
    "sec-host-ipc",
    "sec-host-path",
    "sec-capabilities-added",
    "sec-default-serviceaccount",
    "sec-automount-token",
    "sec-writable-root-fs",
    "sec-host-port",
}


def findings(objects: list[Object], check: str) -> list[tuple[str, str, Severity]]:
    result = run_checks(Snapshot.from_objects(objects), InspectConfig(), now=NOW)
    assert check in result.checks_run, result.not_run
    return sorted(
        (f.object.name, f.message, f.severity) for f in result.findings if f.check == check
    )


def names(objects: list[Object], check: str) -> list[str]:
    return [n for n, _, _ in findings(objects, check)]


def container(name: str = "app", **security: Any) -> Object:
    return {"name": name, "image": "app:1", "securityContext": security}


def workload(name: str, *containers: Object, kind: str = "Deployment", **spec: Any) -> Object:
    body_spec: Object = {"containers": list(containers) or [container()], **spec}
    if kind == "Pod":
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": "ns"},
            "spec": body_spec,
        }
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": {"name": name, "namespace": "ns"},
        "spec": {"template": {"spec": body_spec}},
    }


def test_every_security_check_is_static_on_podspecs() -> None:
    for check_id in SECURITY_CHECKS:
        check = catalog()[check_id]
        assert check.category == "security", check_id
        assert check.static, check_id
        assert check.subject == "podspecs", check_id


def test_checks_tolerate_missing_fields() -> None:
    objects = [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "empty", "namespace": "ns"},
        },
        workload("bare", {"name": "x"}),
        workload(
            "nulls",
            {"name": "x", "securityContext": None, "ports": None},
            volumes=None,
            securityContext=None,
        ),
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": "default", "namespace": "ns"},
        },
    ]
    result = run_checks(Snapshot.from_objects(objects), InspectConfig(), now=NOW)
    assert not [n for n in result.not_run if n.check in SECURITY_CHECKS]
    assert set(result.checks_run) >= SECURITY_CHECKS


def test_run_as_root_levels() -> None:
    objects = [
        workload("nothing", container()),
        workload("pod-level", container(), securityContext={"runAsNonRoot": True}),
        workload("pod-user", container(), securityContext={"runAsUser": 1000}),
        workload("container-level", container(runAsNonRoot=True)),
        # The container's settings override the Pod's.
        workload(
            "override-false", container(runAsNonRoot=False), securityContext={"runAsNonRoot": True}
        ),
        workload("override-root", container(runAsUser=0), securityContext={"runAsUser": 1000}),
        workload("override-user", container(runAsUser=1000), securityContext={"runAsUser": 0}),
        workload("pod-root", container(), securityContext={"runAsUser": 0, "runAsNonRoot": True}),
        workload("init", container(runAsNonRoot=True), initContainers=[container("setup")]),
        workload("windows", container(), os={"name": "windows"}),
    ]
    assert findings(objects, "sec-run-as-root") == [
        (
            "init",
            'init container "setup" may run as root (no runAsNonRoot: true and no non-zero runAsUser)',
            Severity.WARNING,
        ),
        (
            "nothing",
            'container "app" may run as root (no runAsNonRoot: true and no non-zero runAsUser)',
            Severity.WARNING,
        ),
        (
            "override-false",
            'container "app" may run as root (runAsNonRoot is false and no non-zero runAsUser)',
            Severity.WARNING,
        ),
        ("override-root", 'container "app" runs as root (runAsUser 0)', Severity.ERROR),
        ("pod-root", 'container "app" runs as root (runAsUser 0)', Severity.ERROR),
    ]


def test_privileged_and_escalation() -> None:
    objects = [
        workload("privileged", container(privileged=True)),
        workload("not", container(privileged=False, allowPrivilegeEscalation=False)),
        workload("escalates", container(allowPrivilegeEscalation=True)),
    ]
    assert names(objects, "sec-privileged") == ["privileged"]
    assert findings(objects, "sec-privilege-escalation") == [
        ("escalates", 'container "app" sets allowPrivilegeEscalation: true', Severity.WARNING),
        (
            "privileged",
            'container "app" does not set allowPrivilegeEscalation: false',
            Severity.WARNING,
        ),
    ]


@pytest.mark.parametrize(
    ("check", "field"),
    [("sec-host-network", "hostNetwork"), ("sec-host-pid", "hostPID"), ("sec-host-ipc", "hostIPC")],
)
def test_host_namespaces(check: str, field: str) -> None:
    objects = [
        workload("on", **{field: True}),
        workload("pod", kind="Pod", **{field: True}),
        workload("off", **{field: False}),
        workload("unset"),
    ]
    found = findings(objects, check)
    assert [n for n, _, _ in found] == ["on", "pod"]
    assert found[0][1].startswith("the Pod template shares the node's")
    assert found[1][1].endswith(f"({field}: true)")


@pytest.mark.parametrize(
    ("path", "sensitive"),
    [
        ("/", True),
        ("/etc", True),
        ("/etc/ssl/certs", True),
        ("/var/run/docker.sock", True),
        ("/run/containerd/containerd.sock", True),
        ("/var/lib/kubelet/pods", True),
        ("/var", True),  # contains /var/run and /var/lib/kubelet
        ("/var/lib", True),
        ("/proc/", True),
        ("//etc", True),
        ("/data/../etc", True),
        ("/var/log", False),
        ("/var/lib/app-data", False),
        ("/etcetera", False),
        ("/data", False),
        ("/opt/cni/bin", False),
    ],
)
def test_sensitive_host_paths(path: str, sensitive: bool) -> None:
    assert sensitive_host_path(path) is sensitive


def test_host_path_severity() -> None:
    objects = [
        workload(
            "paths",
            volumes=[
                {"name": "logs", "hostPath": {"path": "/var/log", "type": "Directory"}},
                {"name": "sock", "hostPath": {"path": "/run/containerd/containerd.sock"}},
                {"name": "tmp", "emptyDir": {}},
            ],
        )
    ]
    assert findings(objects, "sec-host-path") == [
        ("paths", 'volume "logs" mounts host path "/var/log"', Severity.WARNING),
        (
            "paths",
            'volume "sock" mounts host path "/run/containerd/containerd.sock" (a sensitive node path)',
            Severity.ERROR,
        ),
    ]


def test_capability_names() -> None:
    assert capability_name("cap_sys_admin") == "SYS_ADMIN"
    assert capability_name(" NET_RAW ") == "NET_RAW"


def test_capabilities_severity() -> None:
    objects = [
        workload("admin", container(capabilities={"add": ["CAP_SYS_ADMIN"]})),
        workload("net-admin", container(capabilities={"add": ["net_admin"]})),
        workload("all", container(capabilities={"add": ["ALL"]})),
        workload("raw", container(capabilities={"add": ["NET_RAW", "NET_RAW"]})),
        workload("bind", container(capabilities={"add": ["NET_BIND_SERVICE"]})),
        workload("drop-only", container(capabilities={"drop": ["ALL"]})),
        workload("empty", container(capabilities={"add": None})),
    ]
    assert findings(objects, "sec-capabilities-added") == [
        ("admin", 'container "app" adds capabilities SYS_ADMIN', Severity.ERROR),
        ("all", 'container "app" adds capabilities ALL', Severity.ERROR),
        ("bind", 'container "app" adds capabilities NET_BIND_SERVICE', Severity.INFO),
        ("net-admin", 'container "app" adds capabilities NET_ADMIN', Severity.ERROR),
        ("raw", 'container "app" adds capabilities NET_RAW', Severity.WARNING),
    ]


def test_default_service_account() -> None:
    objects = [
        workload("unset"),
        workload("empty", serviceAccountName=""),
        workload("default", serviceAccountName="default"),
        workload("legacy-default", serviceAccount="default"),
        workload("own", serviceAccountName="app"),
        workload("legacy-own", serviceAccount="app"),
    ]
    assert names(objects, "sec-default-serviceaccount") == [
        "default",
        "empty",
        "legacy-default",
        "unset",
    ]


def test_automount_follows_pod_then_service_account() -> None:
    def account(name: str, automount: bool | None, namespace: str = "ns") -> Object:
        body: Object = {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": name, "namespace": namespace},
        }
        if automount is not None:
            body["automountServiceAccountToken"] = automount
        return body

    objects = [
        account("quiet", False),
        account("loud", None),
        account("elsewhere", False, namespace="other"),
        workload("pod-off", automountServiceAccountToken=False),
        workload("pod-on", serviceAccountName="quiet", automountServiceAccountToken=True),
        workload("account-off", serviceAccountName="quiet"),
        workload("account-on", serviceAccountName="loud"),
        # Another namespace's ServiceAccount of that name does not count.
        workload("unknown", serviceAccountName="elsewhere"),
        workload("default"),
    ]
    found = findings(objects, "sec-automount-token")
    assert [n for n, _, _ in found] == ["account-on", "default", "pod-on", "unknown"]
    assert found[3][1] == (
        'the Pod template does not set automountServiceAccountToken: false, so the "elsewhere" ServiceAccount token is mounted'
    )


def test_automount_runs_without_service_accounts_in_the_manifests() -> None:
    assert names([workload("w")], "sec-automount-token") == ["w"]


def test_writable_root_filesystem() -> None:
    objects = [
        workload("read-only", container(readOnlyRootFilesystem=True)),
        workload("writable", container(readOnlyRootFilesystem=False)),
        workload(
            "unset", container(readOnlyRootFilesystem=True), initContainers=[container("setup")]
        ),
    ]
    assert findings(objects, "sec-writable-root-fs") == [
        ("unset", 'init container "setup" has a writable root filesystem', Severity.INFO),
        ("writable", 'container "app" has a writable root filesystem', Severity.INFO),
    ]


def test_host_ports() -> None:
    ports = [{"containerPort": 53, "hostPort": 53, "protocol": "UDP"}, {"containerPort": 8080}]
    objects = [
        workload("host-port", {"name": "dns", "ports": ports}),
        workload("host-network", {"name": "dns", "ports": ports}, hostNetwork=True),
        workload("zero", {"name": "dns", "ports": [{"containerPort": 80, "hostPort": 0}]}),
    ]
    assert findings(objects, "sec-host-port") == [
        (
            "host-port",
            'container "dns" binds host port 53/UDP (container port 53)',
            Severity.WARNING,
        ),
    ]


def test_workloads_and_their_pods_are_judged_once() -> None:
    deployment = workload("web", container(privileged=True))
    replica_set = workload("web-1", container(privileged=True), kind="ReplicaSet")
    replica_set["metadata"]["ownerReferences"] = [
        {"kind": "Deployment", "name": "web", "controller": True}
    ]
    pod = workload("web-1-x", container(privileged=True), kind="Pod")
    pod["metadata"]["ownerReferences"] = [
        {"kind": "ReplicaSet", "name": "web-1", "controller": True}
    ]
    assert names([deployment, replica_set, pod], "sec-privileged") == ["web"]
