"""Kind ↔ resource mapping: turn what a user types into a :class:`ResourceType`.

Accepts everything kubectl accepts -- ``Deployment``, ``deployment``,
``deployments``, ``deploy``, ``deployments.apps``, ``deployments.v1.apps``,
``apps/v1/Deployment`` -- and, when nothing matches, says so with the closest
names it knows.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from kubeops.api.resource import ResourceType
from kubeops.errors import KubeopsError


class UnknownKind(KubeopsError, LookupError):
    """No resource type matches the name; the message suggests close ones."""


# When a short name is ambiguous, prefer the group kubectl prefers.
_GROUP_PRIORITY = ("", "apps", "batch", "autoscaling", "policy", "networking.k8s.io")


def _priority(resource: ResourceType) -> tuple[int, str]:
    try:
        return (_GROUP_PRIORITY.index(resource.group), resource.group)
    except ValueError:
        return (len(_GROUP_PRIORITY), resource.group)


class Mapper:
    """An index of resource types by every name a user may use for them."""

    def __init__(self, resources: Iterable[ResourceType] = ()) -> None:
        self._resources: list[ResourceType] = []
        self.extend(resources)

    @property
    def resources(self) -> list[ResourceType]:
        """The resources this mapper resolves names to, in lookup order."""
        return list(self._resources)

    def extend(self, resources: Iterable[ResourceType]) -> None:
        """Add resources not known yet (by group, version and plural); known ones are kept."""
        known = {(r.group, r.version, r.plural) for r in self._resources}
        for resource in resources:
            if (resource.group, resource.version, resource.plural) not in known:
                self._resources.append(resource)
                known.add((resource.group, resource.version, resource.plural))

    def find(self, name: str) -> ResourceType | None:
        """The best match for ``name``, or None."""
        matches = self._candidates(name)
        if not matches:
            return None
        return min(matches, key=_priority)

    def resolve(self, name: str) -> ResourceType:
        """Like :meth:`find`, but an unknown name raises :class:`UnknownKind` with suggestions."""
        found = self.find(name)
        if found is None:
            raise UnknownKind(self._unknown_message(name))
        return found

    def _candidates(self, name: str) -> list[ResourceType]:
        text = name.strip()
        if "/" in text:  # apps/v1/Deployment or v1/Pod
            api_version, _, kind = text.rpartition("/")
            api_group, _, api_ver = api_version.rpartition("/")
            return [
                r
                for r in self._resources
                if r.group == api_group
                and r.version == api_ver
                and kind.lower() in (r.kind.lower(), r.plural, r.singular)
            ]
        base, _, qualifier = text.partition(".")
        lowered = base.lower()
        group: str | None = None
        version: str | None = None
        if qualifier:
            # deployments.apps, or deployments.v1.apps
            head, _, rest = qualifier.partition(".")
            if head.startswith("v") and head[1:2].isdigit() and rest:
                version, group = head, rest
            else:
                group = qualifier
        matches = []
        for r in self._resources:
            names = (r.plural, r.singular, r.kind.lower(), *r.short_names)
            if lowered not in names and base != r.kind:
                continue
            if group is not None and r.group != group:
                continue
            if version is not None and r.version != version:
                continue
            matches.append(r)
        # Several versions of one group: the first listed (discovery's preferred) wins.
        seen: set[tuple[str, str]] = set()
        unique = []
        for r in matches:
            if (r.group, r.plural) not in seen:
                seen.add((r.group, r.plural))
                unique.append(r)
        return unique

    def _unknown_message(self, name: str) -> str:
        vocabulary = sorted(
            {n for r in self._resources for n in (r.plural, r.kind, *r.short_names)}
        )
        close = difflib.get_close_matches(name, vocabulary, n=3, cutoff=0.6)
        if not close:
            close = difflib.get_close_matches(name.lower(), vocabulary, n=3, cutoff=0.6)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        return (
            f"the server doesn't have a resource type {name!r}{hint} "
            "(`kubeops api-resources` lists them)"
        )
