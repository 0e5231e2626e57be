"""Configuration cases: missing and unused ConfigMaps, Secrets and ServiceAccounts,
and TLS certificates generated here (expired, expiring in 5 days, valid a year)."""

from __future__ import annotations

import base64
import datetime
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ..harness import Case

Object = dict[str, Any]

_KEY = ec.generate_private_key(ec.SECP256R1())


def certificate(common_name: str, *, valid_from: int, valid_until: int) -> bytes:
    """A self-signed PEM certificate valid from/until so many days from now."""
    now = datetime.datetime.now(datetime.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(_KEY.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now + datetime.timedelta(days=valid_from))
        .not_valid_after(now + datetime.timedelta(days=valid_until))
        .sign(_KEY, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


KEY_PEM = _KEY.private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
)
EXPIRED = certificate("expired.example.com", valid_from=-365, valid_until=-2)
EXPIRING = certificate("expiring.example.com", valid_from=-360, valid_until=5)
VALID = certificate("valid.example.com", valid_from=-1, valid_until=365)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def pod(name: str, spec: Object, kind: str = "Pod") -> Object:
    """A Pod, or a workload of ``kind`` whose template has ``spec``."""
    spec = {"containers": [{"name": "app", "image": "registry.example.com/app:1.0"}], **spec}
    if kind == "Pod":
        return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": {"name": name},
        "spec": {
            "replicas": 0,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": spec},
        },
    }


def container(**fields: Any) -> list[Object]:
    return [{"name": "app", "image": "registry.example.com/app:1.0", **fields}]


def configmap(name: str, data: dict[str, str] | None = None, **meta: Any) -> Object:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, **meta},
        "data": data or {"key": "value"},
    }


def secret(
    name: str, data: dict[str, bytes] | None = None, type: str = "Opaque", **meta: Any
) -> Object:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, **meta},
        "type": type,
        "data": {k: b64(v) for k, v in (data or {"key": b"value"}).items()},
    }


_OWNER = [
    {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "name": "parent",
        "uid": "00000000-0000-0000-0000-000000000001",
    }
]

