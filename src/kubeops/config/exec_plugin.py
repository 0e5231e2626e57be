"""Exec credential plugins (client.authentication.k8s.io v1 and v1beta1).

A plugin is a command (aws, gke-gcloud-auth-plugin, kubelogin, ...) that prints
an ExecCredential with a token or a client certificate.  It runs with the input
ExecCredential in ``KUBERNETES_EXEC_INFO``, never interactively (kubeops has no
terminal to lend it), under a timeout, and its output is cached until its
``expirationTimestamp`` or until the transport reports a 401.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import os
import shlex
import signal
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kubeops.config.credentials import Credential
from kubeops.config.errors import ConfigError, ExecPluginError
from kubeops.config.inputs import EXEC_OUTPUT_LIMIT, describe_limit
from kubeops.config.redact import mask_values
from kubeops.config.schema import Fields, header_safe, type_name
from kubeops.config.tls import check_client_pair

log = logging.getLogger(__name__)

V1 = "client.authentication.k8s.io/v1"
V1BETA1 = "client.authentication.k8s.io/v1beta1"
API_VERSIONS = (V1, V1BETA1)
INTERACTIVE_MODES = ("Never", "IfAvailable", "Always")
DEFAULT_EXEC_TIMEOUT = 30.0
# The name of the cluster extension passed to the plugin as spec.cluster.config.
CLUSTER_EXTENSION = "client.authentication.k8s.io/exec"
_STDERR_LINES = 10


@dataclass(frozen=True)
class ExecConfig:
    """The ``exec`` section of a kubeconfig user; ``where`` names that user and file."""

    command: str
    args: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    api_version: str = V1
    interactive_mode: str = "Never"
    install_hint: str | None = None
    provide_cluster_info: bool = False
    where: str = ""

    @property
    def command_line(self) -> str:
        """The command and its arguments, quoted as a shell would need them."""
        return shlex.join([self.command, *self.args])

    @property
    def label(self) -> str:
        """How messages name the plugin: its command line and the user it serves."""
        return f"exec plugin {self.command_line}" + (f" for {self.where}" if self.where else "")


def parse_exec_config(data: Mapping[str, Any], where: str) -> ExecConfig:
    """Validate a user's ``exec`` section as client-go does; ``where`` is "user 'a' in /f"."""
    fields = Fields(data, f"the exec plugin of {where}")
    command = fields.string("command")
    if command is None:
        raise fields.error("command", "must be set")
    api_version = fields.string("apiVersion")
    if api_version not in API_VERSIONS:
        found = "missing" if api_version is None else f"{api_version!r}"
        raise fields.error("apiVersion", f"must be {V1} or {V1BETA1}, not {found}")
    mode = fields.string("interactiveMode")
    if mode is None:
        if api_version == V1:
            raise fields.error(
                "interactiveMode", f"must be set for {V1} (Never, IfAvailable or Always)"
            )
        mode = "IfAvailable"
    if mode not in INTERACTIVE_MODES:
        raise fields.error("interactiveMode", f"must be Never, IfAvailable or Always, not {mode!r}")
    if mode == "Always":
        raise fields.error(
            "interactiveMode",
            "is Always, but kubeops runs exec plugins without a terminal; "
            "log in with the plugin first or use a mode of IfAvailable or Never",
        )
    env: list[tuple[str, str]] = []
    for index, item in enumerate(fields.items("env")):
        if not isinstance(item, dict):
            raise fields.error("env", f"entry {index} must be a mapping, not {type_name(item)}")
        item_fields = Fields(item, f"env entry {index} of the exec plugin of {where}")
        name = item_fields.string("name")
        if name is None:
            raise item_fields.error("name", "must be set")
        env.append((name, item_fields.string("value") or ""))
    return ExecConfig(
        command=command,
        args=fields.strings("args"),
        env=tuple(env),
        api_version=api_version,
        interactive_mode=mode,
        install_hint=fields.string("installHint"),
        provide_cluster_info=fields.boolean("provideClusterInfo"),
        where=where,
    )


def exec_cluster_info(
    *,
    server: str,
    tls_server_name: str | None,
    insecure: bool,
    ca_data: bytes | None,
    proxy_url: str | None,
    disable_compression: bool,
    extensions: Mapping[str, Any],
) -> dict[str, Any]:
    """``spec.cluster`` of the input ExecCredential, for plugins with provideClusterInfo."""
    cluster: dict[str, Any] = {"server": server}
    if tls_server_name:
        cluster["tls-server-name"] = tls_server_name
    if insecure:
        cluster["insecure-skip-tls-verify"] = True
    if ca_data:
        cluster["certificate-authority-data"] = base64.b64encode(ca_data).decode()
    if proxy_url:
        cluster["proxy-url"] = proxy_url
    if disable_compression:
        cluster["disable-compression"] = True
    if CLUSTER_EXTENSION in extensions:
        cluster["config"] = extensions[CLUSTER_EXTENSION]
    return cluster


