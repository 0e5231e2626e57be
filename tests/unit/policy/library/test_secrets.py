"""The secret detector: a positive corpus (each kind found, by pattern or entropy),
a negative corpus of typical configuration values (no false positives), where
leaks are looked for, and the rule that a secret's value is never printed."""

from __future__ import annotations

import base64
import json
import uuid

import pytest

from kubeops.policy import Review, StaticContext, evaluate
from kubeops.policy.library import load
from kubeops.policy.secrets import (
    DetectorSettings,
    find_leaks,
    scan_text,
    secret_like_key,
    shannon_entropy,
)

from ._build import container, deployment, pod_spec

# Fake credentials built at run time, so no credential-shaped literal sits in the source.
AWS_ID = "AKIA" + "Q3EXAMPLE7K2MZ4PX"[:16]
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCY" + "EXAMPLEKEY"
PEM = "-----BEGIN RSA " + "PRIVATE KEY-----\nMIIEowIBAAKCAQEA1xZ7\n-----END RSA PRIVATE KEY-----"
GITHUB = "ghp_" + "R8kZ2mQ4vX7nB1cD5fG9hJ3kL6pS0tW2yA4e"
GITLAB = "glpat-" + "x9Q2vB7mK4nZ1cD5fG8h"
SLACK = "xoxb-" + "1234567890-0987654321-AbCdEfGhIjKlMnOpQrStUvWx"
SLACK_HOOK = "https://hooks.slack.com/services/" + "T0AB1CD2E/B0FG3HI4J/aB3dE5gH7jK9mN1pQ3sT5vX7"
JWT = (
    "eyJhbGciOiJIUzI1NiJ9"
    + ".eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
)
GOOGLE = "AIza" + "SyD3x9Q2vB7mK4nZ1cD5fG8hJ2kL6pS0tW2"
AZURE_CONN = (
    "DefaultEndpointsProtocol=https;AccountName=shopdata;AccountKey="
    + "k3Yx9Q2vB7mK4nZ1cD5fG8hJ2kL6pS0tW2yA4eR7uI9oP1aS3dF5gH7jK9lZ2xC4vB6nM8qW0eR2tY4uI6oP8aS0dF2g=="
    + ";EndpointSuffix=core.windows.net"
)
GCP_KEY = json.dumps(
    {
        "type": "service_account",
        "project_id": "shop-prod",
        "private_key_id": "1f2e3d4c5b6a",
        "private_key": "-----BEGIN PRIVATE "
        + "KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n",
        "client_email": "ci@shop-prod.iam.gserviceaccount.com",
    },
    indent=2,
)
DB_PASSWORD = "Xq7!vR2#mK9zL4"
URL_PASSWORD = "s3cr3tPassw0rd"

POSITIVE = [
    ("AWS access key ID", "AWS_ACCESS_KEY_ID", AWS_ID),
    ("AWS secret access key", "CONFIG", f"aws_secret_access_key = {AWS_SECRET}"),
    ("private key (PEM)", "tls.key", PEM),
    ("GCP service-account key", "credentials.json", GCP_KEY),
    ("Google API key", "MAPS", GOOGLE),
    ("Azure storage account key", "STORAGE", AZURE_CONN),
    ("GitHub token", "GH", GITHUB),
    ("GitLab token", "GL", GITLAB),
    ("Slack token", "SLACK", SLACK),
    ("Slack webhook URL", "ALERTS", SLACK_HOOK),
    ("JSON Web Token", "SESSION", JWT),
    ("bearer token", "HEADERS", "Authorization: Bearer " + "k3Yx9Q2vB7mK4nZ1cD5f"),
    ("password in a URL", "DATABASE_URL", f"postgres://shop:{URL_PASSWORD}@db.shop.svc:5432/shop"),
    ("secret value under a secret-like key", "DB_PASSWORD", DB_PASSWORD),
    ("secret value under a secret-like key", "apiKey", "9f8e7d6c5b4a3f2e1d0c"),
    ("secret value under a secret-like key", "CLIENT_SECRET", "Qm9vX2ZvbzpiYXJfYmF6"),
]


