"""The webhook's pure parts: certificates and their renewal, the AdmissionReview answer,
the registered configuration, and a review's deadline (on a static context)."""

from __future__ import annotations

import datetime
import re
import ssl
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from kubeops.policy.context import StaticContext
from kubeops.policy.model import (
    Action,
    FailurePolicy,
    PolicyEvaluationError,
    Review,
    Source,
    Violation,
)
from kubeops.policy.webhook import (
    WEBHOOK_NAME,
    GeneratedTLS,
    InvalidReview,
    Registration,
    Reviewer,
    ServiceRef,
    admission_rules,
    certs,
    request_of,
)
from kubeops.policy.webhook.answer import Found, annotation_key, verdict_response
from kubeops.policy.webhook.certs import CertificateAuthority, SharedCA
from kubeops.policy.webhook.reviewer import INLINE_MAX_BYTES, INLINE_SLOW
from kubeops.policy.webhook.shared_ca import advanced


class Rule:
    """A test policy: ``check(review)`` gives its violations; it may wait on ``gate``."""

    engine = "builtin"
    source = Source("test.py", 1)

    def __init__(
        self,
        name: str,
        actions: frozenset[Action] = frozenset({Action.DENY}),
        *,
        failure_policy: FailurePolicy = FailurePolicy.FAIL,
        hold: threading.Event | None = None,
        error: Exception | None = None,
    ) -> None:
        self.name = name
        self.actions = actions
        self.failure_policy = failure_policy
        self.hold = hold
        self.error = error
        self.calls = 0

    def evaluate(self, review: Review, context: Any) -> list[Violation]:
        self.calls += 1
        if self.hold is not None:
            self.hold.wait(10)
        if self.error is not None:
            raise self.error
        return [Violation(self.name, f"{self.name} says no", actions=self.actions)]


def admission(uid: str = "u-1") -> dict[str, Any]:
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "n"}}
    return {
        "uid": uid,
        "kind": {"group": "", "version": "v1", "kind": "ConfigMap"},
        "resource": {"group": "", "version": "v1", "resource": "configmaps"},
        "name": "c",
        "namespace": "n",
        "operation": "CREATE",
        "userInfo": {"username": "alice"},
        "object": obj,
    }


# -- certificates ---------------------------------------------------------------------------


def _cert(path: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(Path(path).read_bytes())


def test_generated_pair_is_valid_for_its_hosts_and_renews_from_the_same_ca(tmp_path: Path) -> None:
    tls = GeneratedTLS(
        tmp_path, ["127.0.0.1", "localhost", "hook.ns.svc"], validity=3600, ca_validity=86400
    )
    first = _cert(tls.cert_file)
    names = first.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {str(ip) for ip in names.get_values_for_type(x509.IPAddress)} == {"127.0.0.1"}
    assert set(names.get_values_for_type(x509.DNSName)) == {"localhost", "hook.ns.svc"}
    assert 2350 < tls.renew_in() <= 2400  # 2/3 of the lifetime
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tls.cert_file, tls.key_file)  # the pair matches
    bundle = tls.ca_bundle
    assert tls.renew() is False
    second = _cert(tls.cert_file)
    assert second.serial_number != first.serial_number
    assert tls.ca_bundle == bundle
    second.verify_directly_issued_by(x509.load_pem_x509_certificate(bundle))
    assert oct((tmp_path / "tls.key").stat().st_mode & 0o777) == "0o600"
    # A restart with the same directory keeps the CA (the registered caBundle stays valid).
    again = GeneratedTLS(tmp_path, ["127.0.0.1"], validity=3600, ca_validity=86400)
    assert again.ca_bundle == bundle


def test_a_ca_near_its_end_is_published_beside_the_old_one_before_it_signs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tls = GeneratedTLS(tmp_path, ["127.0.0.1"], validity=100, ca_validity=300)
    old_ca = x509.load_pem_x509_certificate(tls.ca_bundle)
    later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=150)
    monkeypatch.setattr(certs, "_now", lambda: later)  # the CA has < 2 lifetimes left
    assert tls.renew() is True  # a successor is published...
    assert len(x509.load_pem_x509_certificates(tls.ca_bundle)) == 2
    _cert(tls.cert_file).verify_directly_issued_by(old_ca)  # ...but the old CA still signs
    tls.renew()
    new_ca = x509.load_pem_x509_certificates(tls.ca_bundle)[-1]
    _cert(tls.cert_file).verify_directly_issued_by(new_ca)


# -- the answer -----------------------------------------------------------------------------


