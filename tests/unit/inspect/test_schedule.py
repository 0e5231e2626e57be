"""The scheduled mode's pure parts: durations, interval and cron schedules, the
flags' validation, the metrics a document gives and the webhook's summary."""

from __future__ import annotations

import argparse
import datetime
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from inspect_documents import document
from kubeops.cli.inspect_serve import options, register
from kubeops.errors import KubeopsError
from kubeops.inspect.serve import (
    Cron,
    Interval,
    ScheduleError,
    ServeError,
    parse_listen,
    parse_schedule,
)
from kubeops.inspect.serve.metrics import InspectMetrics, result_of
from kubeops.inspect.serve.options import validate_url
from kubeops.inspect.serve.webhook import summary

# -- durations and schedules ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("10m", 600), ("1h30m", 5400), ("1.5h", 5400), ("1d", 86400), (" 2S ", 2), ("90", 90)],
)  # fmt: skip
def test_intervals_are_durations_as_go_and_kubectl_write_them(text: str, seconds: float) -> None:
    assert parse_schedule(interval=text) == Interval(seconds)


@pytest.mark.parametrize("text", ["m", "10x", "1h 30m", "-5m", "0s", "ten minutes"])
def test_bad_intervals_say_what_is_expected(text: str) -> None:
    with pytest.raises(ScheduleError, match="--interval: invalid duration") as info:
        parse_schedule(interval=text)
    assert isinstance(info.value, KubeopsError)


@pytest.mark.parametrize("text", ["1ms", "0.5s", "999ms"])
def test_intervals_under_a_second_are_refused(text: str) -> None:
    with pytest.raises(ScheduleError, match=f"--interval '{text}': at least 1s"):
        parse_schedule(interval=text)
    assert parse_schedule(interval="1s") == Interval(1)


def test_an_interval_stays_on_its_grid_and_skips_missed_slots() -> None:
    every = Interval(60)
    assert every.after(1000, 1000) == 1060  # the first run was at 1000
    assert every.after(1000, 1005) == 1060  # a run that took 5 s
    assert every.after(1000, 1060) == 1120
    assert every.after(1000, 1130) == 1180  # it overran: the 1120 slot is skipped
    assert every.describe() == "every 1m"


@pytest.mark.parametrize("seconds", [1.5, 2, 90, 600, 3600, 5400, 86400 + 61])
def test_intervals_are_described_in_their_own_syntax(seconds: float) -> None:
    described = Interval(seconds).describe().removeprefix("every ")
    assert parse_schedule(interval=described) == Interval(seconds)


def test_cron_gives_the_next_matching_time_in_local_time() -> None:
    cron = Cron("*/15 * * * *")
    start = datetime.datetime(2026, 3, 1, 10, 7, 30).astimezone()
    following = datetime.datetime.fromtimestamp(cron.after(0, start.timestamp())).astimezone()
    assert following == datetime.datetime(2026, 3, 1, 10, 15).astimezone()
    exact = datetime.datetime(2026, 3, 1, 10, 15).astimezone().timestamp()
    assert cron.after(0, exact) == exact + 15 * 60  # never the slot that is running now


@pytest.mark.parametrize("expression", ["bad", "61 * * * *", "* * *", "* * * * * * * *"])
def test_bad_cron_expressions_are_refused(expression: str) -> None:
    with pytest.raises(ScheduleError, match="not a cron expression"):
        Cron(expression)


@pytest.mark.parametrize("expression", ["* * 31 2 *", "0 0 30 2 *"])
def test_cron_expressions_naming_a_date_that_never_comes_are_refused(expression: str) -> None:
    with pytest.raises(ScheduleError, match="never fires"):
        parse_schedule(cron=expression)


def test_the_flags_choose_the_schedule() -> None:
    assert parse_schedule() == Interval(3600)
    assert parse_schedule(interval="10m") == Interval(600)
    assert parse_schedule(cron="0 * * * *") == Cron("0 * * * *")
    with pytest.raises(ScheduleError, match="not both"):
        parse_schedule(interval="1m", cron="0 * * * *")


# -- flags ----------------------------------------------------------------------------------


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    return parser.parse_args(["serve", *argv])


