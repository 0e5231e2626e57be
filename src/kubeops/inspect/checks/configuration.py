"""Configuration: ConfigMaps, Secrets and ServiceAccounts that Pods reference but
that do not exist, ones nothing references, and TLS certificates near expiry."""

from __future__ import annotations

import base64
import binascii
import datetime
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kubeops.inspect.catalog import POD_SPEC_KINDS, CheckContext, Hit, register_check
from kubeops.inspect.checks import fields
from kubeops.inspect.model import Severity

if TYPE_CHECKING:
    from kubeops.api import Object

# Namespaces whose ConfigMaps and Secrets are read by cluster components through
# the API rather than mounted by Pods: "unused" there means nothing.
SYSTEM_NAMESPACES = frozenset({"kube-system", "kube-public", "kube-node-lease"})

# Where each Pod-carrying kind keeps its Pod spec.
_SPEC_PATHS: dict[str, tuple[str, ...]] = {
    "Pod": ("spec",),
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}


@dataclass(frozen=True)
class Reference:
    """One place a Pod spec names a ConfigMap or Secret."""

    kind: str  # "ConfigMap" or "Secret"
    name: str
    where: str  # e.g. 'volume "cfg"', 'container "app" env FOO'
    optional: bool
    keys: tuple[str, ...] = ()


def references(spec: Object) -> Iterator[Reference]:
    """Every ConfigMap and Secret a Pod spec names: volumes (projected too), env,
    envFrom, imagePullSecrets and CSI node-publish secrets."""
    for volume in spec.get("volumes") or []:
        vname = volume.get("name", "")
        where = f'volume "{vname}"'
        source = volume.get("configMap")
        if isinstance(source, dict) and source.get("name"):
            yield Reference(
                "ConfigMap", source["name"], where, bool(source.get("optional")), _keys(source)
            )
        source = volume.get("secret")
        if isinstance(source, dict) and source.get("secretName"):
            yield Reference(
                "Secret", source["secretName"], where, bool(source.get("optional")), _keys(source)
            )
        for projection in (volume.get("projected") or {}).get("sources") or []:
            for field, kind in (("configMap", "ConfigMap"), ("secret", "Secret")):
                source = projection.get(field)
                if isinstance(source, dict) and source.get("name"):
                    yield Reference(
                        kind,
                        source["name"],
                        f'projected volume "{vname}"',
                        bool(source.get("optional")),
                        _keys(source),
                    )
        publish = (volume.get("csi") or {}).get("nodePublishSecretRef") or {}
        if publish.get("name"):
            yield Reference("Secret", publish["name"], f'CSI volume "{vname}"', False)
    containers = [
        *(spec.get("initContainers") or []),
        *(spec.get("containers") or []),
        *(spec.get("ephemeralContainers") or []),
    ]
    for container in containers:
        cname = container.get("name", "")
        for source in container.get("envFrom") or []:
            for field, kind in (("configMapRef", "ConfigMap"), ("secretRef", "Secret")):
                ref = source.get(field)
                if isinstance(ref, dict) and ref.get("name"):
                    yield Reference(
                        kind,
                        ref["name"],
                        f'container "{cname}" envFrom',
                        bool(ref.get("optional")),
                    )
        for env in container.get("env") or []:
            value_from = env.get("valueFrom") or {}
            for field, kind in (("configMapKeyRef", "ConfigMap"), ("secretKeyRef", "Secret")):
                ref = value_from.get(field)
                if isinstance(ref, dict) and ref.get("name"):
                    yield Reference(
                        kind,
                        ref["name"],
                        f'container "{cname}" env {env.get("name", "")}',
                        bool(ref.get("optional")),
                        (str(ref["key"]),) if ref.get("key") else (),
                    )
    for pull in spec.get("imagePullSecrets") or []:
        if isinstance(pull, dict) and pull.get("name"):
            yield Reference("Secret", pull["name"], "imagePullSecrets", False)


def _keys(source: Object) -> tuple[str, ...]:
    return tuple(str(i["key"]) for i in source.get("items") or [] if i.get("key"))


