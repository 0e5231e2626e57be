"""``kubeops sync install``: the sync API and the least privilege its controller and agents need.

Everything is written with server-side apply under the field manager
``kubeops-sync``, so installing twice changes nothing and an upgrade only
touches the fields it owns.  The controller's ClusterRole names each resource
and verb it uses -- no wildcards -- and Secrets (member kubeconfigs) and Leases
are granted only inside ``kubeops-sync``.  A Pull agent gets a Role in its own
work namespace and may patch only its own ``MemberCluster``'s status.  What RBAC
cannot express -- the controller may create namespaces, but only
``kubeops-member-*`` -- a ValidatingAdmissionPolicy enforces.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kubeops.api import Client, wait_for_crd_established
from kubeops.sync.crds import MEMBER_PLURAL, POLICY_PLURAL, WORK_PLURAL, crds
from kubeops.sync.model import GROUP, SYSTEM_NAMESPACE, work_namespace
from kubeops.sync.ownership import FIELD_MANAGER

CONTROLLER = "kubeops-sync"
"""The controller's ServiceAccount, ClusterRole, Role and their bindings (all one name)."""
LEASE = "kubeops-sync"
"""The controller's leader-election Lease in :data:`SYSTEM_NAMESPACE`."""
RBAC = "rbac.authorization.k8s.io"
PART_OF = {"app.kubernetes.io/part-of": "kubeops-sync"}
READ = ["get", "list", "watch"]
WORK_NAMESPACE_PREFIX = work_namespace("")


def rule(
    group: str, resources: Sequence[str], verbs: Sequence[str], names: Sequence[str] = ()
) -> dict[str, Any]:
    """One RBAC policy rule (``resourceNames`` only when ``names`` is given)."""
    body: dict[str, Any] = {
        "apiGroups": [group],
        "resources": list(resources),
        "verbs": list(verbs),
    }
    if names:
        body["resourceNames"] = list(names)
    return body


def _meta(name: str, namespace: str | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": dict(PART_OF)}
    if namespace:
        meta["namespace"] = namespace
    return meta


def namespace(name: str) -> dict[str, Any]:
    """A Namespace labelled as part of the sync."""
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": _meta(name)}


def service_account(name: str, ns: str) -> dict[str, Any]:
    """A ServiceAccount labelled as part of the sync."""
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta(name, ns)}


def role(name: str, rules: list[dict[str, Any]], ns: str | None = None) -> dict[str, Any]:
    """A Role in ``ns``, or a ClusterRole when ``ns`` is None."""
    kind = "Role" if ns else "ClusterRole"
    return {"apiVersion": f"{RBAC}/v1", "kind": kind, "metadata": _meta(name, ns), "rules": rules}


def binding(
    name: str, role_kind: str, subject: str, subject_ns: str, ns: str | None = None
) -> dict[str, Any]:
    """A RoleBinding in ``ns`` (ClusterRoleBinding when None) of one ServiceAccount."""
    return {
        "apiVersion": f"{RBAC}/v1",
        "kind": "RoleBinding" if ns else "ClusterRoleBinding",
        "metadata": _meta(name, ns),
        "roleRef": {"apiGroup": RBAC, "kind": role_kind, "name": name},
        "subjects": [{"kind": "ServiceAccount", "name": subject, "namespace": subject_ns}],
    }


def controller_rules() -> list[dict[str, Any]]:
    """The controller's cluster-wide rules on the hub."""
    return [
        rule(GROUP, [POLICY_PLURAL, MEMBER_PLURAL], READ),
        rule(
            GROUP,
            [f"{POLICY_PLURAL}/status", f"{MEMBER_PLURAL}/status"],
            ["get", "patch", "update"],
        ),
        rule(GROUP, [WORK_PLURAL], [*READ, "create", "update", "patch", "delete"]),
        # Work namespaces (kubeops-member-<name>) are created on demand; RBAC cannot
        # restrict a create by name: namespace_guard() does.
        rule("", ["namespaces"], ["create"]),
        rule("", ["events"], ["create", "patch"]),
        rule("events.k8s.io", ["events"], ["create", "patch"]),
    ]


def controller_namespaced_rules() -> list[dict[str, Any]]:
    """The controller's rules inside :data:`SYSTEM_NAMESPACE`: member kubeconfigs and its Lease."""
    return [
        rule("", ["secrets"], READ),
        rule("coordination.k8s.io", ["leases"], ["get", "create", "update"]),
    ]


