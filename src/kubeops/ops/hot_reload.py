"""ConfigMap and Secret hot reload: a callback with the new data on every change, or a
directory kept in sync atomically, the way the kubelet projects them into volumes.

A :class:`Subscription` runs an informer on the one object (a field selector on
its name), so it rides through API server restarts, dropped watches and
compactions, and after a relist it delivers only what actually changed.  The
callback receives a :class:`ConfigData`: every key's content as bytes (Secret
values decoded from base64, ConfigMap ``binaryData`` too), with helpers to read a
key as text or parse it as YAML or JSON.  Callbacks run one at a time, in order,
on the client's event loop (the :class:`~kubeops.api.SyncClient`'s own thread
with the sync API), and only when the data differs from what was delivered last.
A callback that raises is logged, and the data is delivered again at the next
change or resync (every ``RETRY_PERIOD`` seconds).

:func:`sync_directory` keeps a directory holding one file per key, laid out as the
kubelet's atomic writer lays out projected volumes::

    DIR/..2024_05_01_10_00_00.a1b2c3/   one complete version, never modified once published
    DIR/..data -> ..2024_05_01_10_00_00.a1b2c3
    DIR/KEY -> ..data/KEY               for every key

A new version is written to a new hidden directory and published by renaming a
new ``..data`` symlink over the old one, a single atomic step; the old version is
first renamed away, then removed.  Opening ``DIR/KEY`` therefore always gives a
complete file, and :func:`read_snapshot` gives all keys of one version (it reads
through one resolution of ``..data`` and starts again if that version was retired
meanwhile).  When the object is deleted the directory keeps its last content,
as the kubelet's does.  A key whose name is already taken in the directory by
something else (a file, a directory, a foreign link) is refused before anything
is switched, so a publish is all or nothing and never replaces a user's file.

Every function takes an async :class:`~kubeops.api.Client` (and returns a
coroutine to await) or a :class:`~kubeops.api.SyncClient` (and returns the result).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import datetime
import inspect
import logging
import os
import re
import shutil
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, overload

from kubeops.api import Client, Object, ResourceType, SyncClient
from kubeops.cache import DeletedFinalStateUnknown, SharedInformer
from kubeops.config.redact import printable
from kubeops.errors import KubeopsError
from kubeops.models.duration import format_duration

__all__ = [
    "DATA_LINK",
    "ConfigData",
    "Subscription",
    "SyncSubscription",
    "read_snapshot",
    "subscribe",
    "sync_directory",
    "write_snapshot",
]

log = logging.getLogger(__name__)

DATA_LINK = "..data"
_LINK_TMP = "..data_tmp"
_RETIRED = "..retired."
# What the API server accepts as a ConfigMap or Secret key.
_KEY = re.compile(r"[-._a-zA-Z0-9]+")
DEFAULT_SYNC_TIMEOUT = 30.0
# A delivery that failed (a callback raising, a full disk) is tried again at the next
# change or, with no change, at the next resync.
RETRY_PERIOD = 30.0
# The names write_snapshot gives versions; only these are ever retired.
_VERSION = re.compile(r"\.\.\d{4}(_\d\d){5}\..+")

Callback = Callable[["ConfigData"], Awaitable[None] | None]
DeleteCallback = Callable[[], Awaitable[None] | None]


class HotReloadError(KubeopsError):
    """A subscription could not start, or a directory could not be kept in sync."""


@dataclass(frozen=True)
class ConfigData:
    """The data of one ConfigMap or Secret version: each key's content as bytes."""

    kind: str  # "ConfigMap" or "Secret"
    namespace: str
    name: str
    uid: str
    resource_version: str
    data: Mapping[str, bytes]

    @classmethod
    def from_object(cls, obj: Object, kind: str | None = None) -> ConfigData:
        """Decode a ConfigMap or Secret; ``kind`` is needed for list items, which carry none."""
        meta = _mapping(obj.get("metadata"), "the object", "metadata")
        kind = kind or str(obj.get("kind") or "ConfigMap")
        # For messages only: cluster data may hold line breaks, kept out of the one line.
        name = printable(
            f"{kind.lower()} {meta.get('namespace', '')}/{meta.get('name', '')}", one_line=True
        )
        data: dict[str, bytes] = {}
        if kind == "Secret":
            for key, value in _mapping(obj.get("data"), name, "data").items():
                data[str(key)] = _b64(value, name, key)
        else:
            for key, value in _mapping(obj.get("data"), name, "data").items():
                data[str(key)] = str(value).encode("utf-8", "replace")
            for key, value in _mapping(obj.get("binaryData"), name, "binaryData").items():
                data[str(key)] = _b64(value, name, key)
        return cls(
            kind=kind,
            namespace=str(meta.get("namespace", "")),
            name=str(meta.get("name", "")),
            uid=str(meta.get("uid", "")),
            resource_version=str(meta.get("resourceVersion", "")),
            data=data,
        )

    def text(self, key: str, encoding: str = "utf-8") -> str:
        """The content of ``key`` as text; ``KeyError`` when the key is absent."""
        return self.data[key].decode(encoding)

    def load(self, key: str) -> Any:
        """The content of ``key`` parsed as YAML (JSON is YAML too)."""
        from kubeops.config import safe_yaml

        source = f"{self.kind.lower()} {self.namespace}/{self.name}: key {key!r}"
        return safe_yaml.load(self.data[key], source, error=HotReloadError)

    def strings(self) -> dict[str, str]:
        """Every key as UTF-8 text (undecodable bytes replaced)."""
        return {k: v.decode("utf-8", errors="replace") for k, v in self.data.items()}


