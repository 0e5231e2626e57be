"""The networking checks' edge cases: EndpointSlice readiness, selector matching
against Pods (live) and Pod templates (manifests), Ingress backends in both API
versions, and the NetworkPolicy namespace list."""

from __future__ import annotations

import datetime
from typing import Any

from kubeops.inspect.checks.networking import Backend, ingress_backends, service_selector
from kubeops.inspect.config import InspectConfig, parse_inspect_config
from kubeops.inspect.model import ClusterResult, Severity
from kubeops.inspect.runner import run_checks
from kubeops.inspect.snapshot import Snapshot

Object = dict[str, Any]
NOW = datetime.datetime(2025, 6, 1, 12, 0, tzinfo=datetime.UTC)


def live(*objects: Object) -> Snapshot:
    return Snapshot(cluster="test", data=Snapshot.from_objects(objects).data)


def run(snapshot: Snapshot, *checks: str, config: InspectConfig | None = None) -> ClusterResult:
    config = config or InspectConfig(only=checks)
    result = run_checks(snapshot, config, now=NOW)
    assert not result.not_run, result.not_run
    return result


def flagged(result: ClusterResult) -> set[str]:
    return {f"{f.object.kind}/{f.object.name}" for f in result.findings}


def meta(name: str, namespace: str | None, **labels: str) -> Object:
    found: Object = {"name": name}
    if namespace:
        found["namespace"] = namespace
    if labels:
        found["labels"] = labels
    return found


def service(
    name: str, selector: dict[str, str] | None = None, namespace: str | None = "shop", **spec: Any
) -> Object:
    body: Object = {"ports": [{"name": "http", "port": 80, "targetPort": 8080}], **spec}
    if selector is not None:
        body["selector"] = selector
    return {"apiVersion": "v1", "kind": "Service", "metadata": meta(name, namespace), "spec": body}


def endpoint_slice(service: str, *endpoints: Object, namespace: str = "shop") -> Object:
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": f"{service}-x",
            "namespace": namespace,
            "labels": {"kubernetes.io/service-name": service},
        },
        "addressType": "IPv4",
        "endpoints": list(endpoints),
    }


def endpoint(ready: bool | None = True, addresses: tuple[str, ...] = ("10.0.0.1",)) -> Object:
    found: Object = {"addresses": list(addresses)}
    if ready is not None:
        found["conditions"] = {"ready": ready}
    return found


def pod(name: str, namespace: str | None = "shop", phase: str = "Running", **labels: str) -> Object:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta(name, namespace, **labels),
        "spec": {"containers": [{"name": "app", "image": "app"}]},
        "status": {"phase": phase},
    }


def deployment(name: str, namespace: str | None = "shop", **labels: str) -> Object:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta(name, namespace),
        "spec": {"template": {"metadata": {"labels": labels}, "spec": {"containers": []}}},
    }


# ---------------------------------------------------------------------------
# Services
# ---------------------------------------------------------------------------


def test_service_selector_skips_external_name_and_selectorless() -> None:
    assert service_selector(service("a", {"app": "a"})) == {"app": "a"}
    assert service_selector(service("a")) == {}
    assert service_selector(service("a", {})) == {}
    assert service_selector(service("a", {"app": "a"}, type="ExternalName")) == {}
    assert service_selector({}) == {}


def test_service_no_endpoints() -> None:
    result = run(
        live(
            service("none", {"app": "none"}),
            service("unready", {"app": "unready"}),
            endpoint_slice("unready", endpoint(False), endpoint(False)),
            # Slices of a Service of the same name in another namespace do not count.
            service("elsewhere", {"app": "elsewhere"}),
            endpoint_slice("elsewhere", endpoint(True), namespace="other"),
            # An endpoint without addresses is nothing to route to.
            service("no-address", {"app": "x"}),
            endpoint_slice("no-address", endpoint(True, ())),
            service("one-ready", {"app": "web"}),
            endpoint_slice("one-ready", endpoint(False), endpoint(True)),
            service("unknown", {"app": "u"}),
            endpoint_slice("unknown", endpoint(None)),
            service("peers", {"app": "p"}, publishNotReadyAddresses=True),
            endpoint_slice("peers", endpoint(False)),
            service("external", {"app": "e"}, type="ExternalName"),
            service("manual"),
        ),
        "service-no-endpoints",
    )
    assert flagged(result) == {
        "Service/none",
        "Service/unready",
        "Service/elsewhere",
        "Service/no-address",
    }
    messages = {f.object.name: f.message for f in result.findings}
    assert messages["unready"] == "none of its 2 endpoints is ready"
    assert messages["none"] == "it has no endpoints"


