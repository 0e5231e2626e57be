"""Issue 17, finding 6: a daemon's HTTP port (``inspect serve`` today, every daemon's
through :mod:`kubeops.controller.serving`) bounds what a URL may ask, never shows a
traceback, lets in only who it should, and refuses to serve data to every interface
without authentication unless told so.

The pages run in this process over a real SQLite history; the command runs in a
process of its own where its startup refusal is checked.  The Kubernetes
(TokenReview + SubjectAccessReview) mode is tested against real API servers in
``tests/integration/inspect_serve/test_access.py``.
"""

from __future__ import annotations

import json
import logging
import ssl
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from inspect_documents import document
from kubeops.controller.serving import SecurePort, ServingError, ServingOptions
from kubeops.inspect.history import History
from kubeops.inspect.serve.metrics import InspectMetrics
from kubeops.inspect.serve.web import Site
from kubeops.testenv import async_eventually
from kubeops.testenv.pki import create_cluster_pki

TOKEN = "s3cret-scrape-token"


@pytest.fixture
async def history(tmp_path: Path) -> AsyncIterator[History]:
    opened = await History.open(f"sqlite:///{tmp_path / 'inspect.db'}")
    await opened.record(document())
    try:
        yield opened
    finally:
        await opened.close()


async def client_for(app: web.Application) -> TestClient[Any, Any]:
    client: TestClient[Any, Any] = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    return client


def site(history: History) -> Site:
    return Site(history, InspectMetrics(), lambda: {"status": "ok"})


def json_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    """Every record kubeops logged, each of which must be one JSON object on one line
    with no traceback."""
    from kubeops.controller.serving import JsonLogFormatter

    lines = []
    for record in caplog.records:
        assert record.exc_info is None, record.getMessage()
        text = JsonLogFormatter().format(record)
        assert "\n" not in text
        assert "Traceback" not in text
        lines.append(json.loads(text))
    return lines


async def test_run_ids_out_of_range_are_404_before_the_database_is_asked(
    history: History, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="kubeops")
    client = await client_for(site(history).app())
    try:
        assert (await client.get("/runs/1.json")).status == 200
        for run in (
            "99999999999999999999",  # the finding: a 500 with a traceback page before
            "9223372036854775808",  # one past BIGINT
            "0",
            "00000000000000000000000001",
            "\u0661",  # ARABIC-INDIC DIGIT ONE matches the route's \d
        ):
            for suffix in ("", ".json"):
                response = await client.get(f"/runs/{run}{suffix}")
                body = await response.text()
                assert response.status == 404, (run, suffix, body)
                assert "Traceback" not in body
                assert "Error" not in body
        # The largest id a database holds is asked for, and is simply not there.
        assert (await client.get("/runs/9223372036854775807")).status == 404
        assert (await client.get("/history.json?limit=99999999999999999999999")).status == 400
        assert len(await (await client.get("/history.json?limit=99999999")).json()) == 1
    finally:
        await client.close()
    assert json_lines(caplog) == []  # nothing went wrong, so nothing is logged


async def test_an_unexpected_error_is_a_short_500_and_one_json_log_line(
    history: History, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="kubeops")
    pages = site(history)

    async def broken() -> int:
        raise RuntimeError("\x1b[2J the page broke\nforged line")

    pages.history.latest_id = broken  # type: ignore[method-assign]
    client = await client_for(pages.app())
    try:
        response = await client.get("/report.json")
        assert response.status == 500
        assert await response.text() == "500: internal server error\n"
    finally:
        await client.close()
    (line,) = json_lines(caplog)
    assert line["status"] == 500
    assert line["path"] == "/report.json"
    assert line["error"] == "RuntimeError: \x1b[2J the page broke\nforged line"


