"""Every way kubeops authenticates, with real credentials against the real API server.

Client certificates (files and inline), ServiceAccount tokens (inline and in a
file, including a file rewritten under the client), exec credential plugins,
impersonation, the in-cluster config and RBAC denials.  Identity is checked
with a SelfSubjectReview -- the API server saying whom it authenticated -- not
by trusting that a request merely succeeded.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kubeops.api import Client, ResourceType
from kubeops.config import (
    ClusterConfig,
    Credential,
    CredentialSource,
    ExecPluginCredentials,
    TokenFileCredentials,
    incluster,
    load_config,
    load_incluster_config,
)
from kubeops.errors import Forbidden, Unauthorized
from kubeops.testenv import Cluster, async_eventually

# Known up front, so asking "who am I" needs no discovery round-trip.
SELF_SUBJECT_REVIEWS = ResourceType(
    "authentication.k8s.io", "v1", "SelfSubjectReview", "selfsubjectreviews", namespaced=False
)
READ_CONFIGMAPS = [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]}]
INVALID_TOKEN = "this-is-not-a-valid-token"


# -- helpers -----------------------------------------------------------------------------------


class CountingCredentials:
    """Wraps a credential source and counts how often the transport invalidated it (401s)."""

    def __init__(self, inner: CredentialSource) -> None:
        self.inner = inner
        self.invalidations = 0

    async def get(self) -> Credential:
        return await self.inner.get()

    def invalidate(self) -> None:
        self.invalidations += 1
        self.inner.invalidate()

    def describe(self) -> str:
        return self.inner.describe()


def counted(config: ClusterConfig) -> tuple[ClusterConfig, CountingCredentials]:
    counter = CountingCredentials(config.credentials)
    return dataclasses.replace(config, credentials=counter), counter


def connect(config: ClusterConfig) -> Client:
    client = Client(config)
    client.mapper.extend([SELF_SUBJECT_REVIEWS])
    return client


async def whoami(client: Client) -> dict[str, Any]:
    """The user the API server authenticated this client as (``status.userInfo``)."""
    review = await client.create(
        {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
    )
    info: dict[str, Any] = review["status"]["userInfo"]
    return info


def sa_user(namespace: str, name: str) -> str:
    return f"system:serviceaccount:{namespace}:{name}"


def service_account(cluster: Cluster, namespace: str, name: str) -> str:
    sa = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name}}
    cluster.admin.create(f"/api/v1/namespaces/{namespace}/serviceaccounts", sa, exist_ok=True)
    return name


def sa_token(cluster: Cluster, namespace: str, name: str) -> str:
    """A fresh TokenRequest token for a ServiceAccount."""
    response = cluster.admin.create(
        f"/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token",
        {"spec": {"expirationSeconds": 3600}},
    )
    token: str = response["status"]["token"]
    return token


def write_kubeconfig(
    path: Path,
    cluster: Cluster,
    user: dict[str, Any],
    namespace: str,
    ca: dict[str, str] | None = None,
) -> Path:
    """A kubeconfig with one context; the cluster CA by file path unless ``ca`` says otherwise."""
    path.parent.mkdir(parents=True, exist_ok=True)
    cluster_entry = {
        "server": cluster.server,
        **(ca or {"certificate-authority": str(cluster.pki.ca.cert_file)}),
    }
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "testenv", "cluster": cluster_entry}],
        "users": [{"name": "someone", "user": user}],
        "contexts": [
            {
                "name": "ctx",
                "context": {"cluster": "testenv", "user": "someone", "namespace": namespace},
            }
        ],
        "current-context": "ctx",
    }
    path.write_text(yaml.safe_dump(config))
    return path


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def client_certificate(cluster: Cluster, user: str, groups: tuple[str, ...]) -> tuple[bytes, bytes]:
    """A client certificate and key for ``user`` in ``groups``, signed by the cluster CA."""
    pki = cluster.pki
    ca_cert = x509.load_pem_x509_certificate(pki.ca.cert_pem)
    ca_key = serialization.load_pem_private_key(pki.ca.key_pem, password=None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    subject = x509.Name(
        [x509.NameAttribute(NameOID.ORGANIZATION_NAME, g) for g in groups]
        + [x509.NameAttribute(NameOID.COMMON_NAME, user)]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


@pytest.fixture
def reader(kube_cluster: Cluster, kube_namespace: str) -> str:
    """A ServiceAccount that may get and list ConfigMaps in the test's namespace, nothing more."""
    kube_cluster.service_account_kubeconfig("reader", READ_CONFIGMAPS, kube_namespace)
    return "reader"