def test_service_selector_no_pods_live() -> None:
    result = run(
        live(
            pod("web-1", app="web", tier="front", extra="x"),
            pod("done", phase="Succeeded", app="batch"),
            pod("other-ns", namespace="other", app="api"),
            service("web", {"app": "web", "tier": "front"}),
            service("partial", {"app": "web", "tier": "back"}),
            service("batch", {"app": "batch"}),
            service("api", {"app": "api"}),
            service("manual"),
        ),
        "service-selector-no-pods",
    )
    assert flagged(result) == {"Service/partial", "Service/batch", "Service/api"}
    assert "selector app=web,tier=back matches no Pod" in [f.message for f in result.findings]


def test_service_selector_no_pods_static_matches_templates() -> None:
    result = run(
        Snapshot.from_objects(
            [
                deployment("web", app="web", tier="front"),
                pod("debug", app="debug"),
                service("web", {"app": "web"}),
                service("debug", {"app": "debug"}),
                service("typo", {"app": "wbe"}),
                # A manifest without a namespace matches templates in any namespace.
                service("loose", {"app": "web"}, namespace=None),
                deployment("api", namespace=None, app="api"),
                service("api", {"app": "api"}, namespace="shop"),
                service("elsewhere", {"app": "web"}, namespace="other"),
            ]
        ),
        "service-selector-no-pods",
    )
    assert flagged(result) == {"Service/typo", "Service/elsewhere"}
    assert all("Pod template" in f.message for f in result.findings)


def test_service_exposed() -> None:
    result = run(
        Snapshot.from_objects(
            [
                service("lb", {"app": "a"}, type="LoadBalancer"),
                service("np", {"app": "a"}, type="NodePort"),
                service("ext", {"app": "a"}, externalIPs=["192.0.2.1"]),
                service("internal", {"app": "a"}),
                service("defaulted", {"app": "a"}, type=None),
            ]
        ),
        "service-exposed",
    )
    assert flagged(result) == {"Service/lb", "Service/np", "Service/ext"}
    assert {f.severity for f in result.findings} == {Severity.INFO}
    messages = {f.object.name: f.message for f in result.findings}
    assert messages["lb"] == "type LoadBalancer exposes 80/TCP to any source address"
    assert "192.0.2.1" in messages["ext"]


# ---------------------------------------------------------------------------
# Ingresses
# ---------------------------------------------------------------------------


def ingress(name: str, spec: Object, namespace: str | None = "shop", **annotations: str) -> Object:
    metadata = meta(name, namespace)
    if annotations:
        metadata["annotations"] = annotations
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": metadata,
        "spec": spec,
    }


def v1_backend(service: str, port: int | str) -> Object:
    ref = {"number": port} if isinstance(port, int) else {"name": port}
    return {"service": {"name": service, "port": ref}}


def rules(*backends: Object, host: str = "shop.example.com") -> Object:
    return {
        "rules": [
            {
                "host": host,
                "http": {
                    "paths": [{"path": f"/{i}", "backend": b} for i, b in enumerate(backends)]
                },
            }
        ]
    }


def test_ingress_backends_both_api_versions() -> None:
    v1 = ingress(
        "a",
        {
            "defaultBackend": v1_backend("default", 80),
            **rules(
                v1_backend("web", "http"),
                {"resource": {"kind": "StorageBucket", "name": "static"}},
            ),
        },
    )
    assert list(ingress_backends(v1)) == [
        Backend("the default backend", "default", 80, None),
        Backend("shop.example.com/0", "web", None, "http"),
    ]
    beta = ingress(
        "b",
        {
            "backend": {"serviceName": "default", "servicePort": "8080"},
            "rules": [
                {"http": {"paths": [{"backend": {"serviceName": "web", "servicePort": "http"}}]}}
            ],
        },
    )
    assert list(ingress_backends(beta)) == [
        Backend("the default backend", "default", 8080, None),
        Backend("*/", "web", None, "http"),
    ]
    assert list(ingress_backends({"kind": "Ingress"})) == []


