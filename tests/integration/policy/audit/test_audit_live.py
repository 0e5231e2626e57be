"""``policy audit`` against live objects in the test's namespace: what is listed, how
each object is judged with its namespace as context, and the daemon's metrics."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import aiohttp

from kubeops.api import Client
from kubeops.controller.serving import SecurePort, ServingOptions
from kubeops.policy.audit import AuditDaemon, AuditOptions, ServeOptions, audit
from kubeops.policy.loader import PolicySet
from kubeops.policy.model import Action, Context, FailurePolicy, Review, Source, Violation
from kubeops.testenv import async_eventually


@dataclass
class TeamLabel:
    """ConfigMaps named ``cm-*`` need a ``team`` label, unless their namespace says
    ``audit-exempt``: a policy in plain Python (the engines have tests of their own)."""

    name: str = "team-label"
    engine: str = "builtin"
    failure_policy: FailurePolicy = FailurePolicy.FAIL
    source: Source = field(default_factory=lambda: Source("team.yaml", 1))
    seen: list[Review] = field(default_factory=list)

    def audit_kinds(self) -> list[tuple[str, str]]:
        return [("", "ConfigMap")]

    def evaluate(self, review: Review, context: Context) -> list[Violation]:
        self.seen.append(review)
        obj = review.subject
        meta = obj.get("metadata") or {}
        if review.kind.kind != "ConfigMap" or not str(meta.get("name")).startswith("cm-"):
            return []
        namespace = context.namespace(review.namespace) or {}
        if "audit-exempt" in ((namespace.get("metadata") or {}).get("labels") or {}):
            return []
        if "team" in (meta.get("labels") or {}):
            return []
        actions = {Action.WARN} if meta.get("name") == "cm-warned" else {Action.DENY}
        return [Violation(self.name, f"{meta.get('name')} has no team label", frozenset(actions))]


async def _configmap(client: Client, namespace: str, name: str, **labels: str) -> None:
    await client.create(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "data": {"k": "v"},
        }
    )


async def test_audit_judges_live_objects_and_serves_the_metrics(
    client: Client, kube_namespace: str
) -> None:
    for name, labels in (("cm-bad", {}), ("cm-good", {"team": "a"}), ("cm-warned", {})):
        await _configmap(client, kube_namespace, name, **labels)
    await client.create(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "cm-secret", "namespace": kube_namespace},
            "stringData": {"k": "v"},
        }
    )
    policy = TeamLabel()
    options = AuditOptions(PolicySet((policy,)), cluster="test", namespaces=(kube_namespace,))
    done = await audit(client, options)
    assert sorted((v.policy, r.name, v.denies) for v, r in done.results.violations) == [
        ("team-label", "cm-bad", True),
        ("team-label", "cm-warned", False),
    ]
    judged = {(r.kind.kind, r.namespace) for r in policy.seen}
    # Only the policy's kind, only in the namespace asked; the Namespace was context.
    assert judged == {("ConfigMap", kube_namespace)}
    assert all(r.operation == "UPDATE" and r.old_object is r.object for r in policy.seen)
    assert done.unreadable == {}
    document = done.document()
    assert document["policy"]["deniedObjects"] == 1
    assert {f["object"]["name"] for f in document["findings"]} == {"cm-bad", "cm-warned"}

    # The namespace's labels are the policy's context: exempt, nothing is found.
    await client.patch(
        "v1/Namespace", kube_namespace, {"metadata": {"labels": {"audit-exempt": "yes"}}}
    )
    exempt = await audit(client, options)
    assert exempt.results.violations == []
    assert len(exempt.results.verdicts) >= 3
    await client.patch(
        "v1/Namespace", kube_namespace, {"metadata": {"labels": {"audit-exempt": None}}}
    )

    # On an interval: /metrics has a series per policy and action; /report the document.
    port = SecurePort(ServingOptions(host="127.0.0.1", port=0))
    daemon = AuditDaemon(ServeOptions(audit=options, interval=0.2), client, port)
    stop = asyncio.Event()
    running = asyncio.create_task(daemon.run(stop))
    try:
        async with aiohttp.ClientSession() as http:

            async def get(path: str) -> tuple[int, str]:
                async with http.get(f"http://127.0.0.1:{port.port}{path}") as response:
                    return response.status, await response.text()

            async def scraped() -> str:
                status, text = await get("/metrics")
                assert status == 200
                line = (
                    'kubeops_policy_audit_violations{action="Deny",engine="builtin",'
                    'policy="team-label"} 1.0'
                )
                assert line in text
                assert daemon.runs >= 2  # audited again on the interval
                return text

            text = await async_eventually(scraped, timeout=20, message="two audits scraped")
            assert (
                'kubeops_policy_audit_violations{action="Warn",engine="builtin",'
                'policy="team-label"} 1.0' in text
            )
            assert "kubeops_policy_audit_last_run_timestamp_seconds" in text
            assert (await get("/readyz"))[0] == 200
            status, body = await get("/report")
            assert status == 200
            assert '"cm-bad"' in body
    finally:
        stop.set()
        await asyncio.wait_for(running, 10)
    assert running.exception() is None
