"""The least privilege a member cluster grants the sync: exactly the kinds its policies move.

``kubeops sync rbac`` prints it.  A target must let the controller (Push) or
the agent (Pull) read, watch and write each synced resource and create the
namespaces objects land in; a source must only let it read.  No wildcards: a
new kind in a policy is a new rule the member's admin sees and applies.

Kinds become resources (``Deployment`` -> ``deployments``) by discovery when a
:class:`Client` of the member is at hand (:func:`resolve_resources`), else by the
built-in table and then the English plural rule Kubernetes itself uses for CRDs
that do not name their plural -- the functions that build roles stay pure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from kubeops.api import BUILTIN, Client, Mapper
from kubeops.sync.install import binding, namespace, role, rule, service_account
from kubeops.sync.model import SYSTEM_NAMESPACE, SyncPolicy

GroupKind = tuple[str, str]
READ_VERBS = ("get", "list", "watch")
WRITE_VERBS = ("create", "patch", "update", "delete")
CONTROLLER_ROLE = "kubeops-sync-member"
"""The ClusterRole a member grants the hub's controller."""
AGENT_ROLE = "kubeops-sync-agent"
"""The ClusterRole (and lease Role) a Pull member grants its agent."""
AGENT_LEASE = "kubeops-sync-agent"
"""The agent's leader-election Lease in :data:`SYSTEM_NAMESPACE` on the member."""
_BUILTIN = Mapper(BUILTIN)


def plural(kind: str) -> str:
    """The resource name of ``kind`` by the English rule (``Ingress`` -> ``ingresses``,
    ``Policy`` -> ``policies``), as the API server guesses a CRD's plural."""
    lower = kind.lower()
    if lower.endswith(("s", "x", "z", "ch", "sh")):
        return lower + "es"
    if lower.endswith("y") and lower[-2:-1] not in ("a", "e", "i", "o", "u"):
        return lower[:-1] + "ies"
    return lower + "s"


def group_kinds(policies: Iterable[SyncPolicy]) -> list[GroupKind]:
    """Every (group, kind) the policies sync, sorted, each once."""
    return sorted({(r.group, r.kind) for p in policies for r in p.resources})


def _resource(group: str, kind: str, known: Mapping[GroupKind, str] | None) -> str:
    if known and (group, kind) in known:
        return known[(group, kind)]
    for candidate in _BUILTIN.resources:
        if candidate.group == group and candidate.kind == kind:
            return candidate.plural
    return plural(kind)


def _rules(
    policies: Sequence[SyncPolicy], verbs: Sequence[str], known: Mapping[GroupKind, str] | None
) -> list[dict[str, Any]]:
    by_group: dict[str, set[str]] = {}
    for group, kind in group_kinds(policies):
        by_group.setdefault(group, set()).add(_resource(group, kind, known))
    return [rule(group, sorted(resources), verbs) for group, resources in sorted(by_group.items())]


def member_cluster_role(
    policies: Sequence[SyncPolicy],
    name: str | None = None,
    *,
    agent: bool = False,
    resources: Mapping[GroupKind, str] | None = None,
) -> dict[str, Any]:
    """The ClusterRole a target member grants the controller (or, with ``agent``, its
    Pull agent): read and write every synced resource, get and create namespaces.

    ``resources`` maps (group, kind) to the resource name, as :func:`resolve_resources`
    finds it; kinds missing from it are named by the built-in table or :func:`plural`.
    The agent's Lease is granted by :func:`agent_lease_role`, inside one namespace.
    """
    rules = [
        *_rules(policies, (*READ_VERBS, *WRITE_VERBS), resources),
        rule("", ["namespaces"], ["get", "create"]),
    ]
    return role(name or (AGENT_ROLE if agent else CONTROLLER_ROLE), rules)


def source_cluster_role(
    policies: Sequence[SyncPolicy],
    name: str = "kubeops-sync-source",
    *,
    resources: Mapping[GroupKind, str] | None = None,
) -> dict[str, Any]:
    """The ClusterRole a source member grants the controller: read and watch only."""
    return role(name, _rules(policies, READ_VERBS, resources))


def agent_lease_role(name: str = AGENT_ROLE) -> dict[str, Any]:
    """The agent's Role in :data:`SYSTEM_NAMESPACE` on its member: its one Lease.

    ``create`` cannot be limited to a name by RBAC, hence the namespace of its own.
    """
    rules = [
        rule("coordination.k8s.io", ["leases"], ["create"]),
        rule("coordination.k8s.io", ["leases"], ["get", "update"], [AGENT_LEASE]),
    ]
    return role(name, rules, SYSTEM_NAMESPACE)


def member_rbac(
    policies: Sequence[SyncPolicy],
    *,
    agent: bool = False,
    service_account_name: str | None = None,
    resources: Mapping[GroupKind, str] | None = None,
) -> list[dict[str, Any]]:
    """Everything to apply on a member for these policies: the ``kubeops-sync``
    namespace, a ServiceAccount, the ClusterRole and its binding, and (agent) the
    Lease Role and its binding.  Its token goes into the kubeconfig given to
    ``kubeops sync join`` (Push) or to the agent (Pull)."""
    name = AGENT_ROLE if agent else CONTROLLER_ROLE
    account = service_account_name or name
    objects = [
        namespace(SYSTEM_NAMESPACE),
        service_account(account, SYSTEM_NAMESPACE),
        member_cluster_role(policies, name, agent=agent, resources=resources),
        binding(name, "ClusterRole", account, SYSTEM_NAMESPACE),
    ]
    if agent:
        objects += [
            agent_lease_role(name),
            binding(name, "Role", account, SYSTEM_NAMESPACE, SYSTEM_NAMESPACE),
        ]
    return objects


async def resolve_resources(client: Client, policies: Sequence[SyncPolicy]) -> dict[GroupKind, str]:
    """The resource name of every synced kind as ``client``'s cluster serves it
    (discovery); kinds it does not serve are left out (the pure rule names them)."""
    await client.refresh_discovery()
    served = {(r.group, r.kind): r.plural for r in client.mapper.resources}
    return {gk: served[gk] for gk in group_kinds(policies) if gk in served}
