"""Two webhook replicas with given certificates (one CA, a pair each): both serve, only
the holder of the Lease writes the configuration, the other takes over when it
stops, and a replaced certificate file is served without a restart."""

from __future__ import annotations

import base64
import socket
import ssl
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from kubeops.controller.elected import LeaseSettings
from kubeops.policy.loader import PolicySet
from kubeops.policy.webhook import CertificateAuthority
from kubeops.testenv import Cluster, eventually
from kubeops.testenv.ports import free_port

from .harness import LabelPolicy, Running, configmap, create, options, refused
from .test_webhook import CONFIGURATIONS


@pytest.fixture(scope="module")
def namespace(kube_cluster: Cluster) -> Iterator[str]:
    """This module's namespace: its webhooks' only one, and where their Lease lives."""
    name = f"policy-webhook-ha-{uuid.uuid4().hex[:6]}"
    kube_cluster.admin.create(
        "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
    )
    yield name
    kube_cluster.admin.delete(f"/api/v1/namespaces/{name}")


def issue(ca: CertificateAuthority, directory: Path) -> tuple[str, str]:
    """A serving pair for 127.0.0.1 from ``ca`` in ``directory``."""
    directory.mkdir(exist_ok=True)
    issued = ca.issue(["127.0.0.1", "localhost"], 3600)
    cert, key = directory / "tls.crt", directory / "tls.key"
    key.write_bytes(issued.key_pem)
    cert.write_bytes(issued.cert_pem)
    return str(cert), str(key)


def served(port: int) -> int:
    """The serial of the certificate the port presents."""
    pem = ssl.get_server_certificate(("127.0.0.1", port))
    return x509.load_pem_x509_certificate(pem.encode()).serial_number


def url_port(cluster: Cluster, path: str) -> int:
    """The port the registered configuration sends requests to."""
    url = cluster.admin.get(path)["webhooks"][0]["clientConfig"]["url"]
    return int(url.rsplit(":", 1)[1].split("/")[0])


def test_only_the_lease_holder_registers_and_given_certificates_reload(
    kube_cluster: Cluster, namespace: str, tmp_path: Path
) -> None:
    ca = CertificateAuthority.generate("test-webhook-ca", 86400)
    (tmp_path / "ca.crt").write_bytes(ca.pem)
    lease = LeaseSettings.for_duration("kubeops-policy-webhook", namespace, 3.0)
    name = f"kubeops-policy-ha-{namespace}"
    path = f"{CONFIGURATIONS}/{name}"
    one = PolicySet((LabelPolicy("no-deny-label", "deny"),))
    replicas: list[Running] = []
    try:
        for replica in ("a", "b"):
            port = free_port()
            cert, key = issue(ca, tmp_path / replica)
            settings = options(namespace, port, configuration=name, lease=lease)
            settings = replace(
                settings,
                identity=f"replica-{replica}",
                ca_file=str(tmp_path / "ca.crt"),
                serving=replace(settings.serving, tls_cert_file=cert, tls_key_file=key),
                unregister_on_exit=replica == "b",
            )
            replicas.append(Running(kube_cluster, settings, one).start(registers=replica == "a"))
        first, second = replicas
        leader, standby = first.daemon, second.daemon
        assert leader is not None
        assert standby is not None
        assert leader.registrant
        assert not standby.registrant  # both serve; one writes
        assert url_port(kube_cluster, path) == leader.port.port
        assert refused(create(kube_cluster, namespace, configmap("x", {"deny": "x"})))

        # A new pair in the given files is served at the next handshake.
        before = served(leader.port.port)
        issue(ca, tmp_path / "a")
        eventually(
            lambda: served(leader.port.port) != before,
            timeout=10,
            message="the replaced certificate to be served",
        )

        first.stop()  # releases the Lease; the configuration stays, still pointing at it
        eventually(
            lambda: url_port(kube_cluster, path) == standby.port.port,
            timeout=15,
            message="the other replica to take the Lease and register itself",
        )
        assert standby.registrant
        eventually(
            lambda: refused(create(kube_cluster, namespace, configmap("y", {"deny": "x"}))),
            message="the API server to call the new registrant",
        )
        second.stop()
        assert not kube_cluster.admin.exists(path)  # its --unregister-on-exit
    finally:
        for running in replicas:
            if running.daemon is not None and not running.daemon.draining:
                running.stop()
        kube_cluster.admin.delete(path)


