"""The pure parts of the RBAC tools: subjects, the authorizer's rule matching, aggregation,
which bindings grant what, short rules, durations and the ServiceAccount kubeconfig."""

from __future__ import annotations

import datetime
import stat
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubeops.config import ClusterConfig, load_config
from kubeops.config.kubeconfig import write_kubeconfig
from kubeops.ops.rbac import (
    AccessReview,
    Grant,
    RbacError,
    ShortRule,
    Subject,
    Target,
    aggregated_rules,
    binding_subjects,
    check_verbs,
    find_grants,
    parse_rule,
    rule_allows,
    service_account_kubeconfig,
    token_lifetime,
    verb_warnings,
)

# -- subjects ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "subject"),
    [
        ("alice", Subject("User", "alice")),
        ("user:alice", Subject("User", "alice")),
        ("group:devs", Subject("Group", "devs")),
        ("serviceaccount:shop/web", Subject("ServiceAccount", "web", "shop")),
        ("sa:shop/web", Subject("ServiceAccount", "web", "shop")),
        ("system:serviceaccount:shop:web", Subject("ServiceAccount", "web", "shop")),
        ("system:kube-scheduler", Subject("User", "system:kube-scheduler")),
        ("system:serviceaccount:only-namespace", Subject("User", "system:serviceaccount:only-namespace")),
    ],
)  # fmt: skip
def test_subjects_parse_from_what_users_type(text: str, subject: Subject) -> None:
    assert Subject.parse(text) == subject


def test_a_service_account_subject_needs_a_namespace() -> None:
    with pytest.raises(RbacError, match="serviceaccount:NAMESPACE/NAME"):
        Subject.parse("serviceaccount:web")


def test_subjects_carry_the_groups_impersonation_gives_them() -> None:
    sa = Subject("ServiceAccount", "web", "shop")
    assert sa.user == "system:serviceaccount:shop:web"
    assert sa.groups() == (
        "system:serviceaccounts",
        "system:serviceaccounts:shop",
        "system:authenticated",
    )
    assert sa.groups(["team"]) == ("team", "system:authenticated")  # given groups replace them
    assert Subject("User", "alice").groups() == ("system:authenticated",)
    assert Subject("User", "alice").groups(["system:authenticated", "x"]) == (
        "system:authenticated",
        "x",
    )
    assert Subject("User", "system:anonymous").groups() == ("system:unauthenticated",)
    assert Subject("Group", "devs").user == ""
    assert Subject("Group", "devs").groups() == ("devs",)
    assert str(sa) == "ServiceAccount shop/web"


# -- targets ----------------------------------------------------------------------------------


def test_targets_become_access_review_attributes() -> None:
    target = Target("get", "deployments", "apps", "scale", "web", "shop")
    assert target.attributes() == {
        "resourceAttributes": {
            "verb": "get",
            "group": "apps",
            "resource": "deployments",
            "subresource": "scale",
            "name": "web",
            "namespace": "shop",
        }
    }
    assert str(target) == 'get deployments.apps/scale "web" in namespace "shop"'
    assert Target("get", "nodes").attributes() == {
        "resourceAttributes": {"verb": "get", "resource": "nodes"}
    }
    assert Target("get", path="/healthz").attributes() == {
        "nonResourceAttributes": {"verb": "get", "path": "/healthz"}
    }


def test_unknown_verbs_are_warned_about_like_kubectl() -> None:
    assert verb_warnings("get") == []
    assert verb_warnings("escalate") == []
    assert verb_warnings("frob") == ["verb 'frob' is not a known verb"]
    assert verb_warnings("post", non_resource=True) == []
    assert verb_warnings("list", non_resource=True) == ["verb 'list' is not a known verb"]


def test_an_access_review_serializes_its_answer_and_question() -> None:
    answer = AccessReview(
        Target("get", "pods", namespace="shop"),
        allowed=False,
        reason="no binding",
        subject=Subject("User", "bob"),
        groups=("system:authenticated",),
        warnings=("w",),
    )
    assert answer.to_dict() == {
        "allowed": False,
        "denied": False,
        "reason": "no binding",
        "evaluationError": "",
        "target": {"verb": "get", "group": "", "resource": "pods", "namespace": "shop"},
        "subject": {"kind": "User", "name": "bob"},
        "groups": ["system:authenticated"],
        "warnings": ["w"],
    }


# -- rule matching ----------------------------------------------------------------------------

PODS_READ = {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}


