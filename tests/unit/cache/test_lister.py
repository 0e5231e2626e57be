"""Listers select by label selector and namespace, and a miss is a NotFound naming the object."""

from __future__ import annotations

import pytest

from kubeops.cache import Lister, Store, make_store
from kubeops.errors import ApiError, NotFound, is_not_found
from kubeops.models import Selector, SelectorError, parse_selector

from .samples import node, pod


@pytest.fixture(params=["dict", "compact"])
def store(request: pytest.FixtureRequest) -> Store:
    store = make_store(request.param)
    store.add(pod("web-1", "prod", labels={"app": "web", "tier": "front"}))
    store.add(pod("web-2", "dev", labels={"app": "web"}))
    store.add(pod("db-1", "prod", labels={"app": "db"}))
    store.add(pod("bare", "prod"))
    return store


@pytest.fixture
def pods(store: Store) -> Lister:
    return Lister(store, "pods")


def names(objects: list[dict[str, object]]) -> list[str]:
    return sorted(o["metadata"]["name"] for o in objects)  # type: ignore[index]


def test_list_without_selector_returns_everything(pods: Lister) -> None:
    assert names(pods.list()) == ["bare", "db-1", "web-1", "web-2"]


def test_list_with_selector_text(pods: Lister) -> None:
    assert names(pods.list("app=web")) == ["web-1", "web-2"]
    assert names(pods.list("app in (web,db),tier!=front")) == ["db-1", "web-2"]


def test_list_with_selector_object(pods: Lister) -> None:
    assert names(pods.list(parse_selector("tier"))) == ["web-1"]
    assert names(pods.list(Selector.of({"app": "db"}))) == ["db-1"]


def test_objects_without_labels_match_only_selectors_that_allow_absence(pods: Lister) -> None:
    assert "bare" in names(pods.list("!app"))
    assert "bare" not in names(pods.list("app"))


def test_empty_selector_selects_everything(pods: Lister) -> None:
    assert len(pods.list("")) == 4
    assert len(pods.list(Selector.everything())) == 4


def test_nothing_selector_selects_nothing(pods: Lister) -> None:
    assert pods.list(Selector.nothing()) == []


def test_bad_selector_text_raises_selector_error(pods: Lister) -> None:
    with pytest.raises(SelectorError):
        pods.list("app in (web")


def test_namespaced_list_returns_only_that_namespace(pods: Lister) -> None:
    assert names(pods.namespaced("prod").list()) == ["bare", "db-1", "web-1"]
    assert names(pods.namespaced("prod").list("app=web")) == ["web-1"]
    assert pods.namespaced("nowhere").list() == []


def test_namespaced_list_reads_the_namespace_index(store: Store, pods: Lister) -> None:
    # Hide everything from a full scan: only an index lookup can still find the objects.
    store.list = lambda: []  # type: ignore[method-assign]
    assert names(pods.namespaced("dev").list()) == ["web-2"]


def test_get_returns_the_stored_object(store: Store, pods: Lister) -> None:
    assert pods.get("prod", "web-1") is store.get_by_key("prod/web-1")
    assert pods.namespaced("dev").get("web-2") is store.get_by_key("dev/web-2")


def test_get_of_a_cluster_scoped_object() -> None:
    store = Store()
    store.add(node("node-a"))
    nodes = Lister(store, "nodes")
    assert nodes.get(None, "node-a")["metadata"]["name"] == "node-a"
    assert nodes.get("", "node-a")["metadata"]["name"] == "node-a"


def test_get_miss_raises_not_found_naming_resource_namespace_and_name(pods: Lister) -> None:
    with pytest.raises(NotFound) as caught:
        pods.get("prod", "web-9")
    err = caught.value
    assert (err.status, err.reason, err.verb) == (404, "NotFound", "get")
    assert (err.resource, err.namespace, err.name) == ("pods", "prod", "web-9")
    assert str(err) == (
        'get pods "web-9" in namespace "prod": NotFound: pods "web-9" not found in the cache (404)'
    )
    assert is_not_found(err)
    assert isinstance(err, ApiError)


def test_get_miss_in_wrong_namespace_is_not_found(pods: Lister) -> None:
    with pytest.raises(NotFound, match='in namespace "dev"'):
        pods.namespaced("dev").get("web-1")


def test_cluster_scoped_miss_names_no_namespace() -> None:
    nodes = Lister(Store(), "nodes")
    with pytest.raises(NotFound) as caught:
        nodes.get(None, "node-z")
    assert caught.value.namespace is None
    assert (
        str(caught.value)
        == 'get nodes "node-z": NotFound: nodes "node-z" not found in the cache (404)'
    )


def test_lister_sees_later_store_changes(store: Store, pods: Lister) -> None:
    store.add(pod("web-3", "dev", labels={"app": "web"}))
    store.delete(pod("web-2", "dev"))
    assert names(pods.namespaced("dev").list("app=web")) == ["web-3"]
