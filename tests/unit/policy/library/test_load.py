"""PolicyLibrary documents: which built-ins run and how (names, actions, match),
the defaults without one, and every mistake refused at its file and line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from kubeops.policy import Action, PolicyLoadError, Review, StaticContext, evaluate, load_policies
from kubeops.policy.library import BUILTINS, BuiltinPolicy, load

from ._build import TODAY, container, deployment, library, pod_spec

HEADER = (
    "apiVersion: policy.kubeops.io/v1alpha1\nkind: PolicyLibrary\nmetadata:\n  name: platform\n"
)


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "library.yaml"
    path.write_text(HEADER + textwrap.dedent(body))
    return path


def builtins(paths: list[Path]) -> list[BuiltinPolicy]:
    policies = load_policies(paths).policies
    return [p for p in policies if isinstance(p, BuiltinPolicy)]


def test_defaults_without_a_document(tmp_path: Path) -> None:
    policies = load([])
    assert [p.name for p in policies] == list(BUILTINS)
    assert all(p.engine == "builtin" and p.actions == {Action.DENY} for p in policies)
    assert {p.builtin: p.kinds for p in policies}["secrets"] is None  # every kind in CI


def test_entries(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        spec:
          action: Warn
          match: {excludeNamespaces: [kube-system]}
          builtins:
          - builtin: pod-security
            name: pod-security-restricted
            action: [Deny, Audit]
            match: {namespaces: [prod], kinds: [Deployment]}
            settings: {level: restricted}
          - builtin: pod-security
          - builtin: images
            settings: {requireDigest: true}
        """,
    )
    restricted, baseline, images = builtins([path])
    assert (restricted.name, restricted.builtin, restricted.source.line) == (
        "pod-security-restricted",
        "pod-security",
        9,
    )
    assert restricted.actions == {Action.DENY, Action.AUDIT}
    assert restricted.match.namespaces == {"prod"}
    assert restricted.match.kinds == {"Deployment"}
    assert baseline.actions == {Action.WARN}
    assert baseline.match.exclude_namespaces == {"kube-system"}
    assert images.name == "images"
    # Only the listed built-ins run.
    assert {p.builtin for p in builtins([path])} == {"pod-security", "images"}


def test_actions_and_match_in_evaluation() -> None:
    spec = pod_spec(container(image="nginx"))
    spec["hostNetwork"] = True
    doc = library(
        {"builtin": "images", "action": "Warn"},
        {"builtin": "pod-security", "match": {"namespaces": ["prod"]}},
    )
    policies = tuple(load([doc]))
    verdict = evaluate(policies, Review.of_object(deployment(spec)), StaticContext())
    assert verdict.allowed  # images only warns; pod-security matches prod only
    assert [v.policy for v in verdict.warnings] == ["images"]
    verdict = evaluate(
        policies, Review.of_object(deployment(spec, namespace="prod")), StaticContext()
    )
    assert [v.policy for v in verdict.denials] == ["pod-security"]


def test_scans_without_an_entry_get_the_default_gate() -> None:
    from kubeops.policy.scan import ScanReport

    report = ScanReport("nginx:1", "trivy", "t.json")
    policies = load([library({"builtin": "images"})], [report], today=TODAY)
    assert [p.name for p in policies] == ["images", "vulnerabilities"]


BAD = [
    (
        """\
        spec:
          builtins:
          - builtin: pod-securty
        """,
        [
            "library.yaml:7: policy platform: spec.builtins[0].builtin: unknown built-in 'pod-securty' (expected one of resources, pod-security, images, secrets, vulnerabilities)"
        ],
    ),
    (
        """\
        spec:
          builtins:
          - builtin: images
            settings:
              requireDigets: true
        """,
        [
            "library.yaml:9: policy images: spec.builtins[0].settings.requireDigets: unknown field (expected one of allowedRegistries, requireDigest)"
        ],
    ),
    (
        """\
        spec:
          builtins:
          - builtin: pod-security
            action: Block
            settings: {level: strict}
        """,
        [
            "library.yaml:8: policy pod-security: spec.builtins[0].action: expected Deny, Warn, Audit or a list of them, not 'Block'",
            "library.yaml:9: policy pod-security: spec.builtins[0].settings.level: 'strict' is not one of baseline, restricted",
        ],
    ),
    (
        """\
        spec:
          action: [Deny, Warn]
          builtins:
          - builtin: vulnerabilities
            settings:
              cvssAbove: 11
              allow:
              - {id: CVE-2024-1, expires: next-week}
              - {reason: forgot the id}
        """,
        [
            "library.yaml:6: policy platform: spec.action: Deny and Warn together (a denied request has no warnings)",
            "library.yaml:10: policy vulnerabilities: spec.builtins[0].settings.cvssAbove: 11 is outside 0..10",
            "library.yaml:12: policy vulnerabilities: spec.builtins[0].settings.allow[0].expires: 'next-week' is not a date (YYYY-MM-DD)",
            "library.yaml:13: policy vulnerabilities: spec.builtins[0].settings.allow[1]: an allow-list entry needs an id (CVE-..., GHSA-...)",
        ],
    ),
    (
        """\
        spec:
          bultins: []
        """,
        [
            "library.yaml:6: policy platform: spec.bultins: unknown field (expected one of action, match, builtins)",
            "library.yaml:6: policy platform: spec.builtins: missing: list the built-ins to run",
        ],
    ),
]


@pytest.mark.parametrize(("body", "problems"), BAD, ids=[str(i) for i in range(len(BAD))])
def test_mistakes_are_refused_at_their_line(tmp_path: Path, body: str, problems: list[str]) -> None:
    path = write(tmp_path, body)
    with pytest.raises(PolicyLoadError) as caught:
        load_policies([path])
    lines = [str(p).replace(str(tmp_path) + "/", "") for p in caught.value.problems]
    assert lines == problems


def test_the_same_name_twice_is_refused(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        spec:
          builtins:
          - builtin: images
          - builtin: images
        """,
    )
    with pytest.raises(PolicyLoadError, match="policy images: defined twice"):
        load_policies([path])


def test_admission_rules() -> None:
    """What the webhook registers for each entry: the kinds it judges, or its match's."""
    policies = {p.name: p for p in load([])}
    rules = policies["pod-security"].admission_rules()
    assert {
        "apiGroups": ["apps"],
        "apiVersions": ["*"],
        "resources": ["daemonsets", "deployments", "replicasets", "statefulsets"],
        "operations": ["CREATE", "UPDATE"],
        "scope": "*",
    } in rules
    assert [r["resources"] for r in rules] == [
        ["pods", "replicationcontrollers"],
        ["daemonsets", "deployments", "replicasets", "statefulsets"],
        ["cronjobs", "jobs"],
    ]
    assert [(r["apiGroups"], r["resources"]) for r in policies["secrets"].admission_rules()] == [
        ([""], ["configmaps", "pods", "replicationcontrollers", "services"]),
        (["apps"], ["daemonsets", "deployments", "replicasets", "statefulsets"]),
        (["batch"], ["cronjobs", "jobs"]),
        (["networking.k8s.io"], ["ingresses"]),
    ]
    (configured,) = load(
        [library({"builtin": "secrets", "match": {"kinds": ["ConfigMap", "Deployment"]}})]
    )
    assert [(r["apiGroups"], r["resources"]) for r in configured.admission_rules()] == [
        ([""], ["configmaps"]),
        (["apps"], ["deployments"]),
    ]
