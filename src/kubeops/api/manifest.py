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
import dataclasses
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from kubeops.api.client import DEFAULT_FIELD_MANAGER, Client
from kubeops.api.object import Object
from kubeops.api.resource import InvalidPathSegment, _segment
from kubeops.api.sync import either_client
from kubeops.config import safe_yaml
from kubeops.config.inputs import (
    MANIFEST_LIMIT,
    InputError,
    files_under,
    read_bounded,
    read_stream_bounded,
)
from kubeops.config.redact import printable
from kubeops.config.schema import type_name
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
    item: str = ""  # ``.items[2]`` for an object unpacked from a list

    @property
    def where(self) -> str:
        """``FILE, document N (line L)``, and ``items[I]`` for a list's item, for messages."""
        item = f", {self.item.removeprefix('.')}" if self.item else ""
        return f"{self.source}, document {self.index} (line {self.line}){item}"

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
        for file in _files(Path(source)):
            try:
                data = read_bounded(file, limit=MANIFEST_LIMIT, what="manifest")
            except InputError as err:
                raise ManifestError(str(err)) from None
            manifests += parse_manifests(data, str(file))
    return manifests


def _files(path: Path) -> list[Path]:
    """``path`` itself, or the manifest files under the directory ``path``."""
    try:
        if path.is_dir():
            return files_under(path, _SUFFIXES)
        if path.exists():
            return [path]
    except OSError as err:
        raise ManifestError(f"cannot read manifests from {path}: {err.strerror or err}") from None
    raise ManifestError(f"cannot read manifests from {path}: no such file or directory")


def parse_manifests(text: str | bytes, source: str) -> list[Manifest]:
    """Parse a YAML stream into checked objects.

    A list -- ``kind: List`` or ``<Kind>List`` with ``items``, as ``kubectl get -o
    yaml`` writes them -- is unpacked as kubectl does: each item is an object, and
    items with neither ``apiVersion`` nor ``kind`` (as a typed list holds them) take
    the list's ``apiVersion`` and its kind without ``List``.
    """
    manifests: list[Manifest] = []
    documents = safe_yaml.load_all(text, source, error=ManifestError)
    for index, loaded in enumerate(documents, start=1):
        if loaded.value is None:
            continue
        manifests += _unpacked(Manifest(loaded.value, source, index, loaded.line))
    return manifests


def _is_list(obj: Object) -> bool:
    kind = obj.get("kind")
    return kind == "List" or (isinstance(kind, str) and kind.endswith("List") and "items" in obj)


def _unpacked(manifest: Manifest) -> list[Manifest]:
    obj = manifest.object
    if not isinstance(obj, dict):
        raise ManifestError(
            f"{manifest.where}: expected a Kubernetes object (a mapping), not {type_name(obj)}"
        )
    if not _is_list(obj):
        return [_checked(manifest)]
    items = obj.get("items")
    if items is None:
        return []
    if not isinstance(items, list):
        raise ManifestError(f"{manifest.where}: items must be a list, not {type_name(items)}")
    kind, api_version = obj["kind"], obj.get("apiVersion")
    unpacked: list[Manifest] = []
    for number, item in enumerate(items):
        typed = item
        if isinstance(item, dict) and kind != "List" and not ({"apiVersion", "kind"} & set(item)):
            typed = {"apiVersion": api_version, "kind": kind.removesuffix("List"), **item}
        where = f"{manifest.item}.items[{number}]"
        unpacked += _unpacked(dataclasses.replace(manifest, object=typed, item=where))
    return unpacked


def _checked(manifest: Manifest) -> Manifest:
    """The manifest, if the fields kubeops reads to send it have the types they must."""
    obj = manifest.object
    for field in ("apiVersion", "kind"):
        value = obj.get(field)
        if value is None or value == "":
            raise ManifestError(f"{manifest.where}: missing or empty field {field!r}")
        if not isinstance(value, str):
            raise ManifestError(
                f"{manifest.where}: {field} must be a string, not {type_name(value)}"
            )
    metadata = obj.get("metadata")
    if not isinstance(metadata, dict):
        raise ManifestError(
            f"{manifest.where}: {printable(obj['kind'], one_line=True)} has no metadata.name"
        )
    for field in ("name", "generateName", "namespace"):
        value = metadata.get(field)
        if value is not None and not isinstance(value, str):
            raise ManifestError(
                f"{manifest.where}: metadata.{field} must be a string, not {type_name(value)}"
            )
    if not (metadata.get("name") or metadata.get("generateName")):
        raise ManifestError(
            f"{manifest.where}: {printable(obj['kind'], one_line=True)} has no metadata.name"
        )
    for field in ("name", "namespace"):
        value = metadata.get(field)
        if value:  # part of the object's URL path: refused here with the file and line
            try:
                _segment(f"metadata.{field}", value)
            except InvalidPathSegment as err:
                raise ManifestError(f"{manifest.where}: {err}") from None
    for field in ("labels", "annotations"):
        value = metadata.get(field)
        if value is None:
            continue
        if not isinstance(value, dict):
            raise ManifestError(
                f"{manifest.where}: metadata.{field} must be a mapping, not {type_name(value)}"
            )
        for key, text in value.items():
            shown = key if key.isprintable() and " " not in key else repr(key)
            if not isinstance(text, str):
                raise ManifestError(
                    f"{manifest.where}: metadata.{field}.{shown} must be a string, "
                    f"not {type_name(text)} (quote it)"
                )
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
