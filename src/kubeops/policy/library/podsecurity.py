"""The Pod Security Standards, baseline and restricted, as Kubernetes' Pod Security
admission defines them at its latest version (the policy checks of
k8s.io/pod-security-admission for Kubernetes 1.37): one control per check, the
same fields, the same allowed values, the same reason words.

Each control judges a Pod spec (a Pod's, or a workload's template, as the
admission's warnings do) and returns ``(reason, detail)`` when it forbids it.
Where ``kubeops inspect`` judges the same field (privileged, host namespaces,
hostPath volumes, host ports, added capabilities, privilege escalation,
Windows Pods), both call one definition in
:mod:`kubeops.inspect.checks.security`.  A Pod is judged as the API server
stores it (:func:`as_created`: deprecated AppArmor annotations become fields).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from kubeops.inspect.checks.security import (
    added_capabilities,
    dropped_capabilities,
    escalation_allowed,
    host_namespaces,
    host_path_volumes,
    host_ports,
    is_privileged,
    is_windows,
    security_context,
)
from kubeops.policy.library.base import CONTAINER_FIELDS, Check, Finding, PodSpec, pod_spec
from kubeops.policy.library.settings import Environment, Reader
from kubeops.policy.model import Context, Object, Review

LEVELS = ("baseline", "restricted")

Verdict = tuple[str, str] | None  # (reason, detail) when forbidden


def _quote(items: Iterable[str]) -> str:
    return ", ".join(f'"{item}"' for item in items)


def _plural(singular: str, plural: str, count: int) -> str:
    return singular if count == 1 else plural


def _names(kind: str, names: list[str]) -> str:
    return f"{_plural(kind, kind + 's', len(names))} {_quote(names)}"


def _containers(pod: PodSpec) -> list[Object]:
    return [c for _, _, c in pod.containers()]


def _user_namespace(pod: PodSpec) -> bool:
    """``hostUsers: false``: the Pod runs in a user namespace, which relaxes some controls."""
    return pod.spec.get("hostUsers") is False


def _name(container: Object) -> str:
    return str(container.get("name", ""))


# ---------------------------------------------------------------------------
# Baseline
# ---------------------------------------------------------------------------


def host_process(pod: PodSpec) -> Verdict:
    """Windows HostProcess containers: undefined or false."""

    def sets(item: Object) -> bool:
        options = security_context(item).get("windowsOptions") or {}
        return isinstance(options, dict) and options.get("hostProcess") is True

    setters = ["pod"] if sets(pod.spec) else []
    bad = [_name(c) for c in _containers(pod) if sets(c)]
    if bad:
        setters.append(_names("container", bad))
    if setters:
        detail = " and ".join(setters)
        return (
            "hostProcess",
            f"{detail} must not set securityContext.windowsOptions.hostProcess=true",
        )
    return None


def host_namespaces_control(pod: PodSpec) -> Verdict:
    """hostNetwork, hostPID, hostIPC: undefined or false."""
    shared = host_namespaces(pod.spec)
    if shared:
        return "host namespaces", ", ".join(f"{name}=true" for name in shared)
    return None


def privileged(pod: PodSpec) -> Verdict:
    """Privileged containers: undefined or false."""
    bad = [_name(c) for c in _containers(pod) if is_privileged(c)]
    if bad:
        return (
            "privileged",
            f"{_names('container', bad)} must not set securityContext.privileged=true",
        )
    return None


_BASELINE_CAPABILITIES = frozenset(
    {
        "AUDIT_WRITE",
        "CHOWN",
        "DAC_OVERRIDE",
        "FOWNER",
        "FSETID",
        "KILL",
        "MKNOD",
        "NET_BIND_SERVICE",
        "SETFCAP",
        "SETGID",
        "SETPCAP",
        "SETUID",
        "SYS_CHROOT",
    }
)


def capabilities_baseline(pod: PodSpec) -> Verdict:
    """Added capabilities: only the container runtime's default set (compared verbatim)."""
    bad: list[str] = []
    forbidden: set[str] = set()
    for container in _containers(pod):
        extra = [c for c in added_capabilities(container) if c not in _BASELINE_CAPABILITIES]
        if extra:
            bad.append(_name(container))
            forbidden.update(extra)
    if bad:
        return (
            "non-default capabilities",
            f"{_names('container', bad)} must not include {_quote(sorted(forbidden))} "
            "in securityContext.capabilities.add",
        )
    return None