@pytest.mark.parametrize(
    ("rule", "target", "allowed"),
    [
        (PODS_READ, Target("get", "pods", namespace="a"), True),
        (PODS_READ, Target("delete", "pods"), False),
        (PODS_READ, Target("get", "pods", "apps"), False),
        (PODS_READ, Target("get", "pods", subresource="log"), False),
        ({**PODS_READ, "verbs": ["*"]}, Target("escalate", "pods"), True),
        ({**PODS_READ, "apiGroups": ["*"]}, Target("get", "pods", "example.com"), True),
        ({**PODS_READ, "resources": ["*"]}, Target("get", "pods", subresource="log"), True),
        ({**PODS_READ, "resources": ["pods/log"]}, Target("get", "pods", subresource="log"), True),
        ({**PODS_READ, "resources": ["pods/log"]}, Target("get", "pods"), False),
        ({**PODS_READ, "resources": ["*/log"]}, Target("get", "pods", subresource="log"), True),
        ({**PODS_READ, "resources": ["*/log"]}, Target("get", "pods"), False),
        ({**PODS_READ, "resourceNames": ["web"]}, Target("get", "pods", name="web"), True),
        ({**PODS_READ, "resourceNames": ["web"]}, Target("get", "pods", name="db"), False),
        ({**PODS_READ, "resourceNames": ["web"]}, Target("list", "pods"), False),
        ({"nonResourceURLs": ["/healthz"], "verbs": ["get"]}, Target("get", path="/healthz"), True),
        ({"nonResourceURLs": ["/healthz/*"], "verbs": ["get"]}, Target("get", path="/healthz/etcd"), True),
        ({"nonResourceURLs": ["/healthz"], "verbs": ["get"]}, Target("get", path="/healthz/etcd"), False),
        ({"nonResourceURLs": ["*"], "verbs": ["get"]}, Target("get", path="/metrics"), True),
        (PODS_READ, Target("get", path="/pods"), False),
        ({"nonResourceURLs": ["*"], "verbs": ["*"]}, Target("get", "pods"), False),
    ],
)  # fmt: skip
def test_rules_match_as_the_rbac_authorizer_matches_them(
    rule: dict[str, Any], target: Target, allowed: bool
) -> None:
    assert rule_allows(rule, target) is allowed


# -- aggregation ------------------------------------------------------------------------------


def cluster_role(
    name: str,
    rules: list[dict[str, Any]] | None = None,
    labels: dict[str, str] | None = None,
    selectors: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    role: dict[str, Any] = {
        "metadata": {"name": name, "labels": labels or {}},
        "rules": rules or [],
    }
    if selectors is not None:
        role["aggregationRule"] = {"clusterRoleSelectors": selectors}
    return role


def test_aggregated_roles_hold_the_rules_of_the_roles_they_select_transitively() -> None:
    widgets = {"apiGroups": ["example.com"], "resources": ["widgets"], "verbs": ["get"]}
    gadgets = {"apiGroups": ["example.com"], "resources": ["gadgets"], "verbs": ["get"]}
    roles = [
        cluster_role("top", selectors=[{"matchLabels": {"to-top": "true"}}]),
        cluster_role(
            "middle",
            [PODS_READ],
            labels={"to-top": "true"},
            selectors=[
                {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["low"]}]}
            ],
        ),
        cluster_role("widgets", [widgets], labels={"tier": "low"}),
        cluster_role("gadgets", [gadgets], labels={"tier": "high"}),
    ]
    effective = aggregated_rules(roles)
    assert [(s.rule, s.aggregated_from) for s in effective["top"]] == [
        (widgets, "widgets"),
        (PODS_READ, "middle"),
    ]
    assert [(s.rule, s.aggregated_from) for s in effective["middle"]] == [
        (widgets, "widgets"),
        (PODS_READ, ""),
    ]
    assert effective["gadgets"][0].aggregated_from == ""


def test_rules_the_controller_copied_already_are_not_counted_twice() -> None:
    roles = [
        cluster_role("view", [PODS_READ], selectors=[{"matchLabels": {"agg": "view"}}]),
        cluster_role("pods", [PODS_READ], labels={"agg": "view"}),
    ]
    assert [(s.rule, s.aggregated_from) for s in aggregated_rules(roles)["view"]] == [
        (PODS_READ, "pods")
    ]


def test_aggregation_cycles_and_invalid_selectors_end() -> None:
    roles = [
        cluster_role("a", [PODS_READ], {"x": "1"}, [{"matchLabels": {"y": "1"}}]),
        cluster_role("b", [], {"y": "1"}, [{"matchLabels": {"x": "1"}}]),
        cluster_role("c", [], {}, [{"matchExpressions": [{"key": "x", "operator": "Bogus"}]}]),
    ]
    effective = aggregated_rules(roles)
    assert [s.rule for s in effective["b"]] == [PODS_READ]
    assert effective["c"] == []


