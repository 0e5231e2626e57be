"""Resource types: what a kind is called on the wire and where it lives.

A :class:`ResourceType` carries the group, version, kind, plural and scope of a
Kubernetes resource and builds its REST paths.  The built-in kinds are listed
here so the common case needs no discovery round-trip; anything else (CRDs,
aggregated APIs) comes from :mod:`kubeops.api.discovery`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import quote

from kubeops.errors import KubeopsError


@dataclass(frozen=True)
class ResourceType:
    """One REST resource, e.g. ``apps/v1`` ``deployments`` (kind ``Deployment``)."""

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ()
    singular: str = ""
    categories: tuple[str, ...] = field(default=(), compare=False)

    @property
    def api_version(self) -> str:
        """``group/version``, or ``version`` alone for the core group, as objects write it."""
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified_name(self) -> str:
        """``deployments.apps`` (or ``pods`` in the core group), as kubectl and RBAC say it."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def path(
        self, namespace: str | None = None, name: str | None = None, subresource: str | None = None
    ) -> str:
        """The REST path of the collection, or of one object (and its subresource)."""
        prefix = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            prefix += f"/namespaces/{quote(_segment('namespace', namespace), safe='')}"
        path = f"{prefix}/{self.plural}"
        if name is not None:
            path += f"/{quote(_segment(f'{self.kind} name', name), safe='')}"
            if subresource:
                path += f"/{quote(_segment('subresource', subresource), safe='')}"
        return path


class InvalidPathSegment(KubeopsError, ValueError):
    """A name, namespace or subresource that cannot be one segment of a REST path.

    ``.`` and ``..`` survive URL quoting and are resolved away by the server's path
    cleaning, so ``delete configmap ..`` in ``prod`` would address the namespace
    itself; client-go refuses them (and ``/``, ``%``) the same way.
    """


def _segment(what: str, value: str) -> str:
    if value in ("", ".", "..") or "/" in value or "%" in value:
        raise InvalidPathSegment(
            f"invalid {what} {value!r}: may not be empty, '.' or '..', or contain '/' or '%'"
        )
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        # What Python makes of an undecodable byte on the command line (a lone surrogate).
        raise InvalidPathSegment(f"invalid {what} {value!r}: not valid UTF-8") from None
    return value


def _r(
    api_version: str,
    kind: str,
    plural: str,
    namespaced: bool = True,
    short: tuple[str, ...] = (),
) -> ResourceType:
    group, _, version = api_version.rpartition("/")
    return ResourceType(group, version, kind, plural, namespaced, short, singular=kind.lower())


# The built-in kinds most automation touches; discovery covers the rest.
BUILTIN: tuple[ResourceType, ...] = (
    _r("v1", "Pod", "pods", short=("po",)),
    _r("v1", "Service", "services", short=("svc",)),
    _r("v1", "ConfigMap", "configmaps", short=("cm",)),
    _r("v1", "Secret", "secrets"),
    _r("v1", "Namespace", "namespaces", False, ("ns",)),
    _r("v1", "Node", "nodes", False, ("no",)),
    _r("v1", "ServiceAccount", "serviceaccounts", short=("sa",)),
    _r("v1", "Endpoints", "endpoints", short=("ep",)),
    _r("v1", "Event", "events", short=("ev",)),
    _r("v1", "PersistentVolumeClaim", "persistentvolumeclaims", short=("pvc",)),
    _r("v1", "PersistentVolume", "persistentvolumes", False, ("pv",)),
    _r("v1", "ResourceQuota", "resourcequotas", short=("quota",)),
    _r("v1", "LimitRange", "limitranges", short=("limits",)),
    _r("v1", "ReplicationController", "replicationcontrollers", short=("rc",)),
    _r("apps/v1", "Deployment", "deployments", short=("deploy",)),
    _r("apps/v1", "StatefulSet", "statefulsets", short=("sts",)),
    _r("apps/v1", "DaemonSet", "daemonsets", short=("ds",)),
    _r("apps/v1", "ReplicaSet", "replicasets", short=("rs",)),
    _r("apps/v1", "ControllerRevision", "controllerrevisions"),
    _r("batch/v1", "Job", "jobs"),
    _r("batch/v1", "CronJob", "cronjobs", short=("cj",)),
    _r("autoscaling/v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", short=("hpa",)),
    _r("policy/v1", "PodDisruptionBudget", "poddisruptionbudgets", short=("pdb",)),
    _r("networking.k8s.io/v1", "Ingress", "ingresses", short=("ing",)),
    _r("networking.k8s.io/v1", "IngressClass", "ingressclasses", False),
    _r("networking.k8s.io/v1", "NetworkPolicy", "networkpolicies", short=("netpol",)),
    _r("discovery.k8s.io/v1", "EndpointSlice", "endpointslices"),
    _r("storage.k8s.io/v1", "StorageClass", "storageclasses", False, ("sc",)),
    _r("rbac.authorization.k8s.io/v1", "Role", "roles"),
    _r("rbac.authorization.k8s.io/v1", "RoleBinding", "rolebindings"),
    _r("rbac.authorization.k8s.io/v1", "ClusterRole", "clusterroles", False),
    _r("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "clusterrolebindings", False),
    _r("coordination.k8s.io/v1", "Lease", "leases"),
    _r("events.k8s.io/v1", "Event", "events", short=("ev",)),
    _r(
        "apiextensions.k8s.io/v1",
        "CustomResourceDefinition",
        "customresourcedefinitions",
        False,
        ("crd", "crds"),
    ),
    _r(
        "admissionregistration.k8s.io/v1",
        "ValidatingWebhookConfiguration",
        "validatingwebhookconfigurations",
        False,
    ),
    _r(
        "admissionregistration.k8s.io/v1",
        "MutatingWebhookConfiguration",
        "mutatingwebhookconfigurations",
        False,
    ),
    _r("scheduling.k8s.io/v1", "PriorityClass", "priorityclasses", False, ("pc",)),
)
