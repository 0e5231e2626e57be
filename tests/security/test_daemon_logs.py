"""No daemon logs a secret at any level: every daemon runs at ``--log-level debug``, in
JSON and in text, through a scenario that reads Secrets (a member's kubeconfig, the
bus' SASL password, the webhook's shared CA key) and files holding secrets (the
history and audit database URLs with their password, the port and event tokens), and
authenticates with bearer tokens and with an exec credential plugin; then everything
each daemon wrote is searched for every one of those values and their base64."""

from __future__ import annotations

import base64
import json
import os
import signal
import ssl
import subprocess
import sys
import threading
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pytest
import yaml

from integration.sync.conftest import (
    MakePolicy,
    RegisterMember,
    SyncWorld,
    configmap,
    create,
    make_policy,
    read,
    register_member,
    sync_ns,
    sync_world,
)
from kubeops.config.kubeconfig import write_kubeconfig
from kubeops.testenv import Cluster, eventually, kubeconfig
from kubeops.testenv.kafka import Kafka
from kubeops.testenv.ports import free_port
from kubeops.testenv.postgres import PostgresServer

__all__ = ["make_policy", "register_member", "sync_ns", "sync_world"]

FORMATS = ("json", "text")
SASL_USER = "kubeops"
ADMIN_RULES = [
    {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
    {"nonResourceURLs": ["*"], "verbs": ["*"]},
]
PLUGIN = """
import json, os, sys
token = open(os.environ["TOKEN_FILE"]).read().strip()
print(f"plugin: handing out {token}", file=sys.stderr)  # a chatty plugin
print(json.dumps({"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential",
                  "status": {"token": token}}))
"""


class Secrets:
    """Every secret value of the scenario, by what it is."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    def add(self, what: str, value: str) -> str:
        """Keep ``value`` (and, for a JWT, its signature alone); returns it."""
        assert len(value) >= 12, what
        self.values[what] = value
        if value.count(".") == 2:  # a JWT: its signature is the secret part
            self.values[f"{what} (signature)"] = value.rsplit(".", 1)[1]
        return value

    def add_pem_key(self, what: str, pem: str) -> None:
        """A private key: the PEM, and each line of its body (a line is enough to leak)."""
        self.add(what, pem.strip())
        body = [line for line in pem.splitlines() if line and not line.startswith("-----")]
        for i, line in enumerate(body):
            if len(line) >= 40:
                self.values[f"{what} (line {i + 1})"] = line

    def forms(self) -> Iterator[tuple[str, str]]:
        """Each value and its base64 (as a Secret's data and a kubeconfig hold it)."""
        for what, value in self.values.items():
            yield what, value
            yield f"{what} (base64)", base64.b64encode(value.encode()).decode()


class Daemon:
    """``python -m kubeops ...`` at ``--log-level debug``; stdout and stderr to one file."""

    def __init__(self, name: str, fmt: str, argv: list[str], logs: Path, port: int) -> None:
        self.name = f"{name} ({fmt})"
        self.port = port
        self.path = logs / f"{name}-{fmt}.log"
        self._file: IO[bytes] = self.path.open("wb")
        command = [sys.executable, "-m", "kubeops", *argv]
        command += ["--log-level", "debug", "--log-format", fmt]
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=self._file,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )

    @property
    def output(self) -> str:
        """Everything it wrote so far."""
        return self.path.read_text(errors="replace")

    def stop(self) -> int:
        """SIGTERM, as Kubernetes stops a Pod, then its exit code (killed after 20 s)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        self._file.close()
        return code


def get(url: str, token: str | None = None) -> tuple[int, str]:
    """GET ``url`` (HTTPS without verification: the webhook's CA is its own)."""
    request = urllib.request.Request(url)
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with urllib.request.urlopen(request, timeout=5, context=context) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()
    except OSError as err:
        return 0, str(err)


def post_json(url: str, body: dict[str, Any], token: str | None = None) -> tuple[int, Any]:
    """POST ``body``; the status and the JSON answer (None when not JSON)."""
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST")
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    request.add_header("Content-Type", "application/json")
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with urllib.request.urlopen(request, timeout=10, context=context) as response:
            text = response.read()
            status = int(response.status)
    except urllib.error.HTTPError as err:
        return err.code, None
    except OSError:
        return 0, None
    try:
        return status, json.loads(text)
    except ValueError:
        return status, None


def admission_review(namespace: str, aws_key: str, aws_secret: str) -> dict[str, Any]:
    """A Pod creation whose container holds AWS credentials in its environment, as the
    API server would send it to the webhook."""
    env = [
        {"name": "AWS_ACCESS_KEY_ID", "value": aws_key},
        {"name": "AWS_SECRET_ACCESS_KEY", "value": aws_secret},
    ]
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "leaky", "namespace": namespace},
        "spec": {"containers": [{"name": "app", "image": "nginx:latest", "env": env}]},
    }
    return {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": str(uuid.uuid4()),
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "namespace": namespace,
            "name": "leaky",
            "operation": "CREATE",
            "userInfo": {"username": "alice"},
            "object": pod,
        },
    }


