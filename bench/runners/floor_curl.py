"""The server floor: curl fetching the same requests to /dev/null.

``seconds`` is the sum of curl's own ``time_total`` per transfer (connection
reused across a run), so it holds the server's time and the wire, and as little
client as there can be.  ``--compressed`` asks for gzip as most clients here do
(aiohttp, httpx and Go's transport send Accept-Encoding: gzip), so the server
does the same work.  Only GETs: S1 (one LIST) and S5 (sequential GETs).
"""

from __future__ import annotations

import base64
import resource
import subprocess
import tempfile
from pathlib import Path

import yaml
from _protocol import Params, Result, main


def _curl(p: Params, urls: list[str]) -> Result:
    doc = yaml.safe_load(Path(p.kubeconfig).read_text())
    context = next(c for c in doc["contexts"] if c["name"] == doc["current-context"])["context"]
    cluster = next(c for c in doc["clusters"] if c["name"] == context["cluster"])["cluster"]
    user = next(u for u in doc["users"] if u["name"] == context["user"])["user"]
    with tempfile.TemporaryDirectory() as tmp:
        files = {
            "ca": cluster["certificate-authority-data"],
            "cert": user["client-certificate-data"],
            "key": user["client-key-data"],
        }
        for name, data in files.items():
            Path(tmp, name).write_bytes(base64.b64decode(data))
        config = Path(tmp, "urls")
        config.write_text(
            "".join(f'url = "{cluster["server"]}{u}"\noutput = "/dev/null"\n' for u in urls)
        )
        done = subprocess.run(
            [
                "curl",
                "--silent",
                "--show-error",
                "--fail",
                "--compressed",
                "--cacert",
                f"{tmp}/ca",
                "--cert",
                f"{tmp}/cert",
                "--key",
                f"{tmp}/key",
                "--header",
                "Accept: application/json",
                "--write-out",
                "%{time_total}\\n",
                "--config",
                str(config),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
    times = [float(line) for line in done.stdout.split()]
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    return Result(sum(times), len(times), {"curl_peak_rss_bytes": peak})


def s1(p: Params) -> Result:
    return _curl(p, [f"/api/v1/namespaces/{p.namespace}/configmaps"])


def s5(p: Params) -> Result:
    return _curl(p, [f"/api/v1/namespaces/{p.namespace}/configmaps/{p.name}"] * p.size)


if __name__ == "__main__":
    main({"S1": s1, "S5": s5})
