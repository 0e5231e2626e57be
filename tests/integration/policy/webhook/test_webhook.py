"""``kubeops policy webhook`` behind the session cluster's API server.

One webhook serves the whole module (generated certificates renewed every 3 s,
timeoutSeconds 3, so a review's deadline is 2.4 s), registered with a
namespaceSelector matching only this module's namespace and ConfigMaps only, and
removed at teardown.  Requests are kubectl's and the API's own; the webhook's
answers are read where a user reads them (kubectl's error and warnings).
"""

from __future__ import annotations

import ssl
import subprocess
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import orjson
import pytest
from cryptography import x509

from kubeops.policy.loader import PolicySet
from kubeops.policy.webhook import WEBHOOK_NAME
from kubeops.testenv import Cluster, ensure_assets, eventually
from kubeops.testenv.ports import free_port

from .harness import (
    HELD,
    RELEASE,
    LabelPolicy,
    Records,
    Running,
    capture,
    configmap,
    create,
    held,
    options,
    policies,
    refused,
    rego,
)

CONFIGURATIONS = "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations"


@pytest.fixture(scope="module")
def namespace(kube_cluster: Cluster) -> Iterator[str]:
    """This module's namespace: the only one the webhooks here are sent."""
    name = f"policy-webhook-{uuid.uuid4().hex[:6]}"
    kube_cluster.admin.create(
        "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
    )
    yield name
    kube_cluster.admin.delete(f"/api/v1/namespaces/{name}")


@pytest.fixture(scope="module")
def records() -> Iterator[Records]:
    """The webhook's JSON log records."""
    yield from capture()


@pytest.fixture(scope="module")
def webhook(
    kube_cluster: Cluster,
    namespace: str,
    records: Records,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Running]:
    """The module's webhook, fail-closed, its certificate renewed every 3 s; besides the
    Python test policies, a conftest Rego policy loaded here and run in its workers."""
    settings = options(namespace, free_port(), cert_validity=4.5, ca_validity=3600)
    policy_set = policies(*rego(tmp_path_factory.mktemp("rego")))
    running = Running(kube_cluster, settings, policy_set)
    path = f"{CONFIGURATIONS}/{settings.configuration}"
    try:
        yield running.start()
        running.stop()
        assert not kube_cluster.admin.exists(path), "--unregister-on-exit left it behind"
    finally:
        RELEASE.set()
        kube_cluster.admin.delete(path)


def kubectl(
    cluster: Cluster, namespace: str, obj: dict[str, Any]
) -> subprocess.CompletedProcess[str]:
    """``kubectl create --dry-run=server -f -`` of ``obj``: admission runs, nothing is kept."""
    binary = ensure_assets(["kubectl"]).path("kubectl")
    return subprocess.run(
        [
            str(binary),
            "--kubeconfig",
            str(cluster.kubeconfig),
            "-n",
            namespace,
            "create",
            "--dry-run=server",
            "-f",
            "-",
        ],
        input=orjson.dumps(obj).decode(),
        check=False,
        capture_output=True,
        text=True,
        timeout=30,
    )


def metric(running: Running, name: str, **labels: str) -> float:
    """A sample of the webhook's registry (0 when absent)."""
    assert running.daemon is not None
    value = running.daemon.metrics.registry.get_sample_value(name, labels or None)
    return value or 0.0


