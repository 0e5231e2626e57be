"""Security: what a Pod spec lets its containers do to the node and the cluster
(root, privileges, host namespaces and paths, capabilities, API credentials).

Every check judges Pod templates once (a Deployment rather than each of its
Pods) from the spec alone, so they all run on manifests too.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from kubeops.inspect.catalog import CheckContext, Hit, PodSpecOwner, register_check
from kubeops.inspect.checks.fields import container_label, namespace
from kubeops.inspect.model import Severity

if TYPE_CHECKING:
    from kubeops.api import Object


# ---------------------------------------------------------------------------
# The definitions: pure functions of a Pod spec or a container, shared with the
# policy library's Pod Security Standards so both judge a field the same way.
# ---------------------------------------------------------------------------

HOST_NAMESPACES = ("hostNetwork", "hostPID", "hostIPC")


def security_context(item: Object) -> Object:
    """A container's (or a Pod spec's) ``securityContext``, {} when absent or malformed."""
    value = item.get("securityContext")
    return value if isinstance(value, dict) else {}


def is_windows(spec: Object) -> bool:
    """Whether a Pod spec says it runs on Windows (``spec.os.name``): Windows Pods have
    none of the Linux user, privilege, capability or seccomp controls."""
    os_field = spec.get("os")
    return isinstance(os_field, dict) and str(os_field.get("name") or "").lower() == "windows"


def is_privileged(container: Object) -> bool:
    """Whether a container sets ``securityContext.privileged: true``."""
    return security_context(container).get("privileged") is True


def host_namespaces(spec: Object) -> list[str]:
    """The host namespaces a Pod spec shares: ``hostNetwork``, ``hostPID``, ``hostIPC``."""
    return [field for field in HOST_NAMESPACES if spec.get(field) is True]


def host_path_volumes(spec: Object) -> list[tuple[str, str]]:
    """(volume name, host path) of every hostPath volume of a Pod spec."""
    found: list[tuple[str, str]] = []
    for volume in spec.get("volumes") or []:
        if isinstance(volume, dict) and isinstance(volume.get("hostPath"), dict):
            found.append((str(volume.get("name", "")), str(volume["hostPath"].get("path") or "")))
    return found


def host_ports(container: Object) -> list[Object]:
    """The container's ports that bind a host port (``hostPort`` set and not 0)."""
    return [p for p in container.get("ports") or [] if isinstance(p, dict) and p.get("hostPort")]


def added_capabilities(container: Object) -> list[str]:
    """``securityContext.capabilities.add`` exactly as written (the Pod Security
    Standards compare them verbatim; :func:`capability_name` normalises for people)."""
    capabilities = security_context(container).get("capabilities") or {}
    return [str(c) for c in capabilities.get("add") or [] if str(c).strip()]


def dropped_capabilities(container: Object) -> list[str]:
    """``securityContext.capabilities.drop`` exactly as written."""
    capabilities = security_context(container).get("capabilities") or {}
    return [str(c) for c in capabilities.get("drop") or []]


def escalation_allowed(container: Object) -> bool:
    """Whether a container may gain privileges: anything but an explicit
    ``allowPrivilegeEscalation: false``."""
    return security_context(container).get("allowPrivilegeEscalation") is not False


def run_as(spec: Object, container: Object) -> tuple[Any, Any]:
    """The (``runAsUser``, ``runAsNonRoot``) a container runs with: its own, else the Pod's."""
    pod, own = security_context(spec), security_context(container)
    user = own.get("runAsUser", pod.get("runAsUser"))
    non_root = own.get("runAsNonRoot")
    return user, pod.get("runAsNonRoot") if non_root is None else non_root


def _context(container: Object) -> Object:
    return security_context(container)


def _windows(owner: PodSpecOwner) -> bool:
    return is_windows(owner.spec)


def _what(owner: PodSpecOwner) -> str:
    return "the Pod" if owner.obj.get("kind") == "Pod" else "the Pod template"