def namespace_guard() -> list[dict[str, Any]]:
    """A ValidatingAdmissionPolicy (and its binding) that lets the controller's
    ServiceAccount create only ``kubeops-member-*`` namespaces: what RBAC cannot say."""
    name = "kubeops-sync-work-namespaces"
    account = f"system:serviceaccount:{SYSTEM_NAMESPACE}:{CONTROLLER}"
    admission = "admissionregistration.k8s.io/v1"
    policy = {
        "apiVersion": admission,
        "kind": "ValidatingAdmissionPolicy",
        "metadata": _meta(name),
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {
                "resourceRules": [
                    {
                        "apiGroups": [""],
                        "apiVersions": ["v1"],
                        "operations": ["CREATE"],
                        "resources": ["namespaces"],
                    }
                ]
            },
            "matchConditions": [
                {
                    "name": "the-sync-controller",
                    "expression": f"request.userInfo.username == '{account}'",
                }
            ],
            "validations": [
                {
                    "expression": f"object.metadata.name.startsWith('{WORK_NAMESPACE_PREFIX}')",
                    "message": f"{CONTROLLER} may create only namespaces {WORK_NAMESPACE_PREFIX}<member>",
                    "reason": "Forbidden",
                }
            ],
        },
    }
    policy_binding = {
        "apiVersion": admission,
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": _meta(name),
        "spec": {"policyName": name, "validationActions": ["Deny"]},
    }
    return [policy, policy_binding]


def controller_objects() -> list[dict[str, Any]]:
    """The hub's namespace and the controller's ServiceAccount, roles and bindings."""
    return [
        namespace(SYSTEM_NAMESPACE),
        service_account(CONTROLLER, SYSTEM_NAMESPACE),
        role(CONTROLLER, controller_rules()),
        binding(CONTROLLER, "ClusterRole", CONTROLLER, SYSTEM_NAMESPACE),
        role(CONTROLLER, controller_namespaced_rules(), SYSTEM_NAMESPACE),
        binding(CONTROLLER, "Role", CONTROLLER, SYSTEM_NAMESPACE, SYSTEM_NAMESPACE),
        *namespace_guard(),
    ]


def agent_name(member: str) -> str:
    """The hub-side ServiceAccount, roles and bindings of ``member``'s Pull agent."""
    return f"kubeops-sync-agent-{member}"


def agent_objects(member: str) -> list[dict[str, Any]]:
    """What a Pull agent needs on the hub: its work namespace, a ServiceAccount there,
    a Role over its ``SyncWork``, and its own ``MemberCluster``'s status only."""
    ns = work_namespace(member)
    name = agent_name(member)
    work_rules = [
        rule(GROUP, [WORK_PLURAL], [*READ, "patch", "update"]),
        rule(GROUP, [f"{WORK_PLURAL}/status"], ["get", "patch", "update"]),
        # Removing the agent's finalizer is an update of the object itself; this
        # subresource is what the owner-reference admission plugin asks for.
        rule(GROUP, [f"{WORK_PLURAL}/finalizers"], ["update"]),
    ]
    member_rules = [
        rule(GROUP, [MEMBER_PLURAL], ["get"], [member]),
        rule(GROUP, [f"{MEMBER_PLURAL}/status"], ["get", "patch", "update"], [member]),
    ]
    return [
        namespace(ns),
        service_account(name, ns),
        role(name, work_rules, ns),
        binding(name, "Role", name, ns, ns),
        role(name, member_rules),
        binding(name, "ClusterRole", name, ns),
    ]


def install_objects(agent: str | None = None) -> list[dict[str, Any]]:
    """Every object :func:`install` writes, in the order it writes them."""
    if agent is not None:
        return agent_objects(agent)
    return [*crds(), *controller_objects()]


async def install(
    hub: Client, *, agent: str | None = None, dry_run: bool = False
) -> list[dict[str, Any]]:
    """Apply the CRDs (waiting until each is Established), the namespace and the
    controller's RBAC on the hub -- or, with ``agent``, that member's agent's hub-side
    RBAC -- and return the objects.  ``dry_run`` sends nothing: the objects are only
    returned, for ``--dry-run -o yaml``."""
    objects = install_objects(agent)
    if dry_run:
        return objects
    for obj in objects:
        await hub.apply(obj, field_manager=FIELD_MANAGER, force=True)
        if obj["kind"] == "CustomResourceDefinition":
            await wait_for_crd_established(hub, obj["metadata"]["name"])
    return objects