def _mapping(value: Any, name: str, field: str) -> Mapping[Any, Any]:
    """``value`` when it is a mapping, {} when absent; cluster data of another shape is refused."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise HotReloadError(f"{name}: {field} is {type(value).__name__}, not a mapping")
    return value


def _b64(value: Any, name: str, key: str) -> bytes:
    try:
        return base64.b64decode(str(value), validate=True)
    except (binascii.Error, ValueError) as err:
        raise HotReloadError(f"{name}: key {key!r} is not valid base64: {err}") from err


class Subscription:
    """Calls ``callback`` with the new :class:`ConfigData` whenever a ConfigMap's or
    Secret's data changes (and once at start when it exists); ``on_delete`` when it
    is deleted.  ``async with Subscription(...) as sub`` or :func:`subscribe`."""

    def __init__(
        self,
        client: Client,
        kind: str | ResourceType,
        name: str,
        callback: Callback,
        *,
        namespace: str | None = None,
        on_delete: DeleteCallback | None = None,
    ) -> None:
        self.client = client
        self.kind = kind
        self.name = name
        self.namespace = namespace or client.namespace
        self.callback = callback
        self.on_delete = on_delete
        self._current: ConfigData | None = None
        self._informer: SharedInformer | None = None
        self._kind = "ConfigMap"

    @property
    def current(self) -> ConfigData | None:
        """The data delivered last; None before the object exists and after it is deleted."""
        return self._current

    @property
    def description(self) -> str:
        """``ConfigMap "app" in namespace "shop"``, for messages."""
        kind = self.kind if isinstance(self.kind, str) else self.kind.kind
        return f'{kind} "{self.name}" in namespace "{self.namespace}"'

    async def start(self, timeout: float | None = DEFAULT_SYNC_TIMEOUT) -> None:
        """Start watching; return once the current data (if any) has been delivered.

        An error retrying cannot fix (forbidden, unauthorized: see
        :func:`~kubeops.cache.is_fatal_watch_error`) is raised at once; anything else
        is retried until ``timeout`` seconds pass, then :class:`HotReloadError`.
        """
        if self._informer is not None:
            return
        resource = await self.client.resource(self.kind)
        if resource.group or resource.kind not in ("ConfigMap", "Secret"):
            raise HotReloadError(
                f"hot reload follows ConfigMaps and Secrets, not {resource.qualified_name}"
            )
        self._kind = resource.kind
        informer = SharedInformer(
            self.client,
            resource,
            namespace=self.namespace,
            field_selector=f"metadata.name={self.name}",
            resync_period=RETRY_PERIOD,
        )
        registration = informer.add_handler(
            on_add=lambda obj, _initial: self._changed(obj),
            on_update=lambda _old, new: self._changed(new),
            on_delete=self._deleted,
            resync_period=RETRY_PERIOD,
        )
        self._informer = informer
        informer.start()
        try:
            synced = await informer.wait_for_sync(
                timeout, fail_fast=True, registration=registration
            )
        except BaseException:
            await self._abandon()
            raise
        if not synced:
            await self._abandon()
            assert timeout is not None
            cause = f": {informer.last_error}" if informer.last_error else ""
            raise HotReloadError(
                f"watching {self.description}: not in sync after {format_duration(timeout)}{cause}"
            )

    async def _abandon(self) -> None:
        await self.stop()
        self._informer = None

    async def stop(self) -> None:
        """Stop watching; the data delivered last stays in ``current``."""
        if self._informer is not None:
            await self._informer.stop()

    async def __aenter__(self) -> Subscription:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _changed(self, obj: Object) -> None:
        try:
            data = ConfigData.from_object(obj, self._kind)
            if self._current is not None and self._current.data == data.data:
                return  # metadata only, or the same data seen again after a relist
            await _call(self.callback, data)
        except HotReloadError as err:
            log.error("%s: %s; trying again at the next change or resync", self.description, err)
            return
        except Exception:
            log.exception(
                "%s: the callback failed; trying again at the next change or resync",
                self.description,
            )
            return
        self._current = data

    async def _deleted(self, obj: Object | DeletedFinalStateUnknown) -> None:
        self._current = None
        if self.on_delete is not None:
            await _call(self.on_delete)


async def _call(function: Callable[..., Awaitable[None] | None], *args: Any) -> None:
    result = function(*args)
    if inspect.isawaitable(result):
        await result


class SyncSubscription:
    """A :class:`Subscription` running on a :class:`~kubeops.api.SyncClient`'s loop."""

    def __init__(self, subscription: Subscription, client: SyncClient) -> None:
        self.subscription = subscription
        self.client = client

    @property
    def current(self) -> ConfigData | None:
        """See :attr:`Subscription.current`."""
        return self.subscription.current

    @property
    def description(self) -> str:
        """See :attr:`Subscription.description`."""
        return self.subscription.description

    def stop(self) -> None:
        """See :meth:`Subscription.stop`."""
        self.client.run(self.subscription.stop())

    def __enter__(self) -> SyncSubscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@overload