@register_check(
    "sec-run-as-root",
    title="Container may run as root",
    category="security",
    severity=Severity.WARNING,
    subject="podspecs",
    static=True,
    rationale="A process running as root in a container is root on the node as soon as it escapes (a kernel or runtime bug, a host mount); without `runAsNonRoot: true` or a non-zero `runAsUser`, the image's user applies, and that is usually root. An explicit `runAsUser: 0` is an error.",
    remediation="Set `securityContext.runAsNonRoot: true` (Pod or container level) and a non-zero `runAsUser`, and build images that run as a non-root USER.",
)
def run_as_root(ctx: CheckContext) -> Iterator[Hit]:
    for owner in ctx.pod_specs():
        if _windows(owner):
            continue
        for kind, c in owner.containers():
            user, non_root = run_as(owner.spec, c)
            if user == 0:
                yield Hit(
                    owner.obj,
                    f"{container_label(kind, c)} runs as root (runAsUser 0)",
                    Severity.ERROR,
                )
            elif not (isinstance(user, int) and user > 0) and non_root is not True:
                given = "runAsNonRoot is false" if non_root is False else "no runAsNonRoot: true"
                yield Hit(
                    owner.obj,
                    f"{container_label(kind, c)} may run as root ({given} and no non-zero runAsUser)",
                )


@register_check(
    "sec-privileged",
    title="Privileged container",
    category="security",
    severity=Severity.ERROR,
    subject="podspecs",
    static=True,
    rationale="A privileged container has every capability and every host device: it is root on the node, and from there on every Pod the node runs.",
    remediation="Remove `securityContext.privileged: true`; grant only the capabilities the container really needs. Run the few node agents that must be privileged in a namespace of their own and exclude them explicitly.",
)
def privileged(ctx: CheckContext) -> Iterator[Hit]:
    for owner in ctx.pod_specs():
        for kind, c in owner.containers():
            if is_privileged(c):
                yield Hit(owner.obj, f"{container_label(kind, c)} is privileged")


@register_check(
    "sec-privilege-escalation",
    title="Privilege escalation allowed",
    category="security",
    severity=Severity.WARNING,
    subject="podspecs",
    static=True,
    rationale="Unless `allowPrivilegeEscalation` is false, a process can gain more privileges than its parent (setuid binaries, file capabilities), undoing `runAsNonRoot` and dropped capabilities.",
    remediation="Set `securityContext.allowPrivilegeEscalation: false` on every container.",
)
def privilege_escalation(ctx: CheckContext) -> Iterator[Hit]:
    for owner in ctx.pod_specs():
        if _windows(owner):
            continue
        for kind, c in owner.containers():
            if escalation_allowed(c):
                value = _context(c).get("allowPrivilegeEscalation")
                state = (
                    "sets allowPrivilegeEscalation: true"
                    if value is True
                    else "does not set allowPrivilegeEscalation: false"
                )
                yield Hit(owner.obj, f"{container_label(kind, c)} {state}")


def _host_namespace(ctx: CheckContext, field: str, what: str) -> Iterator[Hit]:
    for owner in ctx.pod_specs():
        if field in host_namespaces(owner.spec):
            yield Hit(owner.obj, f"{_what(owner)} shares the node's {what} ({field}: true)")


@register_check(
    "sec-host-network",
    title="Pod uses the host network",
    category="security",
    severity=Severity.WARNING,
    subject="podspecs",
    static=True,
    rationale="With hostNetwork the Pod sees every interface of the node, can bind its ports and reach services listening on localhost, and bypasses NetworkPolicies.",
    remediation="Remove `hostNetwork: true`; expose the Pod through a Service instead. Network agents that need it belong in a namespace excluded from this check.",
)
def host_network(ctx: CheckContext) -> Iterator[Hit]:
    yield from _host_namespace(ctx, "hostNetwork", "network namespace")


@register_check(
    "sec-host-pid",
    title="Pod uses the host PID namespace",
    category="security",
    severity=Severity.ERROR,
    subject="podspecs",
    static=True,
    rationale="With hostPID the containers see, and as root can signal or ptrace, every process of the node, including other Pods' and the kubelet.",
    remediation="Remove `hostPID: true`.",
)
def host_pid(ctx: CheckContext) -> Iterator[Hit]:
    yield from _host_namespace(ctx, "hostPID", "process namespace")


