"""What makes a test Kafka start fast: a class-data-sharing archive and a storage template.

Most of a test broker's start is the JVM loading and verifying some thousands of
classes from 93 jars.  Java 13+ can dump the classes an application loaded into an
archive when it exits (``-XX:ArchiveClassesAtExit``) and map that archive into
later JVMs (``-XX:SharedArchiveFile``): measured here, a broker is ready in ~1.3 s
instead of ~2.5 s.  The first broker started on a machine (per ``java`` and jar set)
dumps the archive on its graceful stop (about 2 s, once); it is written to a
temporary name beside its final one and renamed, so concurrent first brokers never
read half an archive.  An archive that does not match is ignored by the JVM with a
warning in the broker's log, never fatal (``-Xshare:auto``, the default).

Formatting a broker's storage is another JVM (~1 s) whose only product beside
``meta.properties`` (ids, written by testenv) is ``bootstrap.checkpoint``: the
release's default feature levels, the same for every broker of one jar set.  The
first format's checkpoint is kept (:func:`bootstrap_template`) and copied after.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import uuid
from pathlib import Path

from kubeops.testenv.assets import cache_root

_MIN_BYTES = 1 << 20  # a JVM that dies while dumping leaves less, or nothing


def _digest(*paths: Path) -> str:
    digest = hashlib.sha256()
    for path in paths:
        with contextlib.suppress(OSError):
            info = path.stat()
            digest.update(f"{path}\0{info.st_size}\0{info.st_mtime_ns}\0".encode())
    return digest.hexdigest()[:16]


def archive_path(java: str, libs: Path) -> Path:
    """Where the archive for this ``java`` and these jars lives in kubeops' cache."""
    digest = _digest(Path(java).resolve(), *sorted(libs.glob("*.jar")))
    return cache_root() / "controlplane" / f"kafka-cds-{digest}.jsa"


def bootstrap_template(libs: Path) -> Path:
    """Where the ``bootstrap.checkpoint`` a format of these jars writes is kept."""
    digest = _digest(*sorted(libs.glob("*.jar")))
    return cache_root() / "controlplane" / f"kafka-bootstrap-{digest}.checkpoint"


def keep_template(checkpoint: Path, libs: Path) -> None:
    """Keep a freshly formatted ``checkpoint`` as the template (written, then renamed)."""
    final = bootstrap_template(libs)
    final.parent.mkdir(parents=True, exist_ok=True)
    temporary = final.with_name(f"{final.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")
    shutil.copyfile(checkpoint, temporary)
    os.replace(temporary, final)


def archive_options(java: str, libs: Path, dump: bool) -> tuple[list[str], Path | None]:
    """JVM options using the archive, or (``dump``) making it: the options and, when
    making it, the temporary file the JVM dumps to at exit (:func:`publish` it)."""
    final = archive_path(java, libs)
    if final.is_file():
        return [f"-XX:SharedArchiveFile={final}"], None
    if not dump:
        return [], None
    final.parent.mkdir(parents=True, exist_ok=True)
    temporary = final.with_name(f"{final.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")
    return [f"-XX:ArchiveClassesAtExit={temporary}"], temporary


def publish(temporary: Path, java: str, libs: Path) -> None:
    """Move a finished dump to its final name; drop one that is missing or cut short."""
    try:
        complete = temporary.stat().st_size >= _MIN_BYTES
    except OSError:
        return
    if complete:
        os.replace(temporary, archive_path(java, libs))
    else:
        temporary.unlink(missing_ok=True)


def discard(temporary: Path) -> None:
    """Remove a dump that will not be finished (its JVM was killed)."""
    temporary.unlink(missing_ok=True)
