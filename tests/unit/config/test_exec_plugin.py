"""Exec credential plugins, run for real: input, output, caching, timeouts and failures."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from kubeops.config import (
    ConfigError,
    ExecConfig,
    ExecPluginCredentials,
    ExecPluginError,
    load_config,
)
from kubeops.config.exec_plugin import V1, V1BETA1, parse_exec_output
from kubeops.testenv import async_eventually

from .samples import PKI, b64, kubeconfig_doc, process_gone, write_script, write_yaml

# Records each run (count, input, arguments) in $PLUGIN_STATE and prints token-<run number>.
TOKEN_PLUGIN = """
import json, os, sys, time
state = os.environ["PLUGIN_STATE"]
with open(os.path.join(state, "runs"), "a") as f:
    f.write("run\\n")
with open(os.path.join(state, "runs")) as f:
    runs = len(f.readlines())
with open(os.path.join(state, "exec-info.json"), "w") as f:
    f.write(os.environ["KUBERNETES_EXEC_INFO"])
with open(os.path.join(state, "args.json"), "w") as f:
    json.dump(sys.argv[1:], f)
time.sleep(float(os.environ.get("PLUGIN_DELAY", "0")))
info = json.loads(os.environ["KUBERNETES_EXEC_INFO"])
status = {"token": f"token-{runs}"}
if os.environ.get("PLUGIN_EXPIRY"):
    status["expirationTimestamp"] = os.environ["PLUGIN_EXPIRY"]
if os.environ.get("PLUGIN_CERT"):
    status = {
        "clientCertificateData": open(os.environ["PLUGIN_CERT"]).read(),
        "clientKeyData": open(os.environ["PLUGIN_KEY"]).read(),
    }