def private_file(path: Path, text: str) -> str:
    path.write_text(text + "\n")
    path.chmod(0o600)
    return str(path)


def token_of(path: Path) -> str:
    """The bearer token of a kubeconfig's only user."""
    config = yaml.safe_load(path.read_text())
    return str(config["users"][0]["user"]["token"])


def sa_token(cluster: Cluster, namespace: str, account: str) -> str:
    """Another TokenRequest token of an existing ServiceAccount."""
    return str(
        cluster.admin.create(
            f"/api/v1/namespaces/{namespace}/serviceaccounts/{account}/token",
            {"spec": {"expirationSeconds": 3600}},
        )["status"]["token"]
    )


def exec_kubeconfig(cluster: Cluster, namespace: str, token: str, directory: Path) -> Path:
    """A kubeconfig whose user runs an exec credential plugin handing out ``token``."""
    directory.mkdir(parents=True, exist_ok=True)
    plugin = directory / "plugin"
    plugin.write_text(f"#!{sys.executable}\n{PLUGIN}")
    plugin.chmod(0o755)
    token_file = private_file(directory / "token", token)
    exec_section = {
        "apiVersion": "client.authentication.k8s.io/v1",
        "command": str(plugin),
        "env": [{"name": "TOKEN_FILE", "value": token_file}],
        "interactiveMode": "Never",
    }
    config = kubeconfig.kubeconfig(
        cluster.name, cluster.server, cluster.pki.ca.cert_pem, "plugin", {"exec": exec_section}
    )
    config["contexts"][0]["context"]["namespace"] = namespace
    return write_kubeconfig(directory / "kubeconfig", config)


def namespace_on(cluster: Cluster, name: str) -> None:
    cluster.admin.create(
        "/api/v1/namespaces",
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}},
        exist_ok=True,
    )


def respond_rules(namespace: str, bus: dict[str, Any], fmt: str) -> dict[str, Any]:
    """An HTTP event annotates a ConfigMap; the bus (SASL, password in a Secret) is
    consumed too."""
    return {
        "bus": {**bus, "consume": {"topics": [f"logs-{fmt}"], "group": f"logs-{fmt}"}},
        "rules": [
            {
                "name": f"mark-{fmt}",
                "trigger": {"source": "http", "names": [f"down_{fmt}"]},
                "actions": [
                    {
                        "annotate": {
                            "target": {"kind": "ConfigMap", "name": "target"},
                            "annotations": {f"example.com/{fmt}": "${payload.server}"},
                        }
                    }
                ],
            },
            {
                "name": f"bus-{fmt}",
                "trigger": {"source": "kafka", "names": ["never"]},
                "actions": [
                    {"label": {"target": {"kind": "ConfigMap", "name": "x"}, "labels": {"a": "b"}}}
                ],
            },
        ],
        "limits": {"namespace": namespace},
    }


class Booting:
    """A SASL broker starting on a thread of its own while the clusters start."""

    def __init__(self) -> None:
        self.password = f"sasl-{uuid.uuid4().hex}"
        self.broker = Kafka()
        self.sasl_bootstrap = self.broker.add_sasl_plain(SASL_USER, self.password)
        self.thread = threading.Thread(target=self.broker.start, daemon=True)
        self.thread.start()

    def ready(self) -> Kafka:
        """The broker, once it has started."""
        self.thread.join()
        return self.broker


@pytest.fixture
def booting_kafka() -> Iterator[Booting]:
    """Requested first, so the broker boots beside the clusters and the database."""
    booting = Booting()
    yield booting
    booting.thread.join()
    booting.broker.close()


def test_no_daemon_logs_a_secret_at_debug(
    booting_kafka: Booting,
    sync_world: SyncWorld,
    sync_ns: str,
    make_policy: MakePolicy,
    register_member: RegisterMember,
    postgres: PostgresServer,
    tmp_path: Path,
) -> None:
    secrets = Secrets()
    secrets.add("SASL password", booting_kafka.password)
    daemons: list[Daemon] = []
    try:
        _scenario(sync_world, sync_ns, make_policy, register_member, postgres, tmp_path,
                  secrets, booting_kafka, daemons)  # fmt: skip
    finally:
        codes = {d.name: d.stop() for d in daemons}
        sync_world.hub.admin.delete(f"/api/v1/namespaces/{sync_ns}")  # the others' go with sync_ns
    leaks = [
        f"{daemon.name}: {what}"
        for daemon in daemons
        for what, value in secrets.forms()
        if value in daemon.output
    ]
    assert not leaks, leaks
    assert all(code == 0 for code in codes.values()), codes
    # The search would find them: the secret-bearing lines are there, masked.
    said = "\n".join(daemon.output for daemon in daemons)
    assert "plugin: handing out ***" in said  # the exec plugin's chatter
    assert "postgresql://kubeops:***@" in said  # the history and audit URLs
    levels = set()
    for daemon in daemons:  # what was searched is what they said, at debug too
        lines = daemon.output.splitlines()
        assert lines, daemon.name
        if daemon.name.endswith("(json)"):
            levels |= {json.loads(line)["level"] for line in lines}
    assert "debug" in levels