def test_denied_warned_and_audited_as_the_client_sees_them(
    kube_cluster: Cluster, namespace: str, webhook: Running, records: Records
) -> None:
    denied = kubectl(kube_cluster, namespace, configmap("denied", {"deny": "x"}))
    assert denied.returncode == 1
    assert (
        f'admission webhook "{WEBHOOK_NAME}" denied the request: '
        "[no-deny-label] label deny is not allowed here"
    ) in denied.stderr

    by_rego = kubectl(kube_cluster, namespace, {**configmap("by-rego"), "data": {"rego": "no"}})
    assert by_rego.returncode == 1
    assert "denied the request: [main] ConfigMap by-rego: rego says no" in by_rego.stderr

    warned = kubectl(kube_cluster, namespace, configmap("warned", {"warn": "x"}))
    assert warned.returncode == 0, warned.stderr
    assert "Warning: [warn-label] label warn is not allowed here" in warned.stderr

    audited = kubectl(kube_cluster, namespace, configmap("audited", {"audit": "x"}))
    assert audited.returncode == 0, audited.stderr
    assert "Warning" not in audited.stderr
    (audit,) = [r for r in records.named("audit") if "audited" in r["subject"]]
    assert audit["policy"] == "audit-label"
    assert audit["violation"] == "label audit is not allowed here"
    assert (
        metric(
            webhook,
            "kubeops_policy_webhook_policy_decisions_total",
            policy="audit-label",
            decision="audit",
        )
        >= 1
    )
    assert metric(webhook, "kubeops_policy_webhook_reviews_total", decision="denied") >= 1

    # The response itself, asked over the webhook's TLS with the registered caBundle.
    daemon = webhook.daemon
    assert daemon is not None
    context = ssl.create_default_context(cadata=daemon.ca_bundle.decode())
    review = {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "u-audit",
            "kind": {"group": "", "version": "v1", "kind": "ConfigMap"},
            "resource": {"group": "", "version": "v1", "resource": "configmaps"},
            "namespace": namespace,
            "name": "direct",
            "operation": "CREATE",
            "userInfo": {"username": "tester"},
            "object": {
                **configmap("direct", {"audit": "x"}),
                "metadata": {"name": "direct", "namespace": namespace, "labels": {"audit": "x"}},
            },
        },
    }
    base = f"https://127.0.0.1:{daemon.port.port}"
    with httpx.Client(verify=context, timeout=10) as http:
        answer = http.post(f"{base}/validate", json=review).json()["response"]
        assert answer == {
            "uid": "u-audit",
            "allowed": True,
            "auditAnnotations": {"audit-label": "label audit is not allowed here"},
        }
        assert http.post(f"{base}/validate", json={"kind": "Pod"}).status_code == 400
        scraped = http.get(f"{base}/metrics").text
        assert "kubeops_policy_webhook_review_duration_seconds_bucket" in scraped
        assert http.get(f"{base}/readyz").status_code == 200


def test_policies_ask_the_cluster_through_caches_and_subject_access_reviews(
    kube_cluster: Cluster, namespace: str, webhook: Running
) -> None:
    answer = create(kube_cluster, namespace, configmap("owned", {"owner-check": "x"}))
    assert refused(answer)
    assert f"namespace {namespace} has no owner label" in answer["message"]
    kube_cluster.admin.patch(
        f"/api/v1/namespaces/{namespace}", {"metadata": {"labels": {"owner": "team-a"}}}
    )
    eventually(
        lambda: (
            not refused(create(kube_cluster, namespace, configmap("owned", {"owner-check": "x"})))
        ),
        timeout=10,
        message="the Namespace's new label to reach the webhook's cache",
    )
    # A kind no informer watched yet: its cache starts on the first lookup (from a worker).
    assert not refused(create(kube_cluster, namespace, configmap("p", {"settings": "x"})))
    settings = {**configmap("settings"), "data": {"block": "yes"}}
    create(kube_cluster, namespace, settings, dry_run=False)
    eventually(
        lambda: refused(create(kube_cluster, namespace, configmap("p", {"settings": "x"}))),
        timeout=10,
        message="the settings ConfigMap to reach the webhook's cache",
    )
    asked = kubectl(kube_cluster, namespace, configmap("asked", {"authz": "x"}))
    assert asked.returncode == 0, asked.stderr
    assert "may delete configmaps: allowed" in asked.stderr  # the admin's SubjectAccessReview


def test_a_slow_policy_never_makes_the_api_server_wait_past_the_deadline(
    kube_cluster: Cluster, namespace: str, webhook: Running
) -> None:
    deadline = webhook.options.deadline  # 2.4 s of timeoutSeconds 3

    def timed(labels: dict[str, str]) -> tuple[Any, float]:
        started = time.monotonic()
        answer = create(kube_cluster, namespace, configmap("slow", labels))
        return answer, time.monotonic() - started

    # Two policies of 60 s each, one Ignore and one Fail, twice at once: every answer in time.
    daemon = webhook.daemon
    assert daemon is not None
    with ThreadPoolExecutor(4) as pool:
        asked = [{"slow": "60"}, {"slow": "60"}, {"slow-fail": "60"}, {"slow-fail": "60"}]
        answers = pool.map(timed, asked)
        eventually(lambda: daemon.reviewer.in_flight == 4, message="four slow reviews")
        # Meanwhile, what they do not match is decided as usual.
        passed, took = timed({})
        assert not refused(passed)
        assert took < 1.0
        (ignored, _), (_, _), (failed, took), (_, _) = answers
    assert not refused(ignored), ignored  # failurePolicy Ignore: abandoned, allowed
    assert refused(failed)
    assert (
        "policy slow-fail could not be evaluated: did not decide within 2.4s" in (failed["message"])
    )
    assert deadline - 0.1 < took < deadline + 0.5, took

    # The pool's room for abandoned runs (its 4 workers) is full: the policy is judged at
    # once, not given another thread.
    again, took = timed({"slow-fail": "60"})
    assert refused(again)
    assert "still deciding an earlier request" in again["message"]
    assert took < 1.0
    assert (
        metric(
            webhook,
            "kubeops_policy_webhook_policy_errors_total",
            policy="slow-fail",
            cause="timeout",
        )
        == 2
    )
    RELEASE.set()  # the abandoned runs end; their threads are free again
    eventually(lambda: daemon.reviewer.abandoned == 0, message="the abandoned runs to end")


