"""Manifests: multi-document YAML (or JSON) from files, directories or stdin, and
applying them in dependency order.

Loading checks every document before anything is sent, so a typo in the fifth
file stops the run with the file, the document's index and line, and the
field -- before the first four were half-applied.  Applying puts
CustomResourceDefinitions and Namespaces first and waits until each CRD is
Established, so custom resources in the same set apply in one run.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from kubeops.api.client import DEFAULT_FIELD_MANAGER, Client
from kubeops.api.object import Object
from kubeops.api.sync import either_client
from kubeops.config import safe_yaml
from kubeops.config.inputs import MANIFEST_LIMIT, InputError, read_bounded, read_stream_bounded
from kubeops.errors import KubeopsError, NotFound

_SUFFIXES = (".yaml", ".yml", ".json")
_CRDS = "customresourcedefinitions.apiextensions.k8s.io"
# Applied first, in this order; everything else keeps the order it was given in.
_FIRST = ("CustomResourceDefinition", "Namespace")


class ManifestError(KubeopsError):
    """A manifest that cannot be read or is not a Kubernetes object."""


@dataclass(frozen=True)
class Manifest:
    """One object and where it came from (for messages)."""

    object: Object
    source: str
    index: int  # the document's position in its file, from 1
    line: int

    @property
    def where(self) -> str:
        """``FILE, document N (line L)``, for messages."""
        return f"{self.source}, document {self.index} (line {self.line})"

    def describe(self) -> str:
        """``kind/name`` as kubectl names the object."""
        meta = self.object.get("metadata", {})
        name = meta.get("name") or meta.get("generateName", "")
        return f"{self.object.get('kind', '?').lower()}/{name}"


Action = Literal["created", "configured", "unchanged"]


@dataclass(frozen=True)
class Applied:
    """What applying one manifest did: created, configured or unchanged (or would, in a dry run)."""

    manifest: Manifest
    action: Action
    object: Object
    dry_run: bool

    def __str__(self) -> str:
        suffix = " (server dry run)" if self.dry_run else ""
        return f"{self.manifest.describe()} {self.action}{suffix}"


def load_manifests(sources: Iterable[str | Path]) -> list[Manifest]:
    """Every object in ``sources`` (files, directories searched recursively, or ``-``)."""
    manifests: list[Manifest] = []
    for source in sources:
        if str(source) == "-":
            try:
                data = read_stream_bounded(sys.stdin.buffer, limit=MANIFEST_LIMIT, what="<stdin>")
            except InputError as err:
                raise ManifestError(f"cannot read manifests from {err}") from None
            manifests += parse_manifests(data, "<stdin>")
            continue
        path = Path(source)
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.suffix in _SUFFIXES and p.is_file())
        elif path.exists():
            files = [path]
        else:
            raise ManifestError(f"cannot read manifests from {path}: no such file or directory")
        for file in files:
            try:
                data = read_bounded(file, limit=MANIFEST_LIMIT, what="manifest")
            except InputError as err:
                raise ManifestError(str(err)) from None
            manifests += parse_manifests(data, str(file))
    return manifests


def parse_manifests(text: str | bytes, source: str) -> list[Manifest]:
    """Parse a YAML stream; ``kind: List`` documents are expanded into their items."""
    manifests: list[Manifest] = []
    documents = safe_yaml.load_all(text, source, error=ManifestError)
    for index, loaded in enumerate(documents, start=1):
        document, line = loaded.value, loaded.line
        if document is None:
            continue
        entry = Manifest(document, source, index, line)
        if not isinstance(document, dict):
            raise ManifestError(
                f"{entry.where}: expected a Kubernetes object (a mapping), got {type(document).__name__}"
            )
        if document.get("kind") == "List" or str(document.get("kind", "")).endswith("List"):
            for item in document.get("items") or []:
                manifests.append(_checked(Manifest(item, source, index, line)))
            continue
        manifests.append(_checked(entry))
    return manifests


def _checked(manifest: Manifest) -> Manifest:
    obj = manifest.object
    if not isinstance(obj, dict):
        raise ManifestError(f"{manifest.where}: a List item is not an object")
    for field in ("apiVersion", "kind"):
        if not isinstance(obj.get(field), str) or not obj[field]:
            raise ManifestError(f"{manifest.where}: missing or empty field {field!r}")
    metadata = obj.get("metadata")
    if not isinstance(metadata, dict) or not (metadata.get("name") or metadata.get("generateName")):
        raise ManifestError(f"{manifest.where}: {obj['kind']} has no metadata.name")
    return manifest


def dependency_order(manifests: Sequence[Manifest]) -> list[Manifest]:
    """CRDs, then Namespaces, then everything else in the order given."""

    def rank(m: Manifest) -> int:
        kind = m.object.get("kind", "")
        return _FIRST.index(kind) if kind in _FIRST else len(_FIRST)

    return sorted(manifests, key=rank)  # sorted() is stable


async def apply_manifests(
    client: Client,
    manifests: Sequence[Manifest],
    *,
    field_manager: str = DEFAULT_FIELD_MANAGER,
    force: bool = False,
    dry_run: bool = False,
    crd_timeout: float = 60.0,
) -> list[Applied]:
    """Server-side apply each manifest in dependency order; report what changed.

    On an error the objects applied so far are attached to the raised
    :class:`PartialApply`, so nothing half-done goes unreported.
    """
    results: list[Applied] = []
    for manifest in dependency_order(manifests):
        try:
            results.append(await _apply_one(client, manifest, field_manager, force, dry_run))
            if manifest.object.get("kind") == "CustomResourceDefinition" and not dry_run:
                name = manifest.object["metadata"]["name"]
                await wait_for_crd_established(client, name, timeout=crd_timeout)
        except KubeopsError as err:
            raise PartialApply(manifest, err, results) from err
    return results


class PartialApply(KubeopsError):
    """Applying stopped at one manifest; ``applied`` lists what was applied before it."""

    def __init__(self, failed: Manifest, cause: KubeopsError, applied: list[Applied]) -> None:
        self.failed = failed
        self.cause = cause
        self.applied = applied
        done = "; ".join(str(a) for a in applied) or "nothing"
        super().__init__(
            f"{failed.describe()} from {failed.where} failed: {cause}. Applied before it: {done}"
        )


async def _apply_one(
    client: Client, manifest: Manifest, field_manager: str, force: bool, dry_run: bool
) -> Applied:
    obj = manifest.object
    resource = await client.resource(f"{obj['apiVersion']}/{obj['kind']}")
    name = obj["metadata"].get("name")
    before: Object | None = None
    if name:
        try:
            before = await client.get(resource, name, obj["metadata"].get("namespace"))
        except NotFound:
            before = None
    if name:
        after = await client.apply(obj, field_manager=field_manager, force=force, dry_run=dry_run)
    else:
        after = await client.create(obj, dry_run=dry_run, field_manager=field_manager)
    action: Action
    if before is None:
        action = "created"
    elif before["metadata"].get("resourceVersion") == after["metadata"].get("resourceVersion"):
        action = "unchanged"
    else:
        action = "configured"
    return Applied(manifest, action, after, dry_run)


@either_client
async def wait_for_crd_established(client: Client, name: str, *, timeout: float = 60.0) -> Object:
    """Wait until the CustomResourceDefinition ``name`` (``widgets.example.com``) is
    Established and its resource is in discovery, so objects of it can be created at
    once; returns the CRD.

    Raises :class:`ManifestError` at once when the CRD's names are not accepted
    (``NamesAccepted=False``: they clash with another CRD's), or when it is not
    served within ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    while True:
        crd = await client.get(_CRDS, name)
        conditions = {
            c.get("type"): c
            for c in (crd.get("status") or {}).get("conditions") or []
            if isinstance(c, dict)
        }
        names = conditions.get("NamesAccepted") or {}
        if names.get("status") == "False":
            raise ManifestError(
                f"CustomResourceDefinition {name}: its names were not accepted: "
                f"{names.get('message') or names.get('reason')}"
            )
        if (conditions.get("Established") or {}).get("status") == "True":
            # Discovery is updated just after Established: until then the kind is unknown.
            await client.refresh_discovery()
            if client.mapper.find(name) is not None:
                return crd
        if time.monotonic() > deadline:
            raise ManifestError(
                f"CustomResourceDefinition {name} was not Established and served "
                f"within {timeout:g}s"
            )
        await asyncio.sleep(0.1)
