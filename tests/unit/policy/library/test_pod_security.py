"""The Pod Security Standards, control by control: a Pod that meets restricted,
changed in one field, and the reasons each level gives (as the Pod Security
admission words them)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from kubeops.inspect.checks import security
from kubeops.policy.library import podsecurity
from kubeops.policy.library.base import pod_spec as find_pod_spec

from ._build import container, deployment, pod, pod_spec, run

Object = dict[str, Any]
Change = Callable[[Object], None]


def sc(c: Object) -> Object:
    return c.setdefault("securityContext", {})


def first(spec: Object) -> Object:
    return spec["containers"][0]


def windows(spec: Object, host_process: bool = False) -> None:
    """A valid Windows Pod: none of the Linux-only fields; a HostProcess Pod on the host network."""
    spec["os"] = {"name": "windows"}
    spec["securityContext"] = {}
    for c in spec["containers"]:
        c.pop("securityContext", None)
    if host_process:
        spec["securityContext"]["windowsOptions"] = {"hostProcess": True}
        spec["hostNetwork"] = True


def both(*reasons: str) -> tuple[set[str], set[str]]:
    return set(reasons), set(reasons)


# (id, change to a restricted Pod spec, baseline reasons, restricted reasons)
CASES: list[tuple[str, Change, set[str], set[str]]] = [
    ("compliant", lambda s: None, set(), set()),
    (
        "no-pod-security-context",
        lambda s: s.pop("securityContext"),
        set(),
        {"runAsNonRoot != true", "seccompProfile"},
    ),
    (
        "several-at-once",
        lambda s: (
            s.update(hostNetwork=True, hostIPC=True),
            sc(first(s)).update(privileged=True, allowPrivilegeEscalation=True, runAsUser=0),
        ),
        {"host namespaces", "privileged"},
        {"host namespaces", "privileged", "allowPrivilegeEscalation != false", "runAsUser=0"},
    ),
    (
        "hostProcess-pod",
        lambda s: windows(s, host_process=True),
        {"hostProcess", "host namespaces"},
        {"hostProcess", "host namespaces", "runAsNonRoot != true"},
    ),
    (
        "hostProcess-container",
        lambda s: (
            windows(s),
            s.update(hostNetwork=True),
            sc(first(s)).update(windowsOptions={"hostProcess": True}),
        ),
        {"hostProcess", "host namespaces"},
        {"hostProcess", "host namespaces", "runAsNonRoot != true"},
    ),
    ("hostNetwork", lambda s: s.update(hostNetwork=True), *both("host namespaces")),
    ("hostPID", lambda s: s.update(hostPID=True), *both("host namespaces")),
    ("hostIPC", lambda s: s.update(hostIPC=True), *both("host namespaces")),
    ("hostNetwork-false", lambda s: s.update(hostNetwork=False), set(), set()),
    (
        "privileged",
        lambda s: sc(first(s)).update(privileged=True, allowPrivilegeEscalation=True),
        {"privileged"},
        {"privileged", "allowPrivilegeEscalation != false"},
    ),
    ("privileged-false", lambda s: sc(first(s)).update(privileged=False), set(), set()),
    (
        "add-SYS_ADMIN",
        lambda s: sc(first(s))["capabilities"].update(add=["SYS_ADMIN"]),
        {"non-default capabilities"},
        {"unrestricted capabilities"},
    ),
    (
        "add-CHOWN",
        lambda s: sc(first(s))["capabilities"].update(add=["CHOWN"]),
        set(),
        {"unrestricted capabilities"},
    ),
    (
        "add-lowercase-chown",  # compared verbatim, as the admission does
        lambda s: sc(first(s))["capabilities"].update(add=["chown"]),
        {"non-default capabilities"},
        {"unrestricted capabilities"},
    ),
    (
        "add-NET_BIND_SERVICE",
        lambda s: sc(first(s))["capabilities"].update(add=["NET_BIND_SERVICE"]),
        set(),
        set(),
    ),
    (
        "no-drop-ALL",
        lambda s: sc(first(s)).pop("capabilities"),
        set(),
        {"unrestricted capabilities"},
    ),
    (
        "hostPath",
        lambda s: s.update(volumes=[{"name": "h", "hostPath": {"path": "/var/log"}}]),
        {"hostPath volumes"},
        {"restricted volume types"},
    ),
    (
        "nfs",
        lambda s: s.update(volumes=[{"name": "n", "nfs": {"server": "nfs", "path": "/x"}}]),
        set(),
        {"restricted volume types"},
    ),
    (
        "allowed-volumes",
        lambda s: s.update(
            volumes=[
                {"name": "c", "configMap": {"name": "c"}},
                {"name": "e", "emptyDir": {}},
                {"name": "p", "persistentVolumeClaim": {"claimName": "p"}},
                {"name": "s", "secret": {"secretName": "s"}},
                {"name": "pr", "projected": {"sources": []}},
                {"name": "i", "image": {"reference": "registry.example.com/data:1"}},
            ]
        ),
        set(),
        set(),
    ),
    (
        "hostPort",
        lambda s: first(s).update(ports=[{"containerPort": 80, "hostPort": 8080}]),
        *both("hostPort"),
    ),
    (
        "hostPort-0",
        lambda s: first(s).update(ports=[{"containerPort": 80, "hostPort": 0}]),
        set(),
        set(),
    ),
    (
        "apparmor-unconfined",
        lambda s: s["securityContext"].update(appArmorProfile={"type": "Unconfined"}),
        *both("forbidden AppArmor profile"),
    ),
    (
        "apparmor-localhost",
        lambda s: sc(first(s)).update(
            appArmorProfile={"type": "Localhost", "localhostProfile": "k8s-app"}
        ),
        set(),
        set(),
    ),
    (
        "selinux-type",
        lambda s: sc(first(s)).update(seLinuxOptions={"type": "spc_t"}),
        *both("seLinuxOptions"),
    ),
    (
        "selinux-user",
        lambda s: s["securityContext"].update(seLinuxOptions={"user": "system_u"}),
        *both("seLinuxOptions"),
    ),
    (
        "selinux-container_t",
        lambda s: s["securityContext"].update(seLinuxOptions={"type": "container_t"}),
        set(),
        set(),
    ),
    ("procMount", lambda s: sc(first(s)).update(procMount="Unmasked"), *both("procMount")),
    (
        "procMount-userns",  # relaxed by baseline in a user namespace, never by restricted
        lambda s: (sc(first(s)).update(procMount="Unmasked"), s.update(hostUsers=False)),
        set(),
        {"procMount"},
    ),
    (
        "seccomp-unconfined",
        lambda s: s["securityContext"].update(seccompProfile={"type": "Unconfined"}),
        *both("seccompProfile"),
    ),
    (
        "seccomp-unset",
        lambda s: s["securityContext"].pop("seccompProfile"),
        set(),
        {"seccompProfile"},
    ),
    (
        "seccomp-on-container",
        lambda s: (
            s["securityContext"].pop("seccompProfile"),
            sc(first(s)).update(seccompProfile={"type": "Localhost", "localhostProfile": "p"}),
        ),
        set(),
        set(),
    ),
    (
        "sysctl-unsafe",
        lambda s: s["securityContext"].update(sysctls=[{"name": "kernel.msgmax", "value": "1"}]),
        *both("forbidden sysctls"),
    ),
    (
        "sysctl-safe",
        lambda s: s["securityContext"].update(
            sysctls=[{"name": "net.ipv4.tcp_keepalive_time", "value": "60"}]
        ),
        set(),
        set(),
    ),
    (
        "probe-host",
        lambda s: first(s).update(
            livenessProbe={"httpGet": {"host": "10.0.0.1", "path": "/", "port": 80}}
        ),
        *both("probe or lifecycle host"),
    ),
    (
        "lifecycle-host",
        lambda s: first(s).update(
            lifecycle={"preStop": {"tcpSocket": {"host": "db", "port": 5432}}}
        ),
        *both("probe or lifecycle host"),
    ),
    (
        "escalation-unset",
        lambda s: sc(first(s)).pop("allowPrivilegeEscalation"),
        set(),
        {"allowPrivilegeEscalation != false"},
    ),
    (
        "windows-exempt",  # no escalation, capability or seccomp rules on Windows
        lambda s: (windows(s), s["securityContext"].update(runAsNonRoot=True)),
        set(),
        set(),
    ),
    (
        "runAsNonRoot-unset",
        lambda s: s["securityContext"].pop("runAsNonRoot"),
        set(),
        {"runAsNonRoot != true"},
    ),
    (
        "runAsNonRoot-pod-false",  # a Pod-level false is refused even if containers say true
        lambda s: (
            s["securityContext"].update(runAsNonRoot=False),
            sc(first(s)).update(runAsNonRoot=True),
        ),
        set(),
        {"runAsNonRoot != true"},
    ),
    (
        "runAsNonRoot-on-container",
        lambda s: (
            s["securityContext"].pop("runAsNonRoot"),
            sc(first(s)).update(runAsNonRoot=True),
        ),
        set(),
        set(),
    ),
    (
        "runAsNonRoot-userns",
        lambda s: (s["securityContext"].pop("runAsNonRoot"), s.update(hostUsers=False)),
        set(),
        set(),
    ),
    ("runAsUser-0", lambda s: sc(first(s)).update(runAsUser=0), set(), {"runAsUser=0"}),
    ("runAsUser-1000", lambda s: sc(first(s)).update(runAsUser=1000), set(), set()),
    (
        "init-container",
        lambda s: s.update(
            initContainers=[container("setup", securityContext={"privileged": True})]
        ),
        {"privileged"},
        {"privileged", "allowPrivilegeEscalation != false", "unrestricted capabilities"},
    ),
    (
        "ephemeral-container",
        lambda s: s.update(ephemeralContainers=[{"name": "debug", "image": "busybox:1.36"}]),
        set(),
        {"allowPrivilegeEscalation != false", "unrestricted capabilities"},
    ),
]


def reasons(spec: Object, level: str, meta: Object | None = None) -> set[str]:
    found = find_pod_spec(pod(spec, **({"annotations": meta} if meta else {})))
    assert found is not None
    return {reason for _, reason, _ in podsecurity.evaluate_pod(found, level)}


@pytest.mark.parametrize(
    ("case", "change", "baseline", "restricted"), CASES, ids=[c[0] for c in CASES]
)
def test_each_control(case: str, change: Change, baseline: set[str], restricted: set[str]) -> None:
    spec = pod_spec()
    change(spec)
    assert reasons(spec, "baseline") == baseline
    assert reasons(spec, "restricted") == restricted


def test_every_control_is_exercised() -> None:
    """Each of the admission's checks forbids at least one case above."""
    hit: set[str] = set()
    for _, change, _, _ in CASES:
        spec = pod_spec()
        change(spec)
        found = find_pod_spec(pod(spec))
        assert found is not None
        for level in podsecurity.LEVELS:
            hit |= {control.id for control, _, _ in podsecurity.evaluate_pod(found, level)}
    assert {c.id for c in podsecurity.CONTROLS} <= hit


