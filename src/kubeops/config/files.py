"""Writing files that hold secrets: the one way kubeops does it.

:func:`write_private` is the only writer of private keys, kubeconfigs, tokens and
password files.  Such a file is never readable by another user, not even for a
moment, and never written through a symlink an attacker planted: the content goes
to a new file under a unique name in the same directory, created with mode 0600
from its first byte (``O_CREAT | O_EXCL | O_NOFOLLOW``, so no umask widens it and
no existing file or link is reused), synced to disk, then renamed over the target
(a rename replaces a symlink at the target; it never follows it).  Readers see the
old file or the new one, never part of one; a failure leaves no temporary file.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from pathlib import Path

PathLike = str | os.PathLike[str]

PRIVATE_MODE = 0o600
_FLAGS = (
    os.O_WRONLY
    | os.O_CREAT
    | os.O_EXCL
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_CLOEXEC", 0)
)


def write_private(path: PathLike, data: bytes | str, mode: int = PRIVATE_MODE) -> Path:
    """Write ``data`` to ``path`` atomically, the file created with ``mode`` (0600).

    Public material (a certificate) may pass 0644 to get the same atomic write; the
    mode is applied at creation and again with ``fchmod``, so no umask changes it.  Missing parent
    directories are created (0700).  Returns the path written.
    """
    target = Path(path)
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    content = data.encode() if isinstance(data, str) else data
    temporary, descriptor = _create(target, mode)
    try:
        try:
            os.fchmod(descriptor, mode)  # the umask may only have narrowed it; make it exact
            view = memoryview(content)
            while view:
                view = view[os.write(descriptor, view) :]
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    _sync_directory(target.parent)
    return target


def ensure_private(path: PathLike, *, create: bool = True) -> None:
    """Make ``path`` a file only its owner can read, for files another component writes
    in place (a database and its journals).

    An absent file is created empty with mode 0600 from its first byte (``O_EXCL |
    O_NOFOLLOW``) when ``create``; an existing regular file owned by the current user
    loses its group and other permissions.  Symlinks and other users' files are left
    alone (the caller's later open decides what they mean).
    """
    target = Path(path)
    if create:
        try:
            descriptor = os.open(target, _FLAGS, PRIVATE_MODE)
        except FileExistsError:
            pass
        else:
            try:
                os.fchmod(descriptor, PRIVATE_MODE)
            finally:
                os.close(descriptor)
            return
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        descriptor = os.open(target, flags)
    except OSError:  # absent, a symlink (ELOOP) or not ours to read
        return
    try:
        info = os.fstat(descriptor)
        mode = stat.S_IMODE(info.st_mode)
        if stat.S_ISREG(info.st_mode) and info.st_uid == os.geteuid() and mode & 0o077:
            os.fchmod(descriptor, mode & 0o700)
    finally:
        os.close(descriptor)


def _create(target: Path, mode: int) -> tuple[Path, int]:
    """A new file next to ``target``, ``mode`` from its creation, and its descriptor."""
    while True:
        temporary = target.with_name(f".{target.name}.{secrets.token_hex(8)}.tmp")
        try:
            return temporary, os.open(temporary, _FLAGS, mode)
        except FileExistsError:
            continue  # a name another writer holds: draw another


def _sync_directory(directory: Path) -> None:
    """Make the rename durable; not every platform or file system can sync a directory."""
    try:
        descriptor = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(descriptor)
    finally:
        os.close(descriptor)