def test_request_of_refuses_what_is_not_an_admission_review() -> None:
    with pytest.raises(InvalidReview, match="AdmissionReview"):
        request_of({"apiVersion": "v1", "kind": "Pod"})
    with pytest.raises(InvalidReview, match="uid"):
        request_of({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"})
    with pytest.raises(InvalidReview, match="JSON object"):
        request_of([1])


def test_deny_warn_and_audit_become_status_warnings_and_annotations() -> None:
    found = [
        Found("rego", Violation("no-latest", "image uses :latest")),
        Found("rego", Violation("owner", "no owner label", actions=frozenset({Action.WARN}))),
        Found(
            "gatekeeper",
            Violation("cost/centre", "no cost centre", actions=frozenset({Action.AUDIT})),
        ),
    ]
    answer = verdict_response("u-9", found)["response"]
    assert answer["uid"] == "u-9"
    assert answer["allowed"] is False
    assert answer["status"]["message"] == "[no-latest] image uses :latest"
    assert answer["status"]["code"] == 403
    assert answer["warnings"] == ["[owner] no owner label"]
    assert answer["auditAnnotations"] == {"cost-centre": "no cost centre"}
    assert annotation_key("--é/x--") == "x"
    assert verdict_response("u", [])["response"] == {"uid": "u", "allowed": True}


# -- the configuration ----------------------------------------------------------------------


def test_configuration_scopes_namespaces_and_maps_the_failure_mode() -> None:
    registration = Registration(
        "kubeops-policy",
        "kubeops-system",
        service=ServiceRef("kubeops-system", "hook", 8443),
        namespace_selector={"matchLabels": {"team": "a"}},
        timeout_seconds=5,
        fail_closed=False,
    )
    rules = [{"apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"]}]
    (hook,) = registration.configuration(b"CA", rules)["webhooks"]
    assert hook["name"] == WEBHOOK_NAME
    assert hook["failurePolicy"] == "Ignore"
    assert hook["timeoutSeconds"] == 5
    assert hook["sideEffects"] == "None"
    assert hook["admissionReviewVersions"] == ["v1"]
    assert hook["clientConfig"]["service"] == {
        "namespace": "kubeops-system",
        "name": "hook",
        "port": 8443,
        "path": "/validate",
    }
    assert hook["clientConfig"]["caBundle"] == "Q0E="
    assert hook["namespaceSelector"] == {
        "matchLabels": {"team": "a"},
        "matchExpressions": [
            {
                "key": "kubernetes.io/metadata.name",
                "operator": "NotIn",
                "values": ["kube-node-lease", "kube-system", "kubeops-system"],
            }
        ],
    }


def test_rules_are_the_union_of_the_policies_or_every_namespaced_resource() -> None:
    class Declares(Rule):
        def __init__(self, name: str, resources: list[str]) -> None:
            super().__init__(name)
            self.resources = resources

        def admission_rules(self) -> list[dict[str, Any]]:
            return [{"apiGroups": [""], "resources": self.resources}]

    assert admission_rules([Declares("a", ["pods"]), Declares("b", ["pods"])]) == [
        {"apiGroups": [""], "resources": ["pods"]}
    ]
    (rule,) = admission_rules([Declares("a", ["pods"]), Rule("c")])
    assert rule["resources"] == ["*"]
    assert rule["scope"] == "Namespaced"


# -- the deadline ---------------------------------------------------------------------------


async def test_a_slow_policy_is_abandoned_at_the_deadline_and_judged_by_its_failure_policy() -> (
    None
):
    gate = threading.Event()
    slow_fail = Rule("slow-fail", hold=gate)
    slow_ignore = Rule("slow-ignore", hold=gate, failure_policy=FailurePolicy.IGNORE)
    warns = Rule("warns", frozenset({Action.WARN}))
    reviewer = Reviewer([slow_fail, slow_ignore, warns], StaticContext(), deadline=0.3, workers=3)
    try:
        started = time.monotonic()
        answer = (await reviewer.review(admission()))["response"]
        took = time.monotonic() - started
        assert took < 1.5  # answered at its 0.3 s deadline, not when the policy ends
        assert answer["allowed"] is False
        assert (
            "policy slow-fail could not be evaluated: did not decide within 0.3s"
            in (answer["status"]["message"])
        )
        assert "[warns] warns says no" in answer["warnings"]
        assert any("slow-ignore did not decide" in w for w in answer["warnings"])
        # Room for a third run past its deadline; then the room is full.
        again = (await reviewer.review(admission("u-2")))["response"]
        assert "did not decide within 0.3s" in again["status"]["message"]
        started = time.monotonic()
        third = (await reviewer.review(admission("u-3")))["response"]
        assert time.monotonic() - started < 0.2
        assert "still deciding an earlier request" in third["status"]["message"]
        assert slow_fail.calls == 2
    finally:
        gate.set()
        reviewer.close()


class CountingContext(StaticContext):
    """A static context that counts its Namespace lookups."""

    def __init__(self) -> None:
        super().__init__([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "n"}}])
        self.asked = 0

    def namespace(self, name: str) -> Any:
        self.asked += 1
        return super().namespace(name)


