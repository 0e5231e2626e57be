"""Environments start, stop and fail cleanly, and never leave a process behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from kubeops.testenv import (
    Cluster,
    ComponentFailed,
    Environment,
    PortInUse,
    UnknownCluster,
    eventually,
)
from kubeops.testenv.ports import HOST
from kubeops.testenv.process import start_time


def _alive(pid: int) -> bool:
    return (
        start_time(pid) is not None
        and "Z" not in Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    )


def _all_dead(pids: list[int]) -> bool:
    alive = [pid for pid in pids if _alive(pid)]
    assert not alive, f"still alive: {alive}"
    return True


def test_after_stop_no_started_process_is_alive_and_the_run_dir_is_gone() -> None:
    env = Environment(2, api_only=True)
    env.start()
    pids = env.pids()
    run_dir = env.run_dir
    assert len(pids) == 3  # one etcd, two API servers
    assert all(_alive(pid) for pid in pids)
    env.stop()
    eventually(lambda: _all_dead(pids), timeout=1.0, message="every process to be gone")
    assert run_dir is not None
    assert not run_dir.exists()


def test_unknown_cluster_name_is_a_clear_error() -> None:
    env = Environment(["east", "west"], api_only=True)
    with pytest.raises(UnknownCluster, match=r"no cluster named 'north'.*east, west"):
        env.cluster("north")


def test_port_taken_is_reported_and_nothing_is_left_running(tmp_path: Path) -> None:
    import socket

    with socket.socket() as holder:
        holder.bind((HOST, 0))
        holder.listen()
        port = holder.getsockname()[1]
        env = Environment(api_only=True, ports={"c1": port}, directory=tmp_path / "run")
        with pytest.raises(
            PortInUse, match=rf"kube-apiserver of cluster 'c1'.*{port}.*already in use"
        ):
            env.start()
    assert env.pids() == []
    assert (tmp_path / "run" / "processes.json").read_text() == "[]"


def test_a_component_that_fails_names_itself_and_shows_its_log(tmp_path: Path) -> None:
    env = Environment(
        api_only=True,
        directory=tmp_path / "run",
        extra_args={"kube-apiserver": ["--no-such-flag=1"]},
    )
    with pytest.raises(ComponentFailed) as caught:
        env.start()
    message = str(caught.value)
    assert caught.value.component == "kube-apiserver"
    assert "kube-apiserver of cluster 'c1' exited with code" in message
    assert "unknown flag: --no-such-flag" in message
    assert env.pids() == []


def test_stop_and_start_a_whole_cluster_keeps_its_data(kube_clusters: list[Cluster]) -> None:
    cluster = kube_clusters[1]
    cluster.admin.create("/api/v1/namespaces", {"metadata": {"name": "kept-across-stop"}})
    server = cluster.server
    cluster.stop()
    assert cluster.running() == {}
    assert not cluster.admin.ready()
    cluster.start()
    assert cluster.server == server
    assert cluster.admin.exists("/api/v1/namespaces/kept-across-stop")


_CHILD = textwrap.dedent(
    """
    import sys, time
    from kubeops.testenv import Environment
    env = Environment(api_only=True)
    env.start()
    print(" ".join(map(str, env.pids())), env.run_dir, flush=True)
    time.sleep(600)
    """
)


def _start_child() -> tuple[subprocess.Popen[str], list[int], Path]:
    child = subprocess.Popen([sys.executable, "-c", _CHILD], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    *pids, run_dir = child.stdout.readline().split()
    return child, [int(p) for p in pids], Path(run_dir)


def test_sigterm_to_the_owner_stops_everything_and_removes_the_run_dir() -> None:
    child, pids, run_dir = _start_child()
    assert pids
    assert all(_alive(pid) for pid in pids)
    child.send_signal(signal.SIGTERM)
    assert child.wait(30) == 128 + signal.SIGTERM
    eventually(lambda: _all_dead(pids), timeout=15, message="every process to be gone")
    assert not run_dir.exists()


def test_sigkill_of_the_owner_takes_its_children_down_and_the_next_run_cleans_up() -> None:
    child, pids, run_dir = _start_child()
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    eventually(lambda: _all_dead(pids), timeout=15, message="every process to be gone")
    assert run_dir.exists()  # nobody could remove it...
    env = Environment(api_only=True)
    env.start()  # ...so the next environment finds it stale and cleans it
    env.stop()
    assert not run_dir.exists()