# -- client certificates ---------------------------------------------------------------------


async def test_client_certificate_files_are_read_relative_to_the_kubeconfig(
    kube_cluster: Cluster,
    kube_namespace: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cert, key = client_certificate(kube_cluster, "jane", ("kubeops:auditors",))
    pki = tmp_path / "pki"
    pki.mkdir()
    (pki / "jane.crt").write_bytes(cert)
    (pki / "jane.key").write_bytes(key)
    shutil.copy(kube_cluster.pki.ca.cert_file, pki / "ca.crt")
    kubeconfig = write_kubeconfig(
        tmp_path / "conf" / "kubeconfig",
        kube_cluster,
        {"client-certificate": "../pki/jane.crt", "client-key": "../pki/jane.key"},
        kube_namespace,
        ca={"certificate-authority": "../pki/ca.crt"},
    )
    # Relative to the kubeconfig's directory, not to the working directory.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)

    async with connect(load_config(kubeconfig)) as client:
        user = await whoami(client)
        # The certificate's CN is the user and its O the groups; RBAC grants jane nothing.
        assert user["username"] == "jane"
        assert set(user["groups"]) == {"kubeops:auditors", "system:authenticated"}
        with pytest.raises(Forbidden, match=r'User "jane" cannot list resource "configmaps"'):
            await client.list("configmaps")


async def test_inline_client_certificate_data(
    kube_cluster: Cluster, kube_namespace: str, tmp_path: Path
) -> None:
    pki = kube_cluster.pki
    kubeconfig = write_kubeconfig(
        tmp_path / "kubeconfig",
        kube_cluster,
        {
            "client-certificate-data": b64(pki.admin.cert_pem),
            "client-key-data": b64(pki.admin.key_pem),
        },
        kube_namespace,
        ca={"certificate-authority-data": b64(pki.ca.cert_pem)},
    )
    async with connect(load_config(kubeconfig)) as client:
        user = await whoami(client)
        assert user["username"] == "kubeops-admin"
        assert "system:masters" in user["groups"]
        created = await client.create(
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "by-cert"}}
        )
        assert created["metadata"]["namespace"] == kube_namespace


# -- ServiceAccount tokens -------------------------------------------------------------------


async def test_service_account_token_inline(
    kube_cluster: Cluster, kube_namespace: str, reader: str, tmp_path: Path
) -> None:
    token = sa_token(kube_cluster, kube_namespace, reader)
    kubeconfig = write_kubeconfig(
        tmp_path / "kubeconfig", kube_cluster, {"token": token}, kube_namespace
    )
    async with connect(load_config(kubeconfig)) as client:
        user = await whoami(client)
        assert user["username"] == sa_user(kube_namespace, reader)
        assert f"system:serviceaccounts:{kube_namespace}" in user["groups"]
        assert (await client.list("configmaps"))["kind"] == "ConfigMapList"


async def test_service_account_token_file(
    kube_cluster: Cluster, kube_namespace: str, reader: str, tmp_path: Path
) -> None:
    (tmp_path / "token").write_text(sa_token(kube_cluster, kube_namespace, reader) + "\n")
    kubeconfig = write_kubeconfig(
        tmp_path / "kubeconfig", kube_cluster, {"tokenFile": "token"}, kube_namespace
    )
    config = load_config(kubeconfig)
    assert isinstance(config.credentials, TokenFileCredentials)
    assert config.credentials.path == tmp_path / "token"
    async with connect(config) as client:
        assert (await whoami(client))["username"] == sa_user(kube_namespace, reader)
        assert (await client.list("configmaps"))["kind"] == "ConfigMapList"


