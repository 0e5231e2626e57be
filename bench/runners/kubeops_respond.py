"""kubeops' respond daemon for S9 and S12: one rule file written, then ``kubeops respond
run`` in this process, as a user runs it, until the harness stops it (SIGTERM).

The rule: a ConfigMap in the scenario's namespace modified with ``data.kind ==
'probe'`` (a CEL condition, so every storm event is evaluated) posts a webhook
whose message is the probe's sequence number.  The ledger and the kill switch
live in ``<namespace>-state``, so the daemon's own writes are not in its watch.

S12 with ``params["bus"]``: the same rule in distributed mode -- a ``bus:`` whose
consume topics hold its publish topic, so the elected leader publishes the cluster's
events and every replica (this is one) consumes them in one group and acts.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

RULES = """\
rules:
  - name: s9-probe
    description: S9's probe - a modified probe ConfigMap posts a webhook.
    trigger:
      source: resource
      kind: ConfigMap
      names: [modified]
      namespaces: [{namespace}]
      condition: "object.?data.kind.orValue('') == 'probe'"
    actions:
      - notify:
          webhook: {{url: "{url}"}}
          message: "${{object.data.seq}}"
limits:
  namespace: {namespace}-state
"""

BUS = """\
bus:
  brokers: [{brokers}]
  clientId: {client_id}
  publish:
    topic: {topic}
    cluster: bench
    spool: {{dir: {spool}}}
  consume:
    topics: [{topic}]
    group: {group}
"""


def rules(params: dict[str, Any], tmp: str) -> str:
    """The rule file's text: S9's rule, and the bus when the run has one."""
    text = RULES.format(namespace=params["namespace"], url=params["url"])
    bus = params.get("bus")
    if bus:
        text += BUS.format(
            brokers=", ".join(bus["brokers"]),
            client_id=f"bench-{params.get('replica', 0)}",
            topic=bus["topic"],
            group=bus["group"],
            spool=Path(tmp, "spool"),
        )
    return text


def main() -> int:
    if len(sys.argv) != 3 or sys.argv[1] not in ("S9", "S12"):
        print("usage: kubeops_respond.py S9|S12 PARAMS_JSON", file=sys.stderr)
        return 2
    params = json.loads(sys.argv[2])
    from kubeops.cli.main import main as kubeops

    with tempfile.TemporaryDirectory(prefix=f"bench-{sys.argv[1].lower()}-") as tmp:
        path = Path(tmp, "rules.yaml")
        path.write_text(rules(params, tmp))
        argv = [
            "respond",
            "run",
            "--kubeconfig",
            params["kubeconfig"],
            "--rules",
            str(path),
            "--listen",
            params["listen"],
            "--audit-url",
            f"sqlite:///{tmp}/audit.db",
        ]
        if "qps" in params:
            argv += ["--qps", str(params["qps"]), "--burst", str(params["burst"])]
        if "lease" in params:
            argv += [
                "--leader-elect",
                "--lease-name",
                params["lease"],
                "--lease-namespace",
                f"{params['namespace']}-state",
            ]
        return kubeops(argv)


if __name__ == "__main__":
    sys.exit(main())