def parse_exec_output(stdout: bytes, config: ExecConfig, stderr: bytes = b"") -> Credential:
    """The credential in a plugin's stdout; ExecPluginError if it is not a valid ExecCredential.

    Messages never quote the output: it holds the secret.
    """
    what = config.label
    try:
        output = json.loads(stdout)
    except json.JSONDecodeError as exc:
        raise ExecPluginError(
            f"{what} exited with code 0 but printed invalid JSON (line {exc.lineno}, "
            f"column {exc.colno}: {exc.msg}){_stderr_tail(stderr)}{_hint(config)}"
        ) from None
    except UnicodeDecodeError:
        raise ExecPluginError(
            f"{what} exited with code 0 but printed text that is not UTF-8"
            f"{_stderr_tail(stderr)}{_hint(config)}"
        ) from None
    except (ValueError, RecursionError):
        # Valid JSON beyond what Python reads: nested too deeply, or a number too long.
        raise ExecPluginError(
            f"{what} exited with code 0 but printed JSON nested too deeply or with a number "
            f"too long to read{_stderr_tail(stderr)}{_hint(config)}"
        ) from None
    if not isinstance(output, dict):
        raise ExecPluginError(f"{what} printed {type_name(output)}, not an ExecCredential")
    kind, version = output.get("kind"), output.get("apiVersion")
    if kind != "ExecCredential":
        raise ExecPluginError(f"{what} printed kind {kind!r}, not ExecCredential")
    if version != config.api_version:
        raise ExecPluginError(
            f"{what} printed apiVersion {version!r}, but the kubeconfig asks for {config.api_version}"
        )
    status = output.get("status")
    if not isinstance(status, dict):
        raise ExecPluginError(f"{what} printed an ExecCredential without a status")
    token = status.get("token") or None
    cert = status.get("clientCertificateData") or None
    key = status.get("clientKeyData") or None
    for name, value in (("token", token), ("clientCertificateData", cert), ("clientKeyData", key)):
        if value is not None and not isinstance(value, str):
            raise ExecPluginError(f"{what} printed a status.{name} that is {type_name(value)}")
    if token is not None and not header_safe(token):
        raise ExecPluginError(
            f"{what} printed a status.token with a line break or another control character"
        )
    if (cert is None) != (key is None):
        raise ExecPluginError(
            f"{what} printed only one of clientCertificateData and clientKeyData; both are needed"
        )
    if token is None and cert is None:
        raise ExecPluginError(f"{what} printed neither a token nor a client certificate and key")
    try:
        cert_pem = cert.encode() if cert else None
        key_pem = key.encode() if key else None
    except UnicodeEncodeError:  # a JSON "\\ud800" escape decodes to a lone surrogate
        raise ExecPluginError(
            f"{what} printed a client certificate or key that is not valid UTF-8"
        ) from None
    if cert_pem is not None and key_pem is not None:
        try:
            check_client_pair(cert_pem, key_pem, what)
        except ConfigError as exc:
            raise ExecPluginError(str(exc)) from None
    return Credential(
        token=token,
        client_cert_pem=cert_pem,
        client_key_pem=key_pem,
        expires_at=_expiry(status.get("expirationTimestamp"), what),
    )


def _expiry(value: object, what: str) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            parsed = datetime.fromisoformat(value)
            if parsed.tzinfo is not None:
                return parsed.astimezone(UTC)
    raise ExecPluginError(f"{what} printed an expirationTimestamp that is not an RFC 3339 time")


def _hint(config: ExecConfig) -> str:
    return f"\n{config.install_hint.strip()}" if config.install_hint else ""


def _stderr_tail(stderr: bytes) -> str:
    lines = [line for line in stderr.decode(errors="replace").splitlines() if line.strip()]
    if not lines:
        return ""
    shown = "\n".join(f"    {line}" for line in lines[-_STDERR_LINES:])
    return f"; its last stderr lines:\n{shown}"


def _utcnow() -> datetime:
    return datetime.now(UTC)