def test_the_cli_turns_flags_into_options() -> None:
    opts = options(
        parse(
            "--context",
            "a",
            "--context",
            "b",
            "-n",
            "shop",
            "--interval",
            "2s",
            "--listen",
            ":9090",
            "--webhook",
            "http://127.0.0.1:1/hook",
            "--leader-elect",
            "--lease-namespace",
            "ops",
            "--runs",
            "2",
            "--checks",
            "node-*, sec-privileged",
        )
    )
    assert opts.checks == ("node-*", "sec-privileged")
    assert opts.contexts == ("a", "b")
    assert opts.namespaces == ("shop",)
    assert opts.schedule == Interval(2)
    assert opts.listen == ("0.0.0.0", 9090)
    assert opts.lease is not None
    assert (opts.lease.name, opts.lease.namespace) == ("kubeops-inspect", "ops")
    assert opts.runs == 2
    once = options(parse("--once"))
    assert (once.runs, once.listen, once.lease) == (1, None, None)


def test_flags_given_to_kubeops_inspect_before_serve_are_kept() -> None:
    from kubeops.cli.main import build_parser

    args = build_parser().parse_args(
        ["inspect", "--context", "a", "--history", "sqlite:///x.db", "serve", "-n", "shop"]
    )
    opts = options(args)
    assert (opts.contexts, opts.history, opts.namespaces) == (("a",), "sqlite:///x.db", ("shop",))
    args = build_parser().parse_args(["inspect", "--context", "a", "serve", "--context", "b"])
    assert options(args).contexts == ("b",)


def test_retention_and_the_history_url_file() -> None:
    opts = options(parse("--keep", "100", "--max-age", "30d", "--history-url-file", "/s/url"))
    assert (opts.keep, opts.max_age) == (100, 30 * 86400)
    assert (opts.history, opts.history_file) == (None, "/s/url")
    # The URL may hold a password: the options never show it.
    secret = options(parse("--history", "postgresql://u:s3cret@db/k"))
    assert secret.history == "postgresql://u:s3cret@db/k"
    assert "s3cret" not in repr(secret)
    from kubeops.cli.main import build_parser

    args = build_parser().parse_args(["inspect", "--history-url-file", "/s/url", "serve"])
    assert options(args).history_file == "/s/url"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--cron", "every day"], "not a cron expression"),
        (["--interval", "soon"], "--interval: invalid duration"),
        (["--listen", "8080"], "HOST:PORT"),
        (["--webhook", "hooks.example.com/x"], "http:// or https://"),
        (["--external-url", "ftp://x"], "http:// or https://"),
        (["--once", "--runs", "2"], "not both"),
        (["--once", "--leader-elect"], "leader-elect"),
        (["--runs", "0"], "at least 1"),
        (["--keep", "0"], "at least 1"),
        (["--max-age", "a month"], "--max-age: invalid duration"),
        (["--max-age", "0s"], "--max-age: .*greater than zero"),
        (["--history", "sqlite:///x.db", "--history-url-file", "url"], "not both"),
    ],
)
def test_bad_flags_are_one_readable_error(argv: list[str], message: str) -> None:
    with pytest.raises(KubeopsError, match=message):
        options(parse(*argv))


def test_listen_addresses() -> None:
    assert parse_listen("127.0.0.1:8080") == ("127.0.0.1", 8080)
    assert parse_listen("[::1]:0") == ("::1", 0)
    assert parse_listen("localhost:80") == ("localhost", 80)
    for bad in ("127.0.0.1", "host:port", "[::zz]:80", "h:70000"):
        with pytest.raises(ServeError):
            parse_listen(bad)


def test_urls() -> None:
    assert (
        validate_url(" https://hooks.example.com/x ", "--webhook") == "https://hooks.example.com/x"
    )
    with pytest.raises(ServeError, match="port"):
        validate_url("http://example.com:99999/", "--webhook")


# -- metrics --------------------------------------------------------------------------------


def samples(metrics: InspectMetrics) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    text = metrics.render().decode()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(found: dict[Any, float], name: str, **labels: str) -> float | None:
    return found.get((name, frozenset(labels.items())))


def test_metrics_name_the_history_and_count_its_failures() -> None:
    metrics = InspectMetrics()
    metrics.describe_history("postgresql://kubeops:***@db/kubeops")
    metrics.history_errors.labels("record").inc()
    found = samples(metrics)
    assert (
        value(found, "kubeops_inspect_history_info", url="postgresql://kubeops:***@db/kubeops") == 1
    )
    assert value(found, "kubeops_inspect_history_errors_total", operation="record") == 1
    assert value(found, "kubeops_inspect_history_errors_total", operation="prune") == 0


