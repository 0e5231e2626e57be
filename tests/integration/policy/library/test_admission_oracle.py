"""The API server is the oracle for the built-in library's admission checks: the
Pod Security corpus, LimitRanges and a ResourceQuota, each case sent as a
server-side dry run to namespaces of the session cluster that enforce them, and
kubeops must reach the same verdict (and, for Pod Security and LimitRange, the
same words).  Cases the API server refuses as invalid Pods (422) are skipped:
admission never sees them.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from kubeops.policy.library import podsecurity
from kubeops.policy.library.base import pod_spec as find_pod_spec
from kubeops.testenv import Cluster, eventually
from kubeops.testenv.errors import ControlPlaneError
from unit.policy.library import test_pod_security as pss
from unit.policy.library import test_resources as res
from unit.policy.library._build import pod, pod_spec, run

Object = dict[str, Any]
APPARMOR = "container.apparmor.security.beta.kubernetes.io/app"
QUOTA = {"requests.cpu": "1", "limits.cpu": "2", "requests.memory": "1Gi", "pods": "2"}


@pytest.fixture(scope="module")
def namespaces(kube_cluster: Cluster) -> Iterator[dict[str, str]]:
    """One namespace per level enforcing Pod Security, one with the quota; deleted after."""
    suffix = uuid.uuid4().hex[:6]
    names = {
        "baseline": f"pss-baseline-{suffix}",
        "restricted": f"pss-restricted-{suffix}",
        "quota": f"quota-{suffix}",
    }
    admin = kube_cluster.admin
    try:
        for key, name in names.items():
            labels = {}
            if key in podsecurity.LEVELS:
                labels = {
                    "pod-security.kubernetes.io/enforce": key,
                    "pod-security.kubernetes.io/enforce-version": "latest",
                }
            admin.create(
                "/api/v1/namespaces",
                {
                    "apiVersion": "v1",
                    "kind": "Namespace",
                    "metadata": {"name": name, "labels": labels},
                },
            )
            admin.create(
                f"/api/v1/namespaces/{name}/serviceaccounts",
                {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default"}},
                exist_ok=True,
            )
        admin.create(
            f"/api/v1/namespaces/{names['quota']}/resourcequotas",
            res.quota(QUOTA, namespace=names["quota"]),
        )
        path = f"/api/v1/namespaces/{names['quota']}/resourcequotas/compute"
        eventually(lambda: (admin.get(path).get("status") or {}).get("hard"), timeout=30)
        yield names
    finally:
        for name in names.values():
            admin.delete(f"/api/v1/namespaces/{name}")


def dry_run(cluster: Cluster, obj: Object) -> str | None:
    """The API server's refusal of ``obj`` (its message), None when it admits it;
    ``"invalid"`` for a Pod it refuses before admission."""
    namespace = obj["metadata"]["namespace"]
    try:
        cluster.admin.request("POST", f"/api/v1/namespaces/{namespace}/pods?dryRun=All", obj)
    except ControlPlaneError as err:
        text = str(err)
        if " 422 " in text:
            return "invalid"
        return text.split(": 403 ", 1)[1]
    return None


def test_pod_security(kube_cluster: Cluster, namespaces: dict[str, str]) -> None:
    cases: list[tuple[str, Object, Object | None]] = []
    for name, change, _, _ in pss.CASES:
        spec = pod_spec()
        change(spec)
        cases.append((name, spec, None))
    for value in ("unconfined", "runtime/default", "localhost/k8s-app"):
        cases.append((f"annotation {value}", pod_spec(), {APPARMOR: value}))
    agreed = skipped = 0
    differ: list[str] = []
    for name, spec, notes in cases:
        for level in podsecurity.LEVELS:
            meta = {"annotations": notes} if notes else {}
            obj = pod(copy.deepcopy(spec), name="p", namespace=namespaces[level], **meta)
            server = dry_run(kube_cluster, obj)
            if server == "invalid":
                skipped += 1
                continue
            found = find_pod_spec(obj)
            assert found is not None
            judged = podsecurity.evaluate_pod(podsecurity.as_created(found), level)
            mine = None
            if judged:
                reasons = ", ".join(f"{reason} ({detail})" for _, reason, detail in judged)
                mine = f'pods "p" is forbidden: violates PodSecurity "{level}:latest": {reasons}'
            if mine == server:
                agreed += 1
            else:
                differ.append(f"{name} at {level}:\n  server: {server}\n  kubeops: {mine}")
    print(f"Pod Security: {agreed} cases agree, {skipped} invalid Pods skipped")
    assert not differ, "\n".join(differ)
    assert agreed >= 80


def test_limit_ranges(kube_cluster: Cluster, namespaces: dict[str, str]) -> None:
    """Each LimitRange case in a namespace of its own (one LimitRange at a time)."""
    admin = kube_cluster.admin
    agreed = 0
    differ: list[str] = []
    for index, (name, item, c, _) in enumerate(res.LIMIT_RANGES):
        namespace = f"{namespaces['quota']}-lr{index}"
        admin.create(
            "/api/v1/namespaces",
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}},
        )
        try:
            admin.create(
                f"/api/v1/namespaces/{namespace}/serviceaccounts",
                {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default"}},
                exist_ok=True,
            )
            limit_range = res.limit_range(item, namespace=namespace)
            admin.create(f"/api/v1/namespaces/{namespace}/limitranges", limit_range)
            spec = pod_spec(c) if name != "pod-max" else pod_spec(c, {**c, "name": "sidecar"})
            obj = pod(spec, name="p", namespace=namespace)
            server = dry_run(kube_cluster, obj)
            mine = [
                v.message
                for v in run("resources", obj, [limit_range])
                if v.message.startswith("LimitRange")
            ]
            # LimitRanger's words, after kubeops' "LimitRange NS/NAME: " and before "(container ...)".
            words = [m.split(": ", 1)[1].rsplit(" (", 1)[0] for m in mine]
            if (server is None and not mine) or (server and any(w in server for w in words)):
                agreed += 1
            else:
                differ.append(f"{name}:\n  server: {server}\n  kubeops: {mine}")
        finally:
            admin.delete(f"/api/v1/namespaces/{namespace}")
    assert not differ, "\n".join(differ)
    assert agreed == len(res.LIMIT_RANGES)


QUOTA_CASES = [
    ("fits", [res.sized(requests={"cpu": "500m", "memory": "256Mi"}, limits={"cpu": "1"})], True),
    (
        "requests exceeded",
        [res.sized(requests={"cpu": "1500m", "memory": "1"}, limits={"cpu": "2"})],
        False,
    ),
    (
        "limits exceeded",
        [res.sized(requests={"cpu": "500m", "memory": "1"}, limits={"cpu": "3"})],
        False,
    ),
    ("no cpu limit", [res.sized(requests={"cpu": "500m", "memory": "1"})], False),
    ("limit stands for request", [res.sized(limits={"cpu": "1", "memory": "256Mi"})], True),
    ("no memory request", [res.sized(requests={"cpu": "500m"}, limits={"cpu": "1"})], False),
    (
        "two containers",
        [
            res.sized("a", requests={"cpu": "600m", "memory": "1"}, limits={"cpu": "1"}),
            res.sized("b", requests={"cpu": "600m", "memory": "1"}, limits={"cpu": "1"}),
        ],
        False,
    ),
]


@pytest.mark.parametrize(
    ("case", "containers", "allowed"), QUOTA_CASES, ids=[c[0] for c in QUOTA_CASES]
)
def test_quota(
    kube_cluster: Cluster,
    namespaces: dict[str, str],
    case: str,
    containers: list[Object],
    allowed: bool,
) -> None:
    namespace = namespaces["quota"]
    obj = pod(pod_spec(*containers), name="p", namespace=namespace)
    server = dry_run(kube_cluster, obj)
    mine = [
        v.message
        for v in run("resources", obj, [res.quota(QUOTA, namespace=namespace)])
        if v.message.startswith("ResourceQuota")
    ]
    assert (server is None) is allowed, server
    assert (not mine) is allowed, mine
    if server and "must specify" in server:
        assert server.split("compute: ", 1)[1] in mine[0]
