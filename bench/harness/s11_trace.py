"""S11's view from inside the API server: how long it waited for each admission step.

The webhook's latency is the API server's own trace span around the call it waits for
("Call validating webhook", exact per call), exported over OTLP/gRPC to the client-go
runner's ``spans`` receiver.  The API server's ValidatingAdmissionPolicy plugin has no
span, so its side comes from the API server's histograms, read before and after a run:
only a bucket bound can be said of them.  Tracing is on for the whole cluster, every arm,
every request sampled, so its cost is the same in each arm.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from harness.stats import percentile
from kubeops.testenv import eventually
from kubeops.testenv.admin import admin_ssl_context

WEBHOOK_SPAN = "Call validating webhook"
# The API server's batch exporter (OpenTelemetry's Go SDK reads these from its environment):
# a batch every 0.5 s instead of 5 s, so a run's spans settle quickly, and a queue that never
# drops a span at the benchmark's rate (every request is sampled, several spans each).
EXPORTER_ENV = {"OTEL_BSP_SCHEDULE_DELAY": "500", "OTEL_BSP_MAX_QUEUE_SIZE": "262144"}
SETTLE_TIMEOUT = 20.0
# Per request: the whole plugin (all 30 policies, or the webhook call and its matching).
PLUGIN_HISTOGRAM = "apiserver_admission_controller_admission_duration_seconds"
# Per validation expression of a policy, by the VAP plugin alone.
CHECK_HISTOGRAM = "apiserver_validating_admission_policy_check_duration_seconds"
PLUGINS = {
    "apiserver-vap": "ValidatingAdmissionPolicy",
    "kubeops-webhook": "ValidatingAdmissionWebhook",
}


class Receiver:
    """The ``spans`` receiver, running for the whole admission part (the API server's
    exporter is pointed at it once, when the API server starts)."""

    def __init__(self, loader: str, out: Path) -> None:
        self.file = out / "spans.jsonl"
        params = {"out": str(self.file), "names": [WEBHOOK_SPAN], "listen": "127.0.0.1:0"}
        self._proc = subprocess.Popen(
            [loader, "spans", json.dumps(params)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()
        if not line.startswith("{") or not json.loads(line).get("ready"):
            self.stop()
            raise RuntimeError(f"the span receiver did not start: {line.strip()[:300]}")
        self.address = str(json.loads(line)["address"])
        self.pid = self._proc.pid

    def spans(self) -> list[dict[str, Any]]:
        """Every span kept so far (a line still being written is left for the next read)."""
        with contextlib.suppress(FileNotFoundError), self.file.open() as f:
            return _lines(f)
        return []

    def stop(self) -> dict[str, Any]:
        """End the receiver; its final line (what it saw in all) or ``{}``."""
        if self._proc.poll() is None:
            self._proc.terminate()
        try:
            out, _ = self._proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            out, _ = self._proc.communicate()
        finals = [line for line in out.splitlines() if line.startswith("{")]
        return dict(json.loads(finals[-1])) if finals else {}


def _lines(f: IO[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in f if line.endswith("\n")]


def apiserver_args(run_dir: Path, address: str) -> list[str]:
    """kube-apiserver's flags that export every request's trace to ``address``."""
    config = run_dir / "tracing.yaml"
    config.write_text(
        "apiVersion: apiserver.config.k8s.io/v1\n"
        "kind: TracingConfiguration\n"
        f"endpoint: {address}\n"
        "samplingRatePerMillion: 1000000\n"
    )
    return [f"--tracing-config-file={config}"]


@contextlib.contextmanager
def exporter_env() -> Iterator[None]:
    """:data:`EXPORTER_ENV` set while the API server starts (it inherits the environment),
    restored afterwards so no later process sees it."""
    saved = {k: os.environ.get(k) for k in EXPORTER_ENV}
    os.environ.update(EXPORTER_ENV)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def measured(spans: list[dict[str, Any]], load: dict[str, Any]) -> tuple[list[dict[str, Any]], str]:
    """The webhook calls of the load's measured requests (not warm-up's), and how they were
    told apart: by the trace each request named ("trace": the run's prefix, then the
    request's number), or, had the API server begun traces of its own, by the time window
    the loader reports ("time")."""
    calls = [s for s in spans if s["name"] == WEBHOOK_SPAN]
    prefix, warm = str(load["trace_prefix"]), int(load["warmup"])
    own = [s for s in calls if s["trace_id"].startswith(prefix)]
    if own:
        return [s for s in own if int(s["trace_id"][len(prefix) :], 16) >= warm], "trace"
    start, end = int(load["from_unix_ns"]), int(load["to_unix_ns"])
    return [s for s in calls if start <= s["start_unix_ns"] <= end], "time"


def settled(receiver: Receiver, load: dict[str, Any]) -> tuple[list[dict[str, Any]], str]:
    """:func:`measured` once a call per measured request has arrived (the exporter sends in
    batches), or what arrived within :data:`SETTLE_TIMEOUT` -- the count says which."""

    def enough() -> tuple[list[dict[str, Any]], str] | None:
        got = measured(receiver.spans(), load)
        return got if len(got[0]) >= int(load["count"]) else None

    try:
        got = eventually(enough, timeout=SETTLE_TIMEOUT, interval=0.2, message="webhook spans")
    except AssertionError:
        got = None
    return got or measured(receiver.spans(), load)


def call_stats(spans: list[dict[str, Any]]) -> dict[str, Any]:
    """p50, p99 and max of the webhook calls (ms), their count, and by webhook and resource."""
    if not spans:
        return {"calls": 0}
    ms = [round(float(s["ms"]), 3) for s in spans]  # as kept, so pooled runs agree
    groups: dict[str, int] = {}
    for s in spans:
        attrs = s.get("attributes", {})
        key = f"{attrs.get('webhook', '?')} {attrs.get('resource', '?')}"
        groups[key] = groups.get(key, 0) + 1
    return {
        "calls": len(ms),
        "p50_ms": percentile(ms, 50),
        "p99_ms": percentile(ms, 99),
        "max_ms": max(ms),
        "failed_calls": sum(1 for s in spans if s.get("error")),
        "by_webhook_resource": groups,
        "ms": ms,
    }


# -- the API server's histograms ---------------------------------------------------------------


def scrape(server: str, pki: Any) -> str:
    """The API server's ``/metrics`` text, read as cluster admin."""
    response = httpx.get(f"{server}/metrics", verify=admin_ssl_context(pki), timeout=30.0)
    response.raise_for_status()
    return response.text


def _buckets(text: str, name: str, match: dict[str, str]) -> dict[float, float]:
    """Cumulative bucket counts of histogram ``name``, summed over the series whose labels
    include ``match``."""
    sums: dict[float, float] = {}
    for family in text_string_to_metric_families(text):
        if family.name != name.removesuffix("_seconds") and family.name != name:
            continue
        for sample in family.samples:
            if not sample.name.endswith("_bucket"):
                continue
            if any(sample.labels.get(k) != v for k, v in match.items()):
                continue
            bound = float(sample.labels["le"])
            sums[bound] = sums.get(bound, 0.0) + sample.value
    return sums


def bucket_quantiles(
    before: str, after: str, name: str, match: dict[str, str]
) -> dict[str, Any] | None:
    """What a histogram's growth between two scrapes says: the count, and for p50 and p99
    the upper bound of the bucket each falls in (the most a bucket histogram can say)."""
    b, a = _buckets(before, name, match), _buckets(after, name, match)
    delta = sorted((bound, a[bound] - b.get(bound, 0.0)) for bound in a)
    if not delta or delta[-1][1] <= 0:
        return None
    count = delta[-1][1]

    def bound_of(q: float) -> float:
        return next(bound for bound, cum in delta if cum >= q * count)

    return {
        "count": int(count),
        "p50_le_ms": bound_of(0.5) * 1e3,
        "p99_le_ms": bound_of(0.99) * 1e3,
        "buckets_ms": [bound * 1e3 for bound, _ in delta],
    }


def plugin_figures(arm: str, before: str, after: str) -> dict[str, Any]:
    """The API server's histograms for ``arm``'s admission plugin over one run (warm-up
    included: the scrapes bracket the whole load)."""
    figures: dict[str, Any] = {}
    plugin = PLUGINS.get(arm)
    if plugin is None:
        return figures
    match = {"name": plugin, "type": "validate", "operation": "CREATE"}
    figures["plugin"] = bucket_quantiles(before, after, PLUGIN_HISTOGRAM, match)
    if arm == "apiserver-vap":
        figures["check"] = bucket_quantiles(before, after, CHECK_HISTOGRAM, {})
    return figures
