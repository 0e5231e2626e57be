"""Fetches the Apache Kafka broker's jars from Maven Central into kubeops' cache, once.

Kafka is the one extra server that is not Go: ``controlplane/kafka/pom.xml`` pins
its release (``kafka_2.13``, ``kafka-tools`` and the slf4j binding its logs need)
and ``mvn dependency:copy-dependencies`` copies the runtime jars into
``<cache>/controlplane/kafka-<version>-<key>/libs``.  The key hashes the POM and
the recipe, so a changed pin fetches again and nothing else does.  A fetch lands
in a temporary directory renamed into place when complete, under a file lock, so
concurrent first calls fetch once and nobody runs half a classpath.  Before first
use in a process the cached jars are checked: all there, readable, and the version
pinned (``kafka-clients`` says which it is).  ``KUBEOPS_KAFKA_LIBS=DIR`` names jars someone
already has instead.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

from kubeops.testenv.errors import AssetsError
from kubeops.testenv.gotools import locked, wait_reporting

Progress = Callable[[str], None]

KAFKA = "kafka"
LIBS_ENV = "KUBEOPS_KAFKA_LIBS"
# Bump when the way the jars are fetched changes, so old caches are not reused.
_RECIPE = "1"
_MANIFEST = "manifest.json"

_running: set[subprocess.Popen[bytes]] = set()
_running_lock = threading.Lock()
_checked: set[tuple[str, int]] = set()
_checked_lock = threading.Lock()


def stop_fetches() -> None:
    """Kill every ``mvn`` this process runs (their callers then fail)."""
    with _running_lock:
        for proc in _running:
            proc.kill()


def java_command() -> str:
    """The ``java`` to run Kafka with (``$JAVA_HOME/bin/java``, else PATH); AssetsError if none."""
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").is_file():
        return str(Path(home) / "bin" / "java")
    java = shutil.which("java")
    if java is None:
        raise AssetsError(
            "kubeops.testenv runs Kafka on Java and found no `java` on PATH (nor JAVA_HOME); "
            "install Java 17 or newer (Debian/Ubuntu: `apt-get install openjdk-17-jre-headless`)"
        )
    return java


def kafka_version(pom: Path) -> str:
    """The Kafka release ``pom`` pins (its ``kafka.version`` property)."""
    try:
        text = pom.read_text()
    except OSError as err:
        raise AssetsError(f"cannot read {pom}: {err.strerror or err}") from err
    match = re.search(r"<kafka\.version>\s*([^<\s]+)\s*</kafka\.version>", text)
    if match is None:
        raise AssetsError(f"{pom} has no <kafka.version> property")
    return match.group(1)


def ensure_kafka(source: Path, cache: Path, progress: Progress) -> Path:
    """The directory of Kafka's jars (``.../libs``), fetched into ``cache`` if missing."""
    explicit = os.environ.get(LIBS_ENV)
    if explicit:
        libs = Path(explicit).expanduser()
        if not any(libs.glob("kafka_2.13-*.jar")):
            raise AssetsError(
                f"{LIBS_ENV}={explicit} holds no kafka_2.13-*.jar; point it at a directory of "
                "Kafka's jars, or unset it to let kubeops fetch them with Maven"
            )
        _check(libs, None)
        return libs
    pom = source / KAFKA / "pom.xml"
    version = kafka_version(pom)
    digest = hashlib.sha256(_RECIPE.encode() + b"\0" + pom.read_bytes()).hexdigest()[:16]
    final = cache / f"kafka-{version}-{digest}"
    libs = final / "libs"
    if not (final / _MANIFEST).is_file():
        cache.mkdir(parents=True, exist_ok=True)
        with locked(cache / f"{final.name}.lock"):
            if not (final / _MANIFEST).is_file():  # another process may have fetched it
                _fetch(pom, version, final, progress)
    try:
        _check(libs, version)
    except AssetsError:
        shutil.rmtree(final, ignore_errors=True)
        raise
    return libs


