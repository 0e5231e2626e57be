"""The detached process behind ``kubeops testenv up``.

It owns an :class:`Environment` kept in a user-chosen directory, records its
state in ``DIR/testenv.json`` and takes commands (status, fault, down) as JSON
lines on a Unix socket, so the CLI invocations that follow can inspect and
break the clusters it runs.  SIGTERM and ``down`` stop everything it started.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import socket
import socketserver
import sys
from pathlib import Path
from typing import Any

from kubeops.config.files import write_private
from kubeops.testenv import rundir
from kubeops.testenv.environment import Environment
from kubeops.testenv.errors import ControlPlaneError, UnknownCluster
from kubeops.testenv.process import is_same_process, start_time
from kubeops.testenv.state import read_supervisor_state

STATE = "testenv.json"
LOG = "testenv.log"
FAULTS = ("restart-apiserver", "compact", "stop", "start")


def socket_path(directory: Path) -> Path:
    """A short socket path (Unix sockets allow ~107 bytes) derived from the directory, in
    the user's private run directory base (0700, checked), never in the shared /tmp
    where another user could plant or connect to it."""
    digest = hashlib.sha256(str(directory.resolve()).encode()).hexdigest()[:16]
    return rundir.default_base() / f"supervisor-{digest}.sock"


def read_state(directory: Path) -> dict[str, Any] | None:
    """The supervisor's state file, or None when there is none yet; a corrupt one is a
    :class:`~kubeops.testenv.state.StateFileError` naming the file, the key and the cause."""
    return read_supervisor_state(directory / STATE)


def running_supervisor(directory: Path) -> int | None:
    """The pid of the live supervisor serving ``directory``, or None."""
    state = read_state(directory)
    if not state:
        return None
    pid: int = state["pid"]
    return pid if is_same_process(pid, state.get("started")) else None


def request(directory: Path, message: dict[str, Any], timeout: float = 300.0) -> dict[str, Any]:
    """Send one command to the supervisor of ``directory`` and return its answer."""
    if running_supervisor(directory) is None:
        raise ControlPlaneError(
            f"no testenv is running in {directory} (start one with `kubeops testenv up --dir {directory}`)"
        )
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect(str(socket_path(directory)))
        except OSError as err:
            raise ControlPlaneError(
                f"the testenv supervisor of {directory} does not answer: {err}"
            ) from err
        sock.sendall(json.dumps(message).encode() + b"\n")
        data = b""
        while not data.endswith(b"\n"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    if not data:
        raise ControlPlaneError(f"the testenv supervisor of {directory} closed the connection")
    answer: dict[str, Any] = json.loads(data)
    if not answer.get("ok"):
        raise ControlPlaneError(answer.get("error", "the testenv supervisor reported an error"))
    return answer


class Supervisor:
    """Keeps a detached ``testenv up`` environment running and answers status and stop over a
    socket."""

    def __init__(self, directory: Path, env: Environment) -> None:
        self.directory = directory
        self.env = env
        self.done = False

    def write_state(self, status: str, **extra: Any) -> None:
        """Record the supervisor's state file (pid, status and ``extra``) atomically."""
        me = os.getpid()
        state = {
            "pid": me,
            "started": start_time(me),
            "uid": os.geteuid(),
            "status": status,
            "socket": str(socket_path(self.directory)),
            "clusters": self.env.names,
            **extra,
        }
        write_private(self.directory / STATE, json.dumps(state, indent=2))

    def status(self) -> dict[str, Any]:
        """The environment's state: etcd, and each cluster's server, kubeconfig and processes."""
        etcd = self.env.etcd
        clusters = {}
        for cluster in self.env.clusters:
            clusters[cluster.name] = {
                "server": cluster.server,
                "kubeconfig": str(cluster.kubeconfig),
                "mode": "api-only" if cluster.api_only else f"{cluster.nodes} node(s)",
                "ready": cluster.ready() if cluster.processes else False,
                "components": cluster.running(),
            }
        return {
            "etcd": {"url": etcd.url, "pid": etcd.process.pid} if etcd else None,
            "clusters": clusters,
        }

    def handle(self, message: dict[str, Any]) -> dict[str, Any]:
        """Answer one control message (status or stop)."""
        op = message.get("op")
        if op == "status":
            return self.status()
        if op == "down":
            self.done = True
            return {}
        if op == "fault":
            action = message.get("action")
            cluster = self.env.cluster(message.get("cluster"))
            if action == "restart-apiserver":
                cluster.restart_apiserver()
            elif action == "compact":
                return {"revision": self.env.compact()}
            elif action == "stop":
                cluster.stop()
            elif action == "start":
                if cluster.processes:
                    raise ControlPlaneError(f"cluster {cluster.name!r} is already running")
                cluster.start()
            else:
                raise ControlPlaneError(
                    f"unknown fault {action!r}; choose one of {', '.join(FAULTS)}"
                )
            return {}
        raise ControlPlaneError(f"unknown command {op!r}")

    def serve(self) -> None:
        """Serve control messages on the run directory's socket until stopped."""
        path = socket_path(self.directory)
        path.unlink(missing_ok=True)
        supervisor = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                try:
                    answer = {"ok": True, **supervisor.handle(json.loads(self.rfile.readline()))}
                except (ControlPlaneError, UnknownCluster, ValueError) as err:
                    answer = {"ok": False, "error": str(err)}
                self.wfile.write(json.dumps(answer).encode() + b"\n")

        with socketserver.UnixStreamServer(str(path), Handler) as server:
            server.timeout = 1.0
            self.write_state("ready")
            try:
                while not self.done:
                    server.handle_request()
            finally:
                path.unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    """The supervisor process's entry point: start the environment, serve until stopped."""
    parser = argparse.ArgumentParser(prog="kubeops-testenv-supervisor")
    parser.add_argument("--dir", type=Path, required=True)
    parser.add_argument("--clusters", type=int, default=1)
    parser.add_argument("--nodes", type=int, default=1)
    parser.add_argument("--api-only", action="store_true")
    args = parser.parse_args(argv)
    directory: Path = args.dir.resolve()

    def progress(line: str) -> None:
        print(line, flush=True)

    env = Environment(
        args.clusters,
        nodes=args.nodes,
        api_only=args.api_only,
        directory=directory / "run",
        kubeconfig_dir=directory,
        progress=progress,
    )
    supervisor = Supervisor(directory, env)
    supervisor.write_state("starting")
    status, error, code = "stopped", None, 0
    try:
        env.start()
        supervisor.serve()
    except ControlPlaneError as err:
        status, error, code = "failed", str(err), 1
    except (SystemExit, KeyboardInterrupt):
        pass
    except BaseException as err:
        status, error, code = "failed", f"{type(err).__name__}: {err}", 1
        raise
    finally:
        env.stop()
        rundir.release(directory / "run", remove=True)
        for name in env.names:
            (directory / f"{name}.kubeconfig").unlink(missing_ok=True)
        supervisor.write_state(status, **({"error": error} if error else {}))
    return code


if __name__ == "__main__":
    sys.exit(main())