class ExecPluginCredentials:
    """Runs an exec plugin when there is no unexpired credential; one run at a time."""

    def __init__(
        self,
        config: ExecConfig,
        *,
        cluster: Mapping[str, Any] | None = None,
        timeout: float = DEFAULT_EXEC_TIMEOUT,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        """``cluster`` is the exec cluster info, sent only if the plugin asks for it."""
        self.config = config
        self.timeout = timeout
        self._cluster = (
            dict(cluster) if cluster is not None and config.provide_cluster_info else None
        )
        self._clock = clock
        self._cached: Credential | None = None
        self._lock: asyncio.Lock | None = None
        self._lock_loop: weakref.ref[asyncio.AbstractEventLoop] | None = None

    def describe(self) -> str:
        """Which plugin provides the credential, without its value."""
        return f"exec plugin {Path(self.config.command).name}"

    def __repr__(self) -> str:
        return f"ExecPluginCredentials({self.config.command_line!r})"

    def invalidate(self) -> None:
        """Forget the cached credential; the next :meth:`get` runs the plugin again."""
        self._cached = None

    def _fresh(self) -> Credential | None:
        cred = self._cached
        if cred is None or (cred.expires_at is not None and self._clock() >= cred.expires_at):
            return None
        return cred

    def _loop_lock(self) -> asyncio.Lock:
        # An asyncio.Lock belongs to one event loop; a sync facade may run a new
        # loop per call, so keep one lock per loop instead of failing.
        loop = asyncio.get_running_loop()
        if self._lock is None or self._lock_loop is None or self._lock_loop() is not loop:
            self._lock = asyncio.Lock()
            self._lock_loop = weakref.ref(loop)
        return self._lock

    async def get(self) -> Credential:
        """The cached credential while it is fresh, else the plugin's new one (one run at a time)."""
        cred = self._fresh()
        if cred is not None:
            return cred
        async with self._loop_lock():
            # Whoever waited on the lock gets the credential the holder fetched.
            cred = self._fresh()
            if cred is None:
                cred = await self._run()
                self._cached = cred
            return cred

    def exec_info(self) -> dict[str, Any]:
        """The input ExecCredential given to the plugin in ``KUBERNETES_EXEC_INFO``."""
        spec: dict[str, Any] = {"interactive": False}
        if self._cluster is not None:
            spec["cluster"] = self._cluster
        return {"apiVersion": self.config.api_version, "kind": "ExecCredential", "spec": spec}

    async def _run(self) -> Credential:
        config = self.config
        what = config.label
        env = dict(os.environ)
        env.update(config.env)
        env["KUBERNETES_EXEC_INFO"] = json.dumps(self.exec_info())
        try:
            proc = await asyncio.create_subprocess_exec(
                config.command,
                *config.args,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=env,
                # Its own process group, so a timeout ends the helpers it started too.
                start_new_session=True,
            )
        except FileNotFoundError:
            raise ExecPluginError(
                f"{what} cannot run: executable {config.command!r} not found{_hint(config)}"
            ) from None
        except OSError as exc:
            raise ExecPluginError(
                f"{what} cannot run: {exc.strerror or exc}{_hint(config)}"
            ) from None
        try:
            stdout, stderr = await asyncio.wait_for(_communicate(proc), self.timeout)
        except _OutputTooLarge:
            _kill_group(proc)
            await _reap(proc)
            raise ExecPluginError(
                f"{what} printed more than {describe_limit(EXEC_OUTPUT_LIMIT)} on stdout "
                f"(the limit for it) and was killed{_hint(config)}"
            ) from None
        except TimeoutError:
            _kill_group(proc)
            await proc.wait()
            raise ExecPluginError(
                f"{what} did not finish within {self.timeout:g} s and was killed{_hint(config)}"
            ) from None
        except BaseException:
            _kill_group(proc)
            raise
        code = proc.returncode
        if code != 0:
            ended = (
                f"was killed by signal {-code}"
                if code and code < 0
                else f"failed with exit code {code}"
            )
            raise ExecPluginError(f"{what} {ended}{_stderr_tail(stderr)}{_hint(config)}")
        credential = parse_exec_output(stdout, config, stderr)
        if stderr.strip():  # a chatty plugin may echo what it hands out: never logged
            said = stderr.decode(errors="replace").strip()
            secrets = (credential.token, credential.client_key_pem)
            log.debug("%s wrote to stderr: %s", what, mask_values(said, secrets))
        return credential


class _OutputTooLarge(Exception):
    pass


_STDERR_KEPT = 64 * 1024


async def _communicate(proc: asyncio.subprocess.Process) -> tuple[bytes, bytes]:
    """Like ``proc.communicate()``, but stdout stops at EXEC_OUTPUT_LIMIT and only the
    last 64 KiB of stderr are kept, so a plugin printing endlessly cannot fill memory."""
    assert proc.stdout is not None
    assert proc.stderr is not None

    async def stdout(stream: asyncio.StreamReader) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while chunk := await stream.read(64 * 1024):
            size += len(chunk)
            if size > EXEC_OUTPUT_LIMIT:
                raise _OutputTooLarge
            chunks.append(chunk)
        return b"".join(chunks)

    async def stderr(stream: asyncio.StreamReader) -> bytes:
        kept = b""
        while chunk := await stream.read(64 * 1024):
            kept = (kept + chunk)[-_STDERR_KEPT:]
        return kept

    out_task = asyncio.ensure_future(stdout(proc.stdout))
    err_task = asyncio.ensure_future(stderr(proc.stderr))
    try:
        out, err = await asyncio.gather(out_task, err_task)
    finally:
        for task in (out_task, err_task):
            task.cancel()
        await asyncio.gather(out_task, err_task, return_exceptions=True)
    await proc.wait()
    return out, err


async def _reap(proc: asyncio.subprocess.Process) -> None:
    """Wait for a killed plugin: its pipes are read to their end (a pipe whose reading was
    paused would never report the end, and ``wait()`` waits for it), for 5 s at most."""

    async def drain(stream: asyncio.StreamReader | None) -> None:
        while stream is not None and await stream.read(64 * 1024):
            pass

    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(
            asyncio.gather(drain(proc.stdout), drain(proc.stderr), proc.wait()), 5
        )


def _kill_group(proc: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
