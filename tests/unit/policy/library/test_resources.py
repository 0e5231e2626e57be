"""The resources built-in: requests and limits present, LimitRange bounds, and the
namespace's ResourceQuota against the set's workloads."""

from __future__ import annotations

from typing import Any

import pytest

from kubeops.inspect.checks import pods
from kubeops.policy.library import resources

from ._build import container, deployment, messages, pod, pod_spec, run

Object = dict[str, Any]


def sized(
    name: str = "app", requests: Object | None = None, limits: Object | None = None
) -> Object:
    res: Object = {}
    if requests is not None:
        res["requests"] = requests
    if limits is not None:
        res["limits"] = limits
    return container(name, resources=res)


def limit_range(*items: Object, name: str = "limits", namespace: str = "shop") -> Object:
    return {
        "apiVersion": "v1",
        "kind": "LimitRange",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"limits": list(items)},
    }


def quota(hard: Object, name: str = "compute", namespace: str = "shop", **spec: Any) -> Object:
    return {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"hard": hard, **spec},
    }


PRESENCE = [
    ("complete", sized(requests={"cpu": "1", "memory": "1Gi"}, limits={"memory": "1Gi"}), []),
    (
        "nothing",
        sized(),
        [
            'container "app" has no cpu request or memory request',
            'container "app" has no memory limit',
        ],
    ),
    (
        "limit-counts-as-request",
        sized(limits={"cpu": "1", "memory": "1Gi"}),
        [],
    ),
    (
        "no-memory-limit",
        sized(requests={"cpu": "1", "memory": "1Gi"}),
        ['container "app" has no memory limit'],
    ),
]


@pytest.mark.parametrize(("case", "c", "expected"), PRESENCE, ids=[p[0] for p in PRESENCE])
def test_requests_and_limits_present(case: str, c: Object, expected: list[str]) -> None:
    assert messages(run("resources", deployment(pod_spec(c)))) == expected


def test_settings_choose_the_resources() -> None:
    c = sized(requests={"cpu": "1", "memory": "1Gi"}, limits={"memory": "1Gi"})
    found = run("resources", deployment(pod_spec(c)), settings={"limits": ["cpu", "memory"]})
    assert messages(found) == ['container "app" has no cpu limit']


def test_limit_range_defaults_count_as_given() -> None:
    defaults = limit_range(
        {
            "type": "Container",
            "default": {"memory": "256Mi"},
            "defaultRequest": {"cpu": "100m", "memory": "128Mi"},
        }
    )
    assert run("resources", deployment(pod_spec(sized()), replicas=2), [defaults]) == []
    # The same manifest in a namespace without the LimitRange is missing everything.
    other = deployment(pod_spec(sized()), namespace="other")
    assert len(run("resources", other, [defaults])) == 2


def test_shared_with_inspect() -> None:
    assert resources.missing_resources is pods.missing_resources
    assert resources.limit_range_fills is pods.limit_range_fills
    fills = pods.limit_range_fills([limit_range({"type": "Container", "min": {"cpu": "50m"}})])
    assert fills == (set(), {"cpu"})  # a min defaults the request


LIMIT_RANGES = [
    (
        "max-exceeded",
        {"type": "Container", "max": {"memory": "512Mi"}},
        sized(requests={"cpu": "1", "memory": "1Gi"}, limits={"memory": "1Gi"}),
        [
            "LimitRange shop/limits: maximum memory usage per Container is 512Mi, "
            'but limit is 1Gi (container "app")'
        ],
    ),
    (
        "max-defaults-the-limit",
        {"type": "Container", "max": {"cpu": "2"}},
        sized(requests={"cpu": "1", "memory": "1Gi"}, limits={"memory": "1Gi"}),
        [],
    ),
    (
        "min",
        {"type": "Container", "min": {"cpu": "500m"}},
        sized(requests={"cpu": "100m", "memory": "1Gi"}, limits={"memory": "1Gi"}),
        [
            "LimitRange shop/limits: minimum cpu usage per Container is 500m, "
            'but request is 100m (container "app")'
        ],
    ),
    (
        "ratio",
        {"type": "Container", "maxLimitRequestRatio": {"memory": "2"}},
        sized(requests={"cpu": "1", "memory": "100Mi"}, limits={"memory": "1Gi"}),
        [
            "LimitRange shop/limits: memory max limit to request ratio per Container is 2, "
            'but provided ratio is 10.240000 (container "app")'
        ],
    ),
    (
        "ratio-within",
        {"type": "Container", "maxLimitRequestRatio": {"memory": "2"}},
        sized(requests={"cpu": "1", "memory": "512Mi"}, limits={"memory": "1Gi"}),
        [],
    ),
    (
        "pod-max",
        {"type": "Pod", "max": {"memory": "1Gi"}},
        sized(requests={"cpu": "1", "memory": "1Gi"}, limits={"memory": "1Gi"}),
        ["LimitRange shop/limits: maximum memory usage per Pod is 1Gi, but limit is 2Gi (the Pod)"],
    ),
]


@pytest.mark.parametrize(
    ("case", "item", "c", "expected"), LIMIT_RANGES, ids=[c[0] for c in LIMIT_RANGES]
)
def test_limit_range_bounds(case: str, item: Object, c: Object, expected: list[str]) -> None:
    spec = pod_spec(c) if case != "pod-max" else pod_spec(c, {**c, "name": "sidecar"})
    assert messages(run("resources", pod(spec), [limit_range(item)])) == expected


