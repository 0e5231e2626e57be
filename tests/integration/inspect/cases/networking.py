"""Networking cases.  No endpoint controller runs in the API-only cluster, so the
cases create the EndpointSlices a Service would have."""

from __future__ import annotations

from typing import Any

from ..harness import Case

Object = dict[str, Any]


def service(
    name: str,
    selector: dict[str, str] | None = None,
    type: str = "ClusterIP",
    ports: list[Object] | None = None,
    **spec: Any,
) -> Object:
    body: Object = {
        "type": type,
        "ports": ports or [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}],
        **spec,
    }
    if selector is not None:
        body["selector"] = selector
    if type == "ExternalName":
        body.pop("ports")
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": body}


def endpoint_slice(service: str, *ready: bool | None) -> Object:
    endpoints = []
    for index, state in enumerate(ready):
        endpoint: Object = {"addresses": [f"10.0.0.{index + 1}"]}
        if state is not None:
            endpoint["conditions"] = {"ready": state}
        endpoints.append(endpoint)
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {"name": f"{service}-abcde", "labels": {"kubernetes.io/service-name": service}},
        "addressType": "IPv4",
        "endpoints": endpoints,
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
    }


def pod(name: str, phase: str = "Running", **labels: str) -> Object:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "nodeName": "node-1",
            "containers": [{"name": "app", "image": "registry.example.com/app:1.0"}],
        },
        "status": {"phase": phase},
    }


def ingress(name: str, *backends: tuple[str, int | str], class_name: str | None = None) -> Object:
    paths = []
    for index, (svc, port) in enumerate(backends):
        port_ref = {"number": port} if isinstance(port, int) else {"name": port}
        paths.append(
            {
                "path": f"/p{index}",
                "pathType": "Prefix",
                "backend": {"service": {"name": svc, "port": port_ref}},
            }
        )
    spec: Object = {"rules": [{"host": "shop.example.com", "http": {"paths": paths}}]}
    if class_name is not None:
        spec["ingressClassName"] = class_name
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": name},
        "spec": spec,
    }


CASES = [
    Case(
        "service-no-endpoints",
        bad=[
            service("unready", {"app": "unready"}),
            endpoint_slice("unready", False, False),
            service("empty", {"app": "empty"}),
        ],
        good=[
            service("web", {"app": "web"}),
            endpoint_slice("web", False, True),
            # An endpoint without a ready condition counts as ready.
            service("unknown", {"app": "unknown"}),
            endpoint_slice("unknown", None),
            service("peers", {"app": "peers"}, clusterIP="None", publishNotReadyAddresses=True),
            endpoint_slice("peers", False),
            service("external", type="ExternalName", externalName="db.example.com"),
            service("manual"),
        ],
        expect=["Service/unready", "Service/empty"],
    ),
    Case(
        "service-selector-no-pods",
        bad=[
            service("typo", {"app": "wbe"}),
            service("half", {"app": "web", "tier": "db"}),
            service("finished", {"app": "batch"}),
            pod("web-1", app="web", tier="front"),
            pod("batch-1", "Succeeded", app="batch"),
        ],
        good=[
            service("web", {"app": "web", "tier": "front"}),
            pod("web-1", app="web", tier="front"),
            service("manual"),
        ],
        expect=["Service/typo", "Service/half", "Service/finished"],
    ),
    Case(
        "service-exposed",
        bad=[
            service("node-port", {"app": "web"}, type="NodePort"),
            service(
                "load-balancer",
                {"app": "web"},
                type="LoadBalancer",
                loadBalancerSourceRanges=["203.0.113.0/24"],
            ),
        ],
        good=[service("internal", {"app": "web"})],
        expect=["Service/node-port", "Service/load-balancer"],
    ),
    Case(
        "ingress-missing-service",
        bad=[ingress("shop", ("web", 80), ("missing", 80)), service("web", {"app": "web"})],
        good=[ingress("shop", ("web", 80)), service("web", {"app": "web"})],
        expect=["Ingress/shop"],
    ),
    Case(
        "ingress-service-port",
        bad=[
            # The target port instead of the Service's port.
            ingress("by-number", ("web", 8080)),
            ingress("by-name", ("web", "https")),
            service("web", {"app": "web"}),
        ],
        good=[
            ingress("shop", ("web", 80), ("web", "http"), ("external", 443)),
            service("web", {"app": "web"}),
            service("external", type="ExternalName", externalName="cdn.example.com"),
        ],
        expect=["Ingress/by-number", "Ingress/by-name"],
    ),
    Case(
        "ingress-class-missing",
        bad=[ingress("shop", ("web", 80), class_name="ingress-class-missing-gone")],
        good=[
            ingress("shop", ("web", 80), class_name="ingress-class-missing-nginx"),
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "IngressClass",
                "metadata": {"name": "ingress-class-missing-nginx"},
                "spec": {"controller": "example.com/ingress-nginx"},
            },
        ],
        expect=["Ingress/shop"],
    ),
    Case(
        "namespace-no-networkpolicy",
        bad=[pod("web-1", app="web")],
        good=[
            # Listed so the test checks that the good namespace is not flagged.
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": "namespace-no-networkpolicy-good"},
            },
            pod("web-1", app="web"),
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "NetworkPolicy",
                "metadata": {"name": "default-deny"},
                "spec": {"podSelector": {}, "policyTypes": ["Ingress"]},
            },
        ],
        expect=["Namespace/namespace-no-networkpolicy-bad"],
    ),
]
