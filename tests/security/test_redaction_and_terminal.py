"""Issue 17, findings 5, 7 and 8: no credential in a URL is shown, stored or copied; no
control character from cluster data reaches a terminal raw; TLS problems are one line
and a certificate that does not verify fails at once.

Commands run through ``kubeops.cli.main`` (one line on stderr, exit code 1), or in a
process of their own where the warnings or the process exit matter, against the
testenv's real clusters.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web
from rich.console import Console

from kubeops.cli.main import main
from kubeops.config import printable, redact_url, strip_userinfo
from kubeops.inspect.report import print_summary
from kubeops.inspect.report.sample import sample_document
from kubeops.inspect.serve.webhook import Webhook
from kubeops.testenv import Cluster

PASSWORD = "s3cretPassw0rd"
HOSTILE = "\x1b]0;pwned\x07\x1b[2J"


def kubeops(*args: str) -> subprocess.CompletedProcess[str]:
    """A command through ``kubeops.cli.main.main`` in this process, output captured."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as exit_:
            code = int(exit_.code or 0)
    return subprocess.CompletedProcess(list(args), code, out.getvalue(), err.getvalue())


def kubeops_process(*args: str) -> subprocess.CompletedProcess[str]:
    """The same in a process of its own (Python's warning machinery as a user has it)."""
    return subprocess.run(
        [sys.executable, "-m", "kubeops", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "PYTHONWARNINGS": ""},
    )


def rewritten(cluster: Cluster, path: Path, **changes: Any) -> Path:
    """The cluster's kubeconfig with its cluster entry changed (``server`` given as a
    function of the real server, other keys set; a value of None removes the key)."""
    config = yaml.safe_load(cluster.kubeconfig.read_text())
    entry = config["clusters"][0]["cluster"]
    for key, value in changes.items():
        if callable(value):
            entry[key] = value(entry[key])
        elif value is None:
            entry.pop(key, None)
        else:
            entry[key] = value
    path.write_text(yaml.safe_dump(config))
    return path


def with_password(server: str) -> str:
    return server.replace("://", f"://admin:{PASSWORD}@", 1)


# -- finding 5: credentials in URLs ------------------------------------------------------


def test_the_redaction_rules() -> None:
    assert redact_url(f"https://admin:{PASSWORD}@h:6443/x") == "https://admin:***@h:6443/x"
    assert redact_url("https://hooks.slack.com/services/T0/B0/xyz?a=1", secret_path=True) == (
        "https://hooks.slack.com/***"
    )
    assert redact_url("https://h:6443") == "https://h:6443"
    assert PASSWORD not in redact_url(f"https://admin:{PASSWORD}@[::1/x")  # does not parse
    assert strip_userinfo(f"https://admin:{PASSWORD}@h:6443") == "https://h:6443"


def test_inspect_shows_no_password_of_the_server_url(kube_cluster: Cluster, tmp_path: Path) -> None:
    """A reachable and an unreachable cluster, both with user:password in the server URL:
    no report format, progress line or error line holds the password."""
    config = rewritten(kube_cluster, tmp_path / "kubeconfig", server=with_password)
    data = yaml.safe_load(config.read_text())
    data["clusters"].append(
        {"name": "gone", "cluster": {"server": f"https://admin:{PASSWORD}@127.0.0.1:9"}}
    )
    data["users"].append({"name": "gone", "user": {"token": "x"}})
    data["contexts"].append({"name": "gone", "context": {"cluster": "gone", "user": "gone"}})
    config.write_text(yaml.safe_dump(data))
    out = tmp_path / "reports"
    # The unreachable cluster alone, in a process of its own at the same time: each run
    # waits out the client's retries against the closed port.
    with ThreadPoolExecutor(1) as pool:
        alone = pool.submit(
            kubeops_process, "inspect", "--kubeconfig", str(config), "--context", "gone"
        )
        done = kubeops(
            "inspect", "--kubeconfig", str(config), "--context", "testenv", "--context", "gone",
            "-o", "json", "-o", "html", "-o", "markdown", "--output-dir", str(out),
        )  # fmt: skip
        terminal = alone.result()
    assert done.returncode in (0, 2), done.stderr
    assert PASSWORD not in done.stdout + done.stderr
    assert "cannot reach https://127.0.0.1:9" in done.stderr  # the error line, without userinfo
    reports = sorted(out.iterdir())
    assert len(reports) == 3
    for report in reports:
        assert PASSWORD not in report.read_text(), report.name
    document = json.loads((out / "inspect-report.json").read_text())
    servers = {c["name"]: c["server"] for c in document["clusters"]}
    assert servers["testenv"] == kube_cluster.server.replace("://", "://admin:***@")
    assert document["clusters"][0]["reachable"] or document["clusters"][1]["reachable"]
    assert terminal.returncode == 1
    assert terminal.stderr.count("kubeops: error:") == 1
    assert PASSWORD not in terminal.stdout + terminal.stderr
    assert "127.0.0.1:9" in terminal.stdout  # the cluster is named, its password is not