@register_check(
    "sec-host-ipc",
    title="Pod uses the host IPC namespace",
    category="security",
    severity=Severity.ERROR,
    subject="podspecs",
    static=True,
    rationale="With hostIPC the containers can read and write the shared memory and message queues of every process on the node.",
    remediation="Remove `hostIPC: true`.",
)
def host_ipc(ctx: CheckContext) -> Iterator[Hit]:
    yield from _host_namespace(ctx, "hostIPC", "IPC namespace")


# Host paths whose mount hands over the node: its configuration, kernel interfaces,
# devices, container runtime sockets and kubelet credentials (and anything above).
_SENSITIVE_PATHS = (
    "/etc",
    "/proc",
    "/sys",
    "/dev",
    "/boot",
    "/root",
    "/run",
    "/var/run",
    "/var/lib/kubelet",
    "/var/lib/docker",
    "/var/lib/containerd",
    "/var/lib/etcd",
)


def sensitive_host_path(path: str) -> bool:
    """Whether mounting ``path`` exposes the node: one of the sensitive paths, a path
    under one, or a directory containing one (``/``, ``/var``)."""
    clean = posixpath.normpath("/" + path.strip())
    if clean.startswith("//"):
        clean = clean[1:]
    for sensitive in _SENSITIVE_PATHS:
        if clean == sensitive or clean.startswith(sensitive + "/"):
            return True
        if sensitive.startswith(clean.rstrip("/") + "/"):
            return True
    return False


@register_check(
    "sec-host-path",
    title="Pod mounts a host path",
    category="security",
    severity=Severity.WARNING,
    subject="podspecs",
    static=True,
    rationale="A hostPath volume gives the container the node's files: it can read other Pods' data and secrets, or write where the node trusts what it finds. Mounting `/`, `/etc`, `/proc`, `/sys`, `/dev`, `/var/lib/kubelet` or a container runtime socket (under `/run`, `/var/run`) is an error.",
    remediation="Use a PersistentVolumeClaim, a ConfigMap, a Secret or an emptyDir instead; if a node agent really needs the path, mount it read-only and as narrowly as possible.",
)
def host_path(ctx: CheckContext) -> Iterator[Hit]:
    for owner in ctx.pod_specs():
        for name, path in host_path_volumes(owner.spec):
            risky = sensitive_host_path(path)
            yield Hit(
                owner.obj,
                f'volume "{name}" mounts host path "{path}"'
                + (" (a sensitive node path)" if risky else ""),
                Severity.ERROR if risky else None,
            )


# Capabilities that amount to root on the node or control of its network or kernel.
DANGEROUS_CAPABILITIES = frozenset(
    {
        "ALL",
        "SYS_ADMIN",
        "NET_ADMIN",
        "SYS_MODULE",
        "SYS_PTRACE",
        "SYS_RAWIO",
        "SYS_BOOT",
        "DAC_READ_SEARCH",
        "BPF",
    }
)
# The one capability the Restricted Pod Security Standard allows adding.
HARMLESS_CAPABILITIES = frozenset({"NET_BIND_SERVICE"})


def capability_name(name: str) -> str:
    """``cap_sys_admin`` and ``SYS_ADMIN`` are the same capability."""
    return str(name).strip().upper().removeprefix("CAP_")


@register_check(
    "sec-capabilities-added",
    title="Container adds Linux capabilities",
    category="security",
    severity=Severity.WARNING,
    subject="podspecs",
    static=True,
    rationale="Every added capability widens what a compromised container can do to the node. SYS_ADMIN, NET_ADMIN, ALL and the other escape-grade capabilities (SYS_MODULE, SYS_PTRACE, SYS_RAWIO, SYS_BOOT, DAC_READ_SEARCH, BPF) are errors; NET_BIND_SERVICE alone is informational.",
    remediation="Remove `securityContext.capabilities.add` entries the process does not need; drop ALL and add back only what is required.",
)
def capabilities_added(ctx: CheckContext) -> Iterator[Hit]:
    for owner in ctx.pod_specs():
        for kind, c in owner.containers():
            names = list(dict.fromkeys(capability_name(n) for n in added_capabilities(c)))
            if not names:
                continue
            if any(n in DANGEROUS_CAPABILITIES for n in names):
                severity = Severity.ERROR
            elif all(n in HARMLESS_CAPABILITIES for n in names):
                severity = Severity.INFO
            else:
                severity = Severity.WARNING
            yield Hit(
                owner.obj,
                f"{container_label(kind, c)} adds capabilities {', '.join(names)}",
                severity,
            )


