"""``kubeops policy webhook`` from the image, as the chart deploys it: it fills in the
chart's ValidatingWebhookConfiguration with only the chart's RBAC, and the API server
then denies a violating object through it and admits a good one (the run:
:mod:`deploy.incluster_runs`)."""

from __future__ import annotations

import base64
import json

from deploy.chart import fullname
from deploy.incluster_runs import (
    CONFIGMAPS,
    NAMESPACE,
    WEBHOOK_CONFIGURATIONS,
    WebhookRun,
    api_status,
    configmap,
    dry_run_create,
    forbidden_lines,
    http_get,
    read_configmap,
    refused,
    scraper_token,
)
from kubeops.policy.webhook import WEBHOOK_NAME
from kubeops.testenv import eventually


def test_it_registers_itself_with_the_charts_rbac(webhook_run: WebhookRun) -> None:
    cluster = webhook_run.cluster
    configuration = cluster.admin.get(f"{WEBHOOK_CONFIGURATIONS}/{webhook_run.configuration}")
    (hook,) = configuration["webhooks"]
    assert hook["name"] == WEBHOOK_NAME
    assert hook["failurePolicy"] == "Fail"
    assert hook["timeoutSeconds"] == 5
    assert hook["clientConfig"]["url"] == webhook_run.url
    assert {"key": "kubernetes.io/metadata.name", "operator": "NotIn"}.items() <= (
        hook["namespaceSelector"]["matchExpressions"][0].items()
    )
    assert hook["namespaceSelector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": webhook_run.namespace
    }
    assert [r["resources"] for r in hook["rules"]] == [["configmaps"]]
    # The caBundle is the CA the replicas share, kept in the chart's Secret.
    secret = cluster.admin.get(
        f"/api/v1/namespaces/{NAMESPACE}/secrets/{fullname('policy-webhook')}-ca"
    )
    bundle = base64.b64decode(hook["clientConfig"]["caBundle"]).decode()
    assert "BEGIN CERTIFICATE" in bundle
    assert secret["data"], "the shared CA Secret is empty"


def test_the_api_server_denies_a_violating_object_through_it(webhook_run: WebhookRun) -> None:
    cluster, namespace = webhook_run.cluster, webhook_run.namespace
    bad = configmap("bad", {"forbidden": "1"})

    def refusal() -> dict[str, object] | None:
        answer = dry_run_create(cluster, namespace, bad)
        return answer if refused(answer) else None

    # The set-up saw the configuration written; the API server may take a moment to use it.
    answer = eventually(refusal, timeout=30, message="the API server to refuse through the webhook")
    assert (
        f'admission webhook "{WEBHOOK_NAME}" denied the request: ValidatingAdmissionPolicy '
        "'no-forbidden-key' with binding 'no-forbidden-key-deny' denied request: "
        "the key forbidden is not allowed"
    ) in answer["message"], answer
    # A good object goes through (and is stored); the bad one never was.
    cluster.admin.create(CONFIGMAPS.format(namespace), configmap("good", {"fine": "1"}))
    assert read_configmap(cluster, namespace, "good") is not None
    assert read_configmap(cluster, namespace, "bad") is None


def test_a_rotated_token_is_picked_up(webhook_run: WebhookRun) -> None:
    # The old token is revoked at once: /metrics answers only if the daemon reviews the
    # caller's token (a TokenReview) with the new one it reads from the rotated file.
    rotation = webhook_run.pod.rotate_token(invalidate_old=True)
    eventually(
        lambda: api_status(webhook_run.cluster, rotation.old_token) == 401,
        timeout=30,
        message="the API server to refuse the old token",
    )
    token = scraper_token(webhook_run.cluster)

    def scraped() -> str | None:
        status, body = http_get(
            webhook_run.pod, webhook_run.port, "/metrics", token=token, https=True
        )
        return body if status == 200 else None

    body = eventually(scraped, timeout=30, message="/metrics after the token rotated")
    assert "# TYPE kubeops_policy_webhook_reviews_total counter" in body, body[:2000]


def get(run: WebhookRun, path: str) -> tuple[int, str]:
    """GET ``path`` on the webhook's HTTPS port."""
    return http_get(run.pod, run.port, path, https=True)


def test_probes_answer_and_nothing_is_forbidden(webhook_run: WebhookRun) -> None:
    status, body = get(webhook_run, "/healthz")
    assert status == 200, body
    health = json.loads(body)
    assert health["registrant"] is True, health
    assert health["registered"] is True, health
    assert get(webhook_run, "/readyz")[0] == 200
    log = webhook_run.pod.logs()
    assert "registered ValidatingWebhookConfiguration" in log, log[-4000:]
    # The policy's own words name the key `forbidden`; nothing else may.
    assert not forbidden_lines(log, "no-forbidden-key", "key forbidden"), log[-4000:]
    # /metrics is behind the chart's --auth kubernetes: no token, no metrics.
    assert get(webhook_run, "/metrics")[0] == 401