def test_certificate_renewal_under_a_request_loop_refuses_nothing(
    kube_cluster: Cluster, namespace: str, webhook: Running
) -> None:
    daemon = webhook.daemon
    assert daemon is not None

    def served() -> int:
        pem = ssl.get_server_certificate(("127.0.0.1", daemon.port.port))
        return x509.load_pem_x509_certificate(pem.encode()).serial_number

    first = served()
    renewals = metric(webhook, "kubeops_policy_webhook_certificate_renewals_total")
    answers: list[Any] = []

    def renewed_twice() -> bool:
        answers.append(create(kube_cluster, namespace, configmap("looped")))
        return metric(webhook, "kubeops_policy_webhook_certificate_renewals_total") >= renewals + 2

    eventually(renewed_twice, timeout=20, interval=0.02, message="two certificate renewals")
    assert served() != first
    assert len(answers) > 20
    assert [a for a in answers if refused(a)] == []
    assert (
        metric(webhook, "kubeops_policy_webhook_certificate_expiry_timestamp_seconds") > time.time()
    )


def stop_while_deciding(cluster: Cluster, namespace: str, running: Running) -> Any:
    """Stop ``running`` (as SIGTERM does) while it decides a request; that request's answer."""
    daemon = running.daemon
    assert daemon is not None
    with ThreadPoolExecutor(2) as pool:
        HELD.clear()
        pending = pool.submit(create, cluster, namespace, configmap("d", {"drain": "x"}))
        eventually(lambda: daemon.reviewer.in_flight == 1, message="a review in flight")
        stopping = pool.submit(running.stop)
        eventually(lambda: daemon.draining, message="the stop to begin")
        assert daemon.ready() == (False, "draining")
        HELD.set()
        answer = pending.result(timeout=10)
        stopping.result(timeout=20)
    return answer


def test_stopping_drains_reviews_in_flight_then_fails_closed_or_open(
    kube_cluster: Cluster, namespace: str, webhook: Running
) -> None:
    few = PolicySet((LabelPolicy("drain", "drain", check=held),))
    port = free_port()
    name = f"kubeops-policy-stopped-{namespace}"
    path = f"{CONFIGURATIONS}/{name}"
    try:
        for fail_closed in (True, False):
            settings = options(
                namespace,
                port,
                configuration=name,
                fail_closed=fail_closed,
                unregister_on_exit=False,
            )
            running = Running(kube_cluster, settings, few).start()
            hook = kube_cluster.admin.get(path)["webhooks"][0]
            assert hook["failurePolicy"] == ("Fail" if fail_closed else "Ignore")
            assert not refused(create(kube_cluster, namespace, configmap("up")))
            drained = stop_while_deciding(kube_cluster, namespace, running)
            # Answered by the webhook, after the stop began: its verdict, not a failure.
            assert refused(drained)
            assert "[drain] decided after the stop began" in drained["message"]
            answer = create(kube_cluster, namespace, configmap("down"))
            if fail_closed:
                assert refused(answer)
                assert f'failed calling webhook "{WEBHOOK_NAME}"' in answer["message"]
            else:  # the API server may still hold the configuration's Fail for a moment
                eventually(
                    lambda: not refused(create(kube_cluster, namespace, configmap("down"))),
                    message="failurePolicy Ignore to let the request through",
                )
    finally:
        HELD.set()
        kube_cluster.admin.delete(path)