class NamespaceRule(Rule):
    """Denies when the request's Namespace is known (it asks the context for it)."""

    def evaluate(self, review: Review, context: Any) -> list[Violation]:
        if context.namespace(review.namespace) is None:
            return []
        return [Violation(self.name, f"{review.namespace} is known", actions=self.actions)]


async def test_a_review_looks_its_namespace_up_once_for_all_its_policies() -> None:
    context = CountingContext()
    rules = [NamespaceRule(f"rule-{i}") for i in range(5)]
    reviewer = Reviewer(rules, context, deadline=5.0, workers=2)
    try:
        first = (await reviewer.review(admission()))["response"]
        second = (await reviewer.review(admission("u-2")))["response"]
    finally:
        reviewer.close()
    assert first["allowed"] is False
    assert second["allowed"] is False
    assert first["status"]["message"].count("n is known") == 5
    assert context.asked == 2  # once a review: each review sees the cache as it is then


class InlineRule(Rule):
    """A bounded policy (``inline``) that notes the thread it ran on; ``burn`` CPU
    seconds make it slow."""

    inline = True

    def __init__(self, name: str, *, burn: float = 0.0) -> None:
        super().__init__(name)
        self.burn = burn
        self.threads: list[str] = []

    def evaluate(self, review: Review, context: Any) -> list[Violation]:
        self.threads.append(threading.current_thread().name)
        ends = time.thread_time() + self.burn
        while time.thread_time() < ends:
            pass
        return super().evaluate(review, context)


async def test_bounded_policies_of_a_small_request_are_decided_on_the_loop_in_order() -> None:
    loop_thread = threading.current_thread().name
    first, threaded, last = InlineRule("a-first"), Rule("b-threaded"), InlineRule("c-last")
    reviewer = Reviewer([first, threaded, last], StaticContext(), deadline=5.0)
    try:
        small = (await reviewer.review(admission(), 2_000))["response"]
        large = (await reviewer.review(admission("u-2"), INLINE_MAX_BYTES + 1))["response"]
    finally:
        reviewer.close()
    assert first.threads[0] == last.threads[0] == loop_thread
    assert first.threads[1] != loop_thread
    assert last.threads[1] != loop_thread
    assert threaded.calls == 2
    # Wherever each was decided, the answer lists them in the policies' order.
    for answer in (small, large):
        assert answer["status"]["message"] == (
            "[a-first] a-first says no\n[b-threaded] b-threaded says no\n[c-last] c-last says no"
        )


async def test_a_bounded_policy_slow_on_the_loop_moves_to_the_threads() -> None:
    loop_thread = threading.current_thread().name
    slow, quick = InlineRule("slow", burn=3 * INLINE_SLOW), InlineRule("quick")
    reviewer = Reviewer([slow, quick], StaticContext(), deadline=5.0)
    try:
        for uid in ("u-1", "u-2"):
            answer = (await reviewer.review(admission(uid)))["response"]
            assert answer["allowed"] is False
    finally:
        reviewer.close()
    assert slow.threads[0] == loop_thread
    assert slow.threads[1] != loop_thread  # slow lately: a thread of its own
    assert quick.threads == [loop_thread, loop_thread]


async def test_errors_follow_the_failure_policy_and_a_full_webhook_follows_its_mode() -> None:
    broken = Rule("broken", error=PolicyEvaluationError("broken", "no params"))
    crashing = Rule("crashing", error=KeyError("spec"), failure_policy=FailurePolicy.IGNORE)
    reviewer = Reviewer([broken, crashing], StaticContext(), deadline=1.0)
    try:
        answer = (await reviewer.review(admission()))["response"]
        assert answer["status"]["message"] == (
            "[broken] policy broken could not be evaluated: no params"
        )
    finally:
        reviewer.close()
    for mode, allowed in ((FailurePolicy.FAIL, False), (FailurePolicy.IGNORE, True)):
        full = Reviewer(
            [Rule("never-reached")], StaticContext(), deadline=0.2, failure_policy=mode,
            max_in_flight=1,
        )  # fmt: skip
        try:
            await full._places.acquire()  # a review that holds the only place throughout
            started = time.monotonic()
            answer = (await full.review(admission("u-2")))["response"]
            assert time.monotonic() - started < 0.5
            assert answer["allowed"] is allowed
            assert "no place in time" in str(answer)
        finally:
            full.close()


