"""``kubeops testenv``: start, inspect, break and stop local clusters from the shell.

``up`` starts a detached supervisor (see :mod:`kubeops.testenv.supervisor`)
and returns once every cluster is ready, printing one kubeconfig path per
line; the other commands talk to that supervisor.  Progress goes to stderr,
results to stdout.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

_FAULTS = ("restart-apiserver", "compact", "stop", "start")


def register(groups: Any) -> None:
    """Add ``kubeops testenv`` (assets, up, status, fault, down) to the command groups."""
    parser = groups.add_parser(
        "testenv", help="local control planes for tests, demos and benchmarks"
    )
    commands = parser.add_subparsers(dest="testenv_command", metavar="COMMAND", required=True)

    up = commands.add_parser(
        "up", help="start clusters in the background and print their kubeconfigs"
    )
    _dir(up)
    up.add_argument("--clusters", type=int, default=1, help="how many clusters (default 1)")
    up.add_argument("--nodes", type=int, default=1, help="simulated nodes per cluster (default 1)")
    up.add_argument("--api-only", action="store_true", help="only etcd and kube-apiserver")
    up.add_argument("--timeout", type=float, default=600.0, help="seconds to wait for readiness")
    up.set_defaults(handler=_up)

    status = commands.add_parser("status", help="show the clusters and their components")
    _dir(status)
    status.add_argument("-o", "--output", choices=("table", "json"), default="table")
    status.set_defaults(handler=_status)

    fault = commands.add_parser("fault", help="inject a fault into one cluster")
    _dir(fault)
    fault.add_argument("--cluster", required=True, help="NAME as in DIR/NAME.kubeconfig")
    fault.add_argument("action", choices=_FAULTS)
    fault.set_defaults(handler=_fault)

    down = commands.add_parser("down", help="stop every process and remove the run data")
    _dir(down)
    down.set_defaults(handler=_down)

    assets = commands.add_parser(
        "assets", help="build (or find) the binaries and print their directory"
    )
    assets.set_defaults(handler=_assets)


def _dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dir", type=Path, required=True, help="the environment's directory")


def _err(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _up(args: argparse.Namespace) -> int:
    from kubeops.testenv.assets import API_BINARIES, FULL_BINARIES, ensure_assets
    from kubeops.testenv.errors import ControlPlaneError, EnvironmentBusy
    from kubeops.testenv.supervisor import LOG, STATE, read_state, running_supervisor

    directory: Path = args.dir.resolve()
    if args.clusters < 1 or args.nodes < 0:
        raise ControlPlaneError("--clusters must be at least 1 and --nodes not negative")
    pid = running_supervisor(directory)
    if pid is not None:
        raise EnvironmentBusy(
            f"{directory} is already used by a running testenv (supervisor pid {pid}); "
            f"run `kubeops testenv down --dir {directory}` first or choose another directory"
        )
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ControlPlaneError(f"cannot create {directory}: {err.strerror or err}") from None
    # Build in the foreground so a first-time build shows its progress here.
    ensure_assets(API_BINARIES if args.api_only else FULL_BINARIES, _err)
    (directory / STATE).unlink(missing_ok=True)
    command = [
        sys.executable, "-m", "kubeops.testenv.supervisor", "--dir", str(directory),
        "--clusters", str(args.clusters), "--nodes", str(args.nodes),
    ]  # fmt: skip
    if args.api_only:
        command.append("--api-only")
    with (directory / LOG).open("ab") as log:
        offset = log.tell()
        supervisor = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    deadline = time.monotonic() + args.timeout
    while True:
        offset = _relay(directory / LOG, offset)
        state = read_state(directory) or {}
        if state.get("status") == "ready":
            for name in state["clusters"]:
                print(directory / f"{name}.kubeconfig")
            return 0
        if state.get("status") == "failed" or supervisor.poll() is not None:
            supervisor.wait()
            _relay(directory / LOG, offset)
            raise ControlPlaneError(
                state.get("error")
                or f"the testenv supervisor exited with code {supervisor.returncode}; see {directory / LOG}"
            )
        if time.monotonic() > deadline:
            supervisor.terminate()
            supervisor.wait()
            raise ControlPlaneError(
                f"the testenv in {directory} was not ready within {args.timeout:.0f}s; see {directory / LOG}"
            )
        time.sleep(0.1)


def _relay(log: Path, offset: int) -> int:
    """Copy what the supervisor logged since ``offset`` to stderr; return the new offset."""
    with log.open("rb") as handle:
        handle.seek(offset)
        data = handle.read()
    complete = data[: data.rfind(b"\n") + 1]
    if complete:
        sys.stderr.write(complete.decode(errors="replace"))
        sys.stderr.flush()
    return offset + len(complete)


def _status(args: argparse.Namespace) -> int:
    from kubeops.testenv.supervisor import request

    answer = request(args.dir.resolve(), {"op": "status"})
    if args.output == "json":
        answer.pop("ok", None)
        print(json.dumps(answer, indent=2))
        return 0
    etcd = answer.get("etcd") or {}
    print(f"etcd      {etcd.get('url', '-')}  pid {etcd.get('pid', '-')}")
    for name, cluster in answer["clusters"].items():
        state = "Ready" if cluster["ready"] else "NotReady"
        print(
            f"{name:<9} {state:<8}  {cluster['server']}  {cluster['mode']}  {cluster['kubeconfig']}"
        )
        for component, pid in cluster["components"].items():
            print(f"  {component:<24} {'pid ' + str(pid) if pid else 'exited'}")
    return 0


def _fault(args: argparse.Namespace) -> int:
    from kubeops.testenv.supervisor import request

    answer = request(
        args.dir.resolve(), {"op": "fault", "cluster": args.cluster, "action": args.action}
    )
    detail = f" (etcd compacted at revision {answer['revision']})" if "revision" in answer else ""
    _err(f"{args.action} done on cluster {args.cluster}{detail}")
    return 0


def _down(args: argparse.Namespace) -> int:
    from kubeops.testenv.errors import ControlPlaneError
    from kubeops.testenv.process import kill_group
    from kubeops.testenv.rundir import clean_stale
    from kubeops.testenv.supervisor import read_state, request, running_supervisor

    directory: Path = args.dir.resolve()
    pid = running_supervisor(directory)
    if pid is None:
        cleaned = clean_stale(directory / "run")
        if cleaned:
            _err(f"no supervisor was running; ended {cleaned} process(es) it left behind")
            return 0
        raise ControlPlaneError(f"no testenv is running in {directory}")
    request(directory, {"op": "down"})
    deadline = time.monotonic() + 60
    state = read_state(directory) or {}
    while running_supervisor(directory) is not None:
        if time.monotonic() > deadline:
            kill_group(pid, state.get("started"), state.get("uid"))
            break
        time.sleep(0.1)
    _err(f"testenv in {directory} stopped")
    return 0


def _assets(args: argparse.Namespace) -> int:
    from kubeops.testenv.assets import ensure_assets

    print(ensure_assets(progress=_err, warm_kafka=True).directory)
    return 0
