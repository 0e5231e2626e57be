"""The Helm chart ``deploy/chart/kubeops``: lint, what it renders (least privilege,
hardened containers, probes, monitoring only when asked or served), the sync CRDs and
rules kept equal to the code's, every value documented -- and the issue's "Done when":
``helm template`` with every daemon enabled, piped to ``kubeops apply -f -``, applies on
a testenv cluster.  Each rendering runs once per module."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
import yaml

from deploy.chart import (
    ALL_ENABLED,
    CHART,
    DAEMONS,
    VALUES_KEY,
    find,
    fullname,
    helm,
    merged,
    render,
    template,
)

MONITORING = "monitoring.coreos.com/v1"
RBAC_KINDS = ("ClusterRole", "Role")
KEEP = "helm.sh/resource-policy"


@pytest.fixture(scope="module")
def defaults() -> list[dict[str, Any]]:
    """The chart with its default values."""
    return render()


@pytest.fixture(scope="module")
def everything() -> list[dict[str, Any]]:
    """Every daemon enabled, on a cluster without the monitoring API."""
    return render(ALL_ENABLED)


@pytest.fixture(scope="module")
def monitored() -> list[dict[str, Any]]:
    """Every daemon enabled, on a cluster serving monitoring.coreos.com/v1."""
    return render(ALL_ENABLED, api_versions=(MONITORING,))


def rules(objects: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every RBAC rule, with the role that holds it."""
    for obj in objects:
        if obj["kind"] in RBAC_KINDS:
            for rule in obj.get("rules") or []:
                yield f"{obj['kind']} {obj['metadata']['name']}", rule


