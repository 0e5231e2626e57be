"""The configuration checks: Pod spec references, unused objects and certificate
reading, on in-memory snapshots (live ones; manifests for the static check)."""

from __future__ import annotations

import base64
import datetime
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from kubeops.inspect.checks.configuration import (
    Reference,
    Unreadable,
    read_certificates,
    references,
)
from kubeops.inspect.config import InspectConfig, parse_inspect_config
from kubeops.inspect.model import Severity
from kubeops.inspect.runner import run_checks
from kubeops.inspect.snapshot import Snapshot

Object = dict[str, Any]
NOW = datetime.datetime(2025, 6, 1, 12, 0, tzinfo=datetime.UTC)
KEY = ec.generate_private_key(ec.SECP256R1())
KEY_PEM = KEY.private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
)


def cert(
    cn: str, days_left: float, encoding: serialization.Encoding = serialization.Encoding.PEM
) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    built = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(KEY.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - datetime.timedelta(days=400))
        .not_valid_after(NOW + datetime.timedelta(days=days_left))
        .sign(KEY, hashes.SHA256())
    )
    return built.public_bytes(encoding)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def live(*objects: Object) -> Snapshot:
    snapshot = Snapshot.from_objects(objects, name="c1")
    snapshot.static = False
    return snapshot


def hits(
    snapshot: Snapshot, check: str, config: InspectConfig | None = None
) -> list[tuple[str, Severity, str]]:
    result = run_checks(snapshot, config or InspectConfig(), now=NOW)
    assert check in result.checks_run, result.not_run
    return [(f.object.name, f.severity, f.message) for f in result.findings if f.check == check]


def obj(kind: str, name: str, namespace: str | None = "ns", **fields: Any) -> Object:
    meta: Object = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    meta.update(fields.pop("meta", {}))
    api = {"Deployment": "apps/v1", "ReplicaSet": "apps/v1", "Ingress": "networking.k8s.io/v1"}
    return {"apiVersion": api.get(kind, "v1"), "kind": kind, "metadata": meta, **fields}


def pod(name: str, **spec: Any) -> Object:
    spec.setdefault("containers", [{"name": "app", "image": "app:1"}])
    return obj("Pod", name, spec=spec)


def owned_pod(name: str, owner: str, **spec: Any) -> Object:
    made = pod(name, **spec)
    made["metadata"]["ownerReferences"] = [
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "name": owner,
            "controller": True,
            "uid": "u",
        }
    ]
    return made


# ---------------------------------------------------------------------------
# references()
# ---------------------------------------------------------------------------