def test_create_sa_copies_the_server_without_userinfo(
    kube_cluster: Cluster, kube_namespace: str, tmp_path: Path
) -> None:
    config = rewritten(kube_cluster, tmp_path / "kubeconfig", server=with_password)
    out = tmp_path / "sa.kubeconfig"
    done = kubeops(
        "auth", "create-sa", "ci", "-n", kube_namespace, "--rule", "list:pods",
        "--kubeconfig", str(config), "--kubeconfig-out", str(out),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    text = out.read_text()
    assert PASSWORD not in text
    assert "admin" not in text
    written = yaml.safe_load(text)["clusters"][0]["cluster"]
    assert written["server"] == kube_cluster.server
    assert "insecure-skip-tls-verify" not in written
    whoami = kubeops("auth", "can-i", "list", "pods", "--kubeconfig", str(out))
    assert whoami.stdout.strip() == "yes", whoami.stderr


async def test_webhook_retries_log_no_path(caplog: pytest.LogCaptureFixture) -> None:
    """A Slack-style webhook that fails (503, then a closed port): every log line names
    the host only."""
    secret = "T000/B000/xoxsecretpath"
    hits: list[str] = []

    async def refuse(request: web.Request) -> web.Response:
        hits.append(request.path)
        return web.Response(status=503)

    app = web.Application()
    app.router.add_post("/{tail:.*}", refuse)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    caplog.set_level(logging.DEBUG, logger="kubeops")
    try:
        hook = Webhook(f"http://127.0.0.1:{port}/services/{secret}", attempts=3, backoff=0.01)
        assert await hook.post({"text": "x"}) is False
    finally:
        await runner.cleanup()
    assert hits == [f"/services/{secret}"] * 3
    closed = Webhook(f"http://user:{PASSWORD}@127.0.0.1:{port}/services/{secret}", attempts=2,
                     backoff=0.01)  # fmt: skip
    assert await closed.post({"text": "x"}) is False
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) >= 5, messages  # every retry and both failures were logged
    for message in messages:
        assert "xoxsecretpath" not in message, message
        assert "services" not in message, message
        assert PASSWORD not in message, message
    assert any(f"http://127.0.0.1:{port}/***" in m for m in messages), messages


def test_serve_refuses_a_bad_webhook_without_printing_it() -> None:
    done = kubeops("inspect", "serve", "--webhook", "ftp://hooks.example.com/T0/B0/xoxsecretpath")
    assert done.returncode == 1
    assert "xoxsecretpath" not in done.stderr
    assert "ftp://hooks.example.com/***" in done.stderr


# -- finding 7: terminal escapes ----------------------------------------------------------


def test_printable_escapes_c0_and_c1_but_keeps_newline_and_tab() -> None:
    assert printable(f"a{HOSTILE}b\tc\nd\x9be\r") == ("a\\x1b]0;pwned\\x07\\x1b[2Jb\tc\nd\\x9be\\r")


