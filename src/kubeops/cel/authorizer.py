"""Kubernetes' CEL authorizer library: ``authorizer.group('apps').resource('deployments').check('create')``.

As k8s.io/apiserver's ``library.Authz`` (and ``AuthzSelectors``): the variable
``authorizer`` asks whether the request's user (or, after
``.serviceAccount(ns, name)``, that service account) may do something; ``check``
returns a decision with ``allowed()``, ``reason()``, ``errored()`` and ``error()``;
``authorizer.requestResource`` is the request's own resource.

Who answers is the caller's: put ``activation(authorize)`` in the activation as
``authorizer``; each ``check`` then calls ``authorize(spec)`` with a
SubjectAccessReview spec (the user from ``request.userInfo``, plus
``resourceAttributes`` or ``nonResourceAttributes``) -- the shape of
kubeops.policy.model.Context.authorize -- and expects ``(decision, reason)``
(``allowed``/``denied``/``noOpinion``) or None when there is no authorizer to ask,
which makes the check an evaluation error.  The callback lives in a context
variable for the one evaluation, since a CEL value cannot hold a Python function.
"""

from __future__ import annotations

import contextvars
import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Final

from cel_expr_python import cel  # type: ignore[import-untyped]

from kubeops.cel.formats import dns1123_label, dns1123_subdomain
from kubeops.cel.overloads import Fn, Opaque, method, register

__all__ = [
    "AUTHORIZER",
    "REQUEST_RESOURCE",
    "REQUEST_RESOURCE_TYPE",
    "Authorize",
    "Binding",
    "activation",
    "overloads",
    "values",
]

Authorize = Callable[[Mapping[str, Any]], "tuple[str, str] | None"]
"""A SubjectAccessReview spec in, ``(decision, reason)`` or None (no authorizer) out."""

REQUEST_RESOURCE: Final = "authorizer.requestResource"
"""The variable holding the request's own resource check."""

_T = cel.Type


def _kind_test(kind: str) -> Callable[[object], bool]:
    def test(payload: object) -> bool:
        return _load(payload).get("kind") == kind

    return test


def _opaque(kind: str, cel_type: Any, key: object) -> Opaque:
    name = f"kubernetes.authorization.{kind}"
    return register(Opaque(name, cel_type, key, _kind_test(kind), show=lambda _: f"<{name}>"))


# Receiver-only values: five distinct CEL types, each a one-key map of JSON.
AUTHORIZER: Final = _opaque("Authorizer", _T.Map(_T.BOOL, _T.STRING), True)
_PATH: Final = _opaque("PathCheck", _T.Map(_T.INT, _T.STRING), 0)
_GROUP: Final = _opaque("GroupCheck", _T.Map(_T.UINT, _T.STRING), 0)
_RESOURCE: Final = _opaque("ResourceCheck", _T.Map(_T.BOOL, _T.BYTES), True)
_DECISION: Final = _opaque("Decision", _T.Map(_T.INT, _T.BYTES), 0)
REQUEST_RESOURCE_TYPE: Final = _RESOURCE.type


def _load(payload: object) -> dict[str, Any]:
    try:
        raw = payload.decode() if isinstance(payload, bytes | bytearray) else str(payload)
        loaded = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return {}
    return loaded if isinstance(loaded, dict) else {}


def _make(opaque: Opaque, **fields: Any) -> dict[object, object]:
    text = json.dumps({"kind": opaque.name.rsplit(".", 1)[1], **fields}, sort_keys=True)
    return opaque.wrap(text.encode() if opaque is _RESOURCE or opaque is _DECISION else text)


def _fields(opaque: Opaque, value: object) -> dict[str, Any]:
    return _load(opaque.unwrap(value))


@dataclass(frozen=True)
class Binding:
    """The ``authorizer`` of one activation: who answers, and the requesting user."""

    authorize: Authorize
    user: Mapping[str, Any] | None = None


_CURRENT: contextvars.ContextVar[Binding | None] = contextvars.ContextVar(
    "kubeops_cel_authorizer", default=None
)


def activation(authorize: Authorize, user: Mapping[str, Any] | None = None) -> Binding:
    """The value to pass as ``authorizer``: checks ask ``authorize``.

    ``user`` is the requester (``request.userInfo``: username, uid, groups, extra);
    without it the activation's ``request.userInfo`` is used.
    """
    return Binding(authorize, user)


def _user_spec(user: Mapping[str, Any] | None) -> dict[str, Any]:
    if not user:
        return {}
    spec: dict[str, Any] = {"user": user.get("username", user.get("user", ""))}
    for key in ("uid", "groups", "extra"):
        if user.get(key):
            spec[key] = user[key]
    return spec


@contextmanager
def bound(binding: Binding) -> Iterator[None]:
    """``binding`` answers the checks of evaluations inside the ``with`` block."""
    token = _CURRENT.set(binding)
    try:
        yield
    finally:
        _CURRENT.reset(token)


