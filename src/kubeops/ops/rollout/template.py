"""The pod template of a rollout: comparing two as the controllers do, and describing one
as ``kubectl rollout history --revision`` prints it."""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping, Sequence
from typing import Any

from kubeops.api import Object
from kubeops.models.quantity import Quantity, QuantityError
from kubeops.ops.rollout.fields import int_field

__all__ = [
    "LAST_APPLIED",
    "POD_TEMPLATE_HASH",
    "describe_pod_template",
    "same_template",
    "without_hash",
]

POD_TEMPLATE_HASH = "pod-template-hash"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


# -- comparing ---------------------------------------------------------------------------------


def _pruned(value: Any) -> Any:
    """Drop empty maps, lists and nulls: apimachinery's semantic equality treats them as unset."""
    if isinstance(value, Mapping):
        kept = {k: _pruned(v) for k, v in value.items()}
        return {k: v for k, v in kept.items() if v not in (None, {}, [])}
    if isinstance(value, list):
        return [_pruned(v) for v in value]
    return value


def without_hash(template: Mapping[str, Any]) -> Object:
    """A copy of ``template`` without the ``pod-template-hash`` label a controller adds."""
    copied: Object = copy.deepcopy(dict(template))
    labels = (copied.get("metadata") or {}).get("labels")
    if isinstance(labels, dict):
        labels.pop(POD_TEMPLATE_HASH, None)
    copied.pop("$patch", None)
    return copied