def host_path(pod: PodSpec) -> Verdict:
    """hostPath volumes: none."""
    names = [name for name, _ in host_path_volumes(pod.spec)]
    if names:
        return "hostPath volumes", _names("volume", names)
    return None


def host_ports_control(pod: PodSpec) -> Verdict:
    """Host ports: undefined or 0."""
    bad: list[str] = []
    ports: set[str] = set()
    for container in _containers(pod):
        found = host_ports(container)
        if found:
            bad.append(_name(container))
            ports.update(str(p["hostPort"]) for p in found)
    if bad:
        return (
            "hostPort",
            f"{_names('container', bad)} {_plural('uses', 'use', len(bad))} "
            f"{_plural('hostPort', 'hostPorts', len(ports))} {', '.join(sorted(ports))}",
        )
    return None


_APPARMOR_PREFIX = "container.apparmor.security.beta.kubernetes.io/"


def apparmor(pod: PodSpec) -> Verdict:
    """AppArmor: profile type RuntimeDefault or Localhost (or undefined); the beta
    annotations ``runtime/default``, ``localhost/*`` or empty."""

    def bad_type(item: Object) -> str | None:
        profile = security_context(item).get("appArmorProfile")
        if not isinstance(profile, dict):
            return None
        kind = str(profile.get("type") or "")
        return None if kind in ("RuntimeDefault", "Localhost") else kind

    setters: list[str] = []
    values: set[str] = set()
    if (value := bad_type(pod.spec)) is not None:
        setters.append("pod")
        values.add(value)
    bad: list[str] = []
    for container in _containers(pod):
        if (value := bad_type(container)) is not None:
            bad.append(_name(container))
            values.add(value)
    if bad:
        setters.append(_names("container", bad))
    annotations = pod.meta.get("annotations") or {}
    forbidden = sorted(
        f'{key}="{value}"'
        for key, value in annotations.items()
        if str(key).startswith(_APPARMOR_PREFIX)
        and not (not value or value == "runtime/default" or str(value).startswith("localhost/"))
    )
    listed = sorted(values) + forbidden
    if forbidden:
        setters.append(_plural("annotation", "annotations", len(forbidden)))
    if setters:
        return (
            _plural("forbidden AppArmor profile", "forbidden AppArmor profiles", len(listed)),
            f"{' and '.join(setters)} must not set AppArmor profile type to {_quote(listed)}",
        )
    return None


_SELINUX_TYPES = frozenset({"", "container_t", "container_init_t", "container_kvm_t"})


def selinux(pod: PodSpec) -> Verdict:
    """SELinux: type empty, container_t, container_init_t or container_kvm_t; no user or role."""
    types: set[str] = set()
    set_user = set_role = False

    def valid(item: Object) -> bool:
        nonlocal set_user, set_role
        options = security_context(item).get("seLinuxOptions")
        if not isinstance(options, dict):
            return True
        ok = True
        kind = str(options.get("type") or "")
        if kind not in _SELINUX_TYPES:
            ok = False
            types.add(kind)
        if options.get("user"):
            ok, set_user = False, True
        if options.get("role"):
            ok, set_role = False, True
        return ok

    setters = [] if valid(pod.spec) else ["pod"]
    bad = [_name(c) for c in _containers(pod) if not valid(c)]
    if bad:
        setters.append(_names("container", bad))
    if not setters:
        return None
    data: list[str] = []
    if types:
        data.append(f"{_plural('type', 'types', len(types))} {_quote(sorted(types))}")
    if set_user:
        data.append("user may not be set")
    if set_role:
        data.append("role may not be set")
    return (
        "seLinuxOptions",
        f"{' and '.join(setters)} set forbidden securityContext.seLinuxOptions: {'; '.join(data)}",
    )


def _proc_mount(pod: PodSpec) -> Verdict:
    bad: list[str] = []
    kinds: set[str] = set()
    for container in _containers(pod):
        value = security_context(container).get("procMount")
        if value is not None and value != "Default":
            bad.append(_name(container))
            kinds.add(str(value))
    if bad:
        return (
            "procMount",
            f"{_names('container', bad)} must not set securityContext.procMount to {_quote(sorted(kinds))}",
        )
    return None


def proc_mount_baseline(pod: PodSpec) -> Verdict:
    """/proc mount: Default or undefined, any value in a user namespace (hostUsers: false)."""
    return None if _user_namespace(pod) else _proc_mount(pod)


def _seccomp_type(item: Object) -> str | None:
    profile = security_context(item).get("seccompProfile")
    return str(profile.get("type") or "") if isinstance(profile, dict) else None