def test_quota_sums_the_sets_workloads() -> None:
    c = sized(requests={"cpu": "500m", "memory": "256Mi"}, limits={"memory": "256Mi"})
    web = deployment(pod_spec(c), name="web", replicas=4)  # 2 cpu
    worker = deployment(pod_spec(c), name="worker", replicas=3)  # 1.5 cpu
    hard = quota({"requests.cpu": "3", "limits.memory": "4Gi", "pods": "10"})
    found = run("resources", web, [worker, hard])
    assert messages(found) == [
        "ResourceQuota shop/compute: requests.cpu would be 3500m, above its hard limit 3 "
        "(this Deployment's 4 Pods: 2; 1 other workload in the namespace: 1500m)"
    ]
    # Alone it fits; in another namespace the quota does not apply.
    assert run("resources", web, [hard]) == []
    assert run("resources", deployment(pod_spec(c), namespace="dev", replicas=40), [hard]) == []


def test_quota_counts_pods_and_skips_owned_objects() -> None:
    web = deployment(pod_spec(), name="web", replicas=2)
    owned = pod(pod_spec(), name="web-abc")
    owned["metadata"]["ownerReferences"] = [
        {"kind": "ReplicaSet", "name": "web-1", "controller": True}
    ]
    found = run("resources", web, [owned, quota({"pods": "2"})])
    assert found == []
    found = run("resources", web, [pod(pod_spec(), name="lonely"), quota({"pods": "2"})])
    assert messages(found) == [
        "ResourceQuota shop/compute: pods would be 3, above its hard limit 2 "
        "(this Deployment's 2 Pods: 2; 1 other workload in the namespace: 1)"
    ]


def test_quota_requires_the_resources_it_tracks() -> None:
    c = sized(requests={"cpu": "100m", "memory": "64Mi"}, limits={"memory": "64Mi"})
    init = sized("setup", requests={"cpu": "100m", "memory": "64Mi"}, limits={"memory": "64Mi"})
    found = run("resources", pod(pod_spec(c, initContainers=[init])), [quota({"limits.cpu": "4"})])
    assert messages(found) == [
        "ResourceQuota shop/compute: must specify limits.cpu for: app,setup "
        "(the quota tracks it, so every container must give limits.cpu)"
    ]


def test_scoped_quota_left_out() -> None:
    big = deployment(pod_spec(), replicas=100)
    scoped = quota({"pods": "1"}, scopes=["BestEffort"])
    assert run("resources", big, [scoped]) == []


def test_init_containers_and_sidecars() -> None:
    main = sized(requests={"cpu": "1"})
    init = sized("init", requests={"cpu": "3"})
    sidecar = {**sized("proxy", requests={"cpu": "500m"}), "restartPolicy": "Always"}
    spec = pod_spec(main, initContainers=[sidecar, init])
    found = resources.pod_resources(resources.PodSpec(spec, {}, "spec"), resources.Limits.of([]))
    # The init container runs beside the sidecar started before it: 3.5 > 1 + 0.5.
    assert str(found[0]["cpu"]) == "3500m"


def test_quantities_as_numbers() -> None:
    assert str(resources.quantity(1)) == "1"
    assert str(resources.quantity(0.5)) == "500m"
    assert resources.quantity("lots") is None


def test_quota_usage_follows_the_context() -> None:
    """The namespace's usage is kept per context, and recomputed when its objects change."""
    from kubeops.policy import Review, StaticContext
    from kubeops.policy.library import load

    from ._build import library

    (policy,) = load([library({"builtin": "resources"})])
    web = deployment(pod_spec(), name="web", replicas=2)
    hard = quota({"pods": "3"})
    small = StaticContext([web, hard])
    assert policy.evaluate(Review.of_object(web), small) == []
    assert policy.evaluate(Review.of_object(web), small) == []
    grown = StaticContext([web, hard, deployment(pod_spec(), name="api", replicas=2)])
    (violation,) = policy.evaluate(Review.of_object(web), grown)
    assert "pods would be 4, above its hard limit 3" in violation.message


def test_live_quota_judged_by_its_usage() -> None:
    """A quota with status.used (the cluster's) is judged by what is in use, less the
    object's old version on an update -- no workload is listed."""
    from kubeops.policy import Operation, Review, StaticContext
    from kubeops.policy.library import load

    from ._build import library

    c = sized(requests={"cpu": "500m", "memory": "64Mi"}, limits={"memory": "64Mi"})
    live = quota({"requests.cpu": "4"})
    live["status"] = {"hard": {"requests.cpu": "4"}, "used": {"requests.cpu": "3"}}
    (policy,) = load([library({"builtin": "resources"})])
    new = deployment(pod_spec(c), replicas=3)  # 1500m more: 4500m in all
    (violation,) = policy.evaluate(Review.of_object(new), StaticContext([live]))
    assert violation.message == (
        "ResourceQuota shop/compute: requests.cpu would be 4500m, above its hard limit 4 "
        "(this Deployment's 3 Pods: 1500m; in use: 3)"
    )
    # Scaling an existing Deployment from 2 to 3 replicas: 3 - 1 + 1.5 = 3.5, within 4.
    old = deployment(pod_spec(c), replicas=2)
    update = Review.of_object(new, operation=Operation.UPDATE, old_object=old)
    assert policy.evaluate(update, StaticContext([live])) == []
