"""The ValidatingWebhookConfiguration that sends the API server's requests here.

Its rules cover what the loaded policies can match (each policy may say so with
``admission_rules()``; one that does not makes the webhook ask for every
namespaced resource), its namespaceSelector never includes ``kube-system``,
``kube-node-lease`` (every node's heartbeat) or the webhook's own namespace (a
webhook must not be able to block its own restart or the nodes), and its failurePolicy is the webhook's failure mode: ``Fail`` when
fail-closed, ``Ignore`` when fail-open.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from kubeops.api import Client, ResourceType
from kubeops.errors import NotFound

WEBHOOK_NAME = "validate.policy.kubeops.io"
"""The webhook's name in its configuration (the API server's messages quote it)."""
FIELD_MANAGER = "kubeops-policy-webhook"
CONFIGURATIONS = ResourceType(
    "admissionregistration.k8s.io",
    "v1",
    "ValidatingWebhookConfiguration",
    "validatingwebhookconfigurations",
    False,
)
NAMESPACE_LABEL = "kubernetes.io/metadata.name"
ALWAYS_EXCLUDED = ("kube-node-lease", "kube-system")
CATCH_ALL: Mapping[str, Any] = {
    "apiGroups": ["*"],
    "apiVersions": ["*"],
    "resources": ["*"],
    "operations": ["CREATE", "UPDATE"],
    "scope": "Namespaced",
}
"""What a webhook asks for when a policy does not say what it matches."""


def admission_rules(policies: Iterable[Any]) -> list[dict[str, Any]]:
    """The union of the policies' ``admission_rules()`` (admissionregistration's
    RuleWithOperations), each once; :data:`CATCH_ALL` when any policy cannot say."""
    rules: dict[bytes, dict[str, Any]] = {}
    for policy in policies:
        declared = getattr(policy, "admission_rules", None)
        if not callable(declared):
            return [dict(CATCH_ALL)]
        for rule in declared():
            rules.setdefault(orjson.dumps(rule, option=orjson.OPT_SORT_KEYS), dict(rule))
    return list(rules.values())


@dataclass(frozen=True)
class ServiceRef:
    """Where the API server reaches an in-cluster webhook: a Service."""

    namespace: str
    name: str
    port: int = 443
    path: str = "/validate"


@dataclass(frozen=True)
class Registration:
    """What the webhook registers: where it is reached, which namespaces it sees,
    how long the API server waits, and what it does when it cannot ask."""

    name: str
    namespace: str
    """The webhook's own namespace: never sent to it."""
    url: str | None = None
    service: ServiceRef | None = None
    namespace_selector: Mapping[str, Any] | None = None
    """More of the namespaceSelector (a LabelSelector), ANDed with the exclusions."""
    timeout_seconds: int = 10
    fail_closed: bool = True

    def configuration(self, ca_bundle: bytes, rules: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """The ValidatingWebhookConfiguration object."""
        client_config: dict[str, Any] = {"caBundle": base64.b64encode(ca_bundle).decode()}
        if self.url:
            client_config["url"] = self.url
        elif self.service is not None:
            client_config["service"] = {
                "namespace": self.service.namespace,
                "name": self.service.name,
                "port": self.service.port,
                "path": self.service.path,
            }
        excluded = sorted({*ALWAYS_EXCLUDED, self.namespace} - {""})
        selector = dict(self.namespace_selector or {})
        expressions = [
            *(selector.get("matchExpressions") or []),
            {"key": NAMESPACE_LABEL, "operator": "NotIn", "values": excluded},
        ]
        namespace_selector: dict[str, Any] = {"matchExpressions": expressions}
        if selector.get("matchLabels"):
            namespace_selector["matchLabels"] = dict(selector["matchLabels"])
        webhook = {
            "name": WEBHOOK_NAME,
            "clientConfig": client_config,
            "rules": [dict(r) for r in rules],
            "namespaceSelector": namespace_selector,
            "failurePolicy": "Fail" if self.fail_closed else "Ignore",
            "sideEffects": "None",
            "admissionReviewVersions": ["v1"],
            "timeoutSeconds": self.timeout_seconds,
            "matchPolicy": "Equivalent",
        }
        return {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingWebhookConfiguration",
            "metadata": {
                "name": self.name,
                "labels": {"app.kubernetes.io/managed-by": FIELD_MANAGER},
            },
            "webhooks": [webhook],
        }


async def register(
    client: Client, registration: Registration, ca_bundle: bytes, rules: Sequence[Mapping[str, Any]]
) -> None:
    """Create or update the configuration (server-side apply, this webhook's fields)."""
    await client.apply(
        registration.configuration(ca_bundle, rules), field_manager=FIELD_MANAGER, force=True
    )


async def unregister(client: Client, name: str) -> bool:
    """Delete the configuration; False when it was already gone."""
    try:
        await client.delete(CONFIGURATIONS, name)
    except NotFound:
        return False
    return True