def _seccomp(pod: PodSpec, *, required: bool) -> Verdict:
    setters: list[str] = []
    values: set[str] = set()
    pod_set = False
    pod_type = _seccomp_type(pod.spec)
    if pod_type is not None:
        if pod_type in ("RuntimeDefault", "Localhost"):
            pod_set = True
        else:
            setters.append("pod")
            values.add(pod_type)
    explicit: list[str] = []
    implicit: list[str] = []
    for container in _containers(pod):
        kind = _seccomp_type(container)
        if kind is None:
            if not pod_set:
                implicit.append(_name(container))
        elif kind not in ("RuntimeDefault", "Localhost"):
            explicit.append(_name(container))
            values.add(kind)
    if explicit:
        setters.append(_names("container", explicit))
    if setters:
        return (
            "seccompProfile",
            f"{' and '.join(setters)} must not set securityContext.seccompProfile.type "
            f"to {_quote(sorted(values))}",
        )
    if required and implicit:
        return (
            "seccompProfile",
            f"pod or {_names('container', implicit)} must set securityContext.seccompProfile.type "
            'to "RuntimeDefault" or "Localhost"',
        )
    return None


def seccomp_baseline(pod: PodSpec) -> Verdict:
    """Seccomp: RuntimeDefault, Localhost or undefined."""
    return _seccomp(pod, required=False)


_SAFE_SYSCTLS = frozenset(
    {
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range",
        "net.ipv4.ip_unprivileged_port_start",
        "net.ipv4.ip_local_reserved_ports",
        "net.ipv4.tcp_keepalive_time",
        "net.ipv4.tcp_fin_timeout",
        "net.ipv4.tcp_keepalive_intvl",
        "net.ipv4.tcp_keepalive_probes",
        "net.ipv4.tcp_rmem",
        "net.ipv4.tcp_wmem",
        "net.ipv4.tcp_slow_start_after_idle",
        "net.ipv4.tcp_notsent_lowat",
    }
)


def sysctls(pod: PodSpec) -> Verdict:
    """Sysctls: only the namespaced, isolated "safe" set."""
    found = security_context(pod.spec).get("sysctls") or []
    names = [str(s.get("name", "")) for s in found if isinstance(s, dict)]
    forbidden = [n for n in names if n not in _SAFE_SYSCTLS]
    if forbidden:
        return "forbidden sysctls", ", ".join(forbidden)
    return None


def host_probes(pod: PodSpec) -> Verdict:
    """Probes and lifecycle handlers: no ``host`` (they would reach another machine)."""
    bad: set[str] = set()
    hosts: set[str] = set()
    for container in _containers(pod):
        handlers = [container.get(p) for p in ("livenessProbe", "readinessProbe", "startupProbe")]
        lifecycle = container.get("lifecycle") or {}
        if isinstance(lifecycle, dict):
            handlers += [lifecycle.get("postStart"), lifecycle.get("preStop")]
        for handler in handlers:
            if not isinstance(handler, dict):
                continue
            for action in ("httpGet", "tcpSocket"):
                target = handler.get(action)
                if isinstance(target, dict) and target.get("host"):
                    bad.add(_name(container))
                    hosts.add(str(target["host"]))
    if bad:
        return (
            "probe or lifecycle host",
            f"{_names('container', sorted(bad))} {_plural('uses', 'use', len(bad))} "
            f"{_plural('probe or lifecycle host', 'probe or lifecycle hosts', len(hosts))} "
            f"{_quote(sorted(hosts))}",
        )
    return None


# ---------------------------------------------------------------------------
# Restricted
# ---------------------------------------------------------------------------

_ALLOWED_VOLUMES = frozenset(
    {
        "configMap",
        "csi",
        "downwardAPI",
        "emptyDir",
        "ephemeral",
        "image",
        "persistentVolumeClaim",
        "projected",
        "secret",
    }
)
_RESTRICTED_VOLUMES = (
    "hostPath",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "gitRepo",
    "nfs",
    "iscsi",
    "glusterfs",
    "rbd",
    "flexVolume",
    "cinder",
    "cephfs",
    "flocker",
    "fc",
    "azureFile",
    "vsphereVolume",
    "quobyte",
    "azureDisk",
    "photonPersistentDisk",
    "portworxVolume",
    "scaleIO",
    "storageos",
)


