"""``kubeops sync run``, ``kubeops sync agent`` and ``kubeops policy webhook`` running
"as in a Pod" from the image, with the chart's ServiceAccounts and RBAC, once for the
whole ``tests/deploy`` package.

Not a test module: ``tests/deploy/conftest.py`` imports the fixtures :func:`sync_run`
and :func:`webhook_run`, so the in-cluster tests and the metrics drift test share one
run of each daemon (package scope: they stop before the rest of the suite runs).

The sync runs on ``deploy_env``'s two clusters.  The hub holds the chart as
``chart_manifests`` applied it; it is its own source (a ``MemberCluster`` named
``hub``), and the other cluster is a member twice over: ``member-push``, which the
controller writes to, and ``member-pull``, whose agent runs beside it with the chart
rendered for it (``syncAgent.member``, the hub kubeconfig Secret, ConfigMaps as the
synced kind).  Each mode has a policy and a namespace of its own.  The member-side
credentials are the clusters' admin ones: what a member grants is ``kubeops sync
rbac``'s business, not the chart's.

The webhook runs on the hub with a ValidatingAdmissionPolicy file as its policies,
sent one namespace only.  The API server of a testenv cluster cannot route to a
Service (nothing backs its ClusterIP), so besides the chart's ``--service`` the pod
gets ``--url=https://127.0.0.1:<port>/validate``: the configuration it registers
points at the pod's host port; everything else is the chart's.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import re
import ssl
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
import yaml

from deploy.chart import ALL_ENABLED, HUB_SECRET, fullname, merged, render
from kubeops.sync import install
from kubeops.sync.members import join_objects
from kubeops.sync.model import SYSTEM_NAMESPACE, work_namespace
from kubeops.testenv import Cluster, Environment, eventually
from kubeops.testenv.errors import ControlPlaneError
from kubeops.testenv.pod import RunningPod, run_pod
from kubeops.testenv.ports import free_port

NAMESPACE = "kubeops-system"
"""The release namespace (``chart_manifests``')."""
RELEASE = "kubeops"
COMPONENT = "app.kubernetes.io/component"
SYNC_API = "/apis/sync.kubeops.io/v1alpha1"
POLICIES = f"{SYNC_API}/clustersyncpolicies"
MEMBERS = f"{SYNC_API}/memberclusters"
SOURCE, PUSH, PULL = "hub", "member-push", "member-pull"
"""The sync's member names: the hub as the source, the other cluster twice."""
CONFIGMAPS = "/api/v1/namespaces/{}/configmaps"
WEBHOOK_CONFIGURATIONS = "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations"
SETUP_TIMEOUT = 60.0

WEBHOOK_POLICIES = """\
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata:
  name: no-forbidden-key
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules:
    - apiGroups: [""]
      apiVersions: ["v1"]
      operations: ["CREATE", "UPDATE"]
      resources: ["configmaps"]
  validations:
  - expression: "!has(object.data) || !('forbidden' in object.data)"
    message: the key forbidden is not allowed
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata:
  name: no-forbidden-key-deny
spec:
  policyName: no-forbidden-key
  validationActions: [Deny]
"""
"""The webhook's one policy: a ConfigMap may not carry the key ``forbidden``."""


# -- small helpers ------------------------------------------------------------------------------


def namespace_object(name: str) -> dict[str, Any]:
    """A Namespace manifest."""
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def configmap(name: str, data: Mapping[str, str]) -> dict[str, Any]:
    """A ConfigMap manifest (the namespace comes from the path it is sent to)."""
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": dict(data)}


def read_configmap(cluster: Cluster, namespace: str, name: str) -> dict[str, Any] | None:
    """The ConfigMap, or None when there is none."""
    found = cluster.admin.request("GET", f"{CONFIGMAPS.format(namespace)}/{name}", ok=(404,))
    return None if found.get("kind") == "Status" else dict(found)


def apply_objects(cluster: Cluster, objects: Sequence[Mapping[str, Any]]) -> None:
    """Server-side apply rendered objects as admin, CRDs and Namespaces first (what
    ``helm template ... | kubeops apply -f -`` does)."""
    from kubeops.api import Client
    from kubeops.api.manifest import Manifest, apply_manifests

    manifests = [Manifest(dict(obj), "helm template", i, 1) for i, obj in enumerate(objects, 1)]

    async def main() -> None:
        async with Client.from_kubeconfig(cluster.kubeconfig) as client:
            await apply_manifests(
                client, manifests, field_manager="kubeops-deploy-test", force=True
            )

    asyncio.run(main())


def component(objects: Sequence[Mapping[str, Any]], daemon: str) -> list[dict[str, Any]]:
    """The rendered objects of one daemon (its ``app.kubernetes.io/component`` label)."""
    return [
        dict(o)
        for o in objects
        if ((o.get("metadata") or {}).get("labels") or {}).get(COMPONENT) == daemon
    ]


def pod_template(objects: Sequence[Mapping[str, Any]], daemon: str) -> dict[str, Any]:
    """The pod template of the daemon's Deployment."""
    name = fullname(daemon, RELEASE)
    for obj in objects:
        if obj.get("kind") == "Deployment" and obj["metadata"]["name"] == name:
            template: dict[str, Any] = obj["spec"]["template"]
            return template
    raise AssertionError(f"the chart rendered no Deployment {name}")


def container_port(template: Mapping[str, Any]) -> int:
    """The one port of the template's ``kubeops`` container."""
    (container,) = [c for c in template["spec"]["containers"] if c["name"] == "kubeops"]
    return int(container["ports"][0]["containerPort"])


def token_kubeconfig(cluster: Cluster, namespace: str, account: str) -> str:
    """A self-contained kubeconfig (CA and token inline) for a ServiceAccount of
    ``cluster``: what an operator puts in a Secret for a daemon on another cluster."""
    from kubeops.testenv import kubeconfig

    token = cluster.admin.create(
        f"/api/v1/namespaces/{namespace}/serviceaccounts/{account}/token",
        {"spec": {"expirationSeconds": 3600}},
    )["status"]["token"]
    config = kubeconfig.kubeconfig(
        cluster.name, cluster.server, cluster.pki.ca.cert_pem, account, {"token": token}, namespace
    )
    return yaml.safe_dump(config)


def stop(pod: RunningPod) -> int:
    """SIGTERM the pod and wait, as the kubelet stops one; its exit code."""
    return asyncio.run(pod.stop(grace=20))


FORBIDDEN = re.compile(r"forbidden|\b403\b", re.IGNORECASE)


def forbidden_lines(log: str, *allowed: str) -> list[str]:
    """The log's lines telling of a refusal (Forbidden, 403), the ``allowed`` phrases
    (a policy's own words) left out."""
    found = []
    for line in log.splitlines():
        text = line
        for phrase in allowed:
            text = text.replace(phrase, "")
        if FORBIDDEN.search(text):
            found.append(line)
    return found


def ignore_gone(action: Any, *args: Any) -> None:
    """Run a clean-up step; a cluster already stopped is no failure of the test."""
    with contextlib.suppress(ControlPlaneError):
        action(*args)


# -- /metrics ----------------------------------------------------------------------------------


SCRAPER = "metrics-scraper"
"""A ServiceAccount bound to the chart's metrics reader ClusterRole, as Prometheus' is."""


def scraper_token(cluster: Cluster) -> str:
    """A token of :data:`SCRAPER` on ``cluster`` (made and bound on first use)."""
    accounts = f"/api/v1/namespaces/{NAMESPACE}/serviceaccounts"
    cluster.admin.create("/api/v1/namespaces", namespace_object(NAMESPACE), exist_ok=True)
    cluster.admin.create(
        accounts,
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": SCRAPER}},
        exist_ok=True,
    )
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": f"{RELEASE}-{SCRAPER}"},
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": f"{RELEASE}-kubeops-metrics-reader",
        },
        "subjects": [{"kind": "ServiceAccount", "name": SCRAPER, "namespace": NAMESPACE}],
    }
    cluster.admin.create(
        "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", binding, exist_ok=True
    )
    token: str = cluster.admin.create(
        f"{accounts}/{SCRAPER}/token", {"spec": {"expirationSeconds": 600}}
    )["status"]["token"]
    return token


