"""Keys are client-go's namespace/name, tombstones keep theirs, and bad keys fail clearly."""

from __future__ import annotations

import pytest

from kubeops.cache import (
    DeletedFinalStateUnknown,
    InvalidKey,
    deletion_handling_key,
    object_key,
    split_key,
)
from kubeops.errors import KubeopsError

from .samples import node, pod


def test_namespaced_object_key_is_namespace_slash_name() -> None:
    assert object_key(pod("web-1", "prod")) == "prod/web-1"


def test_cluster_scoped_object_key_is_its_name() -> None:
    assert object_key(node("node-a")) == "node-a"


def test_empty_namespace_counts_as_cluster_scoped() -> None:
    assert object_key({"metadata": {"name": "x", "namespace": ""}}) == "x"


@pytest.mark.parametrize(
    "obj",
    [{}, {"metadata": None}, {"metadata": {}}, {"metadata": {"name": ""}}, {"kind": "Pod"}],
)
def test_object_without_a_name_cannot_be_keyed(obj: dict[str, object]) -> None:
    with pytest.raises(InvalidKey, match=r"no metadata\.name"):
        object_key(obj)


def test_invalid_key_is_a_kubeops_error_and_a_value_error() -> None:
    assert issubclass(InvalidKey, KubeopsError)
    assert issubclass(InvalidKey, ValueError)


def test_split_key_of_namespaced_key() -> None:
    assert split_key("prod/web-1") == ("prod", "web-1")


def test_split_key_of_cluster_scoped_key_has_empty_namespace() -> None:
    assert split_key("node-a") == ("", "node-a")


def test_split_key_rejects_more_than_two_parts() -> None:
    with pytest.raises(InvalidKey, match="a/b/c"):
        split_key("a/b/c")


def test_split_key_inverts_object_key() -> None:
    for obj in (pod("web-1", "prod"), node("node-a")):
        namespace, name = split_key(object_key(obj))
        assert name == obj["metadata"]["name"]
        assert namespace == obj["metadata"].get("namespace", "")


def test_tombstone_keeps_key_and_last_known_object() -> None:
    last = pod("web-1", "prod", rv="7")
    tombstone = DeletedFinalStateUnknown("prod/web-1", last)
    assert tombstone.key == "prod/web-1"
    assert tombstone.obj is last


def test_tombstone_is_immutable_and_compares_by_value() -> None:
    tombstone = DeletedFinalStateUnknown("a", None)
    assert tombstone == DeletedFinalStateUnknown("a", None)
    with pytest.raises(AttributeError):
        tombstone.key = "b"  # type: ignore[misc]


def test_deletion_handling_key_uses_a_tombstones_key_as_is() -> None:
    # The key wins even when the object inside would give another (or none).
    assert deletion_handling_key(DeletedFinalStateUnknown("ns/gone", None)) == "ns/gone"
    assert deletion_handling_key(DeletedFinalStateUnknown("x/y", pod("other", "z"))) == "x/y"


def test_deletion_handling_key_of_a_plain_object_is_its_object_key() -> None:
    assert deletion_handling_key(pod("web-1", "prod")) == "prod/web-1"