def restricted_volumes(pod: PodSpec) -> Verdict:
    """Volumes: only configMap, csi, downwardAPI, emptyDir, ephemeral, image,
    persistentVolumeClaim, projected and secret."""
    bad: list[str] = []
    kinds: set[str] = set()
    for volume in pod.spec.get("volumes") or []:
        if not isinstance(volume, dict):
            continue
        if any(volume.get(k) is not None for k in _ALLOWED_VOLUMES):
            continue
        bad.append(str(volume.get("name", "")))
        kinds.add(next((k for k in _RESTRICTED_VOLUMES if volume.get(k) is not None), "unknown"))
    if bad:
        return (
            "restricted volume types",
            f"{_names('volume', bad)} {_plural('uses', 'use', len(bad))} "
            f"{_plural('restricted volume type', 'restricted volume types', len(kinds))} "
            f"{_quote(sorted(kinds))}",
        )
    return None


def privilege_escalation(pod: PodSpec) -> Verdict:
    """allowPrivilegeEscalation: false on every container (Windows Pods exempt)."""
    if is_windows(pod.spec):
        return None
    bad = [_name(c) for c in _containers(pod) if escalation_allowed(c)]
    if bad:
        return (
            "allowPrivilegeEscalation != false",
            f"{_names('container', bad)} must set securityContext.allowPrivilegeEscalation=false",
        )
    return None


def run_as_non_root(pod: PodSpec) -> Verdict:
    """runAsNonRoot: true on the Pod or every container; none may set false
    (any value in a user namespace)."""
    if _user_namespace(pod):
        return None
    setters: list[str] = []
    pod_value = security_context(pod.spec).get("runAsNonRoot")
    if pod_value is False:
        setters.append("pod")
    explicit: list[str] = []
    implicit: list[str] = []
    for container in _containers(pod):
        own = security_context(container).get("runAsNonRoot")
        if own is False:
            explicit.append(_name(container))
        elif own is None and pod_value is not True:
            implicit.append(_name(container))
    if explicit:
        setters.append(_names("container", explicit))
    if setters:
        return (
            "runAsNonRoot != true",
            f"{' and '.join(setters)} must not set securityContext.runAsNonRoot=false",
        )
    if implicit:
        return (
            "runAsNonRoot != true",
            f"pod or {_names('container', implicit)} must set securityContext.runAsNonRoot=true",
        )
    return None


def run_as_user(pod: PodSpec) -> Verdict:
    """runAsUser: not 0 on the Pod or any container (any value in a user namespace)."""
    if _user_namespace(pod):
        return None
    setters = ["pod"] if security_context(pod.spec).get("runAsUser") == 0 else []
    bad = [_name(c) for c in _containers(pod) if security_context(c).get("runAsUser") == 0]
    if bad:
        setters.append(_names("container", bad))
    if setters:
        return "runAsUser=0", f"{' and '.join(setters)} must not set runAsUser=0"
    return None


def seccomp_restricted(pod: PodSpec) -> Verdict:
    """Seccomp: RuntimeDefault or Localhost, set on the Pod or every container
    (Windows Pods exempt)."""
    return None if is_windows(pod.spec) else _seccomp(pod, required=True)


def capabilities_restricted(pod: PodSpec) -> Verdict:
    """Capabilities: every container drops ALL and adds at most NET_BIND_SERVICE
    (Windows Pods exempt)."""
    if is_windows(pod.spec):
        return None
    missing_drop: list[str] = []
    adding: list[str] = []
    forbidden: set[str] = set()
    for container in _containers(pod):
        if "ALL" not in dropped_capabilities(container):
            missing_drop.append(_name(container))
        extra = [c for c in added_capabilities(container) if c != "NET_BIND_SERVICE"]
        if extra:
            adding.append(_name(container))
            forbidden.update(extra)
    details: list[str] = []
    if missing_drop:
        details.append(
            f'{_names("container", missing_drop)} must set securityContext.capabilities.drop=["ALL"]'
        )
    if adding:
        details.append(
            f"{_names('container', adding)} must not include {_quote(sorted(forbidden))} "
            "in securityContext.capabilities.add"
        )
    return ("unrestricted capabilities", "; ".join(details)) if details else None


def proc_mount_restricted(pod: PodSpec) -> Verdict:
    """/proc mount: Default or undefined, even in a user namespace."""
    return _proc_mount(pod)


@dataclass(frozen=True)
class Control:
    """One Pod Security check: its ID (as the admission names it) and level."""

    id: str
    level: str
    judge: Callable[[PodSpec], Verdict]
    replaces: str = ""  # the baseline check a restricted one overrides