def test_serving_every_interface_unauthenticated_is_refused_in_one_line(
    tmp_path: Path,
) -> None:
    ran = subprocess.run(
        [
            sys.executable,
            "-m",
            "kubeops",
            "inspect",
            "serve",
            "--listen",
            ":0",
            "--history",
            f"sqlite:///{tmp_path / 'x.db'}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert ran.returncode == 1
    (line,) = ran.stderr.splitlines()
    assert "--allow-unauthenticated" in line
    assert "--auth" in line
    assert "0.0.0.0:0" in line
    assert not (tmp_path / "x.db").exists()  # refused before anything started


@pytest.mark.parametrize(
    ("host", "allowed"),
    [("127.0.0.1", True), ("::1", True), ("localhost", True), ("0.0.0.0", False), ("::", False)],
)
def test_only_loopback_may_serve_without_authentication_unless_told(
    host: str, allowed: bool
) -> None:
    unauthenticated = ServingOptions(host=host)
    if allowed:
        unauthenticated.check()
    else:
        with pytest.raises(ServingError, match="--allow-unauthenticated"):
            unauthenticated.check()
    ServingOptions(host=host, allow_unauthenticated=True).check()


async def test_the_bearer_token_file_is_compared_and_reread(
    history: History, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="kubeops")
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    port = SecurePort(ServingOptions(host="0.0.0.0", auth="token", token_file=str(token_file)))
    client = await client_for(site(history).app(port))

    async def status(path: str, token: str | None) -> int:
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        async with client.get(path, headers=headers) as response:
            if response.status == 401:
                assert response.headers["WWW-Authenticate"].startswith("Bearer")
            return response.status

    try:
        assert await status("/metrics", None) == 401
        assert await status("/metrics", "wrong") == 401
        assert await status("/runs/1.json", TOKEN) == 200
        assert await status("/metrics", TOKEN) == 200
        basic = await client.get("/metrics", headers={"Authorization": "Basic dXNlcjpwYXNz"})
        assert basic.status == 401
        # The probes stay open for the kubelet.
        assert await status("/healthz", None) == 200
        assert await status("/readyz", None) == 200
        # A rotated Secret takes effect at the next request.
        token_file.write_text("rotated-token\n")
        assert await status("/metrics", TOKEN) == 401
        assert await status("/metrics", "rotated-token") == 200
        # An emptied file lets nobody in.
        token_file.write_text("")
        assert await status("/metrics", "rotated-token") == 401
        assert await status("/metrics", "") == 401
    finally:
        await client.close()
    denials = json_lines(caplog)
    assert denials
    assert all(d["status"] == 401 for d in denials)
    assert not any(TOKEN in json.dumps(d) or "rotated-token" in json.dumps(d) for d in denials)


def test_a_token_file_that_cannot_be_used_stops_startup(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.write_text("\n")
    with pytest.raises(ServingError, match=f"--auth-token-file {empty}: expected one token"):
        SecurePort(ServingOptions(auth="token", token_file=str(empty)))
    with pytest.raises(ServingError, match="needs --auth-token-file"):
        SecurePort(ServingOptions(auth="token"))


async def test_tls_serves_a_testenv_certificate_and_reloads_a_rotated_one(
    history: History, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="kubeops")
    first = create_cluster_pki(tmp_path / "first", "serve-a")
    second = create_cluster_pki(tmp_path / "second", "serve-b")
    cert, key = tmp_path / "tls.crt", tmp_path / "tls.key"
    cert.write_bytes(first.apiserver.cert_pem)
    key.write_bytes(first.apiserver.key_pem)
    key.chmod(0o600)
    options = ServingOptions(port=0, tls_cert_file=str(cert), tls_key_file=str(key))
    port = SecurePort(options)
    await port.start(site(history).app(port), reload_interval=0.1)
    url = f"https://127.0.0.1:{port.port}/runs/1.json"

    async def fetch(ca: Path) -> int:
        context = ssl.create_default_context(cafile=str(ca))
        async with (
            aiohttp.ClientSession() as session,
            session.get(url, ssl=context, timeout=aiohttp.ClientTimeout(total=5)) as response,
        ):
            return response.status

    try:
        assert await fetch(first.ca.cert_file) == 200
        with pytest.raises(aiohttp.ClientConnectorCertificateError):
            await fetch(second.ca.cert_file)
        async with aiohttp.ClientSession() as session:
            with pytest.raises(aiohttp.ClientError):
                await session.get(url.replace("https", "http"))
        # A bad pair (the new certificate with the old key) is not taken...
        cert.write_bytes(second.apiserver.cert_pem)
        await async_eventually(
            lambda: "serving certificate not reloaded" in caplog.text,
            message="the mismatched pair is refused",
        )
        assert await fetch(first.ca.cert_file) == 200
        # ... the matching pair is, without a restart.
        key.write_bytes(second.apiserver.key_pem)

        async def rotated() -> bool:
            return await fetch(second.ca.cert_file) == 200

        await async_eventually(rotated, message="the rotated certificate is served", timeout=10)
    finally:
        await port.stop()


def test_an_unusable_certificate_stops_startup(tmp_path: Path) -> None:
    pki = create_cluster_pki(tmp_path / "pki", "bad")
    with pytest.raises(ServingError, match="not a usable certificate and key"):
        SecurePort(
            ServingOptions(
                tls_cert_file=str(pki.apiserver.cert_file), tls_key_file=str(pki.admin.key_file)
            )
        )
    with pytest.raises(ServingError, match="both --tls-cert-file and --tls-private-key-file"):
        SecurePort(ServingOptions(tls_cert_file=str(pki.apiserver.cert_file)))


def test_the_command_offers_every_auth_mode_and_parses_resource_attributes() -> None:
    from kubeops.cli.inspect_serve import options
    from kubeops.cli.main import build_parser
    from kubeops.controller.serving import AUTH_MODES, ResourceAttributes

    parser = build_parser()
    for mode in AUTH_MODES:
        assert parser.parse_args(["inspect", "serve", "--auth", mode]).auth == mode
    args = parser.parse_args(
        [
            "inspect",
            "serve",
            "--auth",
            "kubernetes",
            "--auth-resource-attributes",
            "resource=services, subresource=proxy,name=web,namespace=ops",
        ]
    )
    serving = options(args).serving
    assert serving.resource_attributes == ResourceAttributes(
        "services", subresource="proxy", name="web", namespace="ops"
    )
    assert serving.resource_attributes.review("get") == {
        "verb": "get",
        "group": "",
        "resource": "services",
        "subresource": "proxy",
        "name": "web",
        "namespace": "ops",
    }
    for bad in ("services", "resource=a,resource=b", "name=web", "colour=blue,resource=x"):
        args = parser.parse_args(["inspect", "serve", "--auth-resource-attributes", bad])
        with pytest.raises(ServingError, match="--auth-resource-attributes"):
            options(args)


@pytest.mark.parametrize(
    "header",
    [None, "", "Bearer", "Bearer ", "Basic abc", "bearer " + "x" * 20_000],
)
def test_a_request_without_a_usable_bearer_token_is_unauthenticated(header: str | None) -> None:
    from kubeops.controller.serving.authn import Unauthenticated, bearer_token

    with pytest.raises(Unauthenticated):
        bearer_token(header)
    assert bearer_token("bearer  abc ") == "abc"


def test_review_answers_are_kept_briefly_and_bounded() -> None:
    from kubeops.controller.serving.decisions import Decisions

    kept: Decisions[str] = Decisions(ttl=60, size=3)
    for i in range(5):
        kept.put(str(i), f"answer {i}")
    assert [kept.get(str(i)) for i in range(5)] == [None, None, "answer 2", "answer 3", "answer 4"]
    expired: Decisions[str] = Decisions(ttl=-1)
    expired.put("a", "b")
    assert expired.get("a") is None


def test_json_logs_are_one_object_per_line_even_with_a_traceback() -> None:
    from kubeops.controller.serving import JsonLogFormatter

    formatter = JsonLogFormatter()
    try:
        raise ValueError("bad\nvalue")
    except ValueError:
        failed = logging.LogRecord(
            "kubeops.x", logging.ERROR, __file__, 1, "run \x1b[2J%s", ("failed",), sys.exc_info()
        )
    line = formatter.format(failed)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["message"] == "run \x1b[2Jfailed"
    assert entry["error"] == "ValueError: bad\nvalue"
    assert "Traceback" in entry["traceback"]
    # A message that looks like a record stays a message: a client cannot set fields.
    event = logging.LogRecord(
        "kubeops.x", logging.WARNING, __file__, 1, '{"level":"debug","status":403}', (), None
    )
    forged = json.loads(formatter.format(event))
    assert (forged["level"], forged["message"]) == ("warning", '{"level":"debug","status":403}')
    assert "status" not in forged
