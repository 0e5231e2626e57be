"""Which requests a ValidatingAdmissionPolicy's rules and selectors match, as the API server decides."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from kubeops.policy.model import GroupVersionResource, Operation, Review
from kubeops.policy.vap_match import MatchResources, ResourceRule


def _review(obj: dict[str, Any], **options: Any) -> Review:
    sub = options.pop("sub_resource", "")
    review = Review.of_object(obj, **options)
    return dataclasses.replace(review, sub_resource=sub) if sub else review


def _pod(name: str = "web", namespace: str = "shop", **labels: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": namespace, "labels": labels}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta}


def _rule(**fields: Any) -> ResourceRule:
    base = {"apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"], "operations": ["*"]}
    return ResourceRule.of({**base, **fields})


@pytest.mark.parametrize(
    ("fields", "matched"),
    [
        ({}, True),
        ({"resources": ["*"]}, True),
        ({"resources": ["*/*"]}, True),
        ({"resources": ["deployments"]}, False),
        ({"apiGroups": ["apps"]}, False),
        ({"apiGroups": ["*"], "apiVersions": ["*"]}, True),
        ({"operations": ["UPDATE", "DELETE"]}, False),
        ({"operations": ["CREATE"]}, True),
        ({"scope": "Namespaced"}, True),
        ({"scope": "Cluster"}, False),
        ({"resourceNames": ["web"]}, True),
        ({"resourceNames": ["db"]}, False),
        ({"resources": ["pods/status"]}, False),
    ],
)
def test_a_rule_matches_on_every_part_of_the_request(fields: dict[str, Any], matched: bool) -> None:
    assert _rule(**fields).matches(_review(_pod())) is matched


@pytest.mark.parametrize(
    ("resources", "matched"),
    [
        (["pods"], False),
        (["pods/status"], True),
        (["pods/*"], True),
        (["*"], False),
        (["*/status"], True),
    ],
)
def test_subresources_are_matched_only_by_rules_naming_them(
    resources: list[str], matched: bool
) -> None:
    review = _review(_pod(), operation=Operation.UPDATE, sub_resource="status")
    assert _rule(resources=resources).matches(review) is matched


def test_a_namespace_object_is_cluster_scoped() -> None:
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}
    review = _review(namespace)
    assert review.resource == GroupVersionResource("", "v1", "namespaces")
    assert _rule(resources=["namespaces"], scope="Cluster").matches(review)
    assert not _rule(resources=["namespaces"], scope="Namespaced").matches(review)


def test_excluded_resources_win_over_matched_ones() -> None:
    match = MatchResources.of(
        {
            "resourceRules": [
                {"apiGroups": ["*"], "apiVersions": ["*"], "resources": ["*"], "operations": ["*"]}
            ],
            "excludeResourceRules": [
                {
                    "apiGroups": [""],
                    "apiVersions": ["v1"],
                    "resources": ["pods"],
                    "operations": ["*"],
                    "resourceNames": ["web"],
                }
            ],
        }
    )
    assert not match.matches(_review(_pod("web")), None)
    assert match.matches(_review(_pod("db")), None)


def test_equivalent_matching_accepts_another_version_exact_does_not() -> None:
    rules = [{"apiGroups": [""], "apiVersions": ["v2"], "resources": ["pods"], "operations": ["*"]}]
    assert MatchResources.of({"resourceRules": rules}).matches(_review(_pod()), None)
    exact = MatchResources.of({"resourceRules": rules, "matchPolicy": "Exact"})
    assert not exact.matches(_review(_pod()), None)


def test_a_binding_without_rules_matches_every_resource() -> None:
    assert MatchResources.of({}).matches(_review(_pod()), None)
    assert MatchResources.of(None).matches(_review(_pod()), None)


def test_the_namespace_selector_reads_the_namespace_labels() -> None:
    match = MatchResources.of({"namespaceSelector": {"matchLabels": {"tier": "prod"}}})
    prod = {"metadata": {"name": "shop", "labels": {"tier": "prod"}}}
    dev = {"metadata": {"name": "shop", "labels": {"tier": "dev"}}}
    assert match.matches(_review(_pod()), prod)
    assert not match.matches(_review(_pod()), dev)


def test_an_unknown_namespace_has_only_its_name_label() -> None:
    by_name = MatchResources.of(
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "shop"}}}
    )
    assert by_name.matches(_review(_pod()), None)
    assert not by_name.matches(_review(_pod(namespace="other")), None)


def test_cluster_scoped_objects_are_never_exempted_by_a_namespace_selector() -> None:
    match = MatchResources.of({"namespaceSelector": {"matchLabels": {"tier": "prod"}}})
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}}
    assert match.matches(_review(node), None)
    namespace = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": "x", "labels": {"tier": "dev"}},
    }
    assert not match.matches(_review(namespace), None)  # a Namespace is judged by its own labels


def test_the_object_selector_matches_the_new_or_the_old_object() -> None:
    match = MatchResources.of({"objectSelector": {"matchLabels": {"app": "web"}}})
    assert match.matches(_review(_pod(app="web")), None)
    assert not match.matches(_review(_pod(app="db")), None)
    update = _review(_pod(app="db"), operation=Operation.UPDATE, old_object=_pod(app="web"))
    assert match.matches(update, None)
    delete = _review(_pod(app="web"), operation=Operation.DELETE)
    assert match.matches(delete, None)
