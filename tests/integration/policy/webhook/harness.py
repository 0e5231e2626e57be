"""A webhook daemon on a thread of its own (its own event loop), test policies written
in Python, and what a test needs to send requests through the API server.

The daemon is the real one (:class:`~kubeops.policy.webhook.WebhookDaemon`: TLS,
``/validate``, registration); only the policies are test doubles, so a test can
make one slow on purpose.  The tests stay synchronous: the API server calls the
webhook while the test blocks on its own request.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from kubeops.controller.serving import ServingOptions
from kubeops.policy.loader import PolicySet, load_policies
from kubeops.policy.model import Action, FailurePolicy, Review, Source, Violation
from kubeops.policy.webhook import WebhookDaemon, WebhookOptions
from kubeops.testenv import Cluster, eventually

CONFIGMAPS = {
    "apiGroups": [""],
    "apiVersions": ["v1"],
    "resources": ["configmaps"],
    "operations": ["CREATE", "UPDATE"],
    "scope": "Namespaced",
}
RELEASE = threading.Event()
"""Set at teardown: every slow policy still waiting returns at once."""
HELD = threading.Event()
"""What the ``drain`` policy waits for before it decides."""


class LabelPolicy:
    """Finds a violation on a ConfigMap carrying ``label``; ``check`` may look further
    (through the context) and returns the message, or None for no violation."""

    engine = "builtin"
    source = Source("harness.py", 1)

    def __init__(
        self,
        name: str,
        label: str,
        actions: frozenset[Action] = frozenset({Action.DENY}),
        *,
        failure_policy: FailurePolicy = FailurePolicy.FAIL,
        check: Callable[[Review, Any, str], str | None] | None = None,
    ) -> None:
        self.name = name
        self.label = label
        self.actions = actions
        self.failure_policy = failure_policy
        self.check = check

    def admission_rules(self) -> list[dict[str, Any]]:
        """ConfigMaps only: the tests' configuration intercepts nothing else."""
        return [CONFIGMAPS]

    def evaluate(self, review: Review, context: Any) -> list[Violation]:
        """A violation when the object has the label (and ``check`` says so)."""
        labels = (review.subject.get("metadata") or {}).get("labels") or {}
        if self.label not in labels:
            return []
        message: str | None = f"label {self.label} is not allowed here"
        if self.check is not None:
            message = self.check(review, context, labels[self.label])
        if message is None:
            return []
        return [Violation(self.name, message, actions=self.actions)]


def slow(review: Review, context: Any, seconds: str) -> str | None:
    """Takes ``seconds`` (or until teardown): far longer than any deadline."""
    RELEASE.wait(float(seconds))
    return "finally decided"


def held(review: Review, context: Any, value: str) -> str | None:
    """Decides only once the test sets :data:`HELD` (within 10 s)."""
    HELD.wait(10)
    return "decided after the stop began"


def needs_owner(review: Review, context: Any, value: str) -> str | None:
    """Denies unless the request's Namespace (from the cluster's cache) has an owner label."""
    namespace = context.namespace(review.namespace) or {}
    labels = (namespace.get("metadata") or {}).get("labels") or {}
    return None if "owner" in labels else f"namespace {review.namespace} has no owner label"


def blocked_by_settings(review: Review, context: Any, value: str) -> str | None:
    """Denies while the namespace has a ConfigMap ``settings`` with ``block: "yes"`` (a
    kind no informer watches until this first lookup)."""
    for obj in context.objects("v1", "ConfigMap", review.namespace):
        if obj["metadata"]["name"] == "settings" and (obj.get("data") or {}).get("block") == "yes":
            return "blocked by the settings ConfigMap"
    return None


def may_delete(review: Review, context: Any, value: str) -> str | None:
    """Warns with what the authorizer says about the requester deleting ConfigMaps."""
    user = str(review.user_info.get("username") or "")
    answer = context.authorize(
        {
            "user": user,
            "groups": list(review.user_info.get("groups") or []),
            "resourceAttributes": {
                "verb": "delete",
                "resource": "configmaps",
                "namespace": review.namespace,
            },
        }
    )
    return f"{user} may delete configmaps: {answer[0] if answer else 'unknown'}"


REGO = """\
package main
import rego.v1

deny contains msg if {
	input.kind == "ConfigMap"
	input.data.rego == "no"
	msg := sprintf("ConfigMap %s: rego says no", [input.metadata.name])
}
"""


class ConfigMapsOnly:
    """A loaded policy of a real engine, registered for ConfigMaps only (a conftest
    policy may match any kind, which the shared cluster's webhook must not ask for)."""

    def __init__(self, policy: Any) -> None:
        self.policy = policy
        self.name, self.engine = policy.name, policy.engine
        self.source, self.failure_policy = policy.source, policy.failure_policy

    def admission_rules(self) -> list[dict[str, Any]]:
        """ConfigMaps only."""
        return [CONFIGMAPS]

    def evaluate(self, review: Review, context: Any) -> list[Violation]:
        """The engine's own verdict."""
        found: list[Violation] = self.policy.evaluate(review, context)
        return found


def rego(directory: Path) -> list[ConfigMapsOnly]:
    """The conftest policy :data:`REGO`, loaded by the Rego engine (on this thread)."""
    (directory / "configmaps.rego").write_text(REGO)
    return [
        ConfigMapsOnly(p) for p in load_policies([directory], builtins_by_default=False).policies
    ]


