"""examples/informer.py run as a user runs it: a subprocess against the session cluster,
its output read line by line while a Pod is created, runs and is deleted."""

from __future__ import annotations

import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import pytest

from kubeops.testenv import Cluster, eventually
from kubeops.testenv.ports import free_port

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "informer.py"


class Example:
    """``examples/informer.py ARGS`` as a subprocess, its stdout read as it comes."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(EXAMPLE), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []  # stdout so far
        self._stdout: queue.Queue[str | None] = queue.Queue()
        self._stderr: list[str] = []
        assert self.process.stdout is not None
        assert self.process.stderr is not None
        self._readers = [
            threading.Thread(target=self._read, args=(self.process.stdout, self._stdout.put)),
            threading.Thread(target=self._read, args=(self.process.stderr, self._stderr.append)),
        ]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _read(stream: IO[str], put: Callable[[Any], None]) -> None:
        for line in stream:
            put(line.rstrip("\n"))
        put(None)

    def expect(self, matches: Callable[[str], bool], what: str, timeout: float = 60) -> str:
        """Read stdout until a line ``matches``; return that line."""

        def next_line() -> str | None:
            line = self._stdout.get(timeout=0.5)  # queue.Empty: nothing yet
            if line is None:
                raise EOFError("the example closed its stdout")
            self.lines.append(line)
            return line if matches(line) else None

        try:
            return eventually(
                next_line,
                timeout=timeout,
                interval=0,
                message=f"a line {what}",
                ignore=(queue.Empty,),
            )
        except (AssertionError, EOFError) as err:
            self.stop(signal.SIGKILL)
            pytest.fail(f"{err}; stdout:\n" + "\n".join(self.lines) + "\nstderr:\n" + self.stderr)

    def stop(self, signum: int = signal.SIGINT, timeout: float = 60) -> int:
        """Send ``signum``, wait for the exit and for the rest of the output."""
        if self.process.poll() is None:
            self.process.send_signal(signum)
        code = self.process.wait(timeout)
        for reader in self._readers:
            reader.join(timeout)
        while not self._stdout.empty():
            line = self._stdout.get_nowait()
            if line is not None:
                self.lines.append(line)
        return code

    @property
    def stderr(self) -> str:
        return "\n".join(line for line in self._stderr if line is not None)


@pytest.fixture
def informer_example(kube_cluster: Cluster, kube_namespace: str) -> Iterator[Example]:
    example = Example(
        "--kubeconfig", str(kube_cluster.kubeconfig), "--namespace", kube_namespace, "--resync", "2"
    )
    yield example
    if example.process.poll() is None:
        example.stop(signal.SIGKILL)


def pod(name: str, node: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": "main", "image": "busybox"}]}
    if node:
        spec["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(EXAMPLE), *args],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("informer: error: ")
    return lines[0]


@pytest.mark.full  # the Pod runs on a kwok node
def test_the_informer_example_follows_a_pods_life_and_stops_on_ctrl_c(
    kube_cluster: Cluster, kube_namespace: str, informer_example: Example
) -> None:
    ns = kube_namespace
    example = informer_example
    synced = example.expect(lambda line: line.startswith("synced:"), "synced:")
    assert example.lines == [
        f"watching pods in namespace {ns} on {kube_cluster.server} (resync every 2s)",
        "synced: 0 pod(s) in the cache",
    ]
    assert synced == "synced: 0 pod(s) in the cache"

    kube_cluster.admin.create(f"/api/v1/namespaces/{ns}/pods", pod("web", "kwok-node-0"))
    example.expect(lambda line: line == f"ADDED {ns}/web Pending", "ADDED web Pending")
    example.expect(lambda line: line == f"UPDATED {ns}/web Running", "UPDATED web Running")
    example.expect(lambda line: line == f"RESYNC {ns}/web Running", "RESYNC web Running")

    kube_cluster.admin.delete(f"/api/v1/namespaces/{ns}/pods/web")
    deleted = example.expect(lambda line: line.startswith("DELETED "), "DELETED web")
    assert deleted.split()[:2] == ["DELETED", f"{ns}/web"]

    assert example.stop(signal.SIGINT) == 0, example.stderr
    assert example.lines[-1] == "stopped"
    assert "Traceback" not in example.stderr
    # Every line is an event or a status line, and the Pod's events come in order.
    events = [line.split()[0] for line in example.lines if f"{ns}/web" in line]
    assert events[0] == "ADDED"
    assert events[-1] == "DELETED"
    assert set(events[1:-1]) <= {"UPDATED", "RESYNC"}


def test_the_informer_example_lists_existing_pods_and_stops_after_its_duration(
    kube_cluster: Cluster, kube_namespace: str
) -> None:
    ns = kube_namespace
    kube_cluster.admin.create(f"/api/v1/namespaces/{ns}/pods", pod("before"))
    started = time.monotonic()
    result = run(
        "--kubeconfig", str(kube_cluster.kubeconfig), "-n", ns, "--resync", "0", "--duration", "3"
    )
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"watching pods in namespace {ns} on {kube_cluster.server} (resync off)"
    assert lines[1].startswith(f"ADDED {ns}/before ")
    assert lines[2] == "synced: 1 pod(s) in the cache"
    assert lines[-1] == "stopped"
    assert not any(line.startswith("RESYNC") for line in lines)
    assert 3 <= elapsed < 60


def test_the_informer_example_without_a_kubeconfig_fails_with_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.kubeconfig"
    line = one_error_line(run("--kubeconfig", str(missing), "--duration", "5"))
    assert line == f"informer: error: kubeconfig {missing} does not exist"


def test_the_informer_example_fails_with_one_line_when_pods_are_forbidden(
    kube_cluster: Cluster, kube_namespace: str
) -> None:
    kubeconfig = kube_cluster.service_account_kubeconfig(
        "no-pods",
        [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "watch"]}],
        kube_namespace,
    )
    line = one_error_line(run("--kubeconfig", str(kubeconfig), "--duration", "60"))
    assert "Forbidden" in line
    assert f'pods in namespace "{kube_namespace}"' in line


def test_the_informer_example_fails_with_one_line_when_the_cluster_is_unreachable(
    kube_cluster: Cluster, tmp_path: Path
) -> None:
    nowhere = f"https://127.0.0.1:{free_port()}"
    kubeconfig = tmp_path / "nowhere.kubeconfig"
    kubeconfig.write_text(kube_cluster.kubeconfig.read_text().replace(kube_cluster.server, nowhere))
    line = one_error_line(run("--kubeconfig", str(kubeconfig), "--duration", "120"))
    assert f"cannot reach {nowhere}" in line