def _data_keys(obj: Object) -> set[str]:
    """The keys a ConfigMap or Secret holds (``stringData`` too, for manifests)."""
    keys: set[str] = set()
    for field in ("data", "binaryData", "stringData"):
        keys.update((obj.get(field) or {}).keys())
    return keys


# Published into every namespace by the control plane and mounted by the token
# volume admission adds to every Pod: absent only while a new namespace is filled in.
_ROOT_CA = ("ConfigMap", "kube-root-ca.crt")


def _missing(ctx: CheckContext, kind: str, resource: str) -> Iterator[Hit]:
    """Hits for Pod specs naming a ``kind`` that does not exist, or a key it lacks."""
    existing = ctx.by_name(resource)
    for owner in ctx.pod_specs():
        namespace = fields.namespace(owner.obj)
        absent: dict[str, list[str]] = {}
        pull_only: dict[str, bool] = {}
        for ref in references(owner.spec):
            if ref.kind != kind or ref.optional or (kind, ref.name) == _ROOT_CA:
                continue
            found = existing.get((namespace, ref.name))
            if found is None:
                places = absent.setdefault(ref.name, [])
                if ref.where not in places:
                    places.append(ref.where)
                pull_only[ref.name] = pull_only.get(ref.name, True) and (
                    ref.where == "imagePullSecrets"
                )
                continue
            have = _data_keys(found)
            for key in ref.keys:
                if key not in have:
                    yield Hit(
                        owner.obj,
                        f'{ref.where} needs key "{key}" that {kind} "{ref.name}" does not have',
                    )
        for name, places in absent.items():
            yield Hit(
                owner.obj,
                f'{kind} "{name}" does not exist (used by {", ".join(places)})',
                # Without its pull secret the kubelet still pulls anonymously.
                Severity.WARNING if pull_only[name] else None,
            )


@register_check(
    "config-missing-configmap",
    title="Pod references a ConfigMap that does not exist",
    category="configuration",
    severity=Severity.ERROR,
    subject="podspecs",
    needs=["configmaps"],
    rationale="A container whose non-optional ConfigMap (volume, envFrom or env key) is missing never starts: it stays in ContainerCreating or CreateContainerConfigError.",
    remediation="Create the ConfigMap (or the missing key) in the Pod's namespace, fix the name, or mark the reference `optional: true` if the Pod can run without it.",
)
def missing_configmap(ctx: CheckContext) -> Iterator[Hit]:
    yield from _missing(ctx, "ConfigMap", "configmaps")


@register_check(
    "config-missing-secret",
    title="Pod references a Secret that does not exist",
    category="configuration",
    severity=Severity.ERROR,
    subject="podspecs",
    needs=["secrets"],
    rationale="A container whose non-optional Secret (volume, envFrom, env key or CSI secret) is missing never starts; a missing imagePullSecret makes private image pulls fail.",
    remediation="Create the Secret (or the missing key) in the Pod's namespace, fix the name, or mark the reference `optional: true` if the Pod can run without it.",
)
def missing_secret(ctx: CheckContext) -> Iterator[Hit]:
    yield from _missing(ctx, "Secret", "secrets")


@register_check(
    "config-missing-serviceaccount",
    title="Pod uses a ServiceAccount that does not exist",
    category="configuration",
    severity=Severity.ERROR,
    subject="podspecs",
    needs=["serviceaccounts"],
    rationale="The ServiceAccount admission plugin rejects Pods whose ServiceAccount is missing, so the workload's controller cannot create any Pod.",
    remediation="Create the ServiceAccount (`kubectl create serviceaccount NAME -n NAMESPACE`) or fix serviceAccountName.",
)
def missing_serviceaccount(ctx: CheckContext) -> Iterator[Hit]:
    existing = ctx.by_name("serviceaccounts")
    for owner in ctx.pod_specs():
        account = owner.service_account
        if (fields.namespace(owner.obj), account) not in existing:
            yield Hit(owner.obj, f'ServiceAccount "{account}" does not exist')


def _all_specs(ctx: CheckContext) -> Iterator[tuple[str | None, Object]]:
    """(namespace, Pod spec) of every Pod and every template, old ReplicaSets included:
    a ConfigMap kept for a rollback is still in use."""
    for resource in POD_SPEC_KINDS:
        for obj in ctx.objects(resource):
            spec: Any = obj
            for step in _SPEC_PATHS.get(str(obj.get("kind", "")), ()):
                spec = (spec or {}).get(step)
            if isinstance(spec, dict):
                yield fields.namespace(obj), spec