@pytest.mark.parametrize(
    ("kind", "key", "value"), POSITIVE, ids=[f"{p[0]}:{p[1]}" for p in POSITIVE]
)
def test_positive(kind: str, key: str, value: str) -> None:
    assert [m.kind for m in scan_text(value, key)] == [kind]


NEGATIVE = [
    ("IMAGE", "registry.example.com/shop/app:1.4.2"),
    ("IMAGE", "nginx@sha256:4c0fdaa8b6341bfdeca5f18f7837462c80cff90527ee35ef185571e1c327beac"),
    ("API_URL", "https://api.example.com/v1/orders?limit=100&sort=desc"),
    ("DATABASE_URL", "postgres://db.shop.svc:5432/shop?sslmode=require"),
    ("DATABASE_URL", "postgres://shop:$(DB_PASSWORD)@db.shop.svc:5432/shop"),
    ("REQUEST_ID", str(uuid.UUID("6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f"))),
    ("CLIENT_ID", "6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f"),
    ("GREETING", base64.b64encode(b"hello").decode()),
    ("MODE", base64.b64encode(b"secret").decode()),
    ("JAVA_OPTS", "-Xmx512m -XX:+UseG1GC -Dfile.encoding=UTF-8"),
    ("LOG_LEVEL", "info"),
    ("GIT_SHA", "9fceb02d0ae598e95dc970b74767f19372d61af8"),
    ("DB_PASSWORD", "$(DB_PASSWORD)"),
    ("DB_PASSWORD", "${DB_PASSWORD}"),
    ("DB_PASSWORD", "{{ .Values.db.password }}"),
    ("PASSWORD_FILE", "/etc/secrets/db-password"),
    ("TOKEN_TTL", "3600s"),
    ("SECRET_NAME", "postgres-credentials"),
    ("credentialsSecret", "postgres-credentials"),
    ("tokenEndpoint", "https://auth.example.com/oauth/token"),
    ("AUTH_ENABLED", "true"),
    ("PASSWORD", "changeme"),
    ("ETCD_INITIAL_CLUSTER_TOKEN", "INSERT_ETCD_INITIAL_CLUSTER_TOKEN"),
    ("API_KEY", "your-api-key-here"),
    ("ca.crt", "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUY\n-----END CERTIFICATE-----"),
    (
        "authorized_keys",
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK0wmN/Cr3JXqmLW7u+g9pTh+wyqDHpSQEIQczXkVx9q ci@shop",
    ),
    ("HOSTNAME", "db-0.db.shop.svc.cluster.local"),
    (
        "app.properties",
        "server.port=8080\nspring.datasource.url=jdbc:postgresql://db:5432/shop\nspring.datasource.password=${DB_PASSWORD}\n",
    ),
]


@pytest.mark.parametrize(("key", "value"), NEGATIVE, ids=[f"{n[0]}" for n in NEGATIVE])
def test_negative(key: str, value: str) -> None:
    assert scan_text(value, key) == []


def test_keys() -> None:
    for key in (
        "DB_PASSWORD",
        "dbPassword",
        "api-key",
        "apiKey",
        "client.secret",
        "GITHUB_TOKEN",
        "pass",
    ):
        assert secret_like_key(key), key
    for key in (
        "PASSWORD_FILE",
        "tokenTTL",
        "SECRET_NAME",
        "passthrough",
        "compass",
        "CLIENT_ID",
        "keyRef",
    ):
        assert not secret_like_key(key), key


def test_entropy() -> None:
    assert shannon_entropy("") == 0
    assert shannon_entropy("aaaa") == 0
    assert shannon_entropy("abcd") == 2
    strict = DetectorSettings(entropy=4.5)
    assert scan_text(DB_PASSWORD, "DB_PASSWORD", strict) == []
    assert (
        scan_text(
            DB_PASSWORD, "DB_PASSWORD", DetectorSettings(ignore_keys=frozenset({"DB_PASSWORD"}))
        )
        == []
    )


