"""The shared policy values: reviews made from manifests and from admission requests."""

from __future__ import annotations

import pytest

from kubeops.policy.model import (
    GroupVersionKind,
    GroupVersionResource,
    Operation,
    PolicyLoadError,
    Problem,
    Review,
    Source,
    resource_of,
)

DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web", "namespace": "shop"},
}


def test_a_manifest_becomes_a_create_request_with_its_resource_and_place() -> None:
    review = Review.of_object(DEPLOYMENT, location=Source("deploy.yaml", 3))
    assert review.operation == Operation.CREATE
    assert review.resource == GroupVersionResource("apps", "v1", "deployments")
    assert review.namespace == "shop"
    assert review.name == "web"
    assert review.describe() == "Deployment shop/web at deploy.yaml:3"
    request = review.request()
    assert request["kind"] == {"group": "apps", "version": "v1", "kind": "Deployment"}
    assert request["object"] is DEPLOYMENT
    assert request["oldObject"] is None
    assert request["operation"] == "CREATE"


def test_a_cluster_scoped_kind_has_no_namespace_even_if_the_manifest_names_one() -> None:
    obj = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a", "namespace": "x"}}
    review = Review.of_object(obj)
    assert not review.namespaced
    assert review.namespace == ""


def test_a_delete_reviews_the_old_object() -> None:
    review = Review.of_object(DEPLOYMENT, operation=Operation.DELETE)
    assert review.object is None
    assert review.old_object is DEPLOYMENT
    assert review.subject is DEPLOYMENT


@pytest.mark.parametrize(
    ("kind", "plural"),
    [
        ("Widget", "widgets"),
        ("Policy", "policies"),
        ("Gateway", "gateways"),
        ("Ingress", "ingresses"),
        ("Mesh", "meshes"),
        ("Box", "boxes"),
    ],
)
def test_unknown_kinds_take_the_api_servers_default_plural(kind: str, plural: str) -> None:
    resource, namespaced = resource_of(GroupVersionKind("example.com", "v1", kind))
    assert resource.resource == plural
    assert namespaced


def test_built_in_kinds_take_their_real_plural_and_scope() -> None:
    assert resource_of(GroupVersionKind("networking.k8s.io", "v1", "NetworkPolicy")) == (
        GroupVersionResource("networking.k8s.io", "v1", "networkpolicies"),
        True,
    )
    assert resource_of(GroupVersionKind("", "v1", "Node"))[1] is False


def test_an_admission_request_round_trips() -> None:
    original = Review.of_object(DEPLOYMENT, operation=Operation.UPDATE, old_object=DEPLOYMENT)
    request = {**original.request(), "uid": "u-1", "userInfo": {"username": "alice"}}
    again = Review.of_admission(request)
    assert again.request() == request
    assert again.uid == "u-1"
    assert again.user_info == {"username": "alice"}


def test_load_errors_are_one_line_each_naming_file_line_and_policy() -> None:
    error = PolicyLoadError(
        [
            Problem(
                Source("p/a.yaml", 7), "no-latest", "expression: undeclared reference to 'obj'"
            ),
            Problem(Source("p/b.rego"), "", "cannot read"),
        ]
    )
    assert str(error).splitlines() == [
        "p/a.yaml:7: policy no-latest: expression: undeclared reference to 'obj'",
        "p/b.rego: cannot read",
    ]


def test_the_request_is_built_once_per_review_and_not_part_of_equality() -> None:
    review = Review.of_object(DEPLOYMENT)
    assert review.request() is review.request()
    assert review == Review.of_object(DEPLOYMENT)