CONTROLS: tuple[Control, ...] = (
    Control("windowsHostProcess", "baseline", host_process),
    Control("hostNamespaces", "baseline", host_namespaces_control),
    Control("privileged", "baseline", privileged),
    Control("capabilities_baseline", "baseline", capabilities_baseline),
    Control("hostPathVolumes", "baseline", host_path),
    Control("hostPorts", "baseline", host_ports_control),
    Control("appArmorProfile", "baseline", apparmor),
    Control("seLinuxOptions", "baseline", selinux),
    Control("procMount", "baseline", proc_mount_baseline),
    Control("seccompProfile_baseline", "baseline", seccomp_baseline),
    Control("sysctls", "baseline", sysctls),
    Control("hostProbesAndHostLifecycle", "baseline", host_probes),
    Control("restrictedVolumes", "restricted", restricted_volumes, "hostPathVolumes"),
    Control("allowPrivilegeEscalation", "restricted", privilege_escalation),
    Control("runAsNonRoot", "restricted", run_as_non_root),
    Control("runAsUser", "restricted", run_as_user),
    Control(
        "seccompProfile_restricted", "restricted", seccomp_restricted, "seccompProfile_baseline"
    ),
    Control(
        "capabilities_restricted", "restricted", capabilities_restricted, "capabilities_baseline"
    ),
    Control("procMount_restricted", "restricted", proc_mount_restricted, "procMount"),
)


def controls(level: str) -> tuple[Control, ...]:
    """The checks a level runs, in the admission's order (baseline IDs sorted, then
    restricted IDs sorted): baseline's, or restricted's with the baseline checks it
    overrides left out."""
    ordered = sorted(CONTROLS, key=lambda c: (c.level != "baseline", c.id))
    if level == "baseline":
        return tuple(c for c in ordered if c.level == "baseline")
    replaced = {c.replaces for c in CONTROLS if c.replaces}
    return tuple(c for c in ordered if c.id not in replaced)


def evaluate_pod(pod: PodSpec, level: str) -> list[tuple[Control, str, str]]:
    """Every control of ``level`` that forbids ``pod``: (control, reason, detail)."""
    found: list[tuple[Control, str, str]] = []
    for control in controls(level):
        verdict = control.judge(pod)
        if verdict is not None:
            found.append((control, *verdict))
    return found


def _apparmor_field(annotation: str) -> Object | None:
    if annotation == "runtime/default":
        return {"type": "RuntimeDefault"}
    if annotation == "unconfined":
        return {"type": "Unconfined"}
    name = annotation.removeprefix("localhost/")
    if annotation.startswith("localhost/") and name.strip():
        return {"type": "Localhost", "localhostProfile": name}
    return None


def as_created(pod: PodSpec) -> PodSpec:
    """The Pod spec as the API server stores a new Pod before admission judges it: a
    container with a deprecated AppArmor annotation and no ``appArmorProfile``
    gets the field the annotation means (unless it equals the Pod's own)."""
    annotations = pod.meta.get("annotations") or {}
    if is_windows(pod.spec) or not isinstance(annotations, dict):
        return pod
    pod_profile = security_context(pod.spec).get("appArmorProfile")
    spec = copy.deepcopy(pod.spec)
    for field_name, _ in CONTAINER_FIELDS:
        for container in spec.get(field_name) or []:
            if not isinstance(container, dict):
                continue
            annotation = annotations.get(_APPARMOR_PREFIX + str(container.get("name", "")))
            if not isinstance(annotation, str) or security_context(container).get(
                "appArmorProfile"
            ):
                continue
            profile = _apparmor_field(annotation)
            if profile is not None and profile != pod_profile:
                context = container.get("securityContext")
                if not isinstance(context, dict):
                    context = container["securityContext"] = {}
                context["appArmorProfile"] = profile
    return PodSpec(spec, pod.meta, pod.path)


def configure(settings: Reader, environment: Environment) -> Check:
    """The pod-security check: ``level`` baseline (default) or restricted."""
    settings.only(("level",))
    level = settings.string("level", "baseline", LEVELS)

    def check(review: Review, context: Context) -> list[Finding]:
        pod = pod_spec(review.subject)
        if pod is None:
            return []
        if review.kind.kind == "Pod":
            pod = as_created(pod)
        return [
            Finding(f'violates PodSecurity "{level}:latest": {reason} ({detail})', pod.path)
            for _, reason, detail in evaluate_pod(pod, level)
        ]

    return check