def test_apparmor_annotations() -> None:
    key = "container.apparmor.security.beta.kubernetes.io/app"
    assert reasons(pod_spec(), "baseline", {key: "unconfined"}) == {"forbidden AppArmor profile"}
    assert reasons(pod_spec(), "baseline", {key: "runtime/default"}) == set()
    assert reasons(pod_spec(), "baseline", {key: "localhost/k8s-app"}) == set()


def test_a_pod_is_judged_as_created() -> None:
    """The API server turns a Pod's AppArmor annotation into the container's field
    before admission, so both are named (a Deployment's template is judged as written)."""
    key = "container.apparmor.security.beta.kubernetes.io/app"
    (violation,) = run("pod-security", pod(pod_spec(), annotations={key: "unconfined"}))
    assert violation.message == (
        'violates PodSecurity "baseline:latest": forbidden AppArmor profiles (container "app" '
        'and annotation must not set AppArmor profile type to "Unconfined", '
        '"container.apparmor.security.beta.kubernetes.io/app="unconfined"")'
    )
    (violation,) = run(
        "pod-security", deployment(template_meta={"annotations": {key: "unconfined"}})
    )
    assert "forbidden AppArmor profile (annotation must not" in violation.message


def test_restricted_replaces_baseline_checks() -> None:
    ids = [c.id for c in podsecurity.controls("restricted")]
    for replaced in (
        "hostPathVolumes",
        "capabilities_baseline",
        "seccompProfile_baseline",
        "procMount",
    ):
        assert replaced not in ids
    baseline = [c.id for c in podsecurity.controls("baseline")]
    assert baseline == sorted(baseline)  # the admission's message order