def test_metrics_describe_the_document() -> None:
    doc = document(down=1, unreachable=True)
    metrics = InspectMetrics()
    metrics.show(doc, 1)
    metrics.observe_run(doc, 2.5)
    found = samples(metrics)
    a = doc["clusters"][0]
    assert value(found, "kubeops_inspect_score", cluster="a") == a["score"]
    assert value(found, "kubeops_inspect_score", cluster="b") is None  # unreachable: no score
    assert value(found, "kubeops_inspect_cluster_reachable", cluster="a") == 1
    assert value(found, "kubeops_inspect_cluster_reachable", cluster="b") == 0
    assert value(found, "kubeops_inspect_overall_score") == doc["score"]
    for category, entry in a["categories"].items():
        assert (
            value(found, "kubeops_inspect_category_score", cluster="a", category=category)
            == entry["score"]
        )
    assert (
        value(found, "kubeops_inspect_namespace_score", cluster="a", namespace="shop")
        == (a["namespaces"]["shop"]["score"])
    )
    node_findings = value(
        found,
        "kubeops_inspect_findings",
        cluster="a",
        namespace="",
        category="nodes",
        severity="critical",
    )
    assert node_findings == 1
    total = sum(v for (name, _), v in found.items() if name == "kubeops_inspect_findings")
    assert total == doc["summary"]["findings"]
    assert value(found, "kubeops_inspect_runs_total", result="partial") == 1
    assert value(found, "kubeops_inspect_runs_total", result="success") == 0
    assert value(found, "kubeops_inspect_run_duration_seconds_count") == 1
    generated = datetime.datetime.fromisoformat(doc["generated"]).timestamp()
    assert value(found, "kubeops_inspect_last_run_timestamp_seconds") == generated


def test_each_run_replaces_the_gauges_so_stale_series_vanish() -> None:
    metrics = InspectMetrics()
    metrics.show(document(down=2, unreachable=True), 1)
    metrics.show(document(down=0), 2)
    found = samples(metrics)
    assert value(found, "kubeops_inspect_cluster_reachable", cluster="b") is None
    assert not any(
        name == "kubeops_inspect_findings" and ("severity", "critical") in labels
        for name, labels in found
    )


def test_metrics_before_the_first_run_have_no_gauges() -> None:
    found = samples(InspectMetrics())
    assert not any(name == "kubeops_inspect_score" for name, _ in found)
    assert value(found, "kubeops_inspect_runs_total", result="success") == 0


def test_run_results() -> None:
    assert result_of(None) == "error"
    assert result_of(document()) == "success"
    assert result_of(document(unreachable=True)) == "partial"
    down = document(unreachable=True)
    down["clusters"] = [c for c in down["clusters"] if not c["reachable"]]
    assert result_of(down) == "failed"
    # Nothing was examined, so the document scores 100: no overall gauge claims that.
    metrics = InspectMetrics()
    metrics.show(down)
    assert value(samples(metrics), "kubeops_inspect_overall_score") is None


# -- webhook --------------------------------------------------------------------------------


def test_the_webhook_summary() -> None:
    doc = document(down=2, unreachable=True)
    payload = summary(
        doc,
        run_id=7,
        external_url="https://inspect.example.com/",
        previous={"score": 100, "grade": "A"},
        top=2,
    )
    assert payload["run"] == 7
    assert payload["score"] == doc["score"]
    assert payload["by_severity"] == doc["summary"]["by_severity"]
    assert payload["report_url"] == "https://inspect.example.com/runs/7"
    assert [c["name"] for c in payload["clusters"]] == ["a", "b"]
    assert payload["clusters"][1]["reachable"] is False
    assert len(payload["top_findings"]) == 2
    assert {f["severity"] for f in payload["top_findings"]} == {"critical"}
    assert payload["previous"] == {"score": 100, "grade": "A"}
    text = payload["text"]
    assert text.startswith(f"kubeops inspect: grade {doc['grade']} ({doc['score']}) (was A 100)")
    assert "2 critical" in text
    assert "unreachable: b" in text
    assert text.endswith("https://inspect.example.com/runs/7")
    down = document(unreachable=True)
    down["clusters"] = [c for c in down["clusters"] if not c["reachable"]]
    assert summary(down)["text"].startswith("kubeops inspect: no cluster could be inspected")
    plain = summary(document())
    assert plain["report_url"] is None
    assert "was" not in plain["text"]