def policies(*more: Any) -> PolicySet:
    """The tests' policy set (and ``more``)."""
    warn, audit = frozenset({Action.WARN}), frozenset({Action.AUDIT})
    return PolicySet(
        (
            *more,
            LabelPolicy("no-deny-label", "deny"),
            LabelPolicy("warn-label", "warn", warn),
            LabelPolicy("audit-label", "audit", audit),
            LabelPolicy("owner-check", "owner-check", check=needs_owner),
            LabelPolicy("authz", "authz", warn, check=may_delete),
            LabelPolicy("settings", "settings", check=blocked_by_settings),
            LabelPolicy("slow-ignore", "slow", failure_policy=FailurePolicy.IGNORE, check=slow),
            LabelPolicy("slow-fail", "slow-fail", check=slow),
        )
    )


class Records(logging.Handler):
    """Keeps the webhook's log lines that are JSON records (audits, denials)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        """Keep the record's fields (those of a record logged with fields)."""
        from kubeops.controller.serving.logs import FIELDS, record_entry

        if getattr(record, FIELDS, None):
            self.records.append(record_entry(record))

    def named(self, msg: str) -> list[dict[str, Any]]:
        """The records whose ``message`` is ``msg``."""
        return [r for r in self.records if r.get("message") == msg]


def options(selected: str, port: int, **changes: Any) -> WebhookOptions:
    """Options registering a configuration sent only ``selected``'s requests (a name of
    its own)."""
    base = WebhookOptions(
        policy_paths=("harness.py",),
        serving=ServingOptions(host="127.0.0.1", port=port),
        timeout_seconds=3,
        register=True,
        unregister_on_exit=True,
        configuration=f"kubeops-policy-test-{selected}",
        url=f"https://127.0.0.1:{port}/validate",
        namespace="kubeops-system",
        namespace_selector={"matchLabels": {"kubernetes.io/metadata.name": selected}},
    )
    return replace(base, **changes)


class Running:
    """A :class:`WebhookDaemon` serving from a thread with its own loop."""

    def __init__(self, cluster: Cluster, options: WebhookOptions, policy_set: PolicySet) -> None:
        self.cluster = cluster
        self.options = options
        self.policy_set = policy_set
        self.loop = asyncio.new_event_loop()
        self.daemon: WebhookDaemon | None = None
        self.failure: BaseException | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._main, name="webhook", daemon=True)

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._serve())
        except BaseException as err:  # reported by start()/stop()
            self.failure = err
        finally:
            # Connections dropped unclosed are finalised while their loop can still run
            # their last callbacks (not at a later collection, after it closed).
            gc.collect()
            self.loop.run_until_complete(asyncio.sleep(0))
            self.loop.close()

    async def _serve(self) -> None:
        from kubeops.api import Client
        from kubeops.config import load_config

        self._stop = asyncio.Event()
        async with Client(load_config(str(self.cluster.kubeconfig))) as client:
            self.daemon = WebhookDaemon(self.options, client, self.policy_set)
            await self.daemon.run(self._stop)

    def start(self, *, registers: bool = True) -> Running:
        """Start serving; return once ready and, when it ``registers`` (a standby does
        not), registered and called by the API server."""
        self._thread.start()

        def up() -> bool:
            assert self.failure is None, f"the webhook failed: {self.failure!r}"
            daemon = self.daemon
            return bool(
                daemon is not None
                and daemon.ready()[0]
                and (daemon.registered or not (self.options.register and registers))
            )

        eventually(up, timeout=30, message="the webhook to be ready and registered")
        if self.options.register and registers:
            eventually(self._called, message="the API server to call the webhook")
        return self

    def _called(self) -> bool:
        """Whether a request in the namespace now reaches the webhook."""
        assert self.daemon is not None
        registry = self.daemon.metrics.registry

        def reviews() -> float:
            return (
                registry.get_sample_value(
                    "kubeops_policy_webhook_reviews_total", {"decision": "allowed"}
                )
                or 0.0
            )

        before = reviews()
        labels = self.options.namespace_selector.get("matchLabels")
        assert isinstance(labels, dict)
        namespace = str(labels["kubernetes.io/metadata.name"])
        create(self.cluster, namespace, configmap("probe"))
        return reviews() > before

    def stop(self) -> None:
        """SIGTERM's path: drain, unregister when asked, close."""
        if self._stop is not None and self._thread.is_alive():
            self.loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=20)
        assert not self._thread.is_alive(), "the webhook did not stop within 20s"
        if self.failure is not None:
            raise self.failure


def configmap(name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    """A ConfigMap manifest."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "labels": labels or {}},
        "data": {"k": "v"},
    }


def create(cluster: Cluster, namespace: str, obj: dict[str, Any], dry_run: bool = True) -> Any:
    """Create ``obj`` as admin (a dry run by default: admission runs, nothing is stored);
    a refusal returns its Status instead of raising."""
    path = f"/api/v1/namespaces/{namespace}/configmaps" + ("?dryRun=All" if dry_run else "")
    return cluster.admin.request("POST", path, obj, ok=(400, 403, 422, 500, 503))


def refused(answer: Any) -> bool:
    """Whether a create's answer is a refusal (a Status)."""
    return isinstance(answer, dict) and answer.get("kind") == "Status"


def capture() -> Iterator[Records]:
    """The webhook's JSON records while the generator is open."""
    records = Records()
    logger = logging.getLogger("kubeops.policy.webhook")
    level = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(records)
    try:
        yield records
    finally:
        logger.removeHandler(records)
        logger.setLevel(level)