CASES = [
    Case(
        "config-missing-configmap",
        bad=[
            configmap("present", {"known": "1"}),
            pod(
                "absent-volume",
                {"volumes": [{"name": "cfg", "configMap": {"name": "absent"}}]},
            ),
            pod(
                "absent-env",
                {"containers": container(envFrom=[{"configMapRef": {"name": "absent-too"}}])},
                kind="Deployment",
            ),
            pod(
                "absent-key",
                {
                    "containers": container(
                        env=[
                            {
                                "name": "MODE",
                                "valueFrom": {
                                    "configMapKeyRef": {"name": "present", "key": "unknown"}
                                },
                            }
                        ]
                    )
                },
            ),
            pod(
                "absent-projected",
                {
                    "volumes": [
                        {
                            "name": "all",
                            "projected": {"sources": [{"configMap": {"name": "absent"}}]},
                        }
                    ]
                },
                kind="StatefulSet",
            ),
        ],
        good=[
            configmap("present", {"known": "1"}),
            pod(
                "uses-present",
                {
                    "volumes": [
                        {"name": "cfg", "configMap": {"name": "present"}},
                        {"name": "maybe", "configMap": {"name": "absent", "optional": True}},
                        {
                            "name": "all",
                            "projected": {
                                "sources": [{"configMap": {"name": "absent", "optional": True}}]
                            },
                        },
                    ],
                    "containers": container(
                        envFrom=[
                            {"configMapRef": {"name": "present"}},
                            {"configMapRef": {"name": "absent", "optional": True}},
                        ],
                        env=[
                            {
                                "name": "KNOWN",
                                "valueFrom": {
                                    "configMapKeyRef": {"name": "present", "key": "known"}
                                },
                            },
                            {
                                "name": "MAYBE",
                                "valueFrom": {
                                    "configMapKeyRef": {
                                        "name": "absent",
                                        "key": "x",
                                        "optional": True,
                                    }
                                },
                            },
                        ],
                    ),
                },
            ),
        ],
        expect=[
            "Pod/absent-volume",
            "Deployment/absent-env",
            "Pod/absent-key",
            "StatefulSet/absent-projected",
        ],
    ),
    Case(
        "config-missing-secret",
        bad=[
            pod("absent-volume", {"volumes": [{"name": "s", "secret": {"secretName": "absent"}}]}),
            pod("absent-pull", {"imagePullSecrets": [{"name": "absent-registry"}]}),
            pod(
                "absent-env",
                {
                    "containers": container(
                        env=[
                            {
                                "name": "TOKEN",
                                "valueFrom": {"secretKeyRef": {"name": "absent", "key": "token"}},
                            }
                        ]
                    )
                },
                kind="Deployment",
            ),
        ],
        good=[
            secret("present", {"token": b"s3cret"}),
            pod(
                "uses-present",
                {
                    "imagePullSecrets": [{"name": "present"}],
                    "volumes": [
                        {"name": "s", "secret": {"secretName": "present"}},
                        {"name": "maybe", "secret": {"secretName": "absent", "optional": True}},
                    ],
                    "containers": container(
                        envFrom=[{"secretRef": {"name": "absent", "optional": True}}],
                        env=[
                            {
                                "name": "TOKEN",
                                "valueFrom": {"secretKeyRef": {"name": "present", "key": "token"}},
                            }
                        ],
                    ),
                },
            ),
        ],
        expect=["Pod/absent-volume", "Pod/absent-pull", "Deployment/absent-env"],
    ),
    Case(
        # Deployments, not Pods: admission would refuse a Pod whose ServiceAccount is missing.
        "config-missing-serviceaccount",
        bad=[pod("ghost-account", {"serviceAccountName": "ghost"}, kind="Deployment")],
        good=[
            {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "builder"}},
            pod("own-account", {"serviceAccountName": "builder"}, kind="Deployment"),
            pod("default-account", {}, kind="Deployment"),
        ],
        expect=["Deployment/ghost-account"],
    ),
    Case(
        "config-unused-configmap",
        bad=[configmap("orphan")],
        good=[
            configmap("mounted"),
            pod("reader", {"volumes": [{"name": "c", "configMap": {"name": "mounted"}}]}),
            # Referenced only by a ReplicaSet kept for rollback: still in use.
            configmap("previous"),
            pod(
                "old-release",
                {"containers": container(envFrom=[{"configMapRef": {"name": "previous"}}])},
                kind="ReplicaSet",
            ),
            configmap("kube-root-ca.crt"),
            configmap("generated", ownerReferences=_OWNER),
        ],
        expect=["ConfigMap/orphan"],
    ),
    Case(
        "config-unused-secret",
        bad=[secret("orphan")],
        good=[
            secret("mounted"),
            pod("reader", {"volumes": [{"name": "s", "secret": {"secretName": "mounted"}}]}),
            secret("pull"),
            pod("puller", {"imagePullSecrets": [{"name": "pull"}]}, kind="Deployment"),
            secret("listed"),
            {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": {"name": "deployer"},
                "secrets": [{"name": "listed"}],
            },
            secret("site-tls", {"tls.crt": VALID, "tls.key": KEY_PEM}, type="kubernetes.io/tls"),
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "Ingress",
                "metadata": {"name": "site"},
                "spec": {
                    "tls": [{"hosts": ["site.example.com"], "secretName": "site-tls"}],
                    "defaultBackend": {"service": {"name": "site", "port": {"number": 80}}},
                },
            },
            secret("sh.helm.release.v1.app.v1", {"release": b"H4sI"}, type="helm.sh/release.v1"),
            secret(
                "deployer-token",
                {"token": b"t"},
                type="kubernetes.io/service-account-token",
                annotations={"kubernetes.io/service-account.name": "deployer"},
            ),
            secret("generated", ownerReferences=_OWNER),
        ],
        expect=["Secret/orphan"],
    ),
    Case(
        "config-certificate-expiry",
        bad=[
            secret("expired", {"tls.crt": EXPIRED, "tls.key": KEY_PEM}, type="kubernetes.io/tls"),
            secret("expiring-ca", {"ca.crt": EXPIRING}),
            # A valid leaf whose chain carries an expired certificate.
            secret(
                "chain", {"tls.crt": VALID + EXPIRED, "tls.key": KEY_PEM}, type="kubernetes.io/tls"
            ),
            secret(
                "garbled",
                {
                    "server.pem": b"-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n"
                },
            ),
        ],
        good=[
            secret("valid", {"tls.crt": VALID, "tls.key": KEY_PEM}, type="kubernetes.io/tls"),
            secret("bundle", {"ca.crt": VALID, "key.pem": KEY_PEM, "notes.txt": b"hello"}),
        ],
        expect=["Secret/expired", "Secret/expiring-ca", "Secret/chain", "Secret/garbled"],
    ),
]
