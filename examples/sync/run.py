"""The guide's multi-cluster sync (chapter 4.3) end to end, on four local clusters.

::

    python examples/sync/run.py

Starts a local testenv with a hub and three members (``cluster-a``, ``cluster-b``,
``cluster-c``; API servers only, one etcd), then does what an operator does, with
the ``kubeops`` CLI, printing each command and its output:

1. ``kubeops sync install`` on the hub, ``kubeops sync join`` for each member;
2. ``kubeops apply -f policy.yaml`` on the hub (the guide's policy) and
   ``kubeops apply -f deployment.yaml`` on cluster-a (a Deployment it selects);
3. ``kubeops sync plan production-web``: what would change (exit code 2);
4. ``kubeops sync run``: the push controller, until the policy is Ready;
5. ``kubeops sync status`` and ``plan`` again (nothing left to change, exit 0);

and stops everything.  It needs the control-plane binaries
(``kubeops testenv assets`` fetches them).
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from kubeops.testenv import Environment, eventually
from kubeops.testenv.ports import free_port

HERE = Path(__file__).resolve().parent
CLUSTERS = ["hub", "cluster-a", "cluster-b", "cluster-c"]
MEMBERS = {"cluster-a": "region=eu", "cluster-b": "region=eu", "cluster-c": "region=us"}
POLICY = "/apis/sync.kubeops.io/v1alpha1/clustersyncpolicies/production-web"


def kubeops(*argv: str, codes: tuple[int, ...] = (0,)) -> str:
    """Run ``kubeops ARGV...`` as a user would, echo it and its output, check its exit code."""
    shown = [_shown(a) for a in argv]
    print(f"\n$ kubeops {shlex.join(shown)}", flush=True)
    done = subprocess.run(
        [sys.executable, "-m", "kubeops", *argv],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    sys.stdout.write(done.stdout)
    sys.stdout.write(done.stderr)
    if done.returncode not in codes:
        raise SystemExit(f"kubeops {argv[0]} {argv[1]} exited {done.returncode}")
    print(f"(exit code {done.returncode})", flush=True)
    return done.stdout


def _shown(arg: str) -> str:
    """A kubeconfig by its name, a file of the example relative to the working directory."""
    if arg.endswith(".kubeconfig"):
        return Path(arg).name
    if arg.startswith(str(HERE)):
        return os.path.relpath(arg)
    return arg


def ready(env: Environment) -> Any:
    """The policy's Ready condition once it is True (the controller's status)."""
    status = env.cluster("hub").admin.get(POLICY).get("status") or {}
    conditions = {c["type"]: c for c in status.get("conditions") or []}
    targets = {t["name"]: t for t in status.get("targets") or []}
    done = conditions.get("Ready", {}).get("status") == "True"
    return done and all(targets.get(t, {}).get("inSync") == 1 for t in ("cluster-b", "cluster-c"))


def main() -> int:
    """Run the example; 0 when the Deployment reached both targets."""
    print("starting a hub and three member clusters (API servers only) ...", flush=True)
    with Environment(CLUSTERS, api_only=True, progress=lambda _: None) as env:
        hub = str(env.cluster("hub").kubeconfig)
        kubeops("sync", "install", "--kubeconfig", hub)
        for name, labels in MEMBERS.items():
            member = str(env.cluster(name).kubeconfig)
            kubeops("sync", "join", name, "--member-kubeconfig", member, "--labels", labels,
                    "--kubeconfig", hub)  # fmt: skip
        kubeops("apply", "-f", str(HERE / "policy.yaml"), "--kubeconfig", hub)
        source = str(env.cluster("cluster-a").kubeconfig)
        kubeops("apply", "-f", str(HERE / "deployment.yaml"), "--kubeconfig", source)

        # Before anything is synced: what would run do?  Exit code 2: changes.
        kubeops("sync", "plan", "production-web", "--kubeconfig", hub, codes=(2,))

        port = free_port()
        print(f"\n$ kubeops sync run --listen 127.0.0.1:{port}   (in the background)", flush=True)
        controller = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "kubeops",
                "sync",
                "run",
                "--kubeconfig",
                hub,
                "--listen",
                f"127.0.0.1:{port}",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        try:
            eventually(lambda: ready(env), timeout=60, message="production-web Ready")
            kubeops("sync", "status", "--kubeconfig", hub)
            # Everything is in sync now: nothing left to do.  Exit code 0.
            kubeops("sync", "plan", "production-web", "--kubeconfig", hub)
        finally:
            controller.send_signal(signal.SIGTERM)  # graceful: it releases its Lease
            _, log = controller.communicate(timeout=60)
        print(f"\nthe controller stopped (exit code {controller.returncode}); its log:")
        sys.stdout.write(log)
        for name in ("cluster-b", "cluster-c"):
            found = env.cluster(name).admin.get("/apis/apps/v1/namespaces/shop/deployments/web")
            print(f"{name}: deployment web, {found['spec']['replicas']} replicas")
    return 0 if controller.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