def test_message_as_the_admission_words_it() -> None:
    spec = pod_spec()
    sc(first(spec)).pop("allowPrivilegeEscalation")
    found = run("pod-security", deployment(spec), settings={"level": "restricted"})
    assert [v.message for v in found] == [
        'violates PodSecurity "restricted:latest": allowPrivilegeEscalation != false '
        '(container "app" must set securityContext.allowPrivilegeEscalation=false)'
    ]
    assert found[0].field_path == "spec.template.spec"
    spec = pod_spec(container("a"), container("b"))
    for c in spec["containers"]:
        c["ports"] = [{"containerPort": 80, "hostPort": 80}, {"containerPort": 81, "hostPort": 81}]
    (violation,) = run("pod-security", pod(spec))
    assert violation.message == (
        'violates PodSecurity "baseline:latest": hostPort (containers "a", "b" use hostPorts 80, 81)'
    )


def test_default_level_is_baseline_and_kinds_without_pods_pass() -> None:
    spec = pod_spec()
    sc(first(spec)).pop("allowPrivilegeEscalation")
    assert run("pod-security", deployment(spec)) == []
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}, "spec": {}}
    assert run("pod-security", service) == []


def test_cronjob_template() -> None:
    spec = pod_spec()
    spec["hostPID"] = True
    cron = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": "c", "namespace": "shop"},
        "spec": {"jobTemplate": {"spec": {"template": {"spec": spec}}}},
    }
    (violation,) = run("pod-security", cron)
    assert violation.field_path == "spec.jobTemplate.spec.template.spec"


