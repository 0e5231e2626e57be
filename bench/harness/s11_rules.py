"""S11's 30 policies, each written three times: as conftest Rego (a ``deny`` rule), as a
ValidatingAdmissionPolicy's CEL validation, and as a Python predicate.  The Python one is
the benchmark's own answer key: kubeops (both engines) and conftest must each find the
failures it finds, on the same corpus.

Every rule fails an object at most once (a Rego message that is the same for every
container, a single CEL validation), so "failures" counts (object, policy) pairs in all
three.  Rules look only at fields the API server neither defaults nor drops, so the
admission part denies what the CI part finds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Obj = dict[str, Any]

DEPLOYMENT = ("apps", "deployments", "Deployment")
SERVICE = ("", "services", "Service")
CONFIGMAP = ("", "configmaps", "ConfigMap")
ALLOWED_REGISTRIES = ("registry.example.com/", "ghcr.io/example/")


@dataclass(frozen=True)
class Rule:
    """One policy: ``rego`` is the body of a deny rule (after the kind guard), ``cel``
    the validation that must hold, ``fails`` the answer key."""

    name: str
    message: str
    kinds: tuple[tuple[str, str, str], ...]
    rego: tuple[str, ...]  # one deny rule per entry, each a block of conditions
    cel: str
    fails: Callable[[Obj], bool]


def _containers(o: Obj) -> list[Obj]:
    return list(o.get("spec", {}).get("template", {}).get("spec", {}).get("containers", []))


def _pod(o: Obj) -> Obj:
    return dict(o.get("spec", {}).get("template", {}).get("spec", {}))


def _sc(c: Obj) -> Obj:
    return dict(c.get("securityContext", {}))


def _res(c: Obj, part: str) -> Obj:
    return dict(c.get("resources", {}).get(part, {}))


C = "object.spec.template.spec.containers"
RC = "some c in input.spec.template.spec.containers"
POD = "object.spec.template.spec"


def _label(name: str, key: str, kinds: tuple[tuple[str, str, str], ...]) -> Rule:
    return Rule(
        name,
        f"metadata.labels must have {key}",
        kinds,
        (f'not input.metadata.labels["{key}"]',),
        f"has(object.metadata.labels) && '{key}' in object.metadata.labels",
        lambda o: key not in o.get("metadata", {}).get("labels", {}),
    )


def _resource(name: str, part: str, what: str) -> Rule:
    return Rule(
        name,
        f"every container needs resources.{part}.{what}",
        (DEPLOYMENT,),
        (f"{RC}\nnot c.resources.{part}.{what}",),
        f"{C}.all(c, has(c.resources) && has(c.resources.{part})"
        f" && '{what}' in c.resources.{part})",
        lambda o: any(what not in _res(c, part) for c in _containers(o)),
    )


def _must_be(name: str, field: str, value: bool) -> Rule:
    text = "true" if value else "false"
    return Rule(
        name,
        f"every container needs securityContext.{field}: {text}",
        (DEPLOYMENT,),
        (f"{RC}\nnot c.securityContext.{field} == {text}",),
        f"{C}.all(c, has(c.securityContext) && has(c.securityContext.{field})"
        f" && c.securityContext.{field} == {text})",
        lambda o: any(_sc(c).get(field) is not value for c in _containers(o)),
    )


def _probe(name: str, probe: str) -> Rule:
    return Rule(
        name,
        f"every container needs a {probe}",
        (DEPLOYMENT,),
        (f"{RC}\nnot c.{probe}",),
        f"{C}.all(c, has(c.{probe}))",
        lambda o: any(probe not in c for c in _containers(o)),
    )


def _host(name: str, field: str) -> Rule:
    return Rule(
        name,
        f"{field} is not allowed",
        (DEPLOYMENT,),
        (f"input.spec.template.spec.{field} == true",),
        f"!has({POD}.{field}) || {POD}.{field} == false",
        lambda o: _pod(o).get(field) is True,
    )


def _service_type(name: str, kind: str) -> Rule:
    return Rule(
        name,
        f"Services of type {kind} are not allowed",
        (SERVICE,),
        (f'input.spec.type == "{kind}"',),
        f"!has(object.spec.type) || object.spec.type != '{kind}'",
        lambda o: o.get("spec", {}).get("type") == kind,
    )


def _image_tagged(o: Obj) -> bool:
    return any(":" not in c["image"] or c["image"].endswith(":latest") for c in _containers(o))


def _capabilities(o: Obj) -> bool:
    return any(
        cap != "NET_BIND_SERVICE"
        for c in _containers(o)
        for cap in _sc(c).get("capabilities", {}).get("add", [])
    )


def _password_env(o: Obj) -> bool:
    return any(
        "PASSWORD" in e["name"] and "value" in e for c in _containers(o) for e in c.get("env", [])
    )


RULES: tuple[Rule, ...] = (
    _label("app-name-label", "app.kubernetes.io/name", (DEPLOYMENT,)),
    _label("team-label", "team", (DEPLOYMENT,)),
    Rule(
        "min-replicas",
        "spec.replicas must be at least 2",
        (DEPLOYMENT,),
        ("input.spec.replicas < 2",),
        "object.spec.replicas >= 2",
        lambda o: o["spec"]["replicas"] < 2,
    ),
    Rule(
        "image-tag",
        "every image needs a tag other than latest",
        (DEPLOYMENT,),
        (f'{RC}\nnot contains(c.image, ":")', f'{RC}\nendswith(c.image, ":latest")'),
        f"{C}.all(c, c.image.contains(':') && !c.image.endsWith(':latest'))",
        _image_tagged,
    ),
    Rule(
        "allowed-registries",
        "every image must come from an allowed registry",
        (DEPLOYMENT,),
        (f"{RC}\n" + "\n".join(f'not startswith(c.image, "{r}")' for r in ALLOWED_REGISTRIES),),
        f"{C}.all(c, "
        + " || ".join(f"c.image.startsWith('{r}')" for r in ALLOWED_REGISTRIES)
        + ")",
        lambda o: any(not c["image"].startswith(ALLOWED_REGISTRIES) for c in _containers(o)),
    ),
    _resource("memory-limit", "limits", "memory"),
    _resource("cpu-limit", "limits", "cpu"),
    _resource("memory-request", "requests", "memory"),
    _resource("cpu-request", "requests", "cpu"),
    _must_be("run-as-non-root", "runAsNonRoot", True),
    _must_be("no-privilege-escalation", "allowPrivilegeEscalation", False),
    Rule(
        "not-privileged",
        "no container may be privileged",
        (DEPLOYMENT,),
        (f"{RC}\nc.securityContext.privileged == true",),
        f"{C}.all(c, !has(c.securityContext) || !has(c.securityContext.privileged)"
        " || c.securityContext.privileged == false)",
        lambda o: any(_sc(c).get("privileged") is True for c in _containers(o)),
    ),
    _must_be("read-only-root", "readOnlyRootFilesystem", True),
    _probe("liveness-probe", "livenessProbe"),
    _probe("readiness-probe", "readinessProbe"),
    _host("no-host-network", "hostNetwork"),
    _host("no-host-pid", "hostPID"),
    Rule(
        "capabilities",
        "containers may add NET_BIND_SERVICE and no other capability",
        (DEPLOYMENT,),
        (f'{RC}\nsome cap in c.securityContext.capabilities.add\ncap != "NET_BIND_SERVICE"',),
        f"{C}.all(c, !has(c.securityContext) || !has(c.securityContext.capabilities)"
        " || !has(c.securityContext.capabilities.add)"
        " || c.securityContext.capabilities.add.all(x, x == 'NET_BIND_SERVICE'))",
        _capabilities,
    ),
    Rule(
        "no-password-in-env",
        "a PASSWORD variable must come from a Secret, not a literal value",
        (DEPLOYMENT,),
        (f'{RC}\nsome e in c.env\ncontains(e.name, "PASSWORD")\ne.value',),
        f"{C}.all(c, !has(c.env) || c.env.all(e, !e.name.contains('PASSWORD') || !has(e.value)))",
        _password_env,
    ),
    Rule(
        "named-container-ports",
        "every container port needs a name",
        (DEPLOYMENT,),
        (f"{RC}\nsome p in c.ports\nnot p.name",),
        f"{C}.all(c, !has(c.ports) || c.ports.all(p, has(p.name)))",
        lambda o: any("name" not in p for c in _containers(o) for p in c.get("ports", [])),
    ),
    Rule(
        "max-containers",
        "at most 3 containers",
        (DEPLOYMENT,),
        ("count(input.spec.template.spec.containers) > 3",),
        f"size({C}) <= 3",
        lambda o: len(_containers(o)) > 3,
    ),
    Rule(
        "service-account",
        "pods need their own service account",
        (DEPLOYMENT,),
        (
            "not input.spec.template.spec.serviceAccountName",
            'input.spec.template.spec.serviceAccountName == "default"',
        ),
        f"has({POD}.serviceAccountName) && {POD}.serviceAccountName != 'default'",
        lambda o: _pod(o).get("serviceAccountName", "default") == "default",
    ),
    _service_type("no-node-port", "NodePort"),
    _service_type("no-load-balancer", "LoadBalancer"),
    Rule(
        "named-service-ports",
        "every Service port needs a name",
        (SERVICE,),
        ("some p in input.spec.ports\nnot p.name",),
        "object.spec.ports.all(p, has(p.name))",
        lambda o: any("name" not in p for p in o["spec"]["ports"]),
    ),
    Rule(
        "service-selector",
        "a Service needs a selector",
        (SERVICE,),
        ('count(object.get(input.spec, "selector", {})) == 0',),
        "has(object.spec.selector) && size(object.spec.selector) > 0",
        lambda o: not o["spec"].get("selector"),
    ),
    Rule(
        "no-external-ips",
        "spec.externalIPs is not allowed",
        (SERVICE,),
        ('count(object.get(input.spec, "externalIPs", [])) > 0',),
        "!has(object.spec.externalIPs) || size(object.spec.externalIPs) == 0",
        lambda o: bool(o["spec"].get("externalIPs")),
    ),
    Rule(
        "no-password-keys",
        "ConfigMap keys must not name a password",
        (CONFIGMAP,),
        ('some k, _ in input.data\ncontains(k, "password")',),
        "!has(object.data) || object.data.all(k, !k.contains('password'))",
        lambda o: any("password" in k for k in o.get("data", {})),
    ),
    Rule(
        "small-values",
        "ConfigMap values must be at most 1024 characters",
        (CONFIGMAP,),
        ("some _, v in input.data\ncount(v) > 1024",),
        "!has(object.data) || object.data.all(k, size(object.data[k]) <= 1024)",
        lambda o: any(len(v) > 1024 for v in o.get("data", {}).values()),
    ),
    _label("owner-label", "owner", (DEPLOYMENT, SERVICE, CONFIGMAP)),
)


def message(index: int, rule: Rule) -> str:
    """The rule's message, the same in every language (its number first)."""
    return f"p{index + 1:02d} {rule.name}: {rule.message}"


def failures(objects: list[Obj]) -> int:
    """How many (object, policy) pairs fail: the answer key."""
    return sum(
        1
        for obj in objects
        for rule in RULES
        if any(obj["kind"] == kind for _, _, kind in rule.kinds) and rule.fails(obj)
    )