def subscribe(
    client: Client,
    kind: str | ResourceType,
    name: str,
    callback: Callback,
    *,
    namespace: str | None = None,
    on_delete: DeleteCallback | None = None,
    timeout: float | None = DEFAULT_SYNC_TIMEOUT,
) -> Coroutine[Any, Any, Subscription]: ...
@overload
def subscribe(
    client: SyncClient,
    kind: str | ResourceType,
    name: str,
    callback: Callback,
    *,
    namespace: str | None = None,
    on_delete: DeleteCallback | None = None,
    timeout: float | None = DEFAULT_SYNC_TIMEOUT,
) -> SyncSubscription: ...
def subscribe(
    client: Client | SyncClient,
    kind: str | ResourceType,
    name: str,
    callback: Callback,
    *,
    namespace: str | None = None,
    on_delete: DeleteCallback | None = None,
    timeout: float | None = DEFAULT_SYNC_TIMEOUT,
) -> Coroutine[Any, Any, Subscription] | SyncSubscription:
    """A started :class:`Subscription` to a ConfigMap or Secret (``kind``: ``configmap``,
    ``cm``, ``secret``...); the current data, if the object exists, has been delivered
    when it returns.  Stop it with ``stop()`` (or use it as a context manager)."""
    if isinstance(client, SyncClient):
        sub = Subscription(
            client.client, kind, name, callback, namespace=namespace, on_delete=on_delete
        )
        client.run(sub.start(timeout))
        return SyncSubscription(sub, client)
    return _started(
        Subscription(client, kind, name, callback, namespace=namespace, on_delete=on_delete),
        timeout,
    )