def http_get(
    pod: RunningPod, port: int, path: str, *, token: str | None = None, https: bool = False
) -> tuple[int, str]:
    """GET ``path`` on the pod's ``port`` (a daemon's own certificate is not verified):
    status and body; the token, when given, as a bearer token."""
    scheme = "https" if https else "http"
    request = urllib.request.Request(f"{scheme}://127.0.0.1:{pod.port(port)}{path}")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    context = None
    if https:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    try:
        with urllib.request.urlopen(request, timeout=5, context=context) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def api_status(cluster: Cluster, token: str) -> int:
    """The status the cluster's API server answers ``GET /api`` with for ``token``
    (401 once the token is revoked)."""
    import httpx

    response = httpx.get(
        f"{cluster.server}/api", headers={"Authorization": f"Bearer {token}"}, verify=False
    )
    return response.status_code


# -- the sync -----------------------------------------------------------------------------------


@dataclass
class SyncRun:
    """The push controller on the hub and the pull agent on the member, both in pods."""

    hub: Cluster
    member: Cluster
    controller: RunningPod
    agent: RunningPod
    port: int
    """The container port of both (the chart's ``sync.port`` and ``syncAgent.port``)."""
    policies: dict[str, str]
    """The policy syncing to each target (``member-push``, ``member-pull``) by name."""
    namespaces: dict[str, str]
    """The namespace each target's policy syncs, on the hub and on the member."""

    def pods(self) -> dict[str, RunningPod]:
        """Each daemon's pod by its chart name."""
        return {"sync": self.controller, "sync-agent": self.agent}