def test_lines_in_multi_line_values() -> None:
    properties = f"server.port=8080\n# the database\ndb.password={DB_PASSWORD}\naws.key={AWS_ID}\n"
    assert [(m.kind, m.line) for m in scan_text(properties, "app.properties")] == [
        ("secret value under a secret-like key", 3),
        ("AWS access key ID", 4),
    ]


def workload_with_leaks() -> dict[str, object]:
    app = container(
        env=[
            {"name": "DB_PASSWORD", "value": DB_PASSWORD},
            {"name": "DB_USER", "value": "shop"},
            {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "t", "key": "token"}}},
        ],
        args=["--github-token", GITHUB, f"--db=postgres://shop:{URL_PASSWORD}@db:5432/shop"],
        command=["/bin/app", f"--password={DB_PASSWORD}"],
    )
    obj = deployment(pod_spec(app), template_meta={"annotations": {"ci/slack": SLACK_HOOK}})
    obj["metadata"]["annotations"] = {"deploy/aws": AWS_ID}
    return obj


def test_where_leaks_are_found() -> None:
    obj = workload_with_leaks()
    spec = obj["spec"]["template"]  # type: ignore[index]
    leaks = find_leaks(obj, (spec["spec"], spec["metadata"], "spec.template.spec"))
    assert [leak.describe() for leak in leaks] == [
        'AWS access key ID in annotation "deploy/aws"',
        'Slack webhook URL in Pod template annotation "ci/slack"',
        'secret value under a secret-like key in container "app" env DB_PASSWORD',
        'secret value under a secret-like key in container "app" command[1]',
        'GitHub token in container "app" args[1]',
        'password in a URL in container "app" args[2]',
    ]
    assert leaks[2].field_path == "spec.template.spec.containers[0].env[0].value"


def test_configmap_and_secret() -> None:
    config = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "app"},
        "data": {"app.properties": f"a=1\nsmtp.password={DB_PASSWORD}\n", "key.pem": PEM},
    }
    assert [(leak.describe(), leak.field_path) for leak in find_leaks(config)] == [
        (
            'secret value under a secret-like key in data key "app.properties" (line 2 of the value)',
            "data[app.properties]",
        ),
        ('private key (PEM) in data key "key.pem" (line 1 of the value)', "data[key.pem]"),
    ]
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s"},
        "stringData": {"k": PEM},
    }
    assert find_leaks(secret) == []


SECRETS = [
    AWS_ID,
    AWS_SECRET,
    PEM,
    GITHUB,
    GITLAB,
    SLACK,
    SLACK_HOOK,
    JWT,
    GOOGLE,
    DB_PASSWORD,
    URL_PASSWORD,
]


def test_the_value_is_never_printed() -> None:
    """Every secret of the corpus, in every place, through the whole policy set: no
    message, field path or rendering of a violation contains the value (or a long
    piece of it)."""
    config = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "leaky", "namespace": "shop", "annotations": {"note": JWT}},
        "data": {key: value for _, key, value in POSITIVE},
    }
    objects = [workload_with_leaks(), config]
    policies = load([])
    found = []
    for obj in objects:
        verdict = evaluate(tuple(policies), Review.of_object(obj), StaticContext(objects))
        found += [v for v in verdict.violations if v.policy == "secrets"]
    assert len(found) == len(POSITIVE) + 1 + 6
    printed = "\n".join(f"{v!r} {v.message} {v.field_path} {v.subject}" for v in found)
    for _, _, value in POSITIVE:
        for piece in {value, *(line for line in value.splitlines() if len(line) >= 12)}:
            if piece.startswith("-----") or len(piece) < 12:
                continue  # PEM armour lines name the kind, not the key
            assert piece not in printed
    for secret in SECRETS:
        assert secret not in printed