async def test_an_invalid_token_file_is_reread_after_the_401(
    kube_cluster: Cluster, kube_namespace: str, reader: str, tmp_path: Path
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(INVALID_TOKEN)
    kubeconfig = write_kubeconfig(
        tmp_path / "kubeconfig", kube_cluster, {"tokenFile": str(token_file)}, kube_namespace
    )
    config, counter = counted(load_config(kubeconfig))  # reads the invalid token now
    # The file is rewritten (say, by a sidecar) before the token would be re-read on its own.
    token_file.write_text(sa_token(kube_cluster, kube_namespace, reader))

    async with connect(config) as client:
        # One call: 401 with the stale token, the file re-read, the request sent again.
        user = await whoami(client)
    assert user["username"] == sa_user(kube_namespace, reader)
    assert counter.invalidations == 1


async def test_a_token_file_that_stays_invalid_ends_in_one_unauthorized_line(
    kube_cluster: Cluster, kube_namespace: str, tmp_path: Path
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(INVALID_TOKEN)
    kubeconfig = write_kubeconfig(
        tmp_path / "kubeconfig", kube_cluster, {"tokenFile": str(token_file)}, kube_namespace
    )
    config, counter = counted(load_config(kubeconfig))
    async with connect(config) as client:
        with pytest.raises(Unauthorized) as caught:
            await client.list("configmaps")
    # Re-read once, then given up: no loop of 401s.
    assert counter.invalidations == 1
    message = str(caught.value)
    assert message == (
        f'list configmaps in namespace "{kube_namespace}": Unauthorized: Unauthorized '
        f"(credentials: token file {token_file}, from {config.source}) (401)"
    )
    assert INVALID_TOKEN not in message


async def test_a_rotated_token_file_is_picked_up(
    kube_cluster: Cluster, kube_namespace: str, reader: str, tmp_path: Path
) -> None:
    rotated = service_account(kube_cluster, kube_namespace, "rotated")
    token_file = tmp_path / "token"
    token_file.write_text(sa_token(kube_cluster, kube_namespace, reader))
    kubeconfig = write_kubeconfig(
        tmp_path / "kubeconfig", kube_cluster, {"tokenFile": str(token_file)}, kube_namespace
    )
    config = load_config(kubeconfig)
    source = config.credentials
    assert isinstance(source, TokenFileCredentials)

    async with connect(config) as client:
        assert (await whoami(client))["username"] == sa_user(kube_namespace, reader)
        # The kubelet rotates projected tokens by rewriting the file; the old token stays
        # valid for a while, so the file is re-read on a schedule, not only after a 401.
        token_file.write_text(sa_token(kube_cluster, kube_namespace, rotated))
        assert (await whoami(client))["username"] == sa_user(kube_namespace, reader)  # cached
        source.refresh_interval = 0.2  # instead of waiting out the default 50 s

        async def reread() -> bool:
            return (await whoami(client))["username"] == sa_user(kube_namespace, rotated)

        await async_eventually(reread, timeout=10, message="the rewritten token file to be re-read")


# -- exec credential plugins -----------------------------------------------------------------

PLUGIN = """
import datetime, json, os, pathlib, sys

state = pathlib.Path(os.environ["PLUGIN_STATE"])
runs = state / "runs"
run = int(runs.read_text()) + 1 if runs.exists() else 1
runs.write_text(str(run))
(state / f"exec-info-{run}").write_text(os.environ["KUBERNETES_EXEC_INFO"])
expires = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=int(sys.argv[1]))
status = {"expirationTimestamp": expires.strftime("%Y-%m-%dT%H:%M:%SZ")}
if (state / "client.crt").exists():
    status["clientCertificateData"] = (state / "client.crt").read_text()
    status["clientKeyData"] = (state / "client.key").read_text()
else:
    # Run N prints the N-th token of the tokens file (the last one once they run out).
    tokens = (state / "tokens").read_text().split()
    status["token"] = tokens[min(run, len(tokens)) - 1]
print(json.dumps({
    "apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential", "status": status
}))
"""


def exec_kubeconfig(
    tmp_path: Path,
    cluster: Cluster,
    namespace: str,
    tokens: list[str] | None = None,
    *,
    client_pair: tuple[bytes, bytes] | None = None,
    expires_in: int = 3600,
) -> Path:
    """A kubeconfig whose user runs ``./plugin`` (next to it), which prints ``tokens``
    in turn, or else ``client_pair`` (a certificate and key)."""
    plugin = tmp_path / "plugin"
    plugin.write_text(f"#!{sys.executable}\n{PLUGIN}")
    plugin.chmod(0o755)
    (tmp_path / "tokens").write_text("\n".join(tokens or []))
    if client_pair is not None:
        (tmp_path / "client.crt").write_bytes(client_pair[0])
        (tmp_path / "client.key").write_bytes(client_pair[1])
    exec_section = {
        "apiVersion": "client.authentication.k8s.io/v1",
        "command": "./plugin",
        "args": [str(expires_in)],
        "env": [{"name": "PLUGIN_STATE", "value": str(tmp_path)}],
        "interactiveMode": "Never",
        "provideClusterInfo": True,
    }
    return write_kubeconfig(
        tmp_path / "kubeconfig",
        cluster,
        {"exec": exec_section},
        namespace,
        ca={"certificate-authority-data": b64(cluster.pki.ca.cert_pem)},
    )


def plugin_runs(tmp_path: Path) -> int:
    return int((tmp_path / "runs").read_text())


async def test_exec_plugin_token_authenticates_and_is_cached_until_it_expires(
    kube_cluster: Cluster, kube_namespace: str, reader: str, tmp_path: Path
) -> None:
    token = sa_token(kube_cluster, kube_namespace, reader)
    config = load_config(exec_kubeconfig(tmp_path, kube_cluster, kube_namespace, [token]))
    assert isinstance(config.credentials, ExecPluginCredentials)
    async with connect(config) as client:
        assert (await whoami(client))["username"] == sa_user(kube_namespace, reader)
        await client.list("configmaps")
        await client.list("configmaps")
    assert plugin_runs(tmp_path) == 1  # its token is good for an hour
    # The plugin got the input ExecCredential, with the cluster it asked for.
    info = json.loads((tmp_path / "exec-info-1").read_text())
    assert info["apiVersion"] == "client.authentication.k8s.io/v1"
    assert info["spec"]["interactive"] is False
    assert info["spec"]["cluster"]["server"] == kube_cluster.server
    assert info["spec"]["cluster"]["certificate-authority-data"] == b64(
        kube_cluster.pki.ca.cert_pem
    )


async def test_exec_plugin_is_run_again_after_a_401(
    kube_cluster: Cluster, kube_namespace: str, reader: str, tmp_path: Path
) -> None:
    token = sa_token(kube_cluster, kube_namespace, reader)
    kubeconfig = exec_kubeconfig(tmp_path, kube_cluster, kube_namespace, [INVALID_TOKEN, token])
    config, counter = counted(load_config(kubeconfig))
    async with connect(config) as client:
        # First run: a token the server rejects (401); second run: a good one.
        assert (await whoami(client))["username"] == sa_user(kube_namespace, reader)
        await client.list("configmaps")
    assert plugin_runs(tmp_path) == 2
    assert counter.invalidations == 1


async def test_exec_plugin_client_certificate_authenticates(
    kube_cluster: Cluster, kube_namespace: str, tmp_path: Path
) -> None:
    pair = client_certificate(kube_cluster, "exec-jane", ("kubeops:auditors",))
    kubeconfig = exec_kubeconfig(tmp_path, kube_cluster, kube_namespace, client_pair=pair)
    async with connect(load_config(kubeconfig)) as client:
        user = await whoami(client)
    assert user["username"] == "exec-jane"
    assert "kubeops:auditors" in user["groups"]
    assert plugin_runs(tmp_path) == 1


async def test_an_expired_exec_credential_makes_the_plugin_run_again(
    kube_cluster: Cluster, kube_namespace: str, reader: str, tmp_path: Path
) -> None:
    token = sa_token(kube_cluster, kube_namespace, reader)
    kubeconfig = exec_kubeconfig(tmp_path, kube_cluster, kube_namespace, [token], expires_in=0)
    config, counter = counted(load_config(kubeconfig))
    async with connect(config) as client:
        for _ in range(3):
            await client.list("configmaps")
    # Expired on arrival: each request asks the plugin again, and none needed a 401.
    assert plugin_runs(tmp_path) == 3
    assert counter.invalidations == 0


# -- impersonation ---------------------------------------------------------------------------


async def test_impersonating_a_service_account_gets_exactly_its_rights(
    kube_cluster: Cluster, kube_namespace: str, reader: str, tmp_path: Path
) -> None:
    pki = kube_cluster.pki
    impersonated = sa_user(kube_namespace, reader)
    groups = ["system:serviceaccounts", f"system:serviceaccounts:{kube_namespace}"]
    kubeconfig = write_kubeconfig(
        tmp_path / "kubeconfig",
        kube_cluster,
        {
            "client-certificate-data": b64(pki.admin.cert_pem),
            "client-key-data": b64(pki.admin.key_pem),
            "as": impersonated,
            "as-groups": groups,
        },
        kube_namespace,
    )
    async with connect(load_config(kubeconfig)) as client:
        user = await whoami(client)
        assert user["username"] == impersonated
        assert set(groups) <= set(user["groups"])
        assert (await client.list("configmaps"))["kind"] == "ConfigMapList"  # the SA may
        # The admin could; the impersonated ServiceAccount may not.
        with pytest.raises(Forbidden) as caught:
            await client.list("secrets")
    assert caught.value.status == 403
    assert str(caught.value) == (
        f'list secrets in namespace "{kube_namespace}": Forbidden: secrets is forbidden: '
        f'User "{impersonated}" cannot list resource "secrets" in API group "" '
        f'in the namespace "{kube_namespace}" (403)'
    )


async def test_impersonated_groups_are_what_rbac_sees(
    kube_cluster: Cluster, kube_namespace: str, tmp_path: Path
) -> None:
    admin = kube_cluster.admin
    rbac = f"/apis/rbac.authorization.k8s.io/v1/namespaces/{kube_namespace}"
    admin.create(
        f"{rbac}/roles",
        {
            "metadata": {"name": "secret-lister"},
            "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["list"]}],
        },
    )
    admin.create(
        f"{rbac}/rolebindings",
        {
            "metadata": {"name": "auditors"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "Role",
                "name": "secret-lister",
            },
            "subjects": [
                {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "Group",
                    "name": "kubeops:auditors",
                }
            ],
        },
    )
    pki = kube_cluster.pki
    base = {
        "client-certificate-data": b64(pki.admin.cert_pem),
        "client-key-data": b64(pki.admin.key_pem),
    }
    member = write_kubeconfig(
        tmp_path / "member",
        kube_cluster,
        {**base, "as": "alice", "as-groups": ["kubeops:auditors"]},
        kube_namespace,
    )
    outsider = write_kubeconfig(
        tmp_path / "outsider", kube_cluster, {**base, "as": "alice"}, kube_namespace
    )
    async with connect(load_config(member)) as client:
        assert (await client.list("secrets"))["kind"] == "SecretList"
    async with connect(load_config(outsider)) as client:
        with pytest.raises(Forbidden, match=r'User "alice" cannot list resource "secrets"'):
            await client.list("secrets")


# -- in-cluster config -----------------------------------------------------------------------


@pytest.fixture
def pod_environment(
    kube_cluster: Cluster, kube_namespace: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """What the kubelet gives a Pod: the Service address in the environment and the
    service-account directory (token, ca.crt, namespace) -- here in tmp_path, for ``reader``."""
    kube_cluster.service_account_kubeconfig("reader", READ_CONFIGMAPS, kube_namespace)
    directory = tmp_path / "serviceaccount"
    directory.mkdir()
    (directory / "token").write_text(sa_token(kube_cluster, kube_namespace, "reader"))
    shutil.copy(kube_cluster.pki.ca.cert_file, directory / "ca.crt")
    (directory / "namespace").write_text(kube_namespace)
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", str(kube_cluster.port))
    monkeypatch.delenv("POD_NAMESPACE", raising=False)
    return directory


async def test_in_cluster_config_is_the_fallback_without_a_kubeconfig(
    kube_cluster: Cluster,
    kube_namespace: str,
    pod_environment: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # No kubeconfig anywhere: KUBECONFIG names a missing file, HOME has no ~/.kube.
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "absent"))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(incluster, "SERVICE_ACCOUNT_DIR", pod_environment)

    config = load_config()
    assert config.source == "in-cluster"
    assert config.server == kube_cluster.server
    assert config.namespace == kube_namespace  # from the namespace file
    async with connect(config) as client:
        assert (await whoami(client))["username"] == sa_user(kube_namespace, "reader")
        listed = await client.list("configmaps")  # in the namespace of the file
    assert listed["kind"] == "ConfigMapList"


async def test_in_cluster_token_rotation_is_picked_up(
    kube_cluster: Cluster, kube_namespace: str, pod_environment: Path
) -> None:
    rotated = service_account(kube_cluster, kube_namespace, "rotated")
    config = load_incluster_config(service_account_dir=pod_environment, token_refresh_interval=0.2)
    async with connect(config) as client:
        assert (await whoami(client))["username"] == sa_user(kube_namespace, "reader")
        (pod_environment / "token").write_text(sa_token(kube_cluster, kube_namespace, rotated))

        async def reread() -> bool:
            return (await whoami(client))["username"] == sa_user(kube_namespace, rotated)

        await async_eventually(reread, timeout=10, message="the rotated token file to be re-read")


async def test_in_cluster_token_revoked_then_rotated_recovers_through_the_401(
    kube_cluster: Cluster, kube_namespace: str, pod_environment: Path
) -> None:
    """The kubelet rewrote the file and the old token stopped working before the
    client's next scheduled re-read: the 401 makes it re-read the file at once."""
    doomed = service_account(kube_cluster, kube_namespace, "doomed")
    rotated = service_account(kube_cluster, kube_namespace, "rotated")
    (pod_environment / "token").write_text(sa_token(kube_cluster, kube_namespace, doomed))
    config, counter = counted(load_incluster_config(service_account_dir=pod_environment))
    async with connect(config) as client:
        assert (await whoami(client))["username"] == sa_user(kube_namespace, doomed)
        (pod_environment / "token").write_text(sa_token(kube_cluster, kube_namespace, rotated))
        # Deleting the ServiceAccount revokes its tokens (once the API server's cache sees it).
        kube_cluster.admin.delete(f"/api/v1/namespaces/{kube_namespace}/serviceaccounts/{doomed}")

        async def switched() -> bool:
            return (await whoami(client))["username"] == sa_user(kube_namespace, rotated)

        await async_eventually(switched, timeout=15, message="the rotated token to be used")
    assert counter.invalidations == 1


# -- RBAC denials ----------------------------------------------------------------------------


async def test_forbidden_names_who_what_and_where(
    kube_cluster: Cluster, kube_namespace: str
) -> None:
    kubeconfig = kube_cluster.service_account_kubeconfig("reader", READ_CONFIGMAPS, kube_namespace)
    who = f'User "{sa_user(kube_namespace, "reader")}"'
    async with connect(load_config(kubeconfig)) as client:
        await client.list("configmaps")  # allowed

        with pytest.raises(Forbidden) as create:
            await client.create(
                {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}
            )
        with pytest.raises(Forbidden) as elsewhere:
            await client.list("configmaps", "default")
        with pytest.raises(Forbidden) as cluster_wide:
            await client.list("namespaces")
        with pytest.raises(Forbidden) as other_group:
            await client.get("deployments", "web")

    ns = kube_namespace
    assert str(create.value) == (
        f'create configmaps "x" in namespace "{ns}": Forbidden: configmaps is forbidden: '
        f'{who} cannot create resource "configmaps" in API group "" in the namespace "{ns}" (403)'
    )
    assert str(elsewhere.value) == (
        'list configmaps in namespace "default": Forbidden: configmaps is forbidden: '
        f'{who} cannot list resource "configmaps" in API group "" in the namespace "default" (403)'
    )
    assert str(cluster_wide.value) == (
        "list namespaces: Forbidden: namespaces is forbidden: "
        f'{who} cannot list resource "namespaces" in API group "" at the cluster scope (403)'
    )
    assert str(other_group.value) == (
        f'get deployments.apps "web" in namespace "{ns}": Forbidden: deployments.apps "web" is '
        f'forbidden: {who} cannot get resource "deployments" in API group "apps" in the '
        f'namespace "{ns}" (403)'
    )
    for caught in (create, elsewhere, cluster_wide, other_group):
        assert caught.value.status == 403
        assert caught.value.reason == "Forbidden"
