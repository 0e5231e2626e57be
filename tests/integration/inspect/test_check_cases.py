"""Every check fails on its bad variant and passes its good one, on a real API server."""

from __future__ import annotations

import pytest

from kubeops.inspect import Report, catalog

from .harness import CASES, Case

IDS = [c.check for c in CASES]


def flagged(report: Report, check: str) -> list[tuple[str | None, str]]:
    return [
        (f.object.namespace, f"{f.object.kind}/{f.object.name}")
        for c in report.clusters
        for f in c.findings
        if f.check == check
    ]


def test_every_check_has_a_case() -> None:
    missing = sorted(set(catalog()) - set(IDS))
    assert not missing, f"checks without a case: {missing}"
    assert len(IDS) == len(set(IDS)), "a check has two cases"


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_check_flags_the_bad_variant(inspected: Report, case: Case) -> None:
    assert not [n for c in inspected.clusters for n in c.not_run if n.check == case.check]
    found = flagged(inspected, case.check)
    for expected in case.expect:
        assert (case.bad_namespace, expected) in found or (None, expected) in found, (
            f"{case.check} did not flag {expected}; it flagged {found}"
        )


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_check_passes_the_good_variant(inspected: Report, case: Case) -> None:
    # The check ran: its silence about the healthy variant means something.
    assert all(case.check in c.checks_run for c in inspected.clusters), case.check
    good_cluster_scoped = {
        f"{o['kind']}/{o['metadata']['name']}" for o in case.good if o["kind"] in CLUSTER_KINDS
    }
    found = flagged(inspected, case.check)
    wrong = [
        (ns, name)
        for ns, name in found
        if ns == case.good_namespace or (ns is None and name in good_cluster_scoped)
    ]
    assert not wrong, f"{case.check} flagged the healthy variant: {wrong}"


CLUSTER_KINDS = {
    "Node",
    "Namespace",
    "PersistentVolume",
    "ClusterRole",
    "ClusterRoleBinding",
    "StorageClass",
    "IngressClass",
}
