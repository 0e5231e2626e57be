"""Bounded reads of the files and streams a user hands kubeops.

Every file kubeops reads because a user (or a kubeconfig, or a manifest
directory) named it is read through :func:`read_bounded`, which stops at a
limit instead of reading ``/dev/zero`` or a runaway file into memory.  The
limits are generous for real use and documented in docs/decisions.md.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

from kubeops.errors import KubeopsError

MiB = 1024 * 1024
KUBECONFIG_LIMIT = 16 * MiB
"""A kubeconfig file (kubectl's largest real ones are a few hundred KiB)."""
CREDENTIAL_FILE_LIMIT = 1 * MiB
"""A file a kubeconfig names: CA bundle, client certificate or key, token file."""
MANIFEST_LIMIT = 64 * MiB
"""One manifest file, or manifests on stdin."""
CONFIG_FILE_LIMIT = 16 * MiB
"""A kubeops configuration file (inspect ``--config``, rules, policies)."""
DATA_FILE_LIMIT = 16 * MiB
"""A file or env file put into a ConfigMap or Secret (the API server allows about 1.5 MiB)."""
EXEC_OUTPUT_LIMIT = 4 * MiB
"""What an exec credential plugin may print on stdout."""

_CHUNK = 64 * 1024


class InputError(KubeopsError):
    """A user-supplied file or stream that cannot be read, or is larger than its limit.

    ``cause`` is the reason alone (``larger than 1 MiB, the limit for it``, ``Permission denied``), for
    callers that phrase their own message; ``missing`` is true when the file does
    not exist; ``too_large`` when it is larger than its limit.
    """

    def __init__(
        self, message: str, *, cause: str = "", missing: bool = False, too_large: bool = False
    ) -> None:
        super().__init__(message)
        self.cause = cause or message
        self.missing = missing
        self.too_large = too_large


def describe_limit(limit: int) -> str:
    """``16 MiB``, ``64 KiB`` or ``100 bytes``, for messages."""
    if limit >= MiB and limit % MiB == 0:
        return f"{limit // MiB} MiB"
    if limit >= 1024 and limit % 1024 == 0:
        return f"{limit // 1024} KiB"
    return f"{limit} bytes"


def read_bounded(
    path: str | os.PathLike[str],
    *,
    limit: int,
    what: str,
) -> bytes:
    """The content of ``path``, at most ``limit`` bytes.

    ``what`` names the file in messages (``kubeconfig``, ``token file``).  A file
    that cannot be read or is larger than ``limit`` raises :class:`InputError`
    naming the file, the limit and the cause, never the content; layers with
    their own error type re-raise it as theirs.  Devices and pipes are read in
    chunks up to the limit, so ``/dev/zero`` costs ``limit`` bytes at most.
    """
    file = Path(path)
    try:
        with file.open("rb") as stream:
            info = os.fstat(stream.fileno())
            if stat.S_ISREG(info.st_mode) and info.st_size > limit:
                cause = _too_large(limit)
                raise InputError(f"{what} {file}: {cause}", cause=cause, too_large=True)
            return read_stream_bounded(stream, limit=limit, what=f"{what} {file}")
    except OSError as err:
        cause = str(err.strerror or err)
        missing = isinstance(err, FileNotFoundError | NotADirectoryError)  # no such path
        raise InputError(
            f"{what} {file}: cannot read it: {cause}", cause=cause, missing=missing
        ) from None
    except ValueError as err:
        # A NUL character or an unencodable surrogate: no such path can exist.
        cause = f"not a usable path ({err})"
        raise InputError(f"{what} {str(file)!r}: cannot read it: {cause}", cause=cause) from None


def files_under(directory: Path, suffixes: Iterable[str]) -> list[Path]:
    """The files under ``directory`` (recursively, sorted) whose suffix is one of
    ``suffixes``, leaving out every path with a part starting ``..``: a mounted
    ConfigMap or Secret holds each file twice, visibly and in the kubelet's hidden
    ``..<timestamp>/`` copy, and the copy must not be read as a second definition."""
    wanted = tuple(suffixes)
    return sorted(
        p
        for p in directory.rglob("*")
        if p.suffix in wanted
        and not any(part.startswith("..") for part in p.relative_to(directory).parts)
        and p.is_file()
    )


def read_stream_bounded(
    stream: BinaryIO,
    *,
    limit: int,
    what: str,
) -> bytes:
    """At most ``limit`` bytes from ``stream`` (to its end); :class:`InputError` past it."""
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = stream.read(min(_CHUNK, limit + 1 - size))
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            cause = _too_large(limit)
            raise InputError(f"{what}: {cause}", cause=cause, too_large=True)


def _too_large(limit: int) -> str:
    return f"larger than {describe_limit(limit)}, the limit for it"
