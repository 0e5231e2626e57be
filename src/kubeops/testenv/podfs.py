"""The files a pod sees: volumes written as the kubelet writes them, paths resolved
inside an image's root filesystem, and the user an image names.

Kept apart from :mod:`kubeops.testenv.pod` (which runs the pod) because it is pure
file-system logic, tested without a cluster.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from kubeops.testenv.errors import ControlPlaneError


class PodError(ControlPlaneError):
    """A pod template the runner cannot run as written, named with the cause."""


class AtomicDir:
    """A volume directory written as the kubelet's atomic writer writes one.

    The files live in a timestamped ``..<time>`` directory; ``..data`` links to
    it and every visible name links through ``..data``.  An update writes a new
    timestamped directory and renames a fresh ``..data_tmp`` link over
    ``..data``, so a reader sees either all old files or all new ones.
    """

    def __init__(self, path: Path, fs_group: int | None = None) -> None:
        self.path = path
        self.fs_group = fs_group

    def write(self, files: Mapping[str, tuple[bytes, int]]) -> None:
        """Replace the directory's contents with ``files`` (path -> (data, mode))."""
        self.path.mkdir(parents=True, exist_ok=True)
        os.chmod(self.path, 0o755)
        stamp = datetime.now(UTC).strftime("%Y_%m_%d_%H_%M_%S")
        fresh = Path(tempfile.mkdtemp(prefix=f"..{stamp}.", dir=self.path))
        os.chmod(fresh, 0o755)
        for relative, (data, mode) in files.items():
            parts = PurePosixPath(relative).parts
            if not parts or ".." in parts or relative.startswith("/") or parts[0].startswith(".."):
                raise PodError(f"volume file path {relative!r} leaves its volume")
            target = fresh.joinpath(*parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            if self.fs_group is not None:
                os.chown(target, 0, self.fs_group)
            # With an fsGroup the group may read what the owner may, as the kubelet sets it.
            group_read = (mode & 0o600) >> 3 if self.fs_group is not None else 0
            os.chmod(target, mode | group_read)
        old = self._current()
        staging = self.path / "..data_tmp"
        with contextlib.suppress(FileNotFoundError):
            staging.unlink()
        os.symlink(fresh.name, staging)
        os.rename(staging, self.path / "..data")
        visible = {PurePosixPath(r).parts[0] for r in files}
        for entry in self.path.iterdir():
            if entry.name.startswith(".."):
                continue
            if entry.name not in visible:
                entry.unlink()
        for name in visible:
            link = self.path / name
            if not link.is_symlink():
                os.symlink(f"..data/{name}", link)
        if old is not None and old != fresh:
            _remove_tree(old)

    def _current(self) -> Path | None:
        try:
            return self.path / os.readlink(self.path / "..data")
        except FileNotFoundError:
            return None


def _remove_tree(path: Path) -> None:
    for child in sorted(path.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if child.is_dir() and not child.is_symlink():
            child.rmdir()
        else:
            child.unlink()
    path.rmdir()


def path_inside(rootfs: Path, path: str) -> str:
    """``path`` as seen inside ``rootfs``, its symlinks followed within that root
    (Debian's ``/var/run`` links to ``/run``; following it on the host would leave
    the image)."""
    resolved = PurePosixPath("/")
    pending = list(PurePosixPath(path).parts[1:])
    hops = 0
    while pending:
        part = pending.pop(0)
        if part in ("", "."):
            continue
        if part == "..":
            resolved = resolved.parent
            continue
        candidate = resolved / part
        host = rootfs / str(candidate).lstrip("/")
        if host.is_symlink():
            hops += 1
            if hops > 40:
                raise PodError(f"path {path!r} in the image has a symlink loop")
            target = PurePosixPath(os.readlink(host))
            if target.is_absolute():
                resolved = PurePosixPath("/")
            pending = list(target.parts[1:] if target.is_absolute() else target.parts) + pending
            continue
        resolved = candidate
    return str(resolved)


def image_user(rootfs: Path, user: str) -> tuple[int, int]:
    """The uid and gid an OCI ``User`` (``name``, ``uid``, ``name:group``...) means."""
    if not user:
        return 0, 0
    name, _, group = user.partition(":")
    uid, gid = _lookup(rootfs / "etc" / "passwd", name, 2, 3)
    if group:
        gid = _lookup(rootfs / "etc" / "group", group, 2, 2)[0]
    return uid, gid


def _lookup(database: Path, key: str, id_field: int, gid_field: int) -> tuple[int, int]:
    if key.isdigit():
        found = _entries(database, lambda row: row[id_field] == key)
        return (int(key), int(found[gid_field]) if found else int(key))
    row = _entries(database, lambda row: row[0] == key)
    if row is None:
        raise PodError(f"the image's user {key!r} is not in its {database.name}")
    return int(row[id_field]), int(row[gid_field])


def _entries(database: Path, match: Any) -> list[str] | None:
    with contextlib.suppress(FileNotFoundError):
        for line in database.read_text().splitlines():
            row = line.split(":")
            if len(row) >= 4 and match(row):
                return row
    return None
