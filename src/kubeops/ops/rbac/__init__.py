"""RBAC tools: ask whether a subject may do something, find who may, tabulate what a
subject may do, and hand out a least-privilege ServiceAccount with a kubeconfig.

* :mod:`.attributes` -- who asks (:class:`Subject`) and what about (:class:`Target`),
  and the verbs Kubernetes authorizers know;
* :mod:`.authorizer` -- the RBAC authorizer's rules, evaluated locally (pure):
  :func:`rule_allows`, :func:`aggregated_rules`, :func:`find_grants`;
* :mod:`.reviews` -- questions put to the API server: :func:`can_i` (an access
  review), :func:`who_can` (the roles and bindings, evaluated), :func:`access_matrix`
  (one access review per cell);
* :mod:`.service_account` -- :func:`create_service_account`: a ServiceAccount, a
  Role holding a short rule list and a RoleBinding, and a token of a given lifetime;
* :mod:`.kubeconfig` -- the kubeconfig that reaches the cluster as that ServiceAccount.

Every function that talks to a cluster takes an async :class:`~kubeops.api.Client`
(await it) or a :class:`~kubeops.api.SyncClient` (it blocks and returns the result).
"""

from kubeops.ops.rbac.attributes import (
    KNOWN_VERBS,
    NON_RESOURCE_VERBS,
    SPECIAL_VERBS,
    STANDARD_VERBS,
    RbacError,
    Subject,
    Target,
    check_verbs,
    verb_warnings,
)
from kubeops.ops.rbac.authorizer import (
    Grant,
    SourcedRule,
    aggregated_rules,
    binding_subjects,
    find_grants,
    rule_allows,
)
from kubeops.ops.rbac.kubeconfig import service_account_kubeconfig
from kubeops.ops.rbac.reviews import (
    AccessMatrix,
    AccessReview,
    WhoCan,
    access_matrix,
    can_i,
    resolve_target,
    review,
    who_can,
)
from kubeops.ops.rbac.service_account import (
    MAX_TOKEN_SECONDS,
    MIN_TOKEN_SECONDS,
    ShortRule,
    create_service_account,
    parse_rule,
    policy_rules,
    token_lifetime,
)

__all__ = [
    "KNOWN_VERBS",
    "MAX_TOKEN_SECONDS",
    "MIN_TOKEN_SECONDS",
    "NON_RESOURCE_VERBS",
    "SPECIAL_VERBS",
    "STANDARD_VERBS",
    "AccessMatrix",
    "AccessReview",
    "Grant",
    "RbacError",
    "ShortRule",
    "SourcedRule",
    "Subject",
    "Target",
    "WhoCan",
    "access_matrix",
    "aggregated_rules",
    "binding_subjects",
    "can_i",
    "check_verbs",
    "create_service_account",
    "find_grants",
    "parse_rule",
    "policy_rules",
    "resolve_target",
    "review",
    "rule_allows",
    "service_account_kubeconfig",
    "token_lifetime",
    "verb_warnings",
    "who_can",
]
