"""Discovery: which resources a cluster serves, read once and refreshed on a miss.

Uses aggregated discovery (one request for ``/api`` and one for ``/apis``,
``apidiscovery.k8s.io/v2``) where the server offers it, and falls back to the
per-group-version documents otherwise.
"""

from __future__ import annotations

import asyncio
from typing import Any

from kubeops.api.resource import ResourceType
from kubeops.transport.transport import Operation, Transport

AGGREGATED = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"
_OP = Operation("discover", "api-resources")


class Discovery:
    """The resource types one cluster serves, preferred versions first."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport
        self._cached: list[ResourceType] | None = None
        self._lock = asyncio.Lock()

    async def resources(self, refresh: bool = False) -> list[ResourceType]:
        """Every resource the server serves (core and groups), cached until ``refresh``."""
        async with self._lock:
            if self._cached is None or refresh:
                core, groups = await asyncio.gather(self._get("/api"), self._get("/apis"))
                if core.get("kind") == "APIGroupDiscoveryList":
                    self._cached = _from_aggregated(core) + _from_aggregated(groups)
                else:
                    self._cached = await self._legacy(core, groups)
            return list(self._cached)

    async def _get(self, path: str, accept: str = AGGREGATED) -> dict[str, Any]:
        response = await self.transport.request("GET", path, _OP, accept=accept)
        document: dict[str, Any] = response.json()
        return document

    async def _legacy(self, core: dict[str, Any], groups: dict[str, Any]) -> list[ResourceType]:
        versions = [("", v) for v in core.get("versions", [])]
        for group in groups.get("groups", []):
            preferred = group.get("preferredVersion", {}).get("version")
            ordered = sorted(
                (v["version"] for v in group.get("versions", [])), key=lambda v: v != preferred
            )
            versions += [(group["name"], v) for v in ordered]
        documents = await asyncio.gather(
            *(
                self._get(f"/apis/{g}/{v}" if g else f"/api/{v}", "application/json")
                for g, v in versions
            )
        )
        found = []
        for (group, version), document in zip(versions, documents, strict=True):
            for r in document.get("resources", []):
                if "/" in r["name"]:
                    continue  # a subresource
                found.append(
                    ResourceType(
                        group,
                        version,
                        r["kind"],
                        r["name"],
                        r["namespaced"],
                        tuple(r.get("shortNames", ())),
                        tuple(r.get("verbs", ())),
                        r.get("singularName") or r["kind"].lower(),
                        tuple(r.get("categories", ())),
                    )
                )
        return found


def _from_aggregated(document: dict[str, Any]) -> list[ResourceType]:
    found = []
    for group in document.get("items", []):
        name = group.get("metadata", {}).get("name", "")
        for version in group.get("versions", []):  # the server lists the preferred first
            for r in version.get("resources", []):
                kind = r.get("responseKind", {}).get("kind", "")
                found.append(
                    ResourceType(
                        name,
                        version["version"],
                        kind,
                        r["resource"],
                        r.get("scope") == "Namespaced",
                        tuple(r.get("shortNames", ())),
                        tuple(r.get("verbs", ())),
                        r.get("singularResource") or kind.lower(),
                        tuple(r.get("categories", ())),
                    )
                )
    return found