@register_check(
    "sec-default-serviceaccount",
    title="Pod uses the default ServiceAccount",
    category="security",
    severity=Severity.INFO,
    subject="podspecs",
    static=True,
    rationale="Every Pod of the namespace that names no ServiceAccount shares `default`: a permission granted to it for one application is granted to all of them, and audit logs cannot tell them apart.",
    remediation="Create a ServiceAccount per application (`kubectl create serviceaccount APP`) and set `serviceAccountName` in its Pod template.",
)
def default_serviceaccount(ctx: CheckContext) -> Iterator[Hit]:
    for owner in ctx.pod_specs():
        if owner.service_account == "default":
            yield Hit(owner.obj, f'{_what(owner)} runs as the "default" ServiceAccount')


@register_check(
    "sec-automount-token",
    title="ServiceAccount token mounted automatically",
    category="security",
    severity=Severity.WARNING,
    subject="podspecs",
    needs=("serviceaccounts",),
    static=True,
    rationale="A mounted ServiceAccount token lets anyone who compromises the container call the API server with the account's permissions; most applications never call it. The Pod's `automountServiceAccountToken` wins; when it is unset, the ServiceAccount's own setting applies (when the ServiceAccount is known).",
    remediation="Set `automountServiceAccountToken: false` in the Pod spec (or on the ServiceAccount) unless the application talks to the Kubernetes API.",
)
def automount_token(ctx: CheckContext) -> Iterator[Hit]:
    accounts = ctx.by_name("serviceaccounts")
    for owner in ctx.pod_specs():
        setting = owner.spec.get("automountServiceAccountToken")
        if setting is False:
            continue
        name = owner.service_account
        if setting is True:
            yield Hit(
                owner.obj,
                f'{_what(owner)} mounts the "{name}" ServiceAccount token (automountServiceAccountToken: true)',
            )
            continue
        account = accounts.get((namespace(owner.obj), name))
        if account is None:
            yield Hit(
                owner.obj,
                f'{_what(owner)} does not set automountServiceAccountToken: false, so the "{name}" ServiceAccount token is mounted',
            )
        elif account.get("automountServiceAccountToken") is not False:
            yield Hit(
                owner.obj,
                f'{_what(owner)} mounts the "{name}" ServiceAccount token (neither the Pod nor the ServiceAccount sets automountServiceAccountToken: false)',
            )


@register_check(
    "sec-writable-root-fs",
    title="Container root filesystem writable",
    category="security",
    severity=Severity.INFO,
    subject="podspecs",
    static=True,
    rationale="A writable root filesystem lets an intruder drop tools and modify binaries in place; a read-only one, with emptyDir volumes for scratch space, makes the container immutable.",
    remediation="Set `securityContext.readOnlyRootFilesystem: true` and mount an emptyDir where the application writes (/tmp, caches).",
)
def writable_root_fs(ctx: CheckContext) -> Iterator[Hit]:
    for owner in ctx.pod_specs():
        if _windows(owner):
            continue
        for kind, c in owner.containers():
            if _context(c).get("readOnlyRootFilesystem") is not True:
                yield Hit(owner.obj, f"{container_label(kind, c)} has a writable root filesystem")


@register_check(
    "sec-host-port",
    title="Container binds a host port",
    category="security",
    severity=Severity.WARNING,
    subject="podspecs",
    static=True,
    rationale="A hostPort opens the port on the node's addresses, bypassing Services and most NetworkPolicy implementations, and limits the Pod to one per node. Pods on the host network are left to sec-host-network (their ports are host ports by definition).",
    remediation="Remove `hostPort` and expose the container through a Service (NodePort or LoadBalancer if it must be reached from outside).",
)
def host_port(ctx: CheckContext) -> Iterator[Hit]:
    for owner in ctx.pod_specs():
        if owner.spec.get("hostNetwork") is True:
            continue
        for kind, c in owner.containers():
            for port in host_ports(c):
                protocol = port.get("protocol") or "TCP"
                yield Hit(
                    owner.obj,
                    f"{container_label(kind, c)} binds host port {port['hostPort']}/{protocol} (container port {port.get('containerPort')})",
                )
