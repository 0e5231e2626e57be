"""kubeops' respond daemon for S9: one rule file written, then ``kubeops respond run``
in this process, as a user runs it, until the harness stops it (SIGTERM).

The rule: a ConfigMap in the scenario's namespace modified with ``data.kind ==
'probe'`` (a CEL condition, so every storm event is evaluated) posts a webhook
whose message is the probe's sequence number.  The ledger and the kill switch
live in ``<namespace>-state``, so the daemon's own writes are not in its watch.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

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


def main() -> int:
    if len(sys.argv) != 3 or sys.argv[1] != "S9":
        print("usage: kubeops_respond.py S9 PARAMS_JSON", file=sys.stderr)
        return 2
    params = json.loads(sys.argv[2])
    from kubeops.cli.main import main as kubeops

    with tempfile.TemporaryDirectory(prefix="bench-s9-") as tmp:
        rules = Path(tmp, "s9.yaml")
        rules.write_text(RULES.format(namespace=params["namespace"], url=params["url"]))
        return kubeops(
            [
                "respond",
                "run",
                "--kubeconfig",
                params["kubeconfig"],
                "--rules",
                str(rules),
                "--listen",
                params["listen"],
                "--audit-url",
                f"sqlite:///{tmp}/audit.db",
            ]
        )


if __name__ == "__main__":
    sys.exit(main())
