"""kubeops' push controller for S10: ``kubeops sync run`` against the hub in this process, as
a user runs it, until the harness stops it (SIGTERM).

The harness has installed the CRDs and joined the members (``kubeops sync install``,
``kubeops sync join``); it creates the ClusterSyncPolicy once the controller holds its
lease, and times convergence from that write.
"""

from __future__ import annotations

import json
import sys


def main() -> int:
    if len(sys.argv) != 3 or sys.argv[1] != "S10":
        print("usage: kubeops_sync_run.py S10 PARAMS_JSON", file=sys.stderr)
        return 2
    params = json.loads(sys.argv[2])
    from kubeops.cli.main import main as kubeops

    argv = ["sync", "run", "--kubeconfig", params["kubeconfig"], "--listen", params["listen"]]
    if params.get("workers"):
        argv += ["--workers", str(params["workers"])]
    return kubeops(argv)


if __name__ == "__main__":
    sys.exit(main())