def _join(hub: Cluster, name: str, kubeconfig: str | None, mode: str) -> None:
    """Register a member on the hub as ``kubeops sync join`` does (Secret + MemberCluster)."""
    for obj in join_objects(name, kubeconfig, mode=mode, source=f"{name}.kubeconfig"):
        if obj["kind"] == "Secret":
            path = f"/api/v1/namespaces/{SYSTEM_NAMESPACE}/secrets"
            hub.admin.delete(f"{path}/{obj['metadata']['name']}")
            hub.admin.create(path, obj)
        else:
            hub.admin.delete(f"{MEMBERS}/{name}")
            hub.admin.create(MEMBERS, obj)


def _policy(name: str, namespace: str, target: str) -> dict[str, Any]:
    """Every ConfigMap of ``namespace`` on the hub, synced to ``target``."""
    return {
        "apiVersion": "sync.kubeops.io/v1alpha1",
        "kind": "ClusterSyncPolicy",
        "metadata": {"name": name},
        "spec": {
            "sourceCluster": SOURCE,
            "targetClusters": [target],
            "resources": [{"apiGroup": "", "kind": "ConfigMap", "namespaces": [namespace]}],
        },
    }


def agent_values(member: str = PULL) -> dict[str, Any]:
    """The chart's values for the agent beside ``member``: ConfigMaps are what it syncs."""
    return merged(
        ALL_ENABLED,
        {
            "syncAgent": {
                "member": member,
                "hub": {"kubeconfigSecret": {"name": HUB_SECRET}},
                "rbac": {"resources": [{"apiGroup": "", "resources": ["configmaps"]}]},
            }
        },
    )


