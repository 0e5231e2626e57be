"""`kubeops inspect` as a user runs it: several contexts (one unreachable), formats,
gates and exit codes, configuration errors, manifests before deploy, and runs
recorded in a history database (an SQLite file, a real PostgreSQL) whose password
is never printed."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import make_url

from kubeops.inspect.history import History
from kubeops.testenv import Cluster

SAMPLE = Path(__file__).parents[2] / "examples" / "sample"


def kubeops(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kubeops", "inspect", "--quiet", *args],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture(scope="module")
def kubeconfigs(
    kube_clusters: list[Cluster], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """KUBECONFIG naming both member clusters and a context whose server is gone; a
    NotReady node on member-a so there is something to find."""
    gone = tmp_path_factory.mktemp("gone") / "kubeconfig"
    gone.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "gone", "cluster": {"server": "https://127.0.0.1:9"}}],
                "users": [{"name": "gone", "user": {"token": "x"}}],
                "contexts": [{"name": "gone", "context": {"cluster": "gone", "user": "gone"}}],
            }
        )
    )
    admin = kube_clusters[0].admin
    node = admin.create(
        "/api/v1/nodes",
        {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "inspect-cli-down"}},
    )
    node["status"] = {"conditions": [{"type": "Ready", "status": "False", "reason": "Down"}]}
    admin.request("PUT", "/api/v1/nodes/inspect-cli-down/status", node)
    yield os.pathsep.join([*(str(c.kubeconfig) for c in kube_clusters), str(gone)])
    admin.delete("/api/v1/nodes/inspect-cli-down")


def contexts(*names: str) -> list[str]:
    return [arg for name in names for arg in ("--context", name)]


def test_every_context_is_inspected_and_an_unreachable_one_is_reported(kubeconfigs: str) -> None:
    done = kubeops(
        *contexts("member-a", "member-b", "gone"),
        "--format",
        "json",
        env={"KUBECONFIG": kubeconfigs},
    )
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    clusters = {c["name"]: c for c in document["clusters"]}
    assert set(clusters) == {"member-a", "member-b", "gone"}
    assert clusters["member-a"]["reachable"]
    assert clusters["member-b"]["reachable"]
    assert not clusters["gone"]["reachable"]
    assert "127.0.0.1:9" in clusters["gone"]["error"]
    down = [
        f
        for f in document["findings"]
        if f["check"] == "node-not-ready" and f["object"]["name"] == "inspect-cli-down"
    ]
    assert [f["cluster"] for f in down] == ["member-a"]
    assert document["summary"]["unreachable"] == 1


def test_the_context_before_the_command_and_o_for_the_format(kubeconfigs: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "kubeops", "--context", "member-b", "-A", "inspect", "-q", "-o", "json"],
        capture_output=True, text=True, timeout=180, check=False,
        env={**os.environ, "KUBECONFIG": kubeconfigs},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    [cluster] = json.loads(done.stdout)["clusters"]
    assert (cluster["name"], cluster["reachable"]) == ("member-b", True)
    assert {"default", "kube-system"} <= set(cluster["namespaces"])


def test_no_reachable_cluster_is_an_error(kubeconfigs: str) -> None:
    done = kubeops(*contexts("gone"), env={"KUBECONFIG": kubeconfigs})
    assert done.returncode == 1
    assert "no cluster could be inspected" in done.stderr


def test_gates_exit_2_and_say_why(kubeconfigs: str) -> None:
    env = {"KUBECONFIG": kubeconfigs}
    failed = kubeops(*contexts("member-a"), "--fail-on", "critical", env=env)
    assert failed.returncode == 2, failed.stderr
    assert "at or above critical (--fail-on)" in failed.stderr
    passed = kubeops(*contexts("member-b"), "--fail-on", "critical", env=env)
    assert passed.returncode == 0, passed.stderr
    low = kubeops(*contexts("member-a"), "--min-score", "100", env=env)
    assert low.returncode == 2, low.stderr
    assert "is below 100 (--min-score)" in low.stderr


def test_output_dir_holds_every_format(kubeconfigs: str, tmp_path: Path) -> None:
    formats = ["html", "json", "markdown", "junit", "sarif"]
    done = kubeops(
        *contexts("member-a"),
        "--output-dir",
        str(tmp_path),
        *[arg for f in formats for arg in ("--format", f)],
        env={"KUBECONFIG": kubeconfigs},
    )
    assert done.returncode == 0, done.stderr
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == sorted(
        [
            "inspect-report.html",
            "inspect-report.json",
            "inspect-report.md",
            "inspect-report.xml",
            "inspect-report.sarif",
        ]
    )
    assert (
        json.loads((tmp_path / "inspect-report.json").read_text())["clusters"][0]["name"]
        == "member-a"
    )
    assert json.loads((tmp_path / "inspect-report.sarif").read_text())["version"] == "2.1.0"
    assert "inspect-cli-down" in (tmp_path / "inspect-report.html").read_text()
    assert "inspect-cli-down" in done.stdout  # the terminal summary


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--out", "x.json"], "give exactly one -o"),
        (["-o", "pdf"], "argument -o/--output/--format: invalid choice: 'pdf'"),
        (["--format", "json", "--format", "html"], "several formats need --output-dir"),
        (["--fail-on", "fatal"], "--fail-on: unknown severity 'fatal'"),
        (["--config", "/nonexistent.yaml"], "inspect config /nonexistent.yaml: cannot read it"),
        (["-f", "/nonexistent"], "cannot read manifests from /nonexistent"),
    ],
)
def test_user_errors_are_one_line(args: list[str], message: str) -> None:
    done = kubeops(*args)
    assert done.returncode == 1
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_a_config_file_error_names_the_key(tmp_path: Path) -> None:
    config = tmp_path / "inspect.yaml"
    config.write_text("checks:\n  node-not-redy: {enabled: false}\n")
    done = kubeops("--config", str(config), "-f", str(SAMPLE))
    assert done.returncode == 1
    assert (
        f"inspect config {config}: checks.node-not-redy: no such check (did you mean node-not-ready?)"
        in done.stderr
    )


def test_manifests_are_inspected_before_deploy() -> None:
    done = kubeops("-f", str(SAMPLE), "--format", "json")
    assert done.returncode == 0, done.stderr
    document: dict[str, Any] = json.loads(done.stdout)
    assert document["mode"] == "static"
    assert all(document["checks"][c]["static"] for c in document["checks"])
    flagged = {(f["object"]["namespace"], f["object"]["name"]) for f in document["findings"]}
    assert ("legacy", "billing") in flagged
    billing = [f for f in document["findings"] if f["object"]["name"] == "billing"]
    lines = (SAMPLE / "legacy.yaml").read_text().splitlines()
    starts = {f["location"]["line"] for f in billing}
    assert len(starts) == 1
    assert {f["location"]["file"] for f in billing} == {str(SAMPLE / "legacy.yaml")}
    (start,) = starts
    assert lines[start - 1] == "apiVersion: apps/v1"
    assert lines[start + 1].startswith("metadata: {name: billing,")
    healthy = [
        f
        for f in document["findings"]
        if f["object"]["namespace"] == "shop" and f["severity"] != "info"
    ]
    assert not healthy, f"the healthy sample was flagged: {healthy}"


def test_list_checks() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "kubeops", "inspect", "--list-checks"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "node-not-ready" in done.stdout


# -- the history: each run recorded, on an SQLite file and on a real PostgreSQL ----------------


@pytest.fixture(params=["sqlite", "postgresql"])
def history_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'inspect.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


def stored_runs(url: str) -> list[dict[str, Any]]:
    async def read() -> list[dict[str, Any]]:
        async with await History.open(url) as history:
            return await history.runs(1000)

    return asyncio.run(read())


def test_each_run_is_recorded_and_the_report_charts_the_trend(
    kubeconfigs: str, history_url: str, tmp_path: Path
) -> None:
    env = {"KUBECONFIG": kubeconfigs}
    first = kubeops(*contexts("member-b"), "--history", history_url, "-o", "json", env=env)
    assert first.returncode == 0, first.stderr
    # The URL as a mounted Secret holds it, with a trailing newline.
    secret_file = tmp_path / "history-url"
    secret_file.write_text(history_url + "\n")
    second = kubeops(
        *contexts("member-b"), "--history-url-file", str(secret_file), "-o", "json", env=env
    )
    assert second.returncode == 0, second.stderr
    documents = [json.loads(done.stdout) for done in (first, second)]
    trend = [e["generated"] for e in documents[1]["history"]]
    assert trend == [d["generated"] for d in documents]
    assert [r["generated"] for r in stored_runs(history_url)] == trend
    password = make_url(history_url).password
    for done in (first, second):
        assert password is None or password not in done.stdout + done.stderr


def test_a_bare_postgresql_url_takes_the_pg_variables(kubeconfigs: str, postgres_url: str) -> None:
    url = make_url(postgres_url)
    env = {
        "KUBECONFIG": kubeconfigs,
        "PGHOST": str(url.host),
        "PGPORT": str(url.port),
        "PGUSER": str(url.username),
        "PGPASSWORD": str(url.password),
        "PGDATABASE": str(url.database),
    }
    done = kubeops(*contexts("member-b"), "--history", "postgresql://", "-o", "json", env=env)
    assert done.returncode == 0, done.stderr
    [entry] = json.loads(done.stdout)["history"]
    assert [r["generated"] for r in stored_runs(postgres_url)] == [entry["generated"]]
    assert str(url.password) not in done.stdout + done.stderr


def test_a_wrong_password_is_one_line_that_does_not_print_it(
    kubeconfigs: str, postgres_url: str
) -> None:
    url = make_url(postgres_url)
    wrong = url.set(password="not-the-password").render_as_string(hide_password=False)
    done = kubeops(*contexts("member-b"), "--history", wrong, env={"KUBECONFIG": kubeconfigs})
    assert done.returncode == 1
    assert "password authentication failed" in done.stderr
    assert f"kubeops:***@{url.host}:{url.port}/{url.database}" in done.stderr
    assert "not-the-password" not in done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--history", "x.db", "--history-url-file", "url"], "not both"),
        (
            ["--history-url-file", "/nonexistent/url"],
            "history URL file /nonexistent/url: cannot read",
        ),
        (["--history", "mysql://u:pw@db/k"], "kubeops keeps its history in SQLite or PostgreSQL"),
    ],
)
def test_history_errors_are_one_line(args: list[str], message: str) -> None:
    done = kubeops("-f", str(SAMPLE), *args)
    assert done.returncode == 1
    assert message in done.stderr
    assert "pw@" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_a_history_that_cannot_be_opened_fails_before_the_inspection(postgres_url: str) -> None:
    wrong = make_url(postgres_url).set(password="not-the-password")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "kubeops",
            "inspect",
            "-f",
            str(SAMPLE),
            "--history",
            wrong.render_as_string(hide_password=False),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 1
    assert "password authentication failed" in done.stderr
    # Without --quiet the inspection announces what it reads: it never started.
    assert "manifests:" not in done.stderr
    assert done.stdout == ""
