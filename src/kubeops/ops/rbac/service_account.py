"""Least-privilege ServiceAccounts: a ServiceAccount, a Role holding a short rule list and
a RoleBinding, applied server-side, with a token of a given lifetime (TokenRequest) in
a kubeconfig written for it.

Rules are written short, ``VERBS:RESOURCES[:NAMES]`` (:func:`parse_rule`), and turned
into the Role's PolicyRules by the client's resource mapper (:func:`policy_rules`).
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kubeops.api import either_client
from kubeops.config.kubeconfig import write_kubeconfig
from kubeops.errors import KubeopsError, NotFound
from kubeops.models.duration import DurationError, parse_duration
from kubeops.ops.rbac.attributes import RbacError, check_verbs
from kubeops.ops.rbac.kubeconfig import service_account_kubeconfig

if TYPE_CHECKING:
    from kubeops.api import Client, Object

__all__ = [
    "FIELD_MANAGER",
    "MANAGED_BY",
    "MAX_TOKEN_SECONDS",
    "MIN_TOKEN_SECONDS",
    "RBAC_GROUP",
    "ShortRule",
    "create_service_account",
    "parse_rule",
    "policy_rules",
    "token_lifetime",
]

RBAC_GROUP = "rbac.authorization.k8s.io"
FIELD_MANAGER = "kubeops"
MANAGED_BY = {"app.kubernetes.io/managed-by": "kubeops"}

# A TokenRequest's lifetime: the API server refuses less than ten minutes and more than 2^32 s.
MIN_TOKEN_SECONDS = 600
MAX_TOKEN_SECONDS = 2**32


@dataclass(frozen=True)
class ShortRule:
    """A rule as written short: ``VERBS:RESOURCES[:NAMES]``, each a comma-separated list."""

    verbs: tuple[str, ...]
    resources: tuple[str, ...]
    resource_names: tuple[str, ...] = field(default=())


def parse_rule(text: str) -> ShortRule:
    """Parse ``get,list,watch:pods,configmaps`` or ``get:secrets:app-tls,db``.

    Resources are any name kubectl takes (``deploy``, ``deployments.apps``,
    ``pods/log``, ``*``); verbs must be ones Kubernetes authorizes.
    """
    parts = [p.strip() for p in text.split(":")]
    if len(parts) not in (2, 3):
        raise RbacError(
            f"rule {text!r}: write VERBS:RESOURCES[:NAMES], e.g. get,list,watch:pods,configmaps"
        )
    verbs, resources = _items(parts[0]), _items(parts[1])
    names = _items(parts[2]) if len(parts) == 3 else ()
    if not verbs:
        raise RbacError(f"rule {text!r} names no verb")
    if not resources:
        raise RbacError(f"rule {text!r} names no resource")
    if len(parts) == 3 and not names:
        raise RbacError(f"rule {text!r}: the list of names after the second ':' is empty")
    check_verbs(verbs, f"rule {text!r}")
    return ShortRule(verbs, resources, names)


def _items(text: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(item.strip() for item in text.split(",") if item.strip()))


@either_client
async def policy_rules(
    client: Client, rules: Iterable[str | ShortRule | Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """PolicyRules for a namespaced Role from short rules (resource names resolved by the
    client's mapper, one rule per API group) or PolicyRule mappings (checked, kept as given)."""
    result: list[dict[str, Any]] = []
    for item in rules:
        if isinstance(item, Mapping):
            result.append(_checked_policy_rule(item))
            continue
        short = parse_rule(item) if isinstance(item, str) else item
        check_verbs(short.verbs, "rule")
        by_group: dict[str, list[str]] = {}
        for token in short.resources:
            kind, slash, sub = token.partition("/")
            if kind == "*":
                group, plural = "*", "*"
            else:
                resource = await client.resource(kind)
                if not resource.namespaced and resource.plural != "namespaces":
                    raise RbacError(
                        f"rule for {token!r}: {resource.qualified_name} are cluster-scoped; "
                        "a namespaced Role cannot grant them"
                    )
                group, plural = resource.group, resource.plural
            by_group.setdefault(group, []).append(f"{plural}/{sub}" if slash else plural)
        for group, plurals in by_group.items():
            rule: dict[str, Any] = {
                "apiGroups": [group],
                "resources": list(dict.fromkeys(plurals)),
                "verbs": list(short.verbs),
            }
            if short.resource_names:
                rule["resourceNames"] = list(short.resource_names)
            result.append(rule)
    if not result:
        raise RbacError("a least-privilege ServiceAccount needs at least one rule")
    return result


def _checked_policy_rule(rule: Mapping[str, Any]) -> dict[str, Any]:
    verbs = rule.get("verbs")
    if not verbs or isinstance(verbs, str):
        raise RbacError(f"rule {dict(rule)!r}: verbs must be a non-empty list")
    check_verbs(verbs, f"rule {dict(rule)!r}")
    if rule.get("nonResourceURLs"):
        raise RbacError(
            f"rule {dict(rule)!r}: non-resource URLs can only be granted by a ClusterRole"
        )
    if not rule.get("resources") or "apiGroups" not in rule:
        raise RbacError(f"rule {dict(rule)!r}: a Role's rule needs apiGroups and resources")
    return dict(rule)


def token_lifetime(expiration: int | datetime.timedelta | str) -> int:
    """A TokenRequest lifetime in seconds, checked against the API server's limits;
    a string is a duration as kubectl writes it (``1h``, ``90m``, ``1h30m``, ``3600``)."""
    if isinstance(expiration, datetime.timedelta):
        seconds = int(expiration.total_seconds())
    elif isinstance(expiration, str):
        try:
            seconds = round(parse_duration(expiration))
        except DurationError as err:
            raise RbacError(f"token lifetime: {err}") from err
    else:
        seconds = int(expiration)
    if not MIN_TOKEN_SECONDS <= seconds <= MAX_TOKEN_SECONDS:
        raise RbacError(
            f"token lifetime {seconds}s is out of range: the API server issues tokens for "
            f"at least {MIN_TOKEN_SECONDS}s (10m) and at most {MAX_TOKEN_SECONDS}s"
        )
    return seconds


@either_client
async def create_service_account(
    client: Client,
    name: str,
    rules: Iterable[str | ShortRule | Mapping[str, Any]],
    path: str | os.PathLike[str],
    *,
    namespace: str | None = None,
    expiration: int | datetime.timedelta | str = 3600,
    dry_run: bool = False,
) -> Path:
    """Create (or update) ServiceAccount ``name`` allowed exactly ``rules`` in ``namespace``
    and write a kubeconfig for it to ``path``, holding a token valid for ``expiration``.

    The ServiceAccount, a Role and a RoleBinding (all named ``name``) are applied
    server-side, so running it again updates the rules and issues a fresh token.
    Input is checked before anything is written; if a later step fails, the
    :class:`RbacError` says which objects were applied already (the API error is its
    ``__cause__``).  With ``dry_run`` the server checks the objects (including whether
    the caller may grant the rules; the RoleBinding only if the Role exists already)
    and nothing is stored, no token is requested and no kubeconfig written; the path
    is returned all the same.
    """
    ns = namespace or client.namespace
    seconds = token_lifetime(expiration)
    policy = await policy_rules(client, rules)
    labels = dict(MANAGED_BY)
    steps: list[tuple[str, Object]] = [
        (
            f"serviceaccount/{name}",
            {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": {"name": name, "namespace": ns, "labels": labels},
            },
        ),
        (
            f"role.rbac.authorization.k8s.io/{name}",
            {
                "apiVersion": f"{RBAC_GROUP}/v1",
                "kind": "Role",
                "metadata": {"name": name, "namespace": ns, "labels": labels},
                "rules": policy,
            },
        ),
        (
            f"rolebinding.rbac.authorization.k8s.io/{name}",
            {
                "apiVersion": f"{RBAC_GROUP}/v1",
                "kind": "RoleBinding",
                "metadata": {"name": name, "namespace": ns, "labels": labels},
                "roleRef": {"apiGroup": RBAC_GROUP, "kind": "Role", "name": name},
                "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": ns}],
            },
        ),
    ]
    done: list[str] = []
    operation = f'create service account "{name}" in namespace "{ns}"'
    try:
        for label, obj in steps:
            try:
                await client.apply(obj, ns, field_manager=FIELD_MANAGER, dry_run=dry_run)
            except NotFound:
                # A Role applied in a dry run is not stored, so unless it exists from an
                # earlier run the server cannot check a binding to it (it answers 404).
                if dry_run and obj["kind"] == "RoleBinding":
                    continue
                raise
            done.append(label)
        if dry_run:
            return Path(path)
        token_request = {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenRequest",
            "spec": {"expirationSeconds": seconds},
        }
        issued = await client.create(
            token_request, ns, kind="serviceaccounts", name=name, subresource="token"
        )
    except KubeopsError as err:
        applied = f"{', '.join(done)} applied, then " if done else ""
        raise RbacError(f"{operation}: {applied}{err}") from err
    token = str((issued.get("status") or {}).get("token") or "")
    if not token:
        raise RbacError(f"{operation}: the TokenRequest returned no token")
    try:
        return write_kubeconfig(path, service_account_kubeconfig(client.config, name, ns, token))
    except OSError as err:
        raise RbacError(
            f"{operation}: {', '.join(done)} applied, but the kubeconfig cannot be written "
            f"to {path}: {err.strerror or err}"
        ) from None