async def _started(subscription: Subscription, timeout: float | None) -> Subscription:
    await subscription.start(timeout)
    return subscription


@overload
def sync_directory(
    client: Client,
    kind: str | ResourceType,
    name: str,
    directory: str | os.PathLike[str],
    *,
    namespace: str | None = None,
    mode: int | None = None,
    on_update: Callback | None = None,
    timeout: float | None = DEFAULT_SYNC_TIMEOUT,
) -> Coroutine[Any, Any, Subscription]: ...
@overload
def sync_directory(
    client: SyncClient,
    kind: str | ResourceType,
    name: str,
    directory: str | os.PathLike[str],
    *,
    namespace: str | None = None,
    mode: int | None = None,
    on_update: Callback | None = None,
    timeout: float | None = DEFAULT_SYNC_TIMEOUT,
) -> SyncSubscription: ...
def sync_directory(
    client: Client | SyncClient,
    kind: str | ResourceType,
    name: str,
    directory: str | os.PathLike[str],
    *,
    namespace: str | None = None,
    mode: int | None = None,
    on_update: Callback | None = None,
    timeout: float | None = DEFAULT_SYNC_TIMEOUT,
) -> Coroutine[Any, Any, Subscription] | SyncSubscription:
    """Keep ``directory`` holding one file per key of a ConfigMap or Secret, swapped in
    atomically on every change (see the module's docstring for the layout).

    Files get ``mode`` (default 0o644 for a ConfigMap, 0o600 for a Secret);
    ``on_update`` is called with the data after each version is published.  When it
    returns, the current data (if the object exists) is in the directory.
    """
    target = Path(directory)

    async def publish(data: ConfigData) -> None:
        file_mode = mode if mode is not None else (0o600 if data.kind == "Secret" else 0o644)
        try:
            await asyncio.to_thread(write_snapshot, target, data.data, mode=file_mode)
        except OSError as err:
            # The last good version stays in place.
            raise HotReloadError(
                f"{target}: cannot write version {data.resource_version}: {err}"
            ) from err
        if on_update is not None:
            await _call(on_update, data)

    if isinstance(client, SyncClient):
        return subscribe(client, kind, name, publish, namespace=namespace, timeout=timeout)
    return subscribe(client, kind, name, publish, namespace=namespace, timeout=timeout)


# -- the atomic directory ----------------------------------------------------------------


