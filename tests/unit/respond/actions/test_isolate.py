"""Which Pods use a ConfigMap or Secret, and which labels take a Pod out of its Services."""

from __future__ import annotations

from typing import Any

from kubeops.respond.actions.isolate import selected_keys, uses


def spec(**parts: Any) -> dict[str, Any]:
    return {"spec": {"containers": [{"name": "a", **parts.pop("container", {})}], **parts}}


def test_every_way_a_pod_uses_a_configmap_or_secret() -> None:
    assert uses(spec(volumes=[{"configMap": {"name": "c"}}]), "ConfigMap", "c")
    assert uses(
        spec(volumes=[{"projected": {"sources": [{"configMap": {"name": "c"}}]}}]), "ConfigMap", "c"
    )
    assert uses(spec(container={"envFrom": [{"configMapRef": {"name": "c"}}]}), "ConfigMap", "c")
    assert uses(
        spec(container={"env": [{"name": "A", "valueFrom": {"configMapKeyRef": {"name": "c"}}}]}),
        "ConfigMap",
        "c",
    )
    assert uses(spec(volumes=[{"secret": {"secretName": "s"}}]), "Secret", "s")
    assert uses(
        spec(volumes=[{"projected": {"sources": [{"secret": {"name": "s"}}]}}]), "Secret", "s"
    )
    assert uses(spec(container={"envFrom": [{"secretRef": {"name": "s"}}]}), "Secret", "s")
    init = {
        "spec": {
            "containers": [],
            "initContainers": [{"env": [{"valueFrom": {"secretKeyRef": {"name": "s"}}}]}],
        }
    }
    assert uses(init, "Secret", "s")
    assert not uses(spec(volumes=[{"secret": {"secretName": "c"}}]), "ConfigMap", "c")
    assert not uses(spec(volumes=[{"configMap": {"name": "other"}}]), "ConfigMap", "c")
    assert not uses({}, "ConfigMap", "c")


def test_the_labels_services_select_a_pod_by() -> None:
    services = [
        {"spec": {"selector": {"app": "web", "tier": "front"}}},
        {"spec": {"selector": {"app": "web", "tier": "back"}}},  # does not select it
        {"spec": {"selector": {"metrics": "on"}}},
        {"spec": {}},  # selects nothing (an external Service)
    ]
    labels = {"app": "web", "tier": "front", "metrics": "on", "keep": "x"}
    assert selected_keys(labels, services) == {"app", "tier", "metrics"}
    assert selected_keys({"keep": "x"}, services) == set()


def test_a_rerun_spares_the_replacements_the_isolation_caused() -> None:
    from kubeops.respond.actions.isolate import ISOLATED_BY, suspects

    def pod(name: str, created: str, by: str | None = None) -> dict[str, Any]:
        meta: dict[str, Any] = {"name": name, "creationTimestamp": created}
        if by is not None:
            meta["annotations"] = {ISOLATED_BY: by}
        return {"metadata": meta}

    first_run = [pod("a", "2026-01-01T10:00:00Z"), pod("b", "2026-01-01T10:00:00Z")]
    assert suspects(first_run, "act") == first_run

    rerun = [
        pod("a", "2026-01-01T10:00:00Z", by="act 2026-01-01T10:05:00.400000+00:00"),
        pod("b", "2026-01-01T10:00:00Z"),  # the run stopped before relabelling it
        pod("a-new", "2026-01-01T10:05:00Z"),  # same second as the isolation: a replacement
        pod("b-new", "2026-01-01T10:06:00Z"),
        pod("c", "2026-01-01T10:01:00Z", by="other-action 2026-01-01T10:02:00+00:00"),
    ]
    assert [p["metadata"]["name"] for p in suspects(rerun, "act")] == ["a", "b", "c"]