def _used(ctx: CheckContext, kind: str) -> set[tuple[str | None, str]]:
    return {
        (namespace, ref.name)
        for namespace, spec in _all_specs(ctx)
        for ref in references(spec)
        if ref.kind == kind
    }


def _skipped(obj: Object) -> bool:
    meta = obj.get("metadata") or {}
    return bool(meta.get("ownerReferences")) or meta.get("namespace") in SYSTEM_NAMESPACES


@register_check(
    "config-unused-configmap",
    title="ConfigMap not used by any Pod",
    category="configuration",
    severity=Severity.INFO,
    subject="configmaps",
    needs=POD_SPEC_KINDS,
    rationale="A ConfigMap no Pod or workload template mounts or reads is often left over from an old release; it clutters the namespace and may hide a typo in a reference.",
    remediation="Delete it if nothing reads it through the API (`kubectl delete configmap NAME`), or annotate it `inspect.kubeops.io/skip: config-unused-configmap`.",
)
def unused_configmap(ctx: CheckContext) -> Iterator[Hit]:
    used = _used(ctx, "ConfigMap")
    for cm in ctx.objects("configmaps"):
        meta = cm.get("metadata") or {}
        name = meta.get("name", "")
        if name == "kube-root-ca.crt" or _skipped(cm):
            continue
        # Leader-election locks and Helm 2 releases are read through the API.
        if "control-plane.alpha.kubernetes.io/leader" in (meta.get("annotations") or {}):
            continue
        if (meta.get("labels") or {}).get("OWNER") == "TILLER":
            continue
        if (fields.namespace(cm), name) not in used:
            yield Hit(cm, "no Pod or workload template references this ConfigMap")


# Secret types the cluster or tools read through the API, never through a Pod spec.
_API_SECRET_TYPES = frozenset(
    {
        "kubernetes.io/service-account-token",
        "bootstrap.kubernetes.io/token",
        "helm.sh/release.v1",
    }
)


@register_check(
    "config-unused-secret",
    title="Secret not used by any Pod, ServiceAccount or Ingress",
    category="configuration",
    severity=Severity.INFO,
    subject="secrets",
    needs=[*POD_SPEC_KINDS, "serviceaccounts", "ingresses"],
    rationale="A Secret nothing references is usually a leftover credential: it can still be read by anyone allowed to read Secrets in the namespace, and it is easy to forget to rotate.",
    remediation="Delete it if nothing reads it through the API (`kubectl delete secret NAME`), or annotate it `inspect.kubeops.io/skip: config-unused-secret`.",
)
def unused_secret(ctx: CheckContext) -> Iterator[Hit]:
    used = _used(ctx, "Secret")
    for sa in ctx.objects("serviceaccounts"):
        namespace = fields.namespace(sa)
        for ref in [*(sa.get("secrets") or []), *(sa.get("imagePullSecrets") or [])]:
            if isinstance(ref, dict) and ref.get("name"):
                used.add((namespace, ref["name"]))
    for ingress in ctx.objects("ingresses"):
        namespace = fields.namespace(ingress)
        for tls in (ingress.get("spec") or {}).get("tls") or []:
            if tls.get("secretName"):
                used.add((namespace, tls["secretName"]))
    for secret in ctx.objects("secrets"):
        if secret.get("type") in _API_SECRET_TYPES or _skipped(secret):
            continue
        if (fields.namespace(secret), fields.name(secret)) not in used:
            yield Hit(
                secret,
                "no Pod, workload template, ServiceAccount or Ingress references this Secret",
            )


# --- certificates -----------------------------------------------------------

_PEM_BLOCK = re.compile(rb"-----BEGIN CERTIFICATE-----\s.*?-----END CERTIFICATE-----", re.DOTALL)


@dataclass(frozen=True)
class CertInfo:
    """What the certificate checks need of one certificate: its subject and expiry."""

    subject: str
    not_after: datetime.datetime


class Unreadable(ValueError):
    """Certificate data that cannot be read; the message says why."""


