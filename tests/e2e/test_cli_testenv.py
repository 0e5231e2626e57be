"""`kubeops testenv up|status|fault|down` driven as a user would, from the shell."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from kubeops.testenv import ensure_assets


def kubeops(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "kubeops", *args],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"kubeops {' '.join(args)} failed:\n{result.stderr}")
    return result


def kubectl(kubeconfig: Path, *args: str) -> subprocess.CompletedProcess[str]:
    binary = ensure_assets(["kubectl"]).path("kubectl")
    return subprocess.run(
        [str(binary), "--kubeconfig", str(kubeconfig), "--request-timeout=5s", *args],
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture
def env_dir(tmp_path: Path) -> Iterator[Path]:
    directory = tmp_path / "env"
    yield directory
    kubeops("testenv", "down", "--dir", str(directory), check=False)


def test_up_prints_one_kubeconfig_per_cluster_and_down_stops_everything(env_dir: Path) -> None:
    up = kubeops("testenv", "up", "--dir", str(env_dir), "--clusters", "2", "--api-only")
    paths = [Path(line) for line in up.stdout.split()]
    assert paths == [env_dir / "c1.kubeconfig", env_dir / "c2.kubeconfig"]
    assert "testenv ready: 2 cluster(s)" in up.stderr
    assert kubectl(paths[0], "create", "namespace", "from-cli").returncode == 0
    assert "from-cli" not in kubectl(paths[1], "get", "namespaces").stdout

    status = json.loads(kubeops("testenv", "status", "--dir", str(env_dir), "-o", "json").stdout)
    pids = [status["etcd"]["pid"]] + [
        pid for cluster in status["clusters"].values() for pid in cluster["components"].values()
    ]
    assert all(cluster["ready"] for cluster in status["clusters"].values())

    down = kubeops("testenv", "down", "--dir", str(env_dir))
    assert "stopped" in down.stderr
    for pid in pids:
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text()
    assert not (env_dir / "c1.kubeconfig").exists()


def test_faults_from_the_cli(env_dir: Path) -> None:
    kubeconfig = Path(kubeops("testenv", "up", "--dir", str(env_dir), "--api-only").stdout.strip())
    assert kubectl(kubeconfig, "create", "configmap", "kept").returncode == 0

    kubeops("testenv", "fault", "--dir", str(env_dir), "--cluster", "c1", "restart-apiserver")
    assert kubectl(kubeconfig, "get", "configmap", "kept").returncode == 0

    kubeops("testenv", "fault", "--dir", str(env_dir), "--cluster", "c1", "stop")
    assert kubectl(kubeconfig, "get", "configmap", "kept").returncode != 0
    table = kubeops("testenv", "status", "--dir", str(env_dir)).stdout
    assert "NotReady" in table
    kubeops("testenv", "fault", "--dir", str(env_dir), "--cluster", "c1", "start")
    assert kubectl(kubeconfig, "get", "configmap", "kept").returncode == 0

    compact = kubeops("testenv", "fault", "--dir", str(env_dir), "--cluster", "c1", "compact")
    assert "etcd compacted at revision" in compact.stderr


def test_bad_input_gets_one_clear_line(env_dir: Path) -> None:
    kubeops("testenv", "up", "--dir", str(env_dir), "--api-only")

    again = kubeops("testenv", "up", "--dir", str(env_dir), "--api-only", check=False)
    assert again.returncode == 1
    assert again.stderr.startswith("kubeops: error: ")
    assert "already used by a running testenv" in again.stderr
    assert "Traceback" not in again.stderr

    unknown = kubeops(
        "testenv", "fault", "--dir", str(env_dir), "--cluster", "nope", "stop", check=False
    )
    assert unknown.returncode == 1
    assert "no cluster named 'nope' in this testenv (it has: c1)" in unknown.stderr

    kubeops("testenv", "down", "--dir", str(env_dir))
    nothing = kubeops("testenv", "status", "--dir", str(env_dir), check=False)
    assert nothing.returncode == 1
    assert "no testenv is running in" in nothing.stderr