def test_service_hosts_and_expiry_are_reported(tmp_path: Path) -> None:
    tls = GeneratedTLS(tmp_path, ["hook.ns.svc"], validity=60, ca_validity=600)
    left = tls.not_after - datetime.datetime.now(datetime.UTC)
    assert 55 < left.total_seconds() <= 60


def test_a_shared_ca_introduces_its_successor_then_promotes_it(tmp_path: Path) -> None:
    ca = CertificateAuthority.generate("shared", 300)
    state = SharedCA(ca.pem, ca.key_pem, version="7")
    assert advanced(state, lifetime=100, ca_validity=3000) is None  # 300 s left > 2 lifetimes
    introduced = advanced(state, lifetime=200, ca_validity=3000)
    assert introduced is not None
    assert introduced.key == ca.key_pem  # still signs with the old key...
    assert len(x509.load_pem_x509_certificates(introduced.bundle)) == 2  # ...both trusted
    assert introduced.version == "7"
    tls = GeneratedTLS(tmp_path, ["127.0.0.1"], validity=100, ca_validity=3000, shared=introduced)
    _cert(tls.cert_file).verify_directly_issued_by(ca.cert)
    promoted = advanced(introduced, lifetime=200, ca_validity=3000)
    assert promoted is not None
    assert promoted.key == introduced.next_key
    assert promoted.next_key == b""
    assert tls.adopt(promoted) is False  # same bundle (the old CA is still valid)
    tls.renew()
    successor = x509.load_pem_x509_certificates(promoted.bundle)[-1]
    _cert(tls.cert_file).verify_directly_issued_by(successor)


# -- the command line -----------------------------------------------------------------------


def _options(*argv: str) -> Any:
    from kubeops.cli.main import build_parser
    from kubeops.cli.policy_webhook import options_from_args

    full = ["policy", "webhook", *argv]
    return options_from_args(build_parser(full).parse_args(full))


def test_flags_become_options() -> None:
    options = _options(
        "a/",
        "--policies",
        "b/",
        "c.yaml",
        "--register",
        "--service",
        "ops/hook:8443",
        "--fail-open",
        "--timeout",
        "5",
        "--namespace-selector",
        "team=a,env notin (dev)",
        "--webhook-namespace",
        "ops",
        "--cert-validity",
        "1h",
        "--leader-elect",
    )
    assert options.policy_paths == ("a/", "b/", "c.yaml")
    assert options.service == ServiceRef("ops", "hook", 8443)
    assert options.fail_closed is False
    assert options.deadline == 4.0
    assert options.cert_validity == 3600
    assert options.lease.namespace == "ops"
    assert options.namespace_selector == {
        "matchLabels": {"team": "a"},
        "matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["dev"]}],
    }
    (hook,) = options.registration().configuration(b"CA", [])["webhooks"]
    assert hook["failurePolicy"] == "Ignore"
    assert hook["clientConfig"]["service"]["namespace"] == "ops"
    assert "hook.ops.svc" in options.certificate_hosts()
    assert _options("p/").fail_closed is True  # fail-closed unless asked


@pytest.mark.parametrize(
    ("argv", "error"),
    [
        (["p/", "--timeout", "31"], "--timeout 31s: between 1s and 30s"),
        (["p/", "--register"], "--register needs --url URL or --service"),
        (["p/", "--url", "http://x/validate"], "expected https://HOST[:PORT]/PATH"),
        (["p/", "--service", "hook"], "expected NAMESPACE/NAME or NAMESPACE/NAME:PORT"),
        (["--no-builtins"], "--no-builtins leaves no policy"),
        (["p/", "--cert-validity", "1h", "--ca-validity", "2h"], "--ca-validity: at least three"),
        (["p/", "--ca-secret", "s", "--cert-dir", "d"], "give --ca-secret or --cert-dir"),
    ],
)
def test_unusable_flags_are_one_line_naming_the_flag(argv: list[str], error: str) -> None:
    from kubeops.policy.webhook import WebhookError

    with pytest.raises(WebhookError, match=re.escape(error)):
        _options(*argv).check()
