"""Listers: read one resource's objects from an informer's store, never from the server.

A controller asks the cache, not the API server, for what it needs on every
reconcile; a lister gives that question the shape of the API (list by label
selector, get by namespace and name, a miss is ``NotFound``) so code can move
between the two without change.  A namespaced lister reads the namespace index
instead of scanning every object.  Objects come back as stored: copy before
changing one.
"""

from __future__ import annotations

from kubeops.api import Object
from kubeops.cache.store import NAMESPACE_INDEX, Store
from kubeops.errors import NotFound
from kubeops.models.selector import Selector, parse_selector

__all__ = ["Lister", "NamespaceLister"]


def _selector(selector: Selector | str | None) -> Selector:
    if selector is None:
        return Selector.everything()
    if isinstance(selector, str):
        return parse_selector(selector)
    return selector


def _select(store: Store, selector: Selector | str | None, namespace: str | None) -> list[Object]:
    chosen = _selector(selector)
    if chosen.selects_nothing:
        return []
    if chosen.selects_everything:
        return store.list() if namespace is None else store.by_index(NAMESPACE_INDEX, namespace)
    return store.select(chosen.matches, namespace)


def _not_found(resource: str, namespace: str | None, name: str) -> NotFound:
    return NotFound(
        f'{resource} "{name}" not found in the cache',
        status=404,
        reason="NotFound",
        verb="get",
        resource=resource,
        namespace=namespace or None,
        name=name,
    )


class Lister:
    """One resource's objects in a store, across all namespaces.

    ``resource`` names the resource in errors, as kubectl does (``pods``,
    ``deployments.apps``).
    """

    def __init__(self, store: Store, resource: str) -> None:
        self._store = store
        self.resource = resource

    def list(self, selector: Selector | str | None = None) -> list[Object]:
        """The objects whose labels match ``selector`` (a :class:`Selector` or its text; None: all).

        ``Selector.nothing()`` selects no object.
        """
        return _select(self._store, selector, None)

    def get(self, namespace: str | None, name: str) -> Object:
        """The object ``namespace/name`` (``None`` or ``""`` for a cluster-scoped one).

        Raises :class:`~kubeops.errors.NotFound` when the store has no such object.
        """
        key = f"{namespace}/{name}" if namespace else name
        obj = self._store.get_by_key(key)
        if obj is None:
            raise _not_found(self.resource, namespace, name)
        return obj

    def namespaced(self, namespace: str) -> NamespaceLister:
        """A lister of the objects in ``namespace`` only."""
        return NamespaceLister(self._store, self.resource, namespace)

    def __repr__(self) -> str:
        return f"<Lister {self.resource}>"


class NamespaceLister:
    """One resource's objects in one namespace, found through the namespace index."""

    def __init__(self, store: Store, resource: str, namespace: str) -> None:
        self._store = store
        self.resource = resource
        self.namespace = namespace

    def list(self, selector: Selector | str | None = None) -> list[Object]:
        """The objects in this namespace whose labels match ``selector`` (None: all)."""
        return _select(self._store, selector, self.namespace)

    def get(self, name: str) -> Object:
        """The object ``name`` in this namespace; raises ``NotFound`` when the store has none."""
        obj = self._store.get_by_key(f"{self.namespace}/{name}" if self.namespace else name)
        if obj is None:
            raise _not_found(self.resource, self.namespace, name)
        return obj

    def __repr__(self) -> str:
        return f"<NamespaceLister {self.resource} in {self.namespace!r}>"
