"""Networking: Services without backends, Ingresses pointing at nothing, namespaces
without NetworkPolicies, and what is exposed outside the cluster."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kubeops.inspect.catalog import CheckContext, Hit, register_check
from kubeops.inspect.checks.fields import Lookup, class_names, meta, name, namespace, spec, status
from kubeops.inspect.model import Severity

if TYPE_CHECKING:
    from kubeops.api import Object

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
DEFAULT_INGRESS_CLASS = "ingressclass.kubernetes.io/is-default-class"
FINISHED_PHASES = ("Succeeded", "Failed")


def service_selector(service: Object) -> dict[str, str]:
    """The Pods a Service routes to; empty for ExternalName and selector-less Services,
    whose endpoints someone else manages."""
    svc = spec(service)
    selector = svc.get("selector")
    if svc.get("type") == "ExternalName" or not isinstance(selector, dict):
        return {}
    return {str(k): str(v) for k, v in selector.items()}


def _selector_text(selector: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(selector.items()))


@register_check(
    "service-no-endpoints",
    title="Service without ready endpoints",
    category="networking",
    severity=Severity.ERROR,
    subject="services",
    needs=("endpointslices",),
    rationale="A Service with no ready endpoint refuses or drops every connection: its clients see an outage even though the Service exists.",
    remediation="Check that Pods match the selector and pass their readiness probes: `kubectl get endpointslices -l kubernetes.io/service-name=NAME` and `kubectl get pods -l SELECTOR`.",
)
def service_no_endpoints(ctx: CheckContext) -> Iterator[Hit]:
    ready: set[tuple[str | None, str]] = set()
    listed: dict[tuple[str | None, str], int] = defaultdict(int)
    for endpoint_slice in ctx.objects("endpointslices"):
        owner = (meta(endpoint_slice).get("labels") or {}).get(SERVICE_NAME_LABEL)
        if not owner:
            continue
        key = (namespace(endpoint_slice), str(owner))
        for endpoint in endpoint_slice.get("endpoints") or []:
            if not endpoint.get("addresses"):
                continue
            listed[key] += 1
            # An absent ready condition means unknown, which consumers treat as ready.
            if (endpoint.get("conditions") or {}).get("ready") is not False:
                ready.add(key)
    for service in ctx.objects("services"):
        if not service_selector(service):
            continue
        key = (namespace(service), name(service))
        if key in ready:
            continue
        count = listed.get(key, 0)
        if count and spec(service).get("publishNotReadyAddresses"):
            continue  # not-ready endpoints receive traffic too
        if count:
            yield Hit(service, f"none of its {count} endpoints is ready")
        else:
            yield Hit(service, "it has no endpoints")


class _LabelIndex:
    """Which labelled things carry a label, per namespace: a Service's selector is
    answered by intersecting a few sets rather than by matching every Pod."""

    def __init__(self, static: bool) -> None:
        self.static = static
        self._sets: dict[str | None, dict[tuple[str, str], set[int]]] = defaultdict(
            lambda: defaultdict(set)
        )
        self._count = 0

    def add(self, ns: str | None, labels: Any) -> None:
        self._count += 1
        by_label = self._sets[ns]
        by_label[("", "")].add(self._count)  # everything in the namespace
        if isinstance(labels, dict):
            for key, value in labels.items():
                by_label[(str(key), str(value))].add(self._count)

    def matches(self, ns: str | None, selector: dict[str, str]) -> bool:
        """Whether anything in ``ns`` carries every label of ``selector`` (an equality map)."""
        if not self.static:
            spaces = [ns]
        elif ns is None:
            spaces = list(self._sets)
        else:
            spaces = [ns, None]
        for space in spaces:
            by_label = self._sets.get(space)
            if by_label is None:
                continue
            sets = sorted((by_label.get(item, set()) for item in selector.items()), key=len)
            if sets and sets[0] and set.intersection(*sets):
                return True
        return False


@register_check(
    "service-selector-no-pods",
    title="Service selector matches no Pod",
    category="networking",
    severity=Severity.ERROR,
    subject="services",
    needs=("pods",),
    static=True,
    rationale="A Service whose selector matches no Pod has no backend at all; usually a label typo or a Service left behind by a removed workload.",
    remediation="Compare the Service's selector with the Pod template labels (`kubectl get pods -l SELECTOR`); fix the labels or delete the Service.",
)
def service_selector_no_pods(ctx: CheckContext) -> Iterator[Hit]:
    # Live, the Pods that exist are the truth (a workload scaled to zero leaves its
    # Service without backends).  On manifests, the Pod templates of the workloads
    # and the Pods in them are what a selector will match once applied.
    static = ctx.snapshot.static
    index = _LabelIndex(static)
    if static:
        for owner in ctx.pod_specs():
            index.add(namespace(owner.obj), owner.template_meta.get("labels"))
    else:
        for pod in ctx.objects("pods"):
            if status(pod).get("phase") not in FINISHED_PHASES:
                index.add(namespace(pod), meta(pod).get("labels"))
    what = "Pod template in the manifests" if static else "Pod"
    for service in ctx.objects("services"):
        selector = service_selector(service)
        if selector and not index.matches(namespace(service), selector):
            yield Hit(service, f"selector {_selector_text(selector)} matches no {what}")


@register_check(
    "service-exposed",
    title="Service exposed outside the cluster",
    category="networking",
    severity=Severity.INFO,
    subject="services",
    static=True,
    rationale="NodePort and LoadBalancer Services and external IPs accept traffic from outside the cluster; each should be exposed on purpose.",
    remediation="Prefer a ClusterIP Service behind an Ingress or Gateway; restrict LoadBalancers with spec.loadBalancerSourceRanges or the provider's internal load balancer annotation.",
)
def service_exposed(ctx: CheckContext) -> Iterator[Hit]:
    for service in ctx.objects("services"):
        svc = spec(service)
        kind = svc.get("type") or "ClusterIP"
        external_ips = svc.get("externalIPs") or []
        if kind not in ("NodePort", "LoadBalancer") and not external_ips:
            continue
        ports = ", ".join(
            f"{p.get('port')}/{p.get('protocol') or 'TCP'}"
            + (f" (node port {p['nodePort']})" if p.get("nodePort") else "")
            for p in svc.get("ports") or []
        )
        parts = [f"type {kind} exposes {ports or 'its ports'}"]
        if external_ips:
            parts.append(f"on external IPs {', '.join(map(str, external_ips))}")
        ranges = svc.get("loadBalancerSourceRanges") or []
        if kind == "LoadBalancer":
            parts.append(f"to {', '.join(map(str, ranges))}" if ranges else "to any source address")
        yield Hit(service, " ".join(parts))


# --- ingresses -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Backend:
    """One Service an Ingress routes to, and where in the Ingress it is named."""

    where: str
    service: str
    port_number: int | None
    port_name: str | None


def ingress_backends(ingress: Object) -> Iterator[Backend]:
    """Service backends of an Ingress (networking.k8s.io/v1, or v1beta1 in old manifests);
    resource backends are skipped."""
    ing = spec(ingress)
    default = ing.get("defaultBackend") or ing.get("backend")
    if isinstance(default, dict):
        found = _backend(default, "the default backend")
        if found is not None:
            yield found
    for rule in ing.get("rules") or []:
        host = rule.get("host") or "*"
        for path in (rule.get("http") or {}).get("paths") or []:
            found = _backend(path.get("backend") or {}, f"{host}{path.get('path') or '/'}")
            if found is not None:
                yield found


def _backend(backend: Object, where: str) -> Backend | None:
    service = backend.get("service")
    if isinstance(service, dict) and service.get("name"):
        port = service.get("port") or {}
        number = port.get("number")
        return Backend(
            where,
            str(service["name"]),
            int(number) if isinstance(number, int) else None,
            str(port["name"]) if port.get("name") else None,
        )
    if backend.get("serviceName"):  # extensions/v1beta1 and networking.k8s.io/v1beta1
        port = backend.get("servicePort")
        text = "" if port is None else str(port)
        if text.isdigit():
            return Backend(where, str(backend["serviceName"]), int(text), None)
        return Backend(where, str(backend["serviceName"]), None, text or None)
    return None


def _services(ctx: CheckContext) -> Lookup:
    services = Lookup(ctx.snapshot.static)
    for service in ctx.objects("services"):
        services.add(namespace(service), name(service), service)
    return services


@register_check(
    "ingress-missing-service",
    title="Ingress routes to a missing Service",
    category="networking",
    severity=Severity.ERROR,
    subject="ingresses",
    needs=("services",),
    static=True,
    rationale="Requests an Ingress routes to a Service that does not exist fail with 503 at the ingress controller.",
    remediation="Create the Service, or fix the backend's service name in the Ingress (`kubectl describe ingress NAME`).",
)
def ingress_missing_service(ctx: CheckContext) -> Iterator[Hit]:
    services = _services(ctx)
    for ingress in ctx.objects("ingresses"):
        missing: dict[str, list[str]] = {}
        for backend in ingress_backends(ingress):
            if not services.get(namespace(ingress), backend.service):
                missing.setdefault(backend.service, []).append(backend.where)
        for service, where in missing.items():
            yield Hit(ingress, f'Service "{service}" (for {", ".join(where)}) does not exist')


@register_check(
    "ingress-service-port",
    title="Ingress routes to a port its Service does not expose",
    category="networking",
    severity=Severity.ERROR,
    subject="ingresses",
    needs=("services",),
    static=True,
    rationale="A backend port that the Service does not define cannot be routed: the ingress controller answers 503 for that path.",
    remediation="Use a port number from the Service's spec.ports[].port (not the targetPort) or one of its port names.",
)
def ingress_service_port(ctx: CheckContext) -> Iterator[Hit]:
    services = _services(ctx)
    for ingress in ctx.objects("ingresses"):
        for backend in ingress_backends(ingress):
            found = services.get(namespace(ingress), backend.service)
            if not found or spec(found[0]).get("type") == "ExternalName":
                continue
            ports = [p for p in spec(found[0]).get("ports") or [] if isinstance(p, dict)]
            numbers = {p.get("port") for p in ports}
            names = {p.get("name") for p in ports if p.get("name")}
            if backend.port_number is not None and backend.port_number not in numbers:
                offered = ", ".join(str(n) for n in sorted(n for n in numbers if n is not None))
                yield Hit(
                    ingress,
                    f'port {backend.port_number} of Service "{backend.service}" (for {backend.where}) '
                    f"is not one of its ports ({offered or 'none'})",
                )
            elif backend.port_name is not None and backend.port_name not in names:
                offered = ", ".join(sorted(str(n) for n in names))
                yield Hit(
                    ingress,
                    f'port "{backend.port_name}" of Service "{backend.service}" (for {backend.where}) '
                    f"is not one of its port names ({offered or 'none'})",
                )


@register_check(
    "ingress-class-missing",
    title="Ingress without a usable IngressClass",
    category="networking",
    severity=Severity.WARNING,
    subject="ingresses",
    needs=("ingressclasses",),
    rationale="An Ingress naming an IngressClass that does not exist, or naming none when the cluster has no default class, is served by no controller.",
    remediation="Set spec.ingressClassName to one of `kubectl get ingressclass`, or mark one class as the default with the annotation ingressclass.kubernetes.io/is-default-class=true.",
)
def ingress_class_missing(ctx: CheckContext) -> Iterator[Hit]:
    classes, has_default = class_names(ctx.objects("ingressclasses"), DEFAULT_INGRESS_CLASS)
    for ingress in ctx.objects("ingresses"):
        wanted = spec(ingress).get("ingressClassName")
        if wanted:
            if wanted not in classes:
                yield Hit(ingress, f'IngressClass "{wanted}" does not exist')
        elif (meta(ingress).get("annotations") or {}).get("kubernetes.io/ingress.class"):
            continue  # the deprecated annotation: controllers match it by their own rules
        elif not has_default:
            yield Hit(
                ingress, "it names no IngressClass and the cluster has no default IngressClass"
            )


# --- network policies ----------------------------------------------------------------------------


@register_check(
    "namespace-no-networkpolicy",
    title="Namespace without a NetworkPolicy",
    category="networking",
    severity=Severity.WARNING,
    subject="namespaces",
    needs=("networkpolicies", "pods"),
    thresholds={"skip_namespaces": ["kube-system", "kube-public", "kube-node-lease"]},
    rationale="Without a NetworkPolicy every Pod in the namespace accepts traffic from every Pod in the cluster, so one compromised workload reaches all others.",
    remediation="Start with a default-deny policy for the namespace and allow what each workload needs; namespaces that must stay open can be listed in the check's skip_namespaces threshold.",
)
def namespace_no_networkpolicy(ctx: CheckContext) -> Iterator[Hit]:
    skip = {str(n) for n in ctx.threshold("skip_namespaces")}
    covered = {namespace(p) for p in ctx.objects("networkpolicies")}
    running: dict[str | None, int] = defaultdict(int)
    for pod in ctx.objects("pods"):
        if status(pod).get("phase") not in FINISHED_PHASES:
            running[namespace(pod)] += 1
    for ns in ctx.objects("namespaces"):
        ns_name = name(ns)
        # A namespace with nothing running has nothing to protect yet.
        if ns_name in skip or ns_name in covered or not running.get(ns_name):
            continue
        if status(ns).get("phase") == "Terminating":
            continue
        count = running[ns_name]
        yield Hit(ns, f"no NetworkPolicy restricts its {count} Pod{'s' if count != 1 else ''}")