def write_snapshot(
    directory: str | os.PathLike[str], files: Mapping[str, bytes], *, mode: int = 0o644
) -> bool:
    """Publish ``files`` as the new version of ``directory``; False when it already held them.

    Readers never see a partial version: the files are written into a new hidden
    directory, which a rename of the ``..data`` symlink publishes in one step.
    """
    base = Path(directory)
    for key in files:
        if not _KEY.fullmatch(key) or key.startswith(".."):
            raise HotReloadError(f"{base}: {key!r} cannot be a file name in a synced directory")
    base.mkdir(parents=True, exist_ok=True)
    current = _published(base)
    if current is not None and _holds(base / current, files):
        return False
    _refuse_collisions(base, files)
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y_%m_%d_%H_%M_%S")
    version = Path(tempfile.mkdtemp(prefix=f"..{stamp}.", dir=base))
    try:
        for key, content in files.items():
            fd = os.open(version / key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
            try:
                os.fchmod(fd, mode)  # exactly ``mode``, whatever the umask
                view = memoryview(content)
                while view:
                    view = view[os.write(fd, view) :]
            finally:
                os.close(fd)
        version.chmod(0o755)
        _replace_link(base, DATA_LINK, version.name)
    except BaseException:
        shutil.rmtree(version, ignore_errors=True)
        raise
    try:
        for key in files:
            link = f"{DATA_LINK}/{key}"
            path = base / key
            if not (path.is_symlink() and os.readlink(path) == link):
                _replace_link(base, key, link)
    except BaseException:
        # Something appeared meanwhile: put the previous version back, all or nothing.
        if current is not None:
            _replace_link(base, DATA_LINK, current)
        shutil.rmtree(version, ignore_errors=True)
        raise
    for entry in os.scandir(base):
        if entry.name.startswith(".."):
            if (
                entry.is_dir(follow_symlinks=False)
                and entry.name != version.name
                and (_VERSION.fullmatch(entry.name) or entry.name.startswith(_RETIRED))
            ):
                _retire(base, entry.name)  # the old version, or one a crash left half-written
            elif entry.name.startswith(_LINK_TMP):
                os.unlink(entry.path)  # a link a crash left before its rename
        elif (
            entry.name not in files
            and entry.is_symlink()
            and os.readlink(entry.path).startswith(f"{DATA_LINK}/")
        ):
            os.unlink(entry.path)  # a key the new version no longer has
    return True


def _refuse_collisions(base: Path, files: Mapping[str, bytes]) -> None:
    """Refuse, before anything is switched, keys whose name is taken by something
    that is not this directory's link to ``..data/KEY``: a regular file, a directory
    or a foreign link would be replaced silently or make the publish stop half-way
    (``..data`` switched, links dangling), as the kubelet's atomic writer refuses too."""
    taken = []
    for key in files:
        path = base / key
        if path.is_symlink():
            if os.readlink(path) == f"{DATA_LINK}/{key}":
                continue
            what = "a link to something else"
        elif path.is_dir():
            what = "a directory"
        elif os.path.lexists(path):
            what = "a file not written by sync_directory"
        else:
            continue
        taken.append(f"{key!r} ({what})")
    if taken:
        raise HotReloadError(
            f"{base}: cannot publish: {', '.join(taken)} already there; remove "
            f"{'it' if len(taken) == 1 else 'them'} or sync into an empty directory"
        )


def read_snapshot(directory: str | os.PathLike[str]) -> dict[str, bytes] | None:
    """All files of the version ``directory/..data`` points to, or None before the first.

    Every file comes from the same version: when that version is retired while it
    is being read, the newer one is read instead.
    """
    base = Path(directory)
    for attempt in range(1000):
        target = _published(base)
        if target is None:
            return None
        version = base / target
        try:
            files = {name: (version / name).read_bytes() for name in os.listdir(version)}
        except (FileNotFoundError, NotADirectoryError):
            files = None
        # A version is renamed away before any of its files goes, so if its path is
        # still there now, nothing was missing when it was listed and read.
        if files is not None and version.is_dir():
            return files
        if attempt > 10:
            time.sleep(0.001)
    raise HotReloadError(f"{base}: {DATA_LINK} points to no readable version")


def _published(base: Path) -> str | None:
    try:
        return os.readlink(base / DATA_LINK)
    except OSError:
        return None


def _holds(version: Path, files: Mapping[str, bytes]) -> bool:
    try:
        if set(os.listdir(version)) != set(files):
            return False
        return all((version / key).read_bytes() == content for key, content in files.items())
    except OSError:
        return False


def _replace_link(base: Path, name: str, target: str) -> None:
    temporary = base / f"{_LINK_TMP}.{uuid.uuid4().hex[:8]}"
    os.symlink(target, temporary)
    try:
        os.replace(temporary, base / name)
    except OSError as err:
        os.unlink(temporary)
        raise HotReloadError(f"{base / name}: cannot replace it with a link: {err}") from err


def _retire(base: Path, name: str) -> None:
    """Remove an old version: renamed first, so no reader finds it half removed."""
    path = base / name
    if not name.startswith(_RETIRED):
        retired = base / f"{_RETIRED}{uuid.uuid4().hex[:12]}"
        try:
            path.rename(retired)
        except FileNotFoundError:
            return
        path = retired
    shutil.rmtree(path, ignore_errors=True)