def test_references_cover_every_place_a_pod_spec_names_configmaps_and_secrets() -> None:
    spec = {
        "volumes": [
            {"name": "c", "configMap": {"name": "cm1", "items": [{"key": "a", "path": "a"}]}},
            {"name": "s", "secret": {"secretName": "s1", "optional": True}},
            {
                "name": "p",
                "projected": {
                    "sources": [
                        {"configMap": {"name": "cm2"}},
                        {"secret": {"name": "s2", "items": [{"key": "k", "path": "k"}]}},
                        {"serviceAccountToken": {"path": "token"}},
                    ]
                },
            },
            {"name": "csi", "csi": {"driver": "x", "nodePublishSecretRef": {"name": "s3"}}},
            {"name": "empty", "emptyDir": {}},
        ],
        "initContainers": [{"name": "init", "envFrom": [{"secretRef": {"name": "s4"}}]}],
        "containers": [
            {
                "name": "app",
                "envFrom": [{"configMapRef": {"name": "cm3", "optional": True}}],
                "env": [
                    {"name": "A", "valueFrom": {"configMapKeyRef": {"name": "cm4", "key": "a"}}},
                    {"name": "B", "valueFrom": {"secretKeyRef": {"name": "s5", "key": "b"}}},
                    {"name": "C", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                    {"name": "D", "value": "plain"},
                ],
            }
        ],
        "ephemeralContainers": [{"name": "debug", "envFrom": [{"configMapRef": {"name": "cm5"}}]}],
        "imagePullSecrets": [{"name": "pull"}],
    }
    assert list(references(spec)) == [
        Reference("ConfigMap", "cm1", 'volume "c"', False, ("a",)),
        Reference("Secret", "s1", 'volume "s"', True),
        Reference("ConfigMap", "cm2", 'projected volume "p"', False),
        Reference("Secret", "s2", 'projected volume "p"', False, ("k",)),
        Reference("Secret", "s3", 'CSI volume "csi"', False),
        Reference("Secret", "s4", 'container "init" envFrom', False),
        Reference("ConfigMap", "cm3", 'container "app" envFrom', True),
        Reference("ConfigMap", "cm4", 'container "app" env A', False, ("a",)),
        Reference("Secret", "s5", 'container "app" env B', False, ("b",)),
        Reference("ConfigMap", "cm5", 'container "debug" envFrom', False),
        Reference("Secret", "pull", "imagePullSecrets", False),
    ]


def test_references_tolerate_absent_and_malformed_fields() -> None:
    assert list(references({})) == []
    spec = {
        "volumes": [{"name": "v", "configMap": None}, {"name": "w", "projected": {}}],
        "containers": [{"name": "a", "env": [{"name": "X", "valueFrom": None}], "envFrom": [{}]}],
        "imagePullSecrets": [{}, "not-a-dict"],
    }
    assert list(references(spec)) == []


# ---------------------------------------------------------------------------
# Missing ConfigMaps, Secrets, ServiceAccounts
# ---------------------------------------------------------------------------


def test_missing_configmap_names_each_once_with_where_it_is_used() -> None:
    snapshot = live(
        obj("ConfigMap", "present", data={"a": "1"}, binaryData={"b": "AA=="}),
        pod(
            "p",
            volumes=[
                {"name": "v", "configMap": {"name": "gone", "items": [{"key": "x", "path": "x"}]}}
            ],
            containers=[
                {
                    "name": "app",
                    "envFrom": [{"configMapRef": {"name": "gone"}}],
                    "env": [
                        {
                            "name": "A",
                            "valueFrom": {"configMapKeyRef": {"name": "present", "key": "a"}},
                        },
                        {
                            "name": "B",
                            "valueFrom": {"configMapKeyRef": {"name": "present", "key": "b"}},
                        },
                        {
                            "name": "C",
                            "valueFrom": {"configMapKeyRef": {"name": "present", "key": "c"}},
                        },
                    ],
                }
            ],
        ),
        # The token volume admission adds to every Pod; published by the control plane.
        pod(
            "token",
            volumes=[
                {
                    "name": "kube-api-access-x",
                    "projected": {"sources": [{"configMap": {"name": "kube-root-ca.crt"}}]},
                }
            ],
        ),
    )
    assert sorted(hits(snapshot, "config-missing-configmap")) == [
        (
            "p",
            Severity.ERROR,
            'ConfigMap "gone" does not exist (used by volume "v", container "app" envFrom)',
        ),
        (
            "p",
            Severity.ERROR,
            'container "app" env C needs key "c" that ConfigMap "present" does not have',
        ),
    ]


def test_missing_references_are_looked_up_in_the_pods_own_namespace() -> None:
    elsewhere = obj("ConfigMap", "cfg", namespace="other")
    user = pod("p", volumes=[{"name": "v", "configMap": {"name": "cfg"}}])
    assert [h[0] for h in hits(live(elsewhere, user), "config-missing-configmap")] == ["p"]


def test_missing_secret_judges_a_workload_once_not_its_pods() -> None:
    deployment = obj(
        "ReplicaSet",
        "rs",
        spec={
            "template": {
                "spec": {
                    "containers": [{"name": "app"}],
                    "volumes": [{"name": "s", "secret": {"secretName": "gone"}}],
                }
            }
        },
    )
    child = owned_pod("rs-abc", "rs", volumes=[{"name": "s", "secret": {"secretName": "gone"}}])
    assert [h[0] for h in hits(live(deployment, child), "config-missing-secret")] == ["rs"]


def test_a_missing_pull_secret_alone_is_a_warning_and_optional_refs_are_fine() -> None:
    snapshot = live(
        pod("pull", imagePullSecrets=[{"name": "registry"}]),
        pod(
            "both",
            imagePullSecrets=[{"name": "x"}],
            volumes=[{"name": "v", "secret": {"secretName": "x"}}],
        ),
        pod("optional", volumes=[{"name": "v", "secret": {"secretName": "x", "optional": True}}]),
    )
    assert sorted((h[0], h[1]) for h in hits(snapshot, "config-missing-secret")) == [
        ("both", Severity.ERROR),
        ("pull", Severity.WARNING),
    ]


def test_missing_serviceaccount_defaults_to_default() -> None:
    snapshot = live(
        obj("ServiceAccount", "default"),
        obj("ServiceAccount", "builder"),
        pod("plain"),
        pod("own", serviceAccountName="builder"),
        pod("legacy-field", serviceAccount="ghost"),
        pod("missing", serviceAccountName="nobody"),
        obj("Pod", "other-ns", namespace="empty", spec={"containers": []}),
    )
    assert sorted(h[2] for h in hits(snapshot, "config-missing-serviceaccount")) == [
        'ServiceAccount "default" does not exist',
        'ServiceAccount "ghost" does not exist',
        'ServiceAccount "nobody" does not exist',
    ]


def test_reference_checks_are_not_run_on_manifests() -> None:
    result = run_checks(Snapshot.from_objects([pod("p")]), InspectConfig(), now=NOW)
    assert "config-missing-configmap" not in result.checks_run
    assert "config-certificate-expiry" in result.checks_run


# ---------------------------------------------------------------------------
# Unused ConfigMaps and Secrets
# ---------------------------------------------------------------------------


def test_unused_configmap_skips_system_owned_and_api_read_ones() -> None:
    snapshot = live(
        obj("ConfigMap", "orphan"),
        obj("ConfigMap", "kube-root-ca.crt"),
        obj(
            "ConfigMap", "owned", meta={"ownerReferences": [{"kind": "X", "name": "x", "uid": "u"}]}
        ),
        obj("ConfigMap", "coredns", namespace="kube-system"),
        obj(
            "ConfigMap",
            "lock",
            meta={"annotations": {"control-plane.alpha.kubernetes.io/leader": "{}"}},
        ),
        obj("ConfigMap", "tiller", meta={"labels": {"OWNER": "TILLER"}}),
        obj("ConfigMap", "by-old-rs"),
        obj("ConfigMap", "by-pod"),
        obj(
            "ReplicaSet",
            "old",
            meta={
                "ownerReferences": [
                    {"kind": "Deployment", "name": "d", "controller": True, "uid": "u"}
                ]
            },
            spec={
                "template": {
                    "spec": {"volumes": [{"name": "c", "configMap": {"name": "by-old-rs"}}]}
                }
            },
        ),
        obj("Deployment", "d", spec={"template": {"spec": {"containers": []}}}),
        owned_pod(
            "p", "gone", volumes=[{"name": "c", "configMap": {"name": "by-pod", "optional": True}}]
        ),
    )
    assert [h[0] for h in hits(snapshot, "config-unused-configmap")] == ["orphan"]


def test_unused_secret_counts_serviceaccounts_ingresses_and_skips_api_types() -> None:
    snapshot = live(
        obj("Secret", "orphan", type="Opaque"),
        obj("Secret", "token", type="kubernetes.io/service-account-token"),
        obj("Secret", "release", type="helm.sh/release.v1"),
        obj("Secret", "bootstrap-token-abc", type="bootstrap.kubernetes.io/token"),
        obj("Secret", "sa-listed"),
        obj("Secret", "sa-pull"),
        obj("Secret", "tls"),
        obj("Secret", "csi"),
        obj(
            "ServiceAccount",
            "sa",
            secrets=[{"name": "sa-listed"}],
            imagePullSecrets=[{"name": "sa-pull"}],
        ),
        obj("Ingress", "web", spec={"tls": [{"secretName": "tls"}, {"hosts": ["x"]}]}),
        pod(
            "p",
            volumes=[
                {"name": "v", "csi": {"driver": "d", "nodePublishSecretRef": {"name": "csi"}}}
            ],
        ),
    )
    assert [h[0] for h in hits(snapshot, "config-unused-secret")] == ["orphan"]


def test_unused_checks_need_the_pods_listed() -> None:
    snapshot = live(obj("ConfigMap", "x"))
    del snapshot.data["pods"]
    snapshot.missing["pods"] = "forbidden to list pods"
    result = run_checks(snapshot, InspectConfig(), now=NOW)
    assert {n.check: n.reason for n in result.not_run}[
        "config-unused-configmap"
    ] == "forbidden to list pods"


# ---------------------------------------------------------------------------
# Certificates
# ---------------------------------------------------------------------------


def test_read_certificates_reads_every_certificate_of_a_chain() -> None:
    chain = cert("leaf", 100) + b"\n" + cert("intermediate", 10)
    found = read_certificates(chain)
    assert [c.subject for c in found] == ["CN=leaf", "CN=intermediate"]
    assert found[1].not_after.date() == (NOW + datetime.timedelta(days=10)).date()


def test_read_certificates_finds_certificates_among_keys_and_reads_der() -> None:
    assert [c.subject for c in read_certificates(KEY_PEM + cert("mixed", 5))] == ["CN=mixed"]
    assert [c.subject for c in read_certificates(cert("der", 5, serialization.Encoding.DER))] == [
        "CN=der"
    ]
    assert read_certificates(KEY_PEM) == []
    assert read_certificates(b"") == []
    assert read_certificates(b"plain text, no certificate") == []


def test_read_certificates_reports_a_broken_block() -> None:
    broken = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
    with pytest.raises(Unreadable, match="certificate 2"):
        read_certificates(cert("ok", 5) + broken)


def secret(name: str, data: dict[str, bytes], type: str = "Opaque", **fields: Any) -> Object:
    return obj("Secret", name, type=type, data={k: b64(v) for k, v in data.items()}, **fields)


def test_certificate_expiry_severities_and_messages() -> None:
    snapshot = Snapshot.from_objects(
        [
            secret(
                "expired", {"tls.crt": cert("old", -3), "tls.key": KEY_PEM}, "kubernetes.io/tls"
            ),
            secret("soon", {"ca.crt": cert("ca", 5)}),
            secret("chain", {"tls.crt": cert("leaf", 300) + cert("mid", 20)}, "kubernetes.io/tls"),
            secret("fine", {"tls.crt": cert("new", 365), "key.pem": KEY_PEM}, "kubernetes.io/tls"),
            obj("Secret", "not-base64", data={"cert.pem": "***"}),
            secret("empty-crt", {"server.crt": b"nothing here"}),
            secret("other-keys", {"config.yaml": cert("ignored", -1)}),
        ]
    )
    assert sorted(hits(snapshot, "config-certificate-expiry")) == [
        (
            "chain",
            Severity.WARNING,
            'tls.crt: certificate "CN=mid" expires on 2025-06-21, in 20 days (threshold 30 days)',
        ),
        ("empty-crt", Severity.WARNING, "server.crt holds no certificate"),
        (
            "expired",
            Severity.CRITICAL,
            'tls.crt: certificate "CN=old" expired on 2025-05-29 (3 days ago)',
        ),
        ("not-base64", Severity.WARNING, "cert.pem is unreadable: the value is not valid base64"),
        (
            "soon",
            Severity.WARNING,
            'ca.crt: certificate "CN=ca" expires on 2025-06-06, in 5 days (threshold 30 days)',
        ),
    ]


def test_certificate_expiry_reads_manifest_string_data_and_the_threshold() -> None:
    manifest = obj(
        "Secret", "m", type="kubernetes.io/tls", stringData={"tls.crt": cert("m", 20).decode()}
    )
    assert [h[0] for h in hits(Snapshot.from_objects([manifest]), "config-certificate-expiry")] == [
        "m"
    ]
    config = parse_inspect_config(
        {"checks": {"config-certificate-expiry": {"thresholds": {"days": 10}}}}
    )
    assert hits(Snapshot.from_objects([manifest]), "config-certificate-expiry", config) == []


def test_certificate_expiry_parses_a_shared_ca_once() -> None:
    ca = cert("cluster-ca", 3000)
    secrets = [
        secret(f"token-{i}", {"ca.crt": ca}, "kubernetes.io/service-account-token")
        for i in range(2000)
    ]
    assert hits(live(*secrets), "config-certificate-expiry") == []
