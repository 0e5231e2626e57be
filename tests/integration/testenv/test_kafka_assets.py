"""Kafka's jars are fetched once with Maven into the cache, atomically, and checked on
reuse: a stand-in `mvn` on PATH records each call and copies prepared jars where
Maven would, so fetching, caching and failures are observed without the network."""

from __future__ import annotations

import os
import shutil
import zipfile
from pathlib import Path

import pytest

from kubeops.testenv import AssetsError
from kubeops.testenv.assets import controlplane_dir, ensure_assets

FAKE_MVN = r"""#!/bin/sh
echo "$@" >> "$FAKE_MVN_LOG"
[ -n "$FAKE_MVN_FAIL" ] && { echo "[ERROR] Could not resolve dependencies"; exit 1; }
for arg in "$@"; do
  case "$arg" in -DoutputDirectory=*) out="${arg#-DoutputDirectory=}" ;; esac
done
mkdir -p "$out" && cp "$FAKE_MVN_JARS"/*.jar "$out"/
"""


def jar(path: Path, files: dict[str, str]) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)


@pytest.fixture
def fake_mvn(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A stand-in mvn on PATH; returns its log.  The checkout's controlplane is copied
    so a test may change the POM."""
    bin_dir, jars = tmp_path / "bin", tmp_path / "jars"
    bin_dir.mkdir()
    jars.mkdir()
    (bin_dir / "mvn").write_text(FAKE_MVN)
    (bin_dir / "mvn").chmod(0o755)
    jar(jars / "kafka-clients-4.1.1.jar", {"kafka/kafka-version.properties": "version=4.1.1\n"})
    jar(jars / "kafka_2.13-4.1.1.jar", {"kafka/Kafka.class": ""})
    source = tmp_path / "controlplane"
    shutil.copytree(controlplane_dir() / "kafka", source / "kafka")
    log = tmp_path / "mvn.log"
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_MVN_LOG", str(log))
    monkeypatch.setenv("FAKE_MVN_JARS", str(jars))
    monkeypatch.setenv("KUBEOPS_CONTROLPLANE_DIR", str(source))
    monkeypatch.setenv("KUBEOPS_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("KUBEOPS_KAFKA_LIBS", raising=False)
    return log


def calls(log: Path) -> int:
    return len(log.read_text().splitlines()) if log.exists() else 0


def test_the_jars_are_fetched_once_and_a_changed_pin_fetches_again(
    fake_mvn: Path, tmp_path: Path
) -> None:
    said: list[str] = []
    libs = ensure_assets(["kafka"], said.append).path("kafka")
    assert sorted(p.name for p in libs.iterdir()) == [
        "kafka-clients-4.1.1.jar",
        "kafka_2.13-4.1.1.jar",
    ]
    assert libs.parent.name.startswith("kafka-4.1.1-")
    assert "dependency:copy-dependencies" in fake_mvn.read_text()
    assert any("fetching Kafka 4.1.1" in line for line in said)
    assert ensure_assets(["kafka"]).path("kafka") == libs
    assert calls(fake_mvn) == 1

    pom = tmp_path / "controlplane" / "kafka" / "pom.xml"
    pom.write_text(pom.read_text().replace("</project>", "<!-- changed -->\n</project>"))
    assert ensure_assets(["kafka"]).path("kafka") != libs
    assert calls(fake_mvn) == 2


def test_a_failed_fetch_says_why_and_leaves_nothing(
    fake_mvn: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_MVN_FAIL", "1")
    with pytest.raises(AssetsError, match="Could not resolve dependencies"):
        ensure_assets(["kafka"])
    left = [p.name for p in (tmp_path / "cache" / "controlplane").iterdir()]
    assert all(name.endswith(".lock") for name in left), left


def test_a_broken_cached_jar_is_refused_and_fetched_again(fake_mvn: Path) -> None:
    libs = ensure_assets(["kafka"]).path("kafka")
    (libs / "kafka_2.13-4.1.1.jar").write_bytes(b"not a zip")  # another size: checked again
    with pytest.raises(AssetsError, match=r"kafka_2\.13-4\.1\.1\.jar.*fetches them again"):
        ensure_assets(["kafka"])
    assert not libs.exists()
    assert ensure_assets(["kafka"]).path("kafka") == libs
    assert calls(fake_mvn) == 2


def test_without_maven_the_message_says_how_to_get_the_jars(
    fake_mvn: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "bin" / "mvn").unlink()
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    with pytest.raises(AssetsError, match=r"found no `mvn`.*KUBEOPS_KAFKA_LIBS") as caught:
        ensure_assets(["kafka"])
    assert "\n" not in str(caught.value)