# -- grants -----------------------------------------------------------------------------------


def binding(
    kind: str, name: str, role_kind: str, role: str, subjects: list[dict[str, str]], ns: str = ""
) -> dict[str, Any]:
    metadata = {"name": name, **({"namespace": ns} if ns else {})}
    return {
        "kind": kind,
        "metadata": metadata,
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role},
        "subjects": subjects,
    }


def test_binding_subjects_default_a_service_accounts_namespace_to_the_bindings() -> None:
    rb = binding(
        "RoleBinding",
        "b",
        "Role",
        "r",
        [
            {"kind": "ServiceAccount", "name": "web"},
            {"kind": "ServiceAccount", "name": "ci", "namespace": "tools"},
            {"kind": "User", "name": "alice", "apiGroup": "rbac.authorization.k8s.io"},
            {"kind": "Group", "name": "devs"},
        ],
        ns="shop",
    )
    assert binding_subjects(rb) == [
        Subject("ServiceAccount", "web", "shop"),
        Subject("ServiceAccount", "ci", "tools"),
        Subject("User", "alice"),
        Subject("Group", "devs"),
    ]
    crb = binding(
        "ClusterRoleBinding", "b", "ClusterRole", "r", [{"kind": "ServiceAccount", "name": "x"}]
    )
    assert binding_subjects(crb) == []  # invalid without a namespace: it applies to nobody


def test_grants_come_from_cluster_bindings_everywhere_and_role_bindings_in_their_namespace() -> (
    None
):
    cluster_roles = [
        cluster_role("pod-reader", [PODS_READ]),
        cluster_role("admin", [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]),
    ]
    roles = [
        {"metadata": {"name": "local", "namespace": "shop"}, "rules": [PODS_READ]},
        {"metadata": {"name": "local", "namespace": "other"}, "rules": [PODS_READ]},
    ]
    cluster_bindings = [
        binding(
            "ClusterRoleBinding",
            "admins",
            "ClusterRole",
            "admin",
            [{"kind": "Group", "name": "ops"}],
        ),
        binding(
            "ClusterRoleBinding",
            "dangling",
            "ClusterRole",
            "absent",
            [{"kind": "User", "name": "x"}],
        ),
    ]
    role_bindings = [
        binding("RoleBinding", "via-role", "Role", "local", [{"kind": "User", "name": "alice"}], "shop"),
        binding("RoleBinding", "via-cr", "ClusterRole", "pod-reader", [{"kind": "ServiceAccount", "name": "web"}], "shop"),
        binding("RoleBinding", "elsewhere", "Role", "local", [{"kind": "User", "name": "bob"}], "other"),
    ]  # fmt: skip
    everything = {
        "cluster_roles": cluster_roles,
        "cluster_role_bindings": cluster_bindings,
        "roles": roles,
        "role_bindings": role_bindings,
    }
    grants = find_grants(Target("get", "pods", namespace="shop"), **everything)
    assert [(str(g.subject), g.binding, g.role) for g in grants] == [
        ("Group ops", "ClusterRoleBinding/admins", "ClusterRole/admin"),
        ("ServiceAccount shop/web", "RoleBinding/shop/via-cr", "ClusterRole/pod-reader"),
        ("User alice", "RoleBinding/shop/via-role", "Role/local"),
    ]
    # In every namespace at once (and for cluster-scoped kinds) only ClusterRoleBindings count.
    everywhere = find_grants(Target("get", "pods"), **everything)
    assert [str(g.subject) for g in everywhere] == ["Group ops"]
    assert find_grants(Target("delete", "pods", namespace="shop"), **everything)[0].to_dict() == {
        "subject": {"kind": "Group", "name": "ops"},
        "binding": {"kind": "ClusterRoleBinding", "name": "admins"},
        "role": {"kind": "ClusterRole", "name": "admin"},
    }


def test_a_grant_through_aggregation_names_the_role_the_rule_came_from() -> None:
    roles = [
        cluster_role("parent", selectors=[{"matchLabels": {"agg": "yes"}}]),
        cluster_role("child", [PODS_READ], labels={"agg": "yes"}),
    ]
    bindings = [
        binding("ClusterRoleBinding", "b", "ClusterRole", "parent", [{"kind": "User", "name": "u"}])
    ]
    (grant,) = find_grants(
        Target("list", "pods", namespace="x"), cluster_roles=roles, cluster_role_bindings=bindings
    )
    assert grant == Grant(
        Subject("User", "u"), "ClusterRoleBinding", "b", "", "ClusterRole", "parent", "child"
    )
    assert grant.role == "ClusterRole/parent (aggregated from ClusterRole/child)"
    assert grant.to_dict()["role"] == {"kind": "ClusterRole", "name": "parent", "aggregatedFrom": "child"}  # fmt: skip