def test_ingress_missing_service_and_port() -> None:
    objects = [
        service("web", {"app": "web"}),
        service("cdn", type="ExternalName", externalName="cdn.example.com"),
        ingress(
            "ok", rules(v1_backend("web", 80), v1_backend("web", "http"), v1_backend("cdn", 443))
        ),
        ingress("missing", rules(v1_backend("gone", 80), v1_backend("gone", 81))),
        ingress("wrong-number", rules(v1_backend("web", 8080))),
        ingress("wrong-name", rules(v1_backend("web", "https"))),
        ingress("other-ns", rules(v1_backend("web", 80)), namespace="other"),
    ]
    for snapshot in (live(*objects), Snapshot.from_objects(objects)):
        result = run(snapshot, "ingress-missing-service", "ingress-service-port")
        found = {(f.check, f.object.name) for f in result.findings}
        assert found == {
            ("ingress-missing-service", "missing"),
            ("ingress-missing-service", "other-ns"),
            ("ingress-service-port", "wrong-number"),
            ("ingress-service-port", "wrong-name"),
        }
        missing = [f.message for f in result.findings if f.object.name == "missing"]
        assert missing == [
            'Service "gone" (for shop.example.com/0, shop.example.com/1) does not exist'
        ]


def test_ingress_missing_service_static_namespace_left_out() -> None:
    result = run(
        Snapshot.from_objects(
            [
                service("web", {"app": "web"}, namespace=None),
                ingress("shop", rules(v1_backend("web", 80))),
            ]
        ),
        "ingress-missing-service",
        "ingress-service-port",
    )
    assert set(result.checks_run) == {"ingress-missing-service", "ingress-service-port"}
    assert not result.findings


def test_ingress_class_missing() -> None:
    nginx = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "IngressClass",
        "metadata": {"name": "nginx"},
    }
    default = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "IngressClass",
        "metadata": {
            "name": "default",
            "annotations": {"ingressclass.kubernetes.io/is-default-class": "true"},
        },
    }
    ingresses = [
        ingress("named", {"ingressClassName": "nginx"}),
        ingress("gone", {"ingressClassName": "traefik"}),
        ingress("unnamed", {}),
        ingress("annotated", {}, **{"kubernetes.io/ingress.class": "nginx"}),
    ]
    result = run(live(nginx, *ingresses), "ingress-class-missing")
    assert flagged(result) == {"Ingress/gone", "Ingress/unnamed"}
    result = run(live(nginx, default, *ingresses), "ingress-class-missing")
    assert flagged(result) == {"Ingress/gone"}


# ---------------------------------------------------------------------------
# Network policies
# ---------------------------------------------------------------------------


def namespace(name: str, phase: str = "Active") -> Object:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name},
        "status": {"phase": phase},
    }


def policy(ns: str) -> Object:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "deny", "namespace": ns},
        "spec": {"podSelector": {}},
    }


def test_namespace_no_networkpolicy() -> None:
    snapshot = live(
        namespace("open"),
        pod("a", "open"),
        pod("b", "open"),
        namespace("covered"),
        pod("a", "covered"),
        policy("covered"),
        namespace("empty"),
        namespace("finished"),
        pod("done", "finished", phase="Succeeded"),
        namespace("kube-system"),
        pod("dns", "kube-system"),
        namespace("going", "Terminating"),
        pod("a", "going"),
    )
    result = run(snapshot, "namespace-no-networkpolicy")
    assert flagged(result) == {"Namespace/open"}
    assert result.findings[0].message == "no NetworkPolicy restricts its 2 Pods"
    config = parse_inspect_config(
        {"checks": {"namespace-no-networkpolicy": {"thresholds": {"skip_namespaces": ["open"]}}}}
    )
    config = InspectConfig(checks=config.checks, only=("namespace-no-networkpolicy",))
    result = run(snapshot, config=config)
    assert flagged(result) == {"Namespace/kube-system"}