def read_certificates(data: bytes) -> list[CertInfo]:
    """Every certificate of PEM data (a chain), or one DER certificate.

    Returns an empty list when the data holds no certificate at all (a PEM private
    key, say); raises :class:`Unreadable` when a certificate block does not parse."""
    from cryptography import x509

    blocks = _PEM_BLOCK.findall(data)
    if not blocks:
        if b"-----BEGIN" in data or not data.strip():
            return []
        try:
            certs = [x509.load_der_x509_certificate(data)]
        except ValueError:
            return []
    else:
        certs = []
        for number, block in enumerate(blocks, 1):
            try:
                certs.append(x509.load_pem_x509_certificate(block))
            except ValueError:
                raise Unreadable(f"certificate {number} of the PEM data does not parse") from None
    return [CertInfo(_subject(c), c.not_valid_after_utc) for c in certs]


def _subject(cert: Any) -> str:
    try:
        text = str(cert.subject.rfc4514_string())
    except ValueError:
        text = ""
    return text or f"serial {cert.serial_number:x}"


def _certificate_fields(secret: Object) -> Iterator[tuple[str, bytes | str]]:
    """(key, raw data) of the keys that should hold certificates; ``bytes`` when
    the value is already decoded (``stringData``), ``str`` when base64."""
    tls = secret.get("type") == "kubernetes.io/tls"
    for field in ("data", "stringData"):
        for key, value in (secret.get(field) or {}).items():
            if not isinstance(value, str):
                continue
            lower = key.lower()
            if (tls and key == "tls.crt") or lower.endswith((".crt", ".pem")):
                yield key, value.encode() if field == "stringData" else value


def _decode(value: bytes | str) -> bytes:
    if isinstance(value, bytes):
        return value
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise Unreadable("the value is not valid base64") from None


def _days(delta: datetime.timedelta) -> str:
    days = round(abs(delta).total_seconds() / 86400)
    return "1 day" if days == 1 else f"{days} days"


@register_check(
    "config-certificate-expiry",
    title="TLS certificate expired or expiring soon",
    category="configuration",
    severity=Severity.WARNING,
    subject="secrets",
    thresholds={"days": 30},
    static=True,
    rationale="An expired certificate breaks every TLS connection to the service it protects (or, as a CA, every client that trusts it); renewing takes time, so the warning comes weeks ahead.",
    remediation="Renew the certificate and update the Secret (or fix the cert-manager Certificate that owns it); check every certificate of the chain, intermediates included.",
)
def certificate_expiry(ctx: CheckContext) -> Iterator[Hit]:
    days = ctx.threshold("days")
    horizon = ctx.now + datetime.timedelta(days=days)
    cache: dict[bytes | str, list[CertInfo] | str] = {}
    for secret in ctx.objects("secrets"):
        for key, raw in _certificate_fields(secret):
            found = cache.get(raw)
            if found is None:
                try:
                    found = read_certificates(_decode(raw))
                except Unreadable as err:
                    found = str(err)
                cache[raw] = found
            if isinstance(found, str):
                yield Hit(secret, f"{key} is unreadable: {found}", Severity.WARNING)
                continue
            if not found:
                if key == "tls.crt" or key.lower().endswith(".crt"):
                    yield Hit(secret, f"{key} holds no certificate", Severity.WARNING)
                continue
            yield from _expiry_hits(ctx, secret, key, found, horizon, days)


def _expiry_hits(
    ctx: CheckContext,
    secret: Object,
    key: str,
    certs: Iterable[CertInfo],
    horizon: datetime.datetime,
    days: Any,
) -> Iterator[Hit]:
    worst = min(certs, key=lambda c: c.not_after)
    when = worst.not_after.date().isoformat()
    if worst.not_after <= ctx.now:
        yield Hit(
            secret,
            f'{key}: certificate "{worst.subject}" expired on {when} ({_days(ctx.now - worst.not_after)} ago)',
            Severity.CRITICAL,
        )
    elif worst.not_after <= horizon:
        yield Hit(
            secret,
            f'{key}: certificate "{worst.subject}" expires on {when}, in {_days(worst.not_after - ctx.now)} (threshold {days} days)',
            Severity.WARNING,
        )