def _scenario(
    world: SyncWorld,
    ns: str,
    make_policy: MakePolicy,
    register_member: RegisterMember,
    postgres: PostgresServer,
    tmp: Path,
    secrets: Secrets,
    kafka: Booting,
    daemons: list[Daemon],
) -> None:
    hub, source = world.hub, world.source
    push_cluster, pull_cluster = world.targets["cluster-b"], world.targets["cluster-c"]
    namespace_on(hub, ns)
    logs = tmp / "logs"
    logs.mkdir()

    # Identities: a bearer token in a kubeconfig, another handed out by an exec plugin.
    admin = hub.service_account_kubeconfig("logs-admin", ADMIN_RULES, ns, cluster_wide=True)
    secrets.add("hub token", token_of(admin))
    hub_exec = exec_kubeconfig(hub, ns, sa_token(hub, ns, "logs-admin"), tmp / "hub-exec")
    secrets.add("hub exec token", (tmp / "hub-exec" / "token").read_text().strip())
    member_config = push_cluster.service_account_kubeconfig(
        "logs-member", ADMIN_RULES, ns, cluster_wide=True, path=tmp / "member.kubeconfig"
    )
    secrets.add("member token (in a Secret)", token_of(member_config))
    agent_config = pull_cluster.service_account_kubeconfig(
        "logs-agent", ADMIN_RULES, ns, cluster_wide=True, path=tmp / "agent.kubeconfig"
    )
    secrets.add("agent member token", token_of(agent_config))
    source_user = yaml.safe_load(source.kubeconfig.read_text())["users"][0]["user"]
    source_key = base64.b64decode(source_user["client-key-data"]).decode()
    secrets.add_pem_key("source admin key (in a Secret)", source_key)
    port_token = secrets.add("port token", f"port-{uuid.uuid4().hex}")
    port_token_file = private_file(tmp / "port-token", port_token)
    event_token = secrets.add("event token", f"event-{uuid.uuid4().hex}")
    event_token_file = private_file(tmp / "event-token", event_token)
    secrets.add("database password", postgres.password)
    history_file = private_file(tmp / "history-url", postgres.url)
    serving = ["--auth", "token", "--auth-token-file", port_token_file]
    aws_key = secrets.add("AWS key id in a Pod", "AKIA" + uuid.uuid4().hex[:16].upper())
    aws_secret = secrets.add("AWS secret in a Pod", base64.b64encode(os.urandom(30)).decode())

    # Sync: a push member whose kubeconfig Secret holds a token, a pull member.
    push = register_member(push_cluster, member_config)
    pull = register_member(pull_cluster, mode="Pull")
    namespace_on(pull_cluster, "kubeops-sync")
    make_policy(
        targetClusters=[push, pull],
        resources=[{"apiGroup": "", "kind": "ConfigMap", "namespaces": [ns]}],
    )
    create(source, configmap("synced", ns, {"k": "v"}))
    create(hub, configmap("target", ns))

    def start(name: str, fmt: str, *argv: str, listen: bool = True) -> Daemon:
        port = free_port()
        address = ["--listen", f"127.0.0.1:{port}"] if listen else []
        daemon = Daemon(name, fmt, [*argv, *address], logs, port)
        daemons.append(daemon)
        return daemon

    # First the daemons that need no broker, while it finishes starting.
    started: dict[str, dict[str, Daemon]] = {fmt: {} for fmt in FORMATS}
    for fmt, mine in started.items():
        lease = ["--lease-name", f"logs-{fmt}-{uuid.uuid4().hex[:6]}"]
        mine["inspect"] = start("inspect", fmt, "inspect", "serve", "--once", "--kubeconfig",
                                str(hub_exec), "-n", ns, "--history-url-file", history_file,
                                listen=False)  # fmt: skip
        mine["run"] = start("sync-run", fmt, "sync", "run", "--kubeconfig", str(admin), *lease,
                            *serving)  # fmt: skip
        mine["agent"] = start("sync-agent", fmt, "sync", "agent", "--hub", str(hub_exec),
                              "--member", pull, "--kubeconfig", str(agent_config), *lease,
                              *serving)  # fmt: skip
        mine["webhook"] = start("policy-webhook", fmt, "policy", "webhook", "--kubeconfig",
                                str(admin), "--ca-secret", f"logs-ca-{fmt}",
                                "--webhook-namespace", ns, *serving)  # fmt: skip

    # The bus: SASL with the password in a Secret.
    hub.admin.create(
        f"/api/v1/namespaces/{ns}/secrets",
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "bus-sasl"},
            "stringData": {"password": kafka.password},
        },
    )
    broker = kafka.ready()
    sasl_bootstrap = kafka.sasl_bootstrap
    sasl = {
        "mechanism": "PLAIN",
        "username": SASL_USER,
        "passwordSecret": {"namespace": ns, "name": "bus-sasl", "key": "password"},
    }
    bus = {"brokers": [sasl_bootstrap]}
    for fmt, mine in started.items():
        broker.create_topic(f"logs-{fmt}", 1)
        spool = {"dir": str(tmp / f"spool-{fmt}")}
        publish = {"topic": f"logs-{fmt}", "cluster": "hub", "spool": spool}
        export_bus = {**bus, "sasl": sasl, "publish": publish}
        (tmp / f"bus-{fmt}.yaml").write_text(yaml.safe_dump({"bus": export_bus}))
        rules = tmp / f"rules-{fmt}"
        rules.mkdir()
        (rules / "rules.yaml").write_text(
            yaml.safe_dump(respond_rules(ns, {**bus, "sasl": sasl}, fmt), sort_keys=False)
        )
        mine["respond"] = start("respond", fmt, "respond", "run", "--kubeconfig", str(admin),
                                "--rules", str(rules), "--audit-url-file", history_file,
                                "--event-token-file", event_token_file, *serving)  # fmt: skip
        mine["export"] = start("events-export", fmt, "events", "export", "--watch",
                               "ConfigMap", "-n", ns, "--bus", str(tmp / f"bus-{fmt}.yaml"),
                               "--kubeconfig", str(hub_exec), *serving)  # fmt: skip

    def served(daemon: Daemon, scheme: str = "http") -> bool:
        if daemon.process.poll() is not None:
            pytest.fail(f"{daemon.name} exited:\n{daemon.output[-3000:]}")
        base = f"{scheme}://127.0.0.1:{daemon.port}"
        status, why = get(f"{base}/readyz")
        assert status == 200, (daemon.name, status, why)
        assert get(f"{base}/metrics", "wrong-token")[0] == 401
        status, text = get(f"{base}/metrics", port_token)
        # Every daemon's /metrics shows its process and its API requests.
        return status == 200 and all(
            name in text for name in ("process_start_time_seconds", "rest_client_requests_total{")
        )

    for fmt, mine in started.items():
        for name in ("run", "agent", "respond", "export"):
            daemon = mine[name]
            eventually(lambda d=daemon: served(d), timeout=180, message=f"{daemon.name} ready")
        webhook = mine["webhook"]
        eventually(lambda d=webhook: served(d, "https"), timeout=180, message="webhook ready")
        body = {"name": f"down_{fmt}", "payload": {"server": "db-1"}, "id": f"logs-{fmt}"}
        url = f"http://127.0.0.1:{mine['respond'].port}/events"
        assert post_json(url, body, event_token)[0] == 200
        review = admission_review(ns, aws_key, aws_secret)
        status, answer = post_json(f"https://127.0.0.1:{webhook.port}/validate", review)
        assert status == 200, answer
        assert answer["response"]["allowed"] is False, answer  # the secret detector's denial
        inspect = mine["inspect"]
        if inspect.process.wait(180) != 0:
            pytest.fail(f"{inspect.name} failed:\n{inspect.output[-3000:]}")
    for cluster in (push_cluster, pull_cluster):
        eventually(
            lambda c=cluster: read(c, "ConfigMap", ns, "synced") is not None,
            timeout=60,
            message=f"the ConfigMap synced to {cluster.name}",
        )
    annotations = hub.admin.get(f"/api/v1/namespaces/{ns}/configmaps/target")["metadata"]
    assert set(annotations.get("annotations") or {}) >= {f"example.com/{f}" for f in FORMATS}
    for fmt in FORMATS:
        ca = hub.admin.get(f"/api/v1/namespaces/{ns}/secrets/logs-ca-{fmt}")["data"]
        for key in ("ca.key", "next.key"):
            if key in ca:
                secrets.add_pem_key(f"webhook CA {key} ({fmt})", base64.b64decode(ca[key]).decode())
    assert any(k.startswith("webhook CA ca.key") for k in secrets.values)