def same_template(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Whether two pod templates are the same but for the hash label and unset fields,
    as the Deployment controller compares them."""
    return bool(_pruned(without_hash(a)) == _pruned(without_hash(b)))


# -- the pod template as kubectl describes it (``rollout history --revision``) ---------------

_MAX_ANNOTATION = 140


def _write_map(
    lines: list[str], title: str, values: Mapping[str, Any] | None, skip: Sequence[str] = ()
) -> None:
    keys = sorted(k for k in (values or {}) if k not in skip)
    if not keys:
        lines.append(f"{title}:\t<none>\n")
        return
    assert values is not None
    for i, key in enumerate(keys):
        lines.append((f"{title}:\t" if i == 0 else "\t") + f"{key}={values[key]}\n")


def _write_annotations(lines: list[str], annotations: Mapping[str, str]) -> None:
    keys = sorted(k for k in annotations if k != LAST_APPLIED)
    if not keys:
        lines.append("  Annotations:\t<none>\n")
        return
    for i, key in enumerate(keys):
        head = "  Annotations:\t" if i == 0 else "\t"
        value = str(annotations[key]).removesuffix("\n")
        if len(value) + len(key) + 2 > _MAX_ANNOTATION or "\n" in value:
            lines.append(f"{head}{key}:\n")
            for part in value.split("\n"):
                cut = part[: _MAX_ANNOTATION - 2] + (
                    "..." if len(part) > _MAX_ANNOTATION - 2 else ""
                )
                lines.append(f"\t  {cut}\n")
        else:
            lines.append(f"{head}{key}: {value}\n")


def _ports(ports: Sequence[Mapping[str, Any]], key: str) -> str:
    shown = []
    for port in ports:
        text = f"{int_field(port.get(key))}/{port.get('protocol', 'TCP')}"
        if port.get("name"):
            text += f" ({port['name']})"
        shown.append(text)
    return ", ".join(shown)


def _probe(probe: Mapping[str, Any]) -> str:
    attrs = (
        f"delay={int_field(probe.get('initialDelaySeconds'))}s "
        f"timeout={int_field(probe.get('timeoutSeconds'))}s "
        f"period={int_field(probe.get('periodSeconds'))}s "
        f"successThreshold={int_field(probe.get('successThreshold'))} "
        f"failureThreshold={int_field(probe.get('failureThreshold'))}"
    )
    if "exec" in probe:
        return f"exec [{' '.join(str(c) for c in probe['exec'].get('command') or [])}] {attrs}"
    if "httpGet" in probe:
        get = probe["httpGet"]
        host = f"{get.get('host', '')}:{get.get('port', '')}"
        return f"http-get {str(get.get('scheme', 'HTTP')).lower()}://{host}{get.get('path', '')} {attrs}"
    if "tcpSocket" in probe:
        tcp = probe["tcpSocket"]
        return f"tcp-socket {tcp.get('host', '')}:{tcp.get('port', '')} {attrs}"
    if "grpc" in probe:
        grpc = probe["grpc"]
        return f"grpc <pod>:{grpc.get('port')} {grpc.get('service', '')} {attrs}"
    return f"unknown {attrs}"


def _resource_value(container: Mapping[str, Any], ref: Mapping[str, Any]) -> str:
    """What a ``resourceFieldRef`` resolves to, as kubectl computes it (rounded up)."""
    kind, _, name = str(ref.get("resource", "")).partition(".")
    try:
        divisor = Quantity(str(ref.get("divisor") or "1"))
        raw = ((container.get("resources") or {}).get(kind) or {}).get(name)
        amount = Quantity(str(raw)) if raw is not None else Quantity("0")
        if name == "cpu":
            return str(math.ceil(amount.milli_value() / max(divisor.milli_value(), 1)))
        return str(math.ceil(amount.value() / max(divisor.value(), 1)))
    except QuantityError:
        return ""


def _write_env(lines: list[str], container: Mapping[str, Any]) -> None:
    env = container.get("env") or []
    lines.append("    Environment:" + ("\t<none>" if not env else "") + "\n")
    for var in env:
        name, source = var.get("name", ""), var.get("valueFrom")
        if source is None:
            for i, part in enumerate(str(var.get("value", "")).split("\n")):
                lines.append(f"      {name}:\t{part}\n" if i == 0 else f"      \t{part}\n")
        elif "fieldRef" in source:
            ref = source["fieldRef"]
            lines.append(
                f"      {name}:\t ({ref.get('apiVersion', '')}:{ref.get('fieldPath', '')})\n"
            )
        elif "resourceFieldRef" in source:
            ref = source["resourceFieldRef"]
            value = _resource_value(container, ref)
            if value == "0" and ref.get("resource") in ("limits.cpu", "limits.memory"):
                value = "node allocatable"
            lines.append(f"      {name}:\t{value} ({ref.get('resource')})\n")
        else:
            for field, holder in (
                ("secretKeyRef", "in secret"),
                ("configMapKeyRef", "of config map"),
            ):
                if field in source:
                    ref = source[field]
                    optional = "true" if ref.get("optional") else "false"
                    lines.append(
                        f"      {name}:\t<set to the key '{ref.get('key')}' {holder} "
                        f"'{ref.get('name', '')}'>\tOptional: {optional}\n"
                    )
                    break


def _write_containers(
    lines: list[str], label: str, containers: Sequence[Mapping[str, Any]]
) -> None:
    lines.append(f"  {label}:" + (" <none>" if not containers else "") + "\n")
    for c in containers:
        lines.append(f"   {c.get('name', '')}:\n")
        lines.append(f"    Image:\t{c.get('image', '')}\n")
        ports = c.get("ports") or []
        for title, key in (("Port", "containerPort"), ("Host Port", "hostPort")):
            text = _ports(ports, key)
            if "," in text:
                lines.append(f"    {title}s:\t{text}\n")
            else:
                lines.append(f"    {title}:\t{text or '<none>'}\n")
        seccomp = (c.get("securityContext") or {}).get("seccompProfile")
        if seccomp:
            lines.append(f"    SeccompProfile:\t{seccomp.get('type', '')}\n")
            if seccomp.get("type") == "Localhost":
                lines.append(f"      LocalhostProfile:\t{seccomp.get('localhostProfile', '')}\n")
        for title, key in (("Command", "command"), ("Args", "args")):
            if c.get(key):
                lines.append(f"    {title}:\n")
                lines.extend(f"      {part}\n" for arg in c[key] for part in str(arg).split("\n"))
        resources = c.get("resources") or {}
        for title, key in (("Limits", "limits"), ("Requests", "requests")):
            if resources.get(key):
                lines.append(f"    {title}:\n")
                lines.extend(f"      {n}:\t{resources[key][n]}\n" for n in sorted(resources[key]))
        for title, key in (
            ("Liveness", "livenessProbe"),
            ("Readiness", "readinessProbe"),
            ("Startup", "startupProbe"),
        ):
            if c.get(key):
                lines.append(f"    {title}:\t{_probe(c[key])}\n")
        if c.get("envFrom"):
            lines.append("    Environment Variables from:\n")
            for source in c["envFrom"]:
                kind, ref = (
                    ("ConfigMap", source.get("configMapRef"))
                    if "configMapRef" in source
                    else ("Secret", source.get("secretRef") or {})
                )
                optional = "true" if (ref or {}).get("optional") else "false"
                prefix = f" with prefix '{source['prefix']}'" if source.get("prefix") else ""
                lines.append(
                    f"      {(ref or {}).get('name', '')}\t{kind}{prefix}\tOptional: {optional}\n"
                )
        _write_env(lines, c)
        mounts = sorted(c.get("volumeMounts") or [], key=lambda m: str(m.get("mountPath", "")))
        lines.append("    Mounts:" + ("\t<none>" if not mounts else "") + "\n")
        for mount in mounts:
            flags = ["ro" if mount.get("readOnly") else "rw"]
            if mount.get("subPath"):
                flags.append(f'path="{mount["subPath"]}"')
            lines.append(
                f"      {mount.get('mountPath')} from {mount.get('name')} ({','.join(flags)})\n"
            )
        devices = sorted(c.get("volumeDevices") or [], key=lambda d: str(d.get("devicePath", "")))
        if devices:
            lines.append("    Devices:\n")
            lines.extend(f"      {d.get('devicePath')} from {d.get('name')}\n" for d in devices)


def _write_volumes(lines: list[str], volumes: Sequence[Mapping[str, Any]]) -> None:
    if not volumes:
        lines.append("  Volumes:\t<none>\n")
        return
    lines.append("  Volumes:\n")
    for volume in volumes:
        lines.append(f"   {volume.get('name', '')}:\n")
        if "emptyDir" in volume:
            source = volume["emptyDir"] or {}
            size = source.get("sizeLimit") or "<unset>"
            lines.append(
                "    Type:\tEmptyDir (a temporary directory that shares a pod's lifetime)\n"
                f"    Medium:\t{source.get('medium', '')}\n    SizeLimit:\t{size}\n"
            )
        elif "configMap" in volume:
            source = volume["configMap"]
            lines.append(
                "    Type:\tConfigMap (a volume populated by a ConfigMap)\n"
                f"    Name:\t{source.get('name', '')}\n"
                f"    Optional:\t{'true' if source.get('optional') else 'false'}\n"
            )
        elif "secret" in volume:
            source = volume["secret"]
            lines.append(
                "    Type:\tSecret (a volume populated by a Secret)\n"
                f"    SecretName:\t{source.get('secretName', '')}\n"
                f"    Optional:\t{'true' if source.get('optional') else 'false'}\n"
            )
        elif "persistentVolumeClaim" in volume:
            source = volume["persistentVolumeClaim"]
            lines.append(
                "    Type:\tPersistentVolumeClaim (a reference to a PersistentVolumeClaim in the same namespace)\n"
                f"    ClaimName:\t{source.get('claimName', '')}\n"
                f"    ReadOnly:\t{'true' if source.get('readOnly') else 'false'}\n"
            )
        elif "hostPath" in volume:
            source = volume["hostPath"]
            lines.append(
                "    Type:\tHostPath (bare host directory volume)\n"
                f"    Path:\t{source.get('path', '')}\n"
                f"    HostPathType:\t{source.get('type') or '<none>'}\n"
            )
        else:
            kinds = [k for k in volume if k != "name"]
            lines.append(f"    Type:\t{kinds[0] if kinds else '<unknown>'}\n")


def _write_tolerations(lines: list[str], tolerations: Sequence[Mapping[str, Any]]) -> None:
    if not tolerations:
        lines.append("  Tolerations:\t<none>\n")
        return
    for i, t in enumerate(sorted(tolerations, key=lambda t: str(t.get("key", "")))):
        text = str(t.get("key", ""))
        if t.get("value"):
            text += f"={t['value']}"
        if t.get("effect"):
            text += f":{t['effect']}"
        if t.get("operator") == "Exists" and not t.get("value"):
            text += " op=Exists" if (t.get("key") or t.get("effect")) else "op=Exists"
        if t.get("tolerationSeconds") is not None:
            text += f" for {t['tolerationSeconds']}s"
        lines.append(("  Tolerations:\t" if i == 0 else "\t") + text + "\n")


def describe_pod_template(template: Mapping[str, Any]) -> str:
    """The ``Pod Template:`` block of ``kubectl rollout history --revision`` (and describe)."""
    meta, spec = template.get("metadata") or {}, template.get("spec") or {}
    lines = ["Pod Template:\n"]
    _write_map(lines, "  Labels", meta.get("labels"))
    if meta.get("annotations"):
        _write_annotations(lines, meta["annotations"])
    if spec.get("serviceAccountName"):
        lines.append(f"  Service Account:\t{spec['serviceAccountName']}\n")
    if spec.get("initContainers"):
        _write_containers(lines, "Init Containers", spec["initContainers"])
    _write_containers(lines, "Containers", spec.get("containers") or [])
    _write_volumes(lines, spec.get("volumes") or [])
    if spec.get("priorityClassName"):
        lines.append(f"  Priority Class Name:\t{spec['priorityClassName']}\n")
    _write_map(lines, "  Node-Selectors", spec.get("nodeSelector"))
    _write_tolerations(lines, spec.get("tolerations") or [])
    return "".join(lines)