# -- short rules and durations ----------------------------------------------------------------


def test_short_rules_parse_verbs_resources_and_names() -> None:
    assert parse_rule("get,list,watch:pods,deploy") == ShortRule(
        ("get", "list", "watch"), ("pods", "deploy")
    )
    assert parse_rule(" get : secrets : app-tls , db ") == ShortRule(
        ("get",), ("secrets",), ("app-tls", "db")
    )
    assert parse_rule("*:pods/log") == ShortRule(("*",), ("pods/log",))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("pods", "write VERBS:RESOURCES"),
        ("get:pods:a:b", "write VERBS:RESOURCES"),
        (":pods", "names no verb"),
        ("get:", "names no resource"),
        ("get:secrets:", "list of names after the second ':' is empty"),
        ("lsit:pods", r"unknown verb 'lsit' \(known verbs: get, list"),
    ],
)
def test_bad_short_rules_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(RbacError, match=message):
        parse_rule(text)


def test_several_unknown_verbs_are_listed_together() -> None:
    with pytest.raises(RbacError, match="unknown verbs 'a', 'b'"):
        check_verbs(["get", "a", "b"], "rule")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("1h", 3600), ("90m", 5400), ("1h30m", 5400), ("3600s", 3600), ("7200", 7200), ("2h0m10s", 7210), ("1.5h", 5400), ("1d", 86400)],
)  # fmt: skip
def test_token_lifetimes_are_durations_as_kubectl_writes_them(text: str, seconds: int) -> None:
    assert token_lifetime(text) == seconds


@pytest.mark.parametrize("text", ["", "h", "10 m", "soon"])
def test_bad_token_lifetimes_are_refused(text: str) -> None:
    with pytest.raises(RbacError, match="token lifetime: invalid duration"):
        token_lifetime(text)


def test_token_lifetimes_respect_the_api_servers_limits() -> None:
    assert token_lifetime(datetime.timedelta(hours=2)) == 7200
    assert token_lifetime("10m") == 600
    assert token_lifetime(600) == 600
    with pytest.raises(RbacError, match=r"token lifetime 599s is out of range.*at least 600s"):
        token_lifetime(599)
    with pytest.raises(RbacError, match="out of range"):
        token_lifetime(2**32 + 1)


# -- kubeconfig -------------------------------------------------------------------------------


def test_the_kubeconfig_takes_only_the_cluster_from_the_callers_config(tmp_path: Path) -> None:
    caller = ClusterConfig(
        server="https://10.0.0.1:6443",
        namespace="default",
        context="prod",
        source="test",
        ca_data=b"-----BEGIN CERTIFICATE-----\n",
        tls_server_name="api.internal",
        impersonate_user="someone-else",
    )
    config = service_account_kubeconfig(caller, "web", "shop", "TOKEN")
    user = "system:serviceaccount:shop:web"
    assert config == {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "prod",
                "cluster": {
                    "server": "https://10.0.0.1:6443",
                    "certificate-authority-data": "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==",
                    "tls-server-name": "api.internal",
                },
            }
        ],
        "users": [{"name": user, "user": {"token": "TOKEN"}}],
        "contexts": [
            {
                "name": "shop/web@prod",
                "context": {"cluster": "prod", "user": user, "namespace": "shop"},
            }
        ],
        "current-context": "shop/web@prod",
    }


async def test_the_kubeconfig_is_private_and_loads_as_the_service_account(tmp_path: Path) -> None:
    caller = ClusterConfig(
        server="https://10.0.0.1:6443",
        namespace="default",
        context=None,
        source="test",
        insecure_skip_tls_verify=True,
    )
    path = write_kubeconfig(
        tmp_path / "deep" / "web.kubeconfig",
        service_account_kubeconfig(caller, "web", "shop", "TOKEN"),
    )
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert yaml.safe_load(path.read_text())["clusters"][0]["cluster"]["insecure-skip-tls-verify"]
    loaded = load_config(path)
    assert (loaded.server, loaded.namespace) == ("https://10.0.0.1:6443", "shop")
    assert (await loaded.credentials.get()).token == "TOKEN"
    assert [p.name for p in path.parent.iterdir()] == ["web.kubeconfig"]  # no temporary left