@pytest.fixture(scope="package")
def sync_run(
    deploy_env: Environment, image: Any, chart_manifests: list[dict[str, Any]]
) -> Iterator[SyncRun]:
    """Both sync daemons from the image, each having synced its policy's ConfigMap once."""
    hub, member = deploy_env.cluster("hub"), deploy_env.cluster("member")
    suffix = uuid.uuid4().hex[:6]
    namespaces = {PUSH: f"sync-push-{suffix}", PULL: f"sync-pull-{suffix}"}
    policies = {PUSH: f"incluster-push-{suffix}", PULL: f"incluster-pull-{suffix}"}

    # The hub: its members (itself as the source), the agent's identity there as
    # `kubeops sync install --agent member-pull` makes it, the source ConfigMaps.
    _join(hub, SOURCE, hub.kubeconfig.read_text(), "Push")
    _join(hub, PUSH, member.kubeconfig.read_text(), "Push")
    _join(hub, PULL, None, "Pull")
    apply_objects(hub, install.agent_objects(PULL))
    hub_kubeconfig = token_kubeconfig(hub, work_namespace(PULL), install.agent_name(PULL))
    for target, namespace in namespaces.items():
        hub.admin.create("/api/v1/namespaces", namespace_object(namespace))
        for name in ("settings", "doomed"):
            hub.admin.create(CONFIGMAPS.format(namespace), configmap(name, {"v": "0"}))
        hub.admin.create(POLICIES, _policy(policies[target], namespace, target))

    # The member: the chart rendered for its agent, and the Secret with the hub's kubeconfig.
    agent_objects = render(agent_values(), release=RELEASE, namespace=NAMESPACE)
    member.admin.create("/api/v1/namespaces", namespace_object(NAMESPACE), exist_ok=True)
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": HUB_SECRET, "namespace": NAMESPACE},
        "data": {"kubeconfig": base64.b64encode(hub_kubeconfig.encode()).decode()},
    }
    member.admin.create(f"/api/v1/namespaces/{NAMESPACE}/secrets", secret, exist_ok=True)
    # The agent's own objects and the metrics reader's ClusterRole (scrapers bind to it).
    apply_objects(
        member, [*component(agent_objects, "sync-agent"), *component(agent_objects, "metrics")]
    )

    controller_template = pod_template(chart_manifests, "sync")
    agent_template = pod_template(agent_objects, "sync-agent")
    port = container_port(controller_template)
    assert container_port(agent_template) == port
    controller = run_pod(
        hub, image, controller_template, namespace=NAMESPACE, name=f"{fullname('sync')}-0"
    )
    try:
        agent = run_pod(
            member, image, agent_template, namespace=NAMESPACE, name=f"{fullname('sync-agent')}-0"
        )
    except BaseException:
        stop(controller)
        raise
    run = SyncRun(hub, member, controller, agent, port, policies, namespaces)
    try:
        wait_synced(run, {"settings": {"v": "0"}, "doomed": {"v": "0"}}, SETUP_TIMEOUT)
        # An update and a delete too, so the run uses every verb a sync needs (the least
        # privilege test reads the audit log of this set-up, whichever tests run).
        for namespace in namespaces.values():
            hub.admin.patch(f"{CONFIGMAPS.format(namespace)}/settings", {"data": {"v": "1"}})
            hub.admin.delete(f"{CONFIGMAPS.format(namespace)}/doomed")
        wait_synced(run, {"settings": {"v": "1"}, "doomed": None}, SETUP_TIMEOUT)
        yield run
    finally:
        for pod in (controller, agent):
            stop(pod)
        for name in policies.values():
            ignore_gone(hub.admin.delete, f"{POLICIES}/{name}")
        for name in (SOURCE, PUSH, PULL):
            ignore_gone(hub.admin.delete, f"{MEMBERS}/{name}")
        for namespace in namespaces.values():
            ignore_gone(hub.admin.delete, f"/api/v1/namespaces/{namespace}")
            ignore_gone(member.admin.delete, f"/api/v1/namespaces/{namespace}")


def wait_synced(run: SyncRun, want: Mapping[str, Mapping[str, str] | None], timeout: float) -> None:
    """Wait until every target's namespace on the member holds the ConfigMaps ``want``
    names with their data (None: not there); a pod that exits fails the wait at once."""

    def holds(namespace: str) -> bool:
        _running(run)
        for name, data in want.items():
            found = read_configmap(run.member, namespace, name)
            if (None if found is None else found.get("data")) != data:
                return False
        return True

    for target, namespace in run.namespaces.items():
        eventually(
            lambda ns=namespace: holds(ns),
            timeout=timeout,
            message=f"{target} holding {dict(want)}",
            ignore=(ControlPlaneError,),
        )


def _running(run: SyncRun) -> bool:
    """True while both pods run; a pod that exited fails the wait with its log."""
    for name, pod in run.pods().items():
        assert pod.alive(), f"{name} exited {pod.exit_code()}:\n{pod.logs()[-4000:]}"
    return True