# The controls kubeops inspect also has: both sides call one definition, so they agree.
SHARED = [
    ("sec-privileged", "privileged", lambda s: sc(first(s)).update(privileged=True)),
    ("sec-host-network", "host namespaces", lambda s: s.update(hostNetwork=True)),
    ("sec-host-pid", "host namespaces", lambda s: s.update(hostPID=True)),
    (
        "sec-host-path",
        "hostPath volumes",
        lambda s: s.update(volumes=[{"name": "h", "hostPath": {"path": "/data"}}]),
    ),
    (
        "sec-host-port",
        "hostPort",
        lambda s: first(s).update(ports=[{"containerPort": 1, "hostPort": 9}]),
    ),
]


@pytest.mark.parametrize(("check", "reason", "change"), SHARED, ids=[s[0] for s in SHARED])
def test_inspect_and_policy_agree(check: str, reason: str, change: Change) -> None:
    from kubeops.inspect.config import InspectConfig
    from kubeops.inspect.runner import run_checks
    from kubeops.inspect.snapshot import Snapshot

    for changed in (False, True):
        spec = pod_spec()
        if changed:
            change(spec)
        obj = deployment(copy.deepcopy(spec))
        snapshot = Snapshot.from_objects([obj])
        report = run_checks(snapshot, InspectConfig())
        assert check in report.checks_run
        inspected = any(f.check == check for f in report.findings)
        assert inspected is changed
        assert (reason in reasons(spec, "baseline")) is changed


def test_one_definition() -> None:
    assert podsecurity.is_privileged is security.is_privileged
    assert podsecurity.host_path_volumes is security.host_path_volumes
    assert podsecurity.escalation_allowed is security.escalation_allowed