def test_kubeops_get_and_events_print_no_escape(kube_cluster: Cluster, kube_namespace: str) -> None:
    admin = kube_cluster.admin
    ns = kube_namespace
    admin.create(
        f"/api/v1/namespaces/{ns}/configmaps",
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "hostile", "annotations": {"note": HOSTILE}},
            "data": {"k": HOSTILE},
        },
    )
    admin.create(
        f"/api/v1/namespaces/{ns}/events",
        {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": "hostile.1"},
            "involvedObject": {"kind": "ConfigMap", "name": "hostile", "namespace": ns},
            "reason": f"Bad{HOSTILE}",
            "message": f"subject CN=x{HOSTILE}",
            "type": "Warning",
            "firstTimestamp": "2026-01-01T00:00:00Z",
            "lastTimestamp": "2026-01-01T00:00:00Z",
            "count": 1,
        },
    )
    config = str(kube_cluster.kubeconfig)
    shown = []
    for args in (
        ["get", "configmaps", "-n", ns],
        ["get", "events", "-n", ns],
        ["get", "events", "-n", ns, "-o", "yaml"],
        ["get", "configmap", "hostile", "-n", ns, "-o", "json"],
        ["events", "-n", ns],
        ["events", "configmap/hostile", "-n", ns],
    ):
        done = kubeops(*args, "--kubeconfig", config)
        assert done.returncode == 0, (args, done.stderr)
        assert "\x1b" not in done.stdout + done.stderr, args
        assert "\x07" not in done.stdout + done.stderr, args
        shown.append(done.stdout)
    assert "\\x1b]0;pwned\\x07\\x1b[2J" in shown[1]  # escaped, visible, not dropped
    assert "subject CN=x" in shown[4]


def test_inspect_terminal_report_prints_no_escape() -> None:
    """The terminal summary of a report whose cluster names, errors and findings carry
    escape sequences, printed to a terminal (colours on)."""
    document = sample_document()
    document["clusters"][0]["name"] = f"prod{HOSTILE}"
    for finding in document["findings"]:
        finding["message"] = f"certificate subject CN=evil{HOSTILE}"
        finding["cluster"] = f"prod{HOSTILE}"
    document["clusters"].append({**document["clusters"][0], "reachable": False,
                                 "error": f"cannot reach{HOSTILE}"})  # fmt: skip
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=200, color_system="truecolor")
    print_summary(document, console)
    text = out.getvalue()
    assert "pwned" in text  # the hostile strings were shown...
    for sequence in ("\x1b]", "\x1b[2J", "\x07"):
        assert sequence not in text  # ...but not as sequences; rich's own colours remain
    assert "\\x1b]0;pwned" in text


# -- finding 8: TLS -----------------------------------------------------------------------


def test_a_certificate_that_does_not_verify_fails_at_once(
    kube_cluster: Cluster, tmp_path: Path
) -> None:
    config = rewritten(kube_cluster, tmp_path / "kubeconfig", **{"certificate-authority-data": None})  # fmt: skip
    started = time.monotonic()
    done = kubeops("get", "namespaces", "--kubeconfig", str(config))
    elapsed = time.monotonic() - started
    assert done.returncode == 1
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert "TLS certificate verification failed" in lines[0]
    assert "consecutive" not in lines[0]  # no retries opened the breaker
    assert elapsed < 2, elapsed


def test_the_insecure_warning_is_one_kubeops_line(kube_cluster: Cluster, tmp_path: Path) -> None:
    config = rewritten(
        kube_cluster, tmp_path / "kubeconfig",
        **{"certificate-authority-data": None, "insecure-skip-tls-verify": True},
    )  # fmt: skip
    done = kubeops_process("get", "namespaces", "--kubeconfig", str(config))
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == [
        f"kubeops: warning: TLS verification is off for {kube_cluster.server} "
        "(insecure-skip-tls-verify): anyone on the network path can impersonate this API server"
    ]


def test_create_sa_keeps_insecure_only_without_a_ca_and_says_so(
    kube_cluster: Cluster, kube_namespace: str, tmp_path: Path
) -> None:
    config = rewritten(
        kube_cluster, tmp_path / "kubeconfig",
        **{"certificate-authority-data": None, "insecure-skip-tls-verify": True},
    )  # fmt: skip
    out = tmp_path / "sa.kubeconfig"
    done = kubeops(
        "auth", "create-sa", "ci", "-n", kube_namespace, "--rule", "list:pods",
        "--kubeconfig", str(config), "--kubeconfig-out", str(out),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert yaml.safe_load(out.read_text())["clusters"][0]["cluster"]["insecure-skip-tls-verify"]
    assert f"kubeops: warning: {out} keeps insecure-skip-tls-verify" in done.stderr