# -- the policy webhook -------------------------------------------------------------------------


@dataclass
class WebhookRun:
    """The webhook in a pod on the hub, registered for one namespace."""

    cluster: Cluster
    pod: RunningPod
    port: int
    """Its container port (HTTPS)."""
    namespace: str
    """The only namespace the API server sends it."""
    configuration: str
    """Its ValidatingWebhookConfiguration (the chart's)."""
    url: str
    """Where the registration says the API server calls it."""


def webhook_values(namespace: str, url: str) -> dict[str, Any]:
    """The chart's values for a webhook sent only ``namespace``'s requests."""
    return merged(
        ALL_ENABLED,
        {
            "policyWebhook": {
                "policies": {"no-forbidden-key.yaml": WEBHOOK_POLICIES},
                "builtins": False,
                "namespaceSelector": f"kubernetes.io/metadata.name={namespace}",
                "timeoutSeconds": 5,
                "shutdownDelay": "0s",
                "extraArgs": [f"--url={url}"],
            }
        },
    )


def registered(cluster: Cluster, configuration: str, url: str) -> bool:
    """Whether the configuration's one webhook is ours, with a caBundle."""
    found = cluster.admin.get(f"{WEBHOOK_CONFIGURATIONS}/{configuration}")
    hooks = found.get("webhooks") or []
    return bool(hooks) and all(
        h["clientConfig"].get("url") == url and h["clientConfig"].get("caBundle") for h in hooks
    )


def dry_run_create(cluster: Cluster, namespace: str, obj: Mapping[str, Any]) -> dict[str, Any]:
    """Create ``obj`` as admin with dryRun=All (admission runs, nothing is stored);
    a refusal is returned as its Status."""
    answer = cluster.admin.request(
        "POST", f"{CONFIGMAPS.format(namespace)}?dryRun=All", dict(obj), ok=(400, 403, 422, 500)
    )
    return dict(answer)


def refused(answer: Mapping[str, Any]) -> bool:
    """Whether a create's answer is a refusal (a Status)."""
    return answer.get("kind") == "Status"


@pytest.fixture(scope="package")
def webhook_run(
    deploy_env: Environment, image: Any, chart_manifests: list[dict[str, Any]]
) -> Iterator[WebhookRun]:
    """The webhook from the image, registered and called by the API server once."""
    hub = deploy_env.cluster("hub")
    namespace = f"webhook-{uuid.uuid4().hex[:6]}"
    host_port = free_port()
    url = f"https://127.0.0.1:{host_port}/validate"
    objects = render(webhook_values(namespace, url), release=RELEASE, namespace=NAMESPACE)
    # Only the webhook's own objects change (its policies ConfigMap, args); the rest
    # stays as chart_manifests applied it.
    apply_objects(hub, component(objects, "policy-webhook"))
    (configuration,) = [
        o["metadata"]["name"] for o in objects if o["kind"] == "ValidatingWebhookConfiguration"
    ]
    hub.admin.create("/api/v1/namespaces", namespace_object(namespace))
    template = pod_template(objects, "policy-webhook")
    port = container_port(template)
    pod = run_pod(
        hub,
        image,
        template,
        namespace=NAMESPACE,
        name=f"{fullname('policy-webhook')}-0",
        port_map={port: host_port},
    )
    run = WebhookRun(hub, pod, port, namespace, configuration, url)

    def up() -> bool:
        assert pod.alive(), f"the webhook exited {pod.exit_code()}:\n{pod.logs()[-4000:]}"
        return registered(hub, configuration, url)

    try:
        eventually(
            up,
            timeout=SETUP_TIMEOUT,
            message="the webhook to register itself",
            ignore=(ControlPlaneError,),  # a pod that exited fails at once
        )
        yield run
    finally:
        stop(pod)
        # A fail-closed webhook that is gone must not refuse anything any more: the
        # configuration is left as the chart made it, without webhooks.
        ignore_gone(
            hub.admin.patch, f"{WEBHOOK_CONFIGURATIONS}/{configuration}", {"webhooks": None}
        )
        ignore_gone(hub.admin.delete, f"/api/v1/namespaces/{namespace}")