def deployments(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Deployments by daemon (their component label)."""
    return {
        d["metadata"]["labels"]["app.kubernetes.io/component"]: d
        for d in find(objects, "Deployment")
    }


def container(deployment: Mapping[str, Any]) -> dict[str, Any]:
    """The one container of a Deployment."""
    (only,) = deployment["spec"]["template"]["spec"]["containers"]
    return dict(only)


# -- lint -------------------------------------------------------------------------------------


def test_helm_lint_strict_passes_with_defaults_and_with_every_daemon(tmp_path: Any) -> None:
    values = tmp_path / "all.yaml"
    values.write_text(json.dumps(ALL_ENABLED))
    for extra in ([], ["--values", str(values)]):
        done = subprocess.run(
            [helm(), "lint", "--strict", str(CHART), *extra],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert "0 chart(s) failed" in done.stdout


# -- names, labels, arguments ------------------------------------------------------------------


def test_defaults_deploy_inspect_only(defaults: list[dict[str, Any]]) -> None:
    assert set(deployments(defaults)) == {"inspect"}
    assert not find(defaults, "CustomResourceDefinition")
    assert not find(defaults, "ValidatingWebhookConfiguration")


def test_every_daemon_has_its_named_objects_and_labels(everything: list[dict[str, Any]]) -> None:
    for daemon in DAEMONS:
        name = fullname(daemon)
        for kind in ("Deployment", "ServiceAccount", "Service", "PodDisruptionBudget"):
            assert find(everything, kind, name), f"{kind} {name}"
        assert find(everything, "ClusterRoleBinding", name) or find(
            everything, "RoleBinding", name
        ), f"no binding of {name}"
    for obj in everything:
        labels = obj["metadata"].get("labels") or {}
        if obj["kind"] == "CustomResourceDefinition":
            continue  # exactly kubeops.sync.crds' (test_sync_crds_are_the_codes)
        assert labels.get("app.kubernetes.io/name") == "kubeops", obj["metadata"]["name"]
        assert labels.get("app.kubernetes.io/instance") == "kubeops", obj["metadata"]["name"]
        if obj["kind"] in ("Deployment", "Service", "ServiceAccount"):
            assert labels["app.kubernetes.io/component"] in DAEMONS
        if "namespace" in obj["metadata"] and obj["kind"] not in ("Role", "RoleBinding"):
            assert obj["metadata"]["namespace"] == "kubeops-system"


VARIANT = merged(
    ALL_ENABLED,
    {
        "leaderElection": {"enabled": False},
        "metrics": {"auth": "token", "tokenSecret": {"name": "scrape-token"}},
        "inspect": {"cron": "*/15 * * * *", "history": {"keep": 100, "maxAge": "90d"}},
        "respond": {"dryRun": True},
        "policyWebhook": {"tls": {"secretName": "web-tls"}, "failurePolicy": "Ignore"},
    },
)
"""Values taking the other branch of the choices the arguments depend on (those naming
a file are read at validation, so they stay with the in-cluster runs)."""


def validated(args: list[str]) -> object:
    """The daemon's options from ``args``, validated as its CLI does before it starts."""
    from kubeops.cli import inspect_serve, policy_webhook
    from kubeops.cli.connection import complete
    from kubeops.cli.main import build_parser
    from kubeops.respond import daemon as respond
    from kubeops.sync import daemon as sync

    parsed = build_parser(args).parse_args(args)
    serving = inspect_serve.serving_options(parsed)
    serving.check()
    command = (args[0], args[1])
    if command == ("inspect", "serve"):
        return inspect_serve.options(parsed)
    if command == ("respond", "run"):
        return respond.options_from_args(complete(parsed), serving)
    if command in (("sync", "run"), ("sync", "agent")):
        return sync.options_from_args(complete(parsed), serving, command[1])
    assert command == ("policy", "webhook"), command
    options = policy_webhook.options_from_args(parsed)
    options.check()
    return options


def test_each_container_runs_kubeops_with_arguments_its_cli_accepts(
    everything: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    for objects in (everything, render(VARIANT)):
        for daemon, deployment in deployments(objects).items():
            main = container(deployment)
            assert main["name"] == "kubeops"
            assert main["command"] == ["kubeops"]
            args = main["args"]
            port = main["ports"][0]["containerPort"]
            assert f"--listen=:{port}" in args, daemon
            assert "--log-format=json" in args, daemon
            assert "--log-level=info" in args, daemon
            try:
                validated(args)
            except SystemExit:
                pytest.fail(f"{daemon}: kubeops {' '.join(args)}: {capsys.readouterr().err}")
            except Exception as err:
                pytest.fail(f"{daemon}: kubeops {' '.join(args)}: {err}")


def test_leader_election_is_on_by_default_and_can_be_turned_off(
    everything: list[dict[str, Any]],
) -> None:
    elected = deployments(everything)
    for daemon in DAEMONS:
        args = container(elected[daemon])["args"]
        assert f"--lease-name={fullname(daemon)}" in args, daemon
        assert "--lease-namespace=kubeops-system" in args, daemon
        if daemon not in ("sync", "sync-agent"):  # those two always elect
            assert "--leader-elect" in args, daemon
        assert elected[daemon]["spec"]["replicas"] == 2
    single = deployments(render(merged(ALL_ENABLED, {"leaderElection": {"enabled": False}})))
    assert "--leader-elect" not in container(single["inspect"])["args"]
    assert "--leader-elect" not in container(single["respond"])["args"]


# -- hardening ----------------------------------------------------------------------------------


def test_every_container_is_non_root_read_only_and_probed(everything: list[dict[str, Any]]) -> None:
    for daemon, deployment in deployments(everything).items():
        pod = deployment["spec"]["template"]["spec"]
        main = container(deployment)
        context = main["securityContext"]
        assert pod["securityContext"]["runAsNonRoot"] is True, daemon
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert context["runAsNonRoot"] is True, daemon
        assert context["runAsUser"] == 65532, daemon
        assert context["readOnlyRootFilesystem"] is True, daemon
        assert context["allowPrivilegeEscalation"] is False, daemon
        assert context["capabilities"] == {"drop": ["ALL"]}, daemon
        assert main["livenessProbe"]["httpGet"]["path"] == "/healthz", daemon
        assert main["readinessProbe"]["httpGet"]["path"] == "/readyz", daemon
        assert main["resources"]["requests"], daemon
        assert main["resources"]["limits"], daemon
        volumes = {v["name"]: v for v in pod["volumes"]}
        for mount in main["volumeMounts"]:
            if not mount["readOnly"]:
                assert "emptyDir" in volumes[mount["name"]], f"{daemon}: {mount}"


def test_the_webhook_uses_generated_certificates_or_a_given_secret(
    everything: list[dict[str, Any]],
) -> None:
    args = container(deployments(everything)["policy-webhook"])["args"]
    assert "--ca-secret=kubeops-kubeops-policy-webhook-ca" in args
    assert "--service=kubeops-system/kubeops-kubeops-policy-webhook:443" in args
    assert not any(a.startswith("--policies") for a in args)  # the built-ins only
    # Each policy file by name: a configMap volume holds them twice (..<timestamp>/ too).
    policies = {"policyWebhook": {"policies": {"b.yaml": "b", "a.yaml": "a"}}}
    args = container(deployments(render(merged(ALL_ENABLED, policies)))["policy-webhook"])["args"]
    named = [a for a in args if a.startswith("--policies")]
    assert named == [f"--policies=/etc/kubeops/policies/{f}.yaml" for f in "ab"]
    given = render(merged(ALL_ENABLED, {"policyWebhook": {"tls": {"secretName": "web-tls"}}}))
    webhook = deployments(given)["policy-webhook"]
    args = container(webhook)["args"]
    assert "--tls-cert-file=/etc/kubeops/webhook-tls/tls.crt" in args
    assert not any(a.startswith("--ca-secret") for a in args)
    secrets = [v for v in webhook["spec"]["template"]["spec"]["volumes"] if "secret" in v]
    assert [v["secret"]["secretName"] for v in secrets] == ["web-tls"]
    # Given certificates: no Secret is writable by the webhook at all.
    webhook_rules = [r for role, r in rules(given) if role.endswith("policy-webhook")]
    assert not [r for r in webhook_rules if "secrets" in r.get("resources", [])]


# -- least privilege ----------------------------------------------------------------------------


def test_no_rule_has_a_wildcard(everything: list[dict[str, Any]]) -> None:
    permissive = merged(ALL_ENABLED, {"inspect": {"readSecrets": True}})
    for objects in (everything, render(permissive)):
        for role, rule in rules(objects):
            for field in ("verbs", "resources", "apiGroups", "resourceNames", "nonResourceURLs"):
                assert not any("*" in item for item in rule.get(field, [])), f"{role}: {rule}"


def test_secrets_are_readable_only_where_a_daemon_reads_them(
    defaults: list[dict[str, Any]], everything: list[dict[str, Any]]
) -> None:
    assert not [r for _, r in rules(defaults) if "secrets" in r.get("resources", [])]
    reading = {
        (role, tuple(r.get("resourceNames", ())))
        for role, r in rules(everything)
        if "secrets" in r.get("resources", []) and {"get", "list", "watch"} & set(r["verbs"])
    }
    assert reading == {
        # member kubeconfigs, in their own namespace only
        ("Role kubeops-kubeops-sync", ()),
        # the webhook's generated CA, by name
        ("Role kubeops-kubeops-policy-webhook", ("kubeops-kubeops-policy-webhook-ca",)),
    }
    member_secrets = find(everything, "Role", "kubeops-kubeops-sync")
    by_namespace = {r["metadata"]["namespace"]: r for r in member_secrets}
    assert by_namespace["kubeops-sync"]["rules"] == [
        {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}
    ]
    assert not any("secrets" in r["resources"] for r in by_namespace["kubeops-system"]["rules"])
    inspect = render({"inspect": {"readSecrets": True}})
    (role,) = find(inspect, "ClusterRole", fullname("inspect"))
    assert {"apiGroups": [""], "resources": ["secrets"], "verbs": ["list"]} in role["rules"]


def test_sync_grants_no_more_than_sync_install(everything: list[dict[str, Any]]) -> None:
    from kubeops.sync import install

    def pairs(rules: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
        return {
            (group, resource, verb)
            for r in rules
            for group in r["apiGroups"]
            for resource in r["resources"]
            for verb in r["verbs"]
        }

    (cluster_role,) = find(everything, "ClusterRole", fullname("sync"))
    delegation = {"tokenreviews", "subjectaccessreviews"}
    own = [r for r in cluster_role["rules"] if not delegation & set(r["resources"])]
    assert pairs(own) <= pairs(install.controller_rules())
    roles = {r["metadata"]["namespace"]: r for r in find(everything, "Role", fullname("sync"))}
    assert pairs(roles["kubeops-sync"]["rules"]) == {("", "secrets", "get")}
    assert pairs(roles["kubeops-system"]["rules"]) <= pairs(install.controller_namespaced_rules())


def test_extra_rules_are_added_to_a_daemons_roles() -> None:
    scale = {"apiGroups": ["apps"], "resources": ["deployments/scale"], "verbs": ["patch"]}
    events = {"apiGroups": [""], "resources": ["events"], "verbs": ["list"]}
    values = {"respond": {"enabled": True, "rbac": {"extraClusterRules": [scale]}}}
    values["respond"]["rbac"]["extraRules"] = [events]
    objects = render(values)
    assert scale in find(objects, "ClusterRole", fullname("respond"))[0]["rules"]
    assert events in find(objects, "Role", fullname("respond"))[0]["rules"]


# -- configuration ------------------------------------------------------------------------------


def test_inspect_config_disables_exactly_the_checks_that_read_secrets(
    defaults: list[dict[str, Any]],
) -> None:
    from kubeops.inspect.catalog import catalog
    from kubeops.inspect.config import parse_inspect_config

    reading = {c.id for c in catalog().values() if {"secrets", "all"} & set(c.needs)}
    (config_map,) = find(defaults, "ConfigMap", fullname("inspect"))
    document = yaml.safe_load(config_map["data"]["config.yaml"])
    config = parse_inspect_config(document, "the chart's inspect config")
    assert {c for c in catalog() if not config.enabled(c)} == reading
    opened = render({"inspect": {"readSecrets": True}})
    (config_map,) = find(opened, "ConfigMap", fullname("inspect"))
    assert "checks" not in yaml.safe_load(config_map["data"]["config.yaml"])


def test_respond_rules_are_valid_and_keep_limits_in_the_release_namespace(
    everything: list[dict[str, Any]], tmp_path: Any
) -> None:
    (config_map,) = find(everything, "ConfigMap", fullname("respond"))
    rules_file = tmp_path / "rules.yaml"
    rules_file.write_text(config_map["data"]["rules.yaml"])
    assert yaml.safe_load(rules_file.read_text())["limits"]["namespace"] == "kubeops-system"
    done = subprocess.run(
        [sys.executable, "-m", "kubeops", "respond", "check", "--rules", str(rules_file)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def test_sync_crds_are_the_codes(everything: list[dict[str, Any]]) -> None:
    from kubeops.sync.crds import crds

    expected = {c["metadata"]["name"]: c for c in crds()}
    files = {p.stem: yaml.safe_load(p.read_text()) for p in (CHART / "files/crds").glob("*.yaml")}
    assert files == expected, (
        "the chart's sync CRDs drifted from kubeops.sync.crds: rewrite "
        "deploy/chart/kubeops/files/crds/ from `kubeops sync install --dry-run -o yaml`"
    )
    rendered = {}
    for crd in find(everything, "CustomResourceDefinition"):
        assert crd["metadata"]["annotations"].pop(KEEP) == "keep"  # CRs outlive an uninstall
        if not crd["metadata"]["annotations"]:
            del crd["metadata"]["annotations"]
        rendered[crd["metadata"]["name"]] = crd
    assert rendered == expected


def test_service_monitors_only_when_asked_or_served(
    everything: list[dict[str, Any]], monitored: list[dict[str, Any]]
) -> None:
    assert not find(everything, "ServiceMonitor")
    assert {m["metadata"]["name"] for m in find(monitored, "ServiceMonitor")} == {
        fullname(d) for d in DAEMONS
    }
    asked = render({"serviceMonitor": {"enabled": True}})
    assert [m["metadata"]["name"] for m in find(asked, "ServiceMonitor")] == [fullname("inspect")]
    refused = render({"serviceMonitor": {"enabled": False}}, api_versions=(MONITORING,))
    assert not find(refused, "ServiceMonitor")


def test_a_missing_required_value_is_one_line_naming_it() -> None:
    with pytest.raises(RuntimeError, match=r"syncAgent\.member"):
        render({"syncAgent": {"enabled": True, "hub": {"kubeconfigSecret": {"name": "hub"}}}})


def leaf_keys(values: Mapping[str, Any], prefix: str = "") -> Iterator[str]:
    """Dotted paths of the values' leaves; a daemon's config, rules and resources, and
    the security contexts, are documented whole."""
    whole = {"inspect.config", "respond.rules", "podSecurityContext", "securityContext"}
    for key, value in values.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value and path not in whole and key != "resources":
            yield from leaf_keys(value, f"{path}.")
        else:
            yield path


def test_every_value_is_documented_in_the_readme() -> None:
    readme = (CHART / "README.md").read_text()
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    missing = [p for p in leaf_keys(values) if f"`{p}`" not in readme]
    assert not missing, f"deploy/chart/kubeops/README.md does not document {missing}"
    for daemon in VALUES_KEY.values():
        assert values[daemon]["replicas"] == 2
        assert "extraArgs" in values[daemon]


# -- Done when: helm template <all enabled> | kubeops apply -f - ------------------------------


def test_helm_template_with_every_daemon_applies_with_kubeops_apply(kube_cluster: Any) -> None:
    # A release of its own: its cluster-wide objects are named after it.
    release = f"chart-{uuid.uuid4().hex[:6]}"
    namespace = f"{release}-system"
    manifests = template(ALL_ENABLED, release, namespace)
    objects = [o for o in yaml.safe_load_all(manifests) if o]
    kube_cluster.admin.create(
        "/api/v1/namespaces",
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}},
    )
    try:
        done = subprocess.run(
            [sys.executable, "-m", "kubeops", "apply", "-f", "-"],
            input=manifests,
            capture_output=True,
            text=True,
            env={**os.environ, "KUBECONFIG": str(kube_cluster.kubeconfig)},
            timeout=180,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert len(objects) > 40
        for obj in objects:
            assert kube_cluster.admin.exists(_path(obj)), f"{obj['kind']} {obj['metadata']}"
    finally:
        kube_cluster.admin.delete(f"/api/v1/namespaces/{namespace}")
        for obj in objects:  # the release's cluster-wide objects; the sync API stays
            shared = obj["kind"] in ("CustomResourceDefinition", "Namespace")
            if "namespace" not in obj["metadata"] and not shared:
                kube_cluster.admin.delete(_path(obj))


PLURALS = {
    "ValidatingAdmissionPolicy": "validatingadmissionpolicies",
    "ValidatingAdmissionPolicyBinding": "validatingadmissionpolicybindings",
    "PodDisruptionBudget": "poddisruptionbudgets",
}


def _path(obj: Mapping[str, Any]) -> str:
    """The REST path of a rendered object."""
    group_version = obj["apiVersion"]
    base = f"/api/{group_version}" if "/" not in group_version else f"/apis/{group_version}"
    kind = obj["kind"]
    plural = PLURALS.get(kind) or kind.lower() + ("es" if kind.endswith("s") else "s")
    meta = obj["metadata"]
    where = f"/namespaces/{meta['namespace']}" if "namespace" in meta else ""
    return f"{base}{where}/{plural}/{meta['name']}"