print(json.dumps({"apiVersion": info["apiVersion"], "kind": "ExecCredential", "status": status}))
"""


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _runs(state: Path) -> int:
    try:
        return len((state / "runs").read_text().splitlines())
    except FileNotFoundError:
        return 0


@pytest.fixture
def state(tmp_path: Path) -> Path:
    path = tmp_path / "state"
    path.mkdir()
    return path


@pytest.fixture
def plugin(tmp_path: Path) -> Path:
    return write_script(tmp_path / "token-plugin", TOKEN_PLUGIN)


def _exec_kubeconfig(tmp_path: Path, exec_section: dict[str, Any], **cluster: Any) -> Path:
    return write_yaml(
        tmp_path / "config",
        kubeconfig_doc(
            clusters={"c": {"server": "https://127.0.0.1:6443", **cluster}},
            users={"u": {"exec": exec_section}},
            contexts={"ctx": {"cluster": "c", "user": "u"}},
            current="ctx",
        ),
    )


def _direct(
    plugin: Path, state: Path, *, clock: Clock | None = None, timeout: float = 30.0, **env: str
) -> ExecPluginCredentials:
    config = ExecConfig(
        command=str(plugin), env=(("PLUGIN_STATE", str(state)), *env.items()), api_version=V1
    )
    if clock is None:
        return ExecPluginCredentials(config, timeout=timeout)
    return ExecPluginCredentials(config, timeout=timeout, clock=clock)


async def test_v1_plugin_receives_exec_info_args_env_and_cluster_info(
    tmp_path: Path, state: Path, plugin: Path, pki: PKI
) -> None:
    path = _exec_kubeconfig(
        tmp_path,
        {
            "apiVersion": V1,
            "command": str(plugin),
            "args": ["get-token", "--cluster", "prod"],
            "env": [{"name": "PLUGIN_STATE", "value": str(state)}],
            "interactiveMode": "Never",
            "provideClusterInfo": True,
        },
        **{
            "certificate-authority-data": b64(pki.ca.cert_pem),
            "tls-server-name": "kubernetes.default",
            "extensions": [
                {"name": "client.authentication.k8s.io/exec", "extension": {"audience": "k8s"}}
            ],
        },
    )
    config = load_config(path)
    cred = await config.credentials.get()
    assert cred.token == "token-1"
    assert cred.expires_at is None
    assert config.credentials.describe() == "exec plugin token-plugin"
    assert json.loads((state / "args.json").read_text()) == ["get-token", "--cluster", "prod"]
    info = json.loads((state / "exec-info.json").read_text())
    assert info == {
        "apiVersion": V1,
        "kind": "ExecCredential",
        "spec": {
            "interactive": False,
            "cluster": {
                "server": "https://127.0.0.1:6443",
                "tls-server-name": "kubernetes.default",
                "certificate-authority-data": b64(pki.ca.cert_pem),
                "config": {"audience": "k8s"},
            },
        },
    }


async def test_cluster_info_is_sent_only_when_asked_for(
    tmp_path: Path, state: Path, plugin: Path
) -> None:
    path = _exec_kubeconfig(
        tmp_path,
        {
            "apiVersion": V1,
            "command": str(plugin),
            "env": [{"name": "PLUGIN_STATE", "value": str(state)}],
            "interactiveMode": "IfAvailable",
        },
    )
    await load_config(path).credentials.get()
    assert json.loads((state / "exec-info.json").read_text())["spec"] == {"interactive": False}


async def test_v1beta1_plugin_works_without_interactive_mode(
    tmp_path: Path, state: Path, plugin: Path
) -> None:
    path = _exec_kubeconfig(
        tmp_path,
        {
            "apiVersion": V1BETA1,
            "command": str(plugin),
            "env": [{"name": "PLUGIN_STATE", "value": str(state)}],
        },
    )
    credentials = load_config(path).credentials
    assert isinstance(credentials, ExecPluginCredentials)
    assert credentials.config.interactive_mode == "IfAvailable"
    assert (await credentials.get()).token == "token-1"
    assert json.loads((state / "exec-info.json").read_text())["apiVersion"] == V1BETA1


def test_v1_plugin_without_interactive_mode_is_rejected(tmp_path: Path) -> None:
    path = _exec_kubeconfig(tmp_path, {"apiVersion": V1, "command": "p"})
    with pytest.raises(
        ConfigError,
        match=r"interactiveMode of the exec plugin of user 'u' in .* must be set for "
        r"client.authentication.k8s.io/v1",
    ):
        load_config(path)


def test_interactive_mode_always_cannot_work_and_says_why(tmp_path: Path) -> None:
    path = _exec_kubeconfig(
        tmp_path, {"apiVersion": V1, "command": "p", "interactiveMode": "Always"}
    )
    with pytest.raises(
        ConfigError, match="is Always, but kubeops runs exec plugins without a terminal"
    ):
        load_config(path)


@pytest.mark.parametrize(
    ("section", "message"),
    [
        (
            {"apiVersion": "client.authentication.k8s.io/v1alpha1", "command": "p"},
            "apiVersion .* must be",
        ),
        ({"apiVersion": V1BETA1}, "command of the exec plugin .* must be set"),
        (
            {"apiVersion": V1BETA1, "command": "p", "interactiveMode": "Sometimes"},
            "Never, IfAvailable or Always",
        ),
        (
            {"apiVersion": V1BETA1, "command": "p", "env": [{"value": "x"}]},
            "name of env entry 0 .* must be set",
        ),
    ],
)
def test_invalid_exec_sections_are_rejected_at_load(
    tmp_path: Path, section: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(_exec_kubeconfig(tmp_path, section))


async def test_credential_is_cached_until_it_expires(plugin: Path, state: Path) -> None:
    clock = Clock(datetime(2029, 12, 31, 23, 59, tzinfo=UTC))
    source = _direct(plugin, state, clock=clock, PLUGIN_EXPIRY="2030-01-01T00:00:00Z")
    first = await source.get()
    assert first.token == "token-1"
    assert first.expires_at == datetime(2030, 1, 1, tzinfo=UTC)
    assert (await source.get()).token == "token-1"
    assert _runs(state) == 1
    clock.now = datetime(2030, 1, 1, tzinfo=UTC)
    assert (await source.get()).token == "token-2"
    assert _runs(state) == 2


async def test_invalidate_runs_the_plugin_again(plugin: Path, state: Path) -> None:
    source = _direct(plugin, state)
    assert (await source.get()).token == "token-1"
    assert (await source.get()).token == "token-1"
    source.invalidate()
    assert (await source.get()).token == "token-2"
    assert _runs(state) == 2


async def test_concurrent_gets_share_one_plugin_run(plugin: Path, state: Path) -> None:
    source = _direct(plugin, state, PLUGIN_DELAY="0.3")
    creds = await asyncio.gather(*(source.get() for _ in range(5)))
    assert {c.token for c in creds} == {"token-1"}
    assert _runs(state) == 1


async def test_plugin_can_return_a_client_certificate(
    tmp_path: Path, plugin: Path, state: Path, pki: PKI
) -> None:
    (tmp_path / "c.pem").write_bytes(pki.client.cert_pem)
    (tmp_path / "k.pem").write_bytes(pki.client.key_pem)
    source = _direct(
        plugin, state, PLUGIN_CERT=str(tmp_path / "c.pem"), PLUGIN_KEY=str(tmp_path / "k.pem")
    )
    cred = await source.get()
    assert (cred.token, cred.client_cert_pem, cred.client_key_pem) == (
        None,
        pki.client.cert_pem,
        pki.client.key_pem,
    )


async def test_relative_plugin_command_runs_from_the_kubeconfig_directory(
    tmp_path: Path, state: Path
) -> None:
    (tmp_path / "conf" / "bin").mkdir(parents=True)
    write_script(tmp_path / "conf" / "bin" / "p", TOKEN_PLUGIN)
    path = write_yaml(
        tmp_path / "conf" / "config",
        kubeconfig_doc(
            clusters={"c": {"server": "https://x"}},
            users={
                "u": {
                    "exec": {
                        "apiVersion": V1BETA1,
                        "command": "./bin/p",
                        "env": [{"name": "PLUGIN_STATE", "value": str(state)}],
                    }
                }
            },
            contexts={"ctx": {"cluster": "c", "user": "u"}},
            current="ctx",
        ),
    )
    assert (await load_config(path).credentials.get()).token == "token-1"


async def test_hanging_plugin_is_killed_with_its_children_after_the_timeout(
    tmp_path: Path,
) -> None:
    hang = tmp_path / "hang"
    hang.write_text(f"#!/bin/sh\nsleep 300 &\necho $! > {tmp_path}/child\nwait\n")
    hang.chmod(0o755)
    config = ExecConfig(command=str(hang), api_version=V1, install_hint="Install hang.")
    started = time.monotonic()
    with pytest.raises(
        ExecPluginError, match=r"did not finish within 0.5 s and was killed\nInstall hang.$"
    ):
        await ExecPluginCredentials(config, timeout=0.5).get()
    assert time.monotonic() - started < 5
    child = int((tmp_path / "child").read_text())
    await async_eventually(lambda: process_gone(child), timeout=5, message="the child to be gone")


async def test_cancelled_get_kills_the_running_plugin(tmp_path: Path) -> None:
    hang = tmp_path / "hang"
    hang.write_text(f"#!/bin/sh\necho $$ > {tmp_path}/pid\nexec sleep 300\n")
    hang.chmod(0o755)
    task = asyncio.create_task(ExecPluginCredentials(ExecConfig(command=str(hang))).get())
    await async_eventually(
        (tmp_path / "pid").exists, timeout=5, interval=0.02, message="the plugin to start"
    )
    pid = int((tmp_path / "pid").read_text())
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await async_eventually(lambda: process_gone(pid), timeout=5, message="the plugin to be gone")


async def test_failing_plugin_reports_command_exit_code_stderr_tail_and_hint(
    tmp_path: Path,
) -> None:
    failing = write_script(
        tmp_path / "failing",
        "import sys\nfor i in range(1, 16):\n    print(f'problem line {i}', file=sys.stderr)\nsys.exit(3)\n",
    )
    config = ExecConfig(
        command=str(failing),
        args=("token", "--profile", "prod"),
        api_version=V1,
        install_hint="Install it with: pip install failing",
        where="user 'u' in /k/config",
    )
    with pytest.raises(ExecPluginError) as info:
        await ExecPluginCredentials(config).get()
    message = str(info.value)
    assert message.startswith(
        f"exec plugin {failing} token --profile prod for user 'u' in /k/config failed with exit code 3"
    )
    assert "problem line 15" in message
    assert "problem line 6\n" in message
    assert "problem line 5\n" not in message
    assert message.endswith("\nInstall it with: pip install failing")


async def test_plugin_killed_by_a_signal_is_reported_as_such(tmp_path: Path) -> None:
    script = write_script(
        tmp_path / "crash", "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n"
    )
    with pytest.raises(ExecPluginError, match=r"crash for user 'u' was killed by signal 9$"):
        await ExecPluginCredentials(ExecConfig(command=str(script), where="user 'u'")).get()


async def test_missing_plugin_is_reported_with_the_install_hint() -> None:
    config = ExecConfig(
        command="kubeops-test-no-such-plugin", api_version=V1, install_hint="See https://example/x"
    )
    with pytest.raises(
        ExecPluginError,
        match=r"cannot run: executable 'kubeops-test-no-such-plugin' not found\nSee https://example/x",
    ):
        await ExecPluginCredentials(config).get()


async def test_plugin_that_is_not_executable_is_reported(tmp_path: Path) -> None:
    script = tmp_path / "plain"
    script.write_text("#!/bin/sh\n")
    with pytest.raises(ExecPluginError, match="cannot run: Permission denied"):
        await ExecPluginCredentials(ExecConfig(command=str(script))).get()


async def test_bad_json_is_reported_with_stderr_but_never_the_output(tmp_path: Path) -> None:
    script = write_script(
        tmp_path / "bad",
        "import sys\nprint('token: s3cr3t-value')\nprint('warning: fallback', file=sys.stderr)\n",
    )
    with pytest.raises(ExecPluginError) as info:
        await ExecPluginCredentials(ExecConfig(command=str(script), install_hint="hint")).get()
    message = str(info.value)
    assert "exited with code 0 but printed invalid JSON (line 1, column 1" in message
    assert "warning: fallback" in message
    assert message.endswith("\nhint")
    assert "s3cr3t" not in message


def _output(status: Any, api_version: str = V1, kind: str = "ExecCredential") -> bytes:
    return json.dumps({"apiVersion": api_version, "kind": kind, "status": status}).encode()


@pytest.mark.parametrize(
    ("stdout", "message"),
    [
        (
            _output({"token": "t"}, api_version=V1BETA1),
            f"printed apiVersion '{V1BETA1}', but the kubeconfig asks for {V1}",
        ),
        (_output({"token": "t"}, kind="Secret"), "printed kind 'Secret', not ExecCredential"),
        (_output(None), "without a status"),
        (_output({}), "neither a token nor a client certificate and key"),
        (
            _output({"clientCertificateData": "x"}),
            "only one of clientCertificateData and clientKeyData",
        ),
        (_output({"token": 5}), r"status.token that is a number"),
        (
            _output({"token": "t", "expirationTimestamp": "2030-01-01T00:00:00"}),
            "not an RFC 3339 time",
        ),
        (_output({"token": "t", "expirationTimestamp": "tomorrow"}), "not an RFC 3339 time"),
        (b"[]", "printed a list, not an ExecCredential"),
    ],
)
def test_invalid_exec_credentials_are_rejected(stdout: bytes, message: str) -> None:
    with pytest.raises(ExecPluginError, match=message):
        parse_exec_output(stdout, ExecConfig(command="p", api_version=V1))


def test_expiration_with_nanoseconds_and_offset_is_parsed_to_utc() -> None:
    cred = parse_exec_output(
        _output({"token": "t", "expirationTimestamp": "2030-01-01T02:00:00.123456789+02:00"}),
        ExecConfig(command="p", api_version=V1),
    )
    assert cred.expires_at == datetime(2030, 1, 1, 0, 0, 0, 123456, tzinfo=UTC)


def test_plugin_credential_repr_does_not_run_or_leak() -> None:
    assert repr(ExecPluginCredentials(ExecConfig(command="p", args=("a",)))) == (
        "ExecPluginCredentials('p a')"
    )


def test_exec_timeout_is_configurable_through_load_config(tmp_path: Path) -> None:
    path = _exec_kubeconfig(tmp_path, {"apiVersion": V1BETA1, "command": "p"})
    credentials = load_config(path, exec_timeout=2.5).credentials
    assert isinstance(credentials, ExecPluginCredentials)
    assert credentials.timeout == 2.5