def _mvn() -> str:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise AssetsError(
            "kubeops.testenv needs Apache Kafka's jars, fetched from Maven Central with "
            "controlplane/kafka/pom.xml, and found no `mvn`; install Maven (Debian/Ubuntu: "
            f"`apt-get install maven`), or set {LIBS_ENV} to a directory of Kafka's jars"
        )
    return mvn


def _fetch(pom: Path, version: str, final: Path, progress: Progress) -> None:
    mvn = _mvn()
    staging = Path(tempfile.mkdtemp(prefix=f"{final.name}.fetching-", dir=final.parent))
    started = time.monotonic()
    progress(f"fetching Kafka {version}'s jars with Maven; first run only, cached in {final}")
    args = [
        mvn,
        "-B",
        "-q",
        "--no-transfer-progress",
        "-Dstyle.color=never",
        "-f",
        str(pom),
        "dependency:copy-dependencies",
        "-DincludeScope=runtime",
        f"-DoutputDirectory={staging / 'libs'}",
    ]
    try:
        _run(args, version, progress, started)
        jars = sorted(p.name for p in (staging / "libs").glob("*.jar"))
        manifest = {
            "kafka": version,
            "fetched_seconds": round(time.monotonic() - started, 1),
            "jars": jars,
        }
        (staging / _MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        shutil.rmtree(final, ignore_errors=True)  # a leftover without its manifest
        staging.rename(final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    progress(f"fetched Kafka {version} in {time.monotonic() - started:.0f}s")


def _run(args: list[str], version: str, progress: Progress, started: float) -> None:
    with tempfile.TemporaryFile() as output:
        proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=output, stderr=output)
        with _running_lock:
            _running.add(proc)
        try:
            wait_reporting(proc, "fetching Kafka", progress, started)
        finally:
            with _running_lock:
                _running.discard(proc)
        if proc.returncode != 0:
            output.seek(0)
            tail = output.read().decode(errors="replace").strip().splitlines()[-25:]
            raise AssetsError(
                f"fetching Kafka {version}'s jars failed (mvn exit code {proc.returncode}):\n"
                + "\n".join(f"    {line}" for line in tail)
            )


def _check(libs: Path, version: str | None) -> None:
    """Check the jars once per process: the manifest's jars are all there and readable
    zips, and ``kafka-clients`` says it is ``version``.  No JVM: this runs before
    every first broker start, and the broker itself then proves the rest."""
    try:
        jars = sorted(libs.glob("*.jar"))
        stamp = (str(libs), sum(p.stat().st_size for p in jars))
    except OSError as err:
        raise AssetsError(f"cannot read Kafka's jars in {libs}: {err}") from err
    with _checked_lock:
        if stamp in _checked:
            return
    problem = _problem(libs, jars, version)
    if problem is not None:
        where = "removed; the next run fetches them again" if version else f"fix {LIBS_ENV}"
        raise AssetsError(f"Kafka's jars in {libs} are broken ({problem}); {where}")
    with _checked_lock:
        _checked.add(stamp)


def _problem(libs: Path, jars: list[Path], version: str | None) -> str | None:
    if version is not None:
        try:
            listed = json.loads((libs.parent / _MANIFEST).read_text())["jars"]
        except (OSError, ValueError, KeyError) as err:
            return f"unreadable {_MANIFEST}: {err}"
        missing = sorted(set(listed) - {p.name for p in jars})
        if missing:
            return f"missing {', '.join(missing[:3])}"
    said = None
    for jar in jars:
        try:
            with zipfile.ZipFile(jar) as archive:
                if jar.name.startswith("kafka-clients-"):
                    text = archive.read("kafka/kafka-version.properties").decode()
                    said = dict(
                        line.split("=", 1) for line in text.splitlines() if "=" in line
                    ).get("version")
        except (OSError, zipfile.BadZipFile, KeyError) as err:
            return f"{jar.name}: {err}"
    if said is None:
        return "no kafka-clients jar saying its version"
    if version is not None and said != version:
        return f"kafka-clients is {said}, not {version}"
    return None