def values(binding: Binding, request: object) -> dict[str, object]:
    """The activation entries for ``authorizer`` and ``authorizer.requestResource``.

    ``request`` is the admission request (for the requesting user and resource), or None.
    """
    req = request if isinstance(request, Mapping) else {}
    user = binding.user if binding.user is not None else req.get("userInfo")
    entries: dict[str, object] = {"authorizer": _make(AUTHORIZER, user=user)}
    given = req.get("resource")
    resource: Mapping[str, Any] = given if isinstance(given, Mapping) else {}
    entries[REQUEST_RESOURCE] = _make(
        _RESOURCE,
        user=user,
        group=resource.get("group", ""),
        resource=resource.get("resource", ""),
        subresource=req.get("subResource", "") or "",
        namespace=req.get("namespace", "") or "",
        name=req.get("name", "") or "",
    )
    return entries


def _ask(user: Any, attributes: dict[str, Any], key: str) -> dict[object, object]:
    binding = _CURRENT.get()
    spec = {**_user_spec(user), key: attributes}
    if binding is None:
        raise ValueError(
            "no authorizer: authorizer checks need the activation's authorizer binding"
        )
    try:
        answer = binding.authorize(spec)
    except Exception as error:  # the authorizer failed: the decision says so, as on the API server
        return _make(
            _DECISION, decision="noOpinion", reason="", error=str(error) or type(error).__name__
        )
    if answer is None:
        raise ValueError("no authorizer to ask here (authorizer checks need a cluster)")
    decision, reason = answer
    return _make(_DECISION, decision=decision, reason=reason, error="")


def _path(value: object, path: str) -> dict[object, object]:
    if not path.strip():
        raise ValueError("path must not be empty")
    return _make(_PATH, user=_fields(AUTHORIZER, value)["user"], path=path)


def _group(value: object, group: str) -> dict[object, object]:
    return _make(_GROUP, user=_fields(AUTHORIZER, value)["user"], group=group)


def _service_account(value: object, namespace: str, name: str) -> dict[object, object]:
    if dns1123_subdomain(name):
        raise ValueError("Invalid service account name")
    if dns1123_label(namespace):
        raise ValueError("Invalid service account namespace")
    user = {
        "username": f"system:serviceaccount:{namespace}:{name}",
        "groups": ["system:serviceaccounts", f"system:serviceaccounts:{namespace}"],
    }
    return _make(AUTHORIZER, user=user)


def _resource(value: object, resource: str) -> dict[object, object]:
    if not resource.strip():
        raise ValueError("resource must not be empty")
    fields = _fields(_GROUP, value)
    return _make(
        _RESOURCE,
        user=fields["user"],
        group=fields["group"],
        resource=resource,
        subresource="",
        namespace="",
        name="",
    )


def _with(field: str) -> Callable[[object, str], dict[object, object]]:
    def setter(value: object, text: str) -> dict[object, object]:
        fields = _fields(_RESOURCE, value)
        fields.pop("kind", None)
        fields[field] = text
        return _make(_RESOURCE, **fields)

    return setter


def _path_check(value: object, verb: str) -> dict[object, object]:
    fields = _fields(_PATH, value)
    return _ask(fields["user"], {"path": fields["path"], "verb": verb}, "nonResourceAttributes")


def _resource_check(value: object, verb: str) -> dict[object, object]:
    fields = _fields(_RESOURCE, value)
    attributes: dict[str, Any] = {
        key: fields.get(key, "")
        for key in ("group", "resource", "subresource", "namespace", "name")
    }
    attributes.update(version="*", verb=verb)
    for key in ("fieldSelector", "labelSelector"):
        if fields.get(key):
            attributes[key] = {"rawSelector": fields[key]}
    return _ask(fields["user"], attributes, "resourceAttributes")


def _decision(field: str) -> Callable[[object], Any]:
    def getter(value: object) -> Any:
        fields = _fields(_DECISION, value)
        if field == "allowed":
            return fields.get("decision") == "allowed"
        if field == "errored":
            return bool(fields.get("error"))
        return str(fields.get(field, ""))

    return getter


def overloads() -> list[Fn]:
    """The library's overloads (with the selectors of ``AuthzSelectors``)."""
    a, p, g, r, d, t = AUTHORIZER.type, _PATH.type, _GROUP.type, _RESOURCE.type, _DECISION.type, _T
    return [
        method("path", "authorizer_path", p, [a, t.STRING], _path),
        method("group", "authorizer_group", g, [a, t.STRING], _group),
        method(
            "serviceAccount",
            "authorizer_serviceaccount",
            a,
            [a, t.STRING, t.STRING],
            _service_account,
        ),
        method("resource", "groupcheck_resource", r, [g, t.STRING], _resource),
        method("subresource", "resourcecheck_subresource", r, [r, t.STRING], _with("subresource")),
        method("namespace", "resourcecheck_namespace", r, [r, t.STRING], _with("namespace")),
        method("name", "resourcecheck_name", r, [r, t.STRING], _with("name")),
        method(
            "fieldSelector", "authorizer_fieldselector", r, [r, t.STRING], _with("fieldSelector")
        ),
        method(
            "labelSelector", "authorizer_labelselector", r, [r, t.STRING], _with("labelSelector")
        ),
        method("check", "pathcheck_check", d, [p, t.STRING], _path_check),
        method("check", "resourcecheck_check", d, [r, t.STRING], _resource_check),
        method("allowed", "decision_allowed", t.BOOL, [d], _decision("allowed")),
        method("reason", "decision_reason", t.STRING, [d], _decision("reason")),
        method("errored", "decision_errored", t.BOOL, [d], _decision("errored")),
        method("error", "decision_error", t.STRING, [d], _decision("error")),
    ]