@pytest.fixture(scope="module")
def system(kube_cluster: Cluster) -> Iterator[str]:
    """The webhooks' own namespace (their Secret and Lease; never sent to them)."""
    name = f"policy-webhook-system-{uuid.uuid4().hex[:6]}"
    kube_cluster.admin.create(
        "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
    )
    yield name
    kube_cluster.admin.delete(f"/api/v1/namespaces/{name}")


def registered_bundle(cluster: Cluster, path: str) -> bytes:
    """The caBundle the API server trusts for the webhook."""
    hook = cluster.admin.get(path)["webhooks"][0]
    return base64.b64decode(hook["clientConfig"]["caBundle"])


def signer(port: int, bundle: bytes) -> bytes:
    """The key id of the CA that signed the certificate ``port`` serves, which must be
    trusted by ``bundle`` (the handshake fails otherwise)."""
    context = ssl.create_default_context(cadata=bundle.decode())
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    cert = x509.load_der_x509_certificate(der)
    key_id = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    assert key_id.key_identifier is not None
    return key_id.key_identifier


def test_replicas_share_a_generated_ca_and_its_successor_refuses_nothing(
    kube_cluster: Cluster, namespace: str, system: str
) -> None:
    name = f"kubeops-policy-shared-{namespace}"
    path = f"{CONFIGURATIONS}/{name}"
    lease = LeaseSettings.for_duration("kubeops-policy-webhook", system, 3.0)
    one = PolicySet((LabelPolicy("no-deny-label", "deny"),))
    replicas: list[Running] = []
    try:
        for replica in ("a", "b"):
            settings = options(
                namespace,
                free_port(),
                configuration=name,
                lease=lease,
                namespace=system,
                ca_secret="webhook-ca",
                identity=f"replica-{replica}",
                cert_validity=4.5,
                ca_validity=13.5,  # a successor CA is introduced ~6 s in, signs ~3 s later
            )
            replicas.append(Running(kube_cluster, settings, one).start(registers=replica == "a"))
        leader, standby = (r.daemon for r in replicas)
        assert leader is not None
        assert standby is not None
        first = registered_bundle(kube_cluster, path)
        original = signer(leader.port.port, first)
        assert signer(standby.port.port, first) == original  # one CA for both
        answers: list[Any] = []
        sizes: set[int] = set()

        def signed_by_the_successor() -> bool:
            answers.append(create(kube_cluster, namespace, configmap("looped")))
            bundle = registered_bundle(kube_cluster, path)
            sizes.add(len(x509.load_pem_x509_certificates(bundle)))
            return signer(leader.port.port, bundle) != original

        eventually(
            signed_by_the_successor,
            timeout=20,
            interval=0.05,
            message="the successor CA to sign the leader's certificate",
        )
        assert [a for a in answers if refused(a)] == []
        assert 2 in sizes  # the successor was trusted before it signed
        # The standby signs with the Secret's key too, trusted by the registered bundle.
        final = registered_bundle(kube_cluster, path)
        eventually(
            lambda: signer(standby.port.port, final) == signer(leader.port.port, final),
            timeout=10,
            message="the standby to take the successor at its renewal",
        )
        assert refused(create(kube_cluster, namespace, configmap("x", {"deny": "x"})))
    finally:
        for running in replicas:
            if running.daemon is not None and not running.daemon.draining:
                running.stop()
        kube_cluster.admin.delete(path)
