"""Deprecations: clients still calling deprecated APIs, and objects written in API
versions that are removed (in manifests, or in kubectl's last-applied record)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, NamedTuple

from kubeops.inspect.catalog import CheckContext, Hit, register_check
from kubeops.inspect.model import Severity

if TYPE_CHECKING:
    from kubeops.api import Object

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


class Removal(NamedTuple):
    """When an API version stopped being served, and what replaces it."""

    release: str  # the Kubernetes minor version that stopped serving it, e.g. "1.25"
    replacement: str  # the apiVersion to use instead ("" when there is none)


def _table() -> dict[tuple[str, str], Removal]:
    """(apiVersion, kind) → removal, from the Kubernetes deprecated API migration guide."""
    rows: list[tuple[str, str, tuple[str, ...], str]] = [
        # release, apiVersion, kinds, replacement
        ("1.16", "extensions/v1beta1", ("Deployment", "DaemonSet", "ReplicaSet"), "apps/v1"),
        ("1.16", "extensions/v1beta1", ("NetworkPolicy",), "networking.k8s.io/v1"),
        ("1.16", "extensions/v1beta1", ("PodSecurityPolicy",), "policy/v1beta1"),
        ("1.22", "extensions/v1beta1", ("Ingress",), "networking.k8s.io/v1"),
        (
            "1.16",
            "apps/v1beta1",
            ("Deployment", "StatefulSet", "ReplicaSet", "DaemonSet", "ControllerRevision"),
            "apps/v1",
        ),
        (
            "1.16",
            "apps/v1beta2",
            ("Deployment", "StatefulSet", "ReplicaSet", "DaemonSet", "ControllerRevision"),
            "apps/v1",
        ),
        (
            "1.22",
            "admissionregistration.k8s.io/v1beta1",
            ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"),
            "admissionregistration.k8s.io/v1",
        ),
        (
            "1.22",
            "apiextensions.k8s.io/v1beta1",
            ("CustomResourceDefinition",),
            "apiextensions.k8s.io/v1",
        ),
        ("1.22", "apiregistration.k8s.io/v1beta1", ("APIService",), "apiregistration.k8s.io/v1"),
        ("1.22", "authentication.k8s.io/v1beta1", ("TokenReview",), "authentication.k8s.io/v1"),
        (
            "1.22",
            "authorization.k8s.io/v1beta1",
            (
                "SubjectAccessReview",
                "LocalSubjectAccessReview",
                "SelfSubjectAccessReview",
                "SelfSubjectRulesReview",
            ),
            "authorization.k8s.io/v1",
        ),
        (
            "1.22",
            "certificates.k8s.io/v1beta1",
            ("CertificateSigningRequest",),
            "certificates.k8s.io/v1",
        ),
        ("1.22", "coordination.k8s.io/v1beta1", ("Lease",), "coordination.k8s.io/v1"),
        ("1.22", "networking.k8s.io/v1beta1", ("Ingress", "IngressClass"), "networking.k8s.io/v1"),
        (
            "1.22",
            "rbac.authorization.k8s.io/v1beta1",
            ("ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"),
            "rbac.authorization.k8s.io/v1",
        ),
        ("1.22", "scheduling.k8s.io/v1beta1", ("PriorityClass",), "scheduling.k8s.io/v1"),
        (
            "1.22",
            "storage.k8s.io/v1beta1",
            ("CSIDriver", "CSINode", "StorageClass", "VolumeAttachment"),
            "storage.k8s.io/v1",
        ),
        ("1.25", "batch/v1beta1", ("CronJob",), "batch/v1"),
        ("1.25", "discovery.k8s.io/v1beta1", ("EndpointSlice",), "discovery.k8s.io/v1"),
        ("1.25", "events.k8s.io/v1beta1", ("Event",), "events.k8s.io/v1"),
        ("1.25", "autoscaling/v2beta1", ("HorizontalPodAutoscaler",), "autoscaling/v2"),
        ("1.25", "policy/v1beta1", ("PodDisruptionBudget",), "policy/v1"),
        ("1.25", "policy/v1beta1", ("PodSecurityPolicy",), ""),
        ("1.25", "node.k8s.io/v1beta1", ("RuntimeClass",), "node.k8s.io/v1"),
        (
            "1.26",
            "flowcontrol.apiserver.k8s.io/v1beta1",
            ("FlowSchema", "PriorityLevelConfiguration"),
            "flowcontrol.apiserver.k8s.io/v1",
        ),
        ("1.26", "autoscaling/v2beta2", ("HorizontalPodAutoscaler",), "autoscaling/v2"),
        ("1.27", "storage.k8s.io/v1beta1", ("CSIStorageCapacity",), "storage.k8s.io/v1"),
        (
            "1.29",
            "flowcontrol.apiserver.k8s.io/v1beta2",
            ("FlowSchema", "PriorityLevelConfiguration"),
            "flowcontrol.apiserver.k8s.io/v1",
        ),
        (
            "1.32",
            "flowcontrol.apiserver.k8s.io/v1beta3",
            ("FlowSchema", "PriorityLevelConfiguration"),
            "flowcontrol.apiserver.k8s.io/v1",
        ),
    ]
    return {
        (api_version, kind): Removal(release, replacement)
        for release, api_version, kinds, replacement in rows
        for kind in kinds
    }


REMOVED: dict[tuple[str, str], Removal] = _table()

_MINOR = re.compile(r"v?(\d+)\.(\d+)")


def minor(version: str) -> tuple[int, int] | None:
    """(major, minor) of "v1.25.3", "1.25" and the like."""
    found = _MINOR.match(version or "")
    return (int(found[1]), int(found[2])) if found else None


def removal(api_version: str, kind: str) -> Removal | None:
    """The removal of ``kind`` in ``api_version``, or None when that API is still served."""
    return REMOVED.get((api_version, kind))


def _severity(removed: Removal, server: tuple[int, int] | None) -> Severity:
    """Error once the API is gone from the cluster's version (or when it is unknown,
    as for manifests); a warning while the cluster still serves it."""
    gone = minor(removed.release)
    if server is not None and gone is not None and server < gone:
        return Severity.WARNING
    return Severity.ERROR


def _describe(api_version: str, kind: str, removed: Removal) -> str:
    instead = (
        f"use {removed.replacement} instead" if removed.replacement else "it has no replacement"
    )
    return f"{api_version} {kind}, removed in Kubernetes {removed.release}; {instead}"


def _last_applied(obj: Object) -> tuple[str, str] | None:
    """(apiVersion, kind) recorded by `kubectl apply`, if any."""
    text = ((obj.get("metadata") or {}).get("annotations") or {}).get(LAST_APPLIED)
    if not text or ("v1beta" not in text and "v2beta" not in text):
        return None  # every removed version is a beta; skip parsing the rest
    try:
        applied = json.loads(text)
    except ValueError:
        return None
    if not isinstance(applied, dict):
        return None
    return str(applied.get("apiVersion", "")), str(applied.get("kind", ""))


@register_check(
    "deprecated-api-version",
    title="Object written in a removed API version",
    category="deprecations",
    severity=Severity.ERROR,
    subject="all",
    static=True,
    rationale="An API version removed from Kubernetes is refused by the API server: manifests in it fail to apply, and an object last applied with it (its kubectl.kubernetes.io/last-applied-configuration) comes from a manifest that will fail next time, or that breaks the upgrade to the release that removes it.",
    remediation="Rewrite the manifest in the replacement version (`kubectl convert` or by hand; check the fields that changed) and re-apply it.",
)
def api_version(ctx: CheckContext) -> Iterator[Hit]:
    server = minor(ctx.snapshot.server_version)
    for obj in ctx.objects("all"):
        api, kind = str(obj.get("apiVersion", "")), str(obj.get("kind", ""))
        removed = removal(api, kind)
        if removed is not None:
            yield Hit(
                obj, f"written as {_describe(api, kind, removed)}", _severity(removed, server)
            )
            continue
        applied = _last_applied(obj)
        if applied is None:
            continue
        removed = removal(*applied)
        if removed is not None:
            yield Hit(
                obj,
                f"last applied (kubectl apply) as {_describe(*applied, removed)}",
                _severity(removed, server),
            )


@register_check(
    "deprecated-api-requests",
    title="Clients still call deprecated APIs",
    category="deprecations",
    severity=Severity.WARNING,
    subject="deprecatedrequests",
    rationale="The API server counts requests to deprecated API versions (apiserver_requested_deprecated_apis); a client that still uses one breaks when the version is removed, often at a cluster upgrade.",
    remediation="Find the client (audit log annotation `k8s.io/deprecated`, or the warnings kubectl prints) and move it to the replacement version before upgrading to the release that removes it.",
)
def api_requests(ctx: CheckContext) -> Iterator[Hit]:
    server = minor(ctx.snapshot.server_version)
    for item in ctx.objects("deprecatedrequests"):
        name = (item.get("metadata") or {}).get("name", "")
        release = str(item.get("removedRelease") or "")
        gone = minor(release)
        if not release:
            yield Hit(
                item, f"clients requested {name}, which is deprecated (no removal planned yet)"
            )
            continue
        # Removed in the very next release: upgrading breaks these clients.
        imminent = server is not None and gone is not None and gone <= (server[0], server[1] + 1)
        yield Hit(
            item,
            f"clients requested {name}, which is deprecated and removed in Kubernetes {release}",
            Severity.ERROR if imminent else None,
        )
