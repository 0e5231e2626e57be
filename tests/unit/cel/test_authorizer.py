"""Kubernetes' authorizer library: each check asks the activation's callback once."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from kubeops import cel
from kubeops.cel.authorizer import activation

REQUEST = {
    "userInfo": {"username": "alice", "groups": ["dev"], "uid": "u1"},
    "resource": {"group": "apps", "version": "v1", "resource": "deployments"},
    "subResource": "",
    "namespace": "team-a",
    "name": "web",
}
VARIABLES = ("object", "request", "authorizer")


class Recorder:
    """An authorizer that allows pods and records every spec it is asked about."""

    def __init__(self) -> None:
        self.specs: list[Mapping[str, Any]] = []

    def __call__(self, spec: Mapping[str, Any]) -> tuple[str, str] | None:
        self.specs.append(spec)
        attributes = spec.get("resourceAttributes") or {}
        if attributes.get("resource") == "pods":
            return "allowed", "RBAC: allowed by role pod-reader"
        return "denied", "no rule"


def _evaluate(expression: str, authorize: Any) -> Any:
    program = cel.compile(expression, variables=VARIABLES)
    return program.evaluate({"object": {}, "request": REQUEST, "authorizer": activation(authorize)})


@pytest.mark.parametrize(
    ("expression", "expected", "asked"),
    [
        (
            "authorizer.group('').resource('pods').namespace('x').name('p').check('get').allowed()",
            True,
            {"group": "", "resource": "pods", "subresource": "", "namespace": "x", "name": "p"},
        ),
        (
            "authorizer.group('').resource('pods').subresource('log').check('get').reason()",
            "RBAC: allowed by role pod-reader",
            {"resource": "pods", "subresource": "log"},
        ),
        (
            "authorizer.group('apps').resource('deployments').check('delete').allowed()",
            False,
            {"group": "apps", "resource": "deployments", "verb": "delete", "version": "*"},
        ),
        (
            "authorizer.requestResource.check('update').allowed()",
            False,
            {"group": "apps", "resource": "deployments", "namespace": "team-a", "name": "web"},
        ),
        (
            "authorizer.group('').resource('pods').labelSelector('a=b').check('list').errored()",
            False,
            {"labelSelector": {"rawSelector": "a=b"}},
        ),
    ],
)
def test_resource_checks(expression: str, expected: object, asked: dict[str, object]) -> None:
    recorder = Recorder()
    assert _evaluate(expression, recorder) == expected
    (spec,) = recorder.specs
    assert spec["user"] == "alice"
    assert spec["groups"] == ["dev"]
    assert asked.items() <= spec["resourceAttributes"].items()


def test_path_checks_and_service_accounts() -> None:
    recorder = Recorder()
    assert _evaluate("authorizer.path('/metrics').check('get').allowed()", recorder) is False
    assert recorder.specs[-1]["nonResourceAttributes"] == {"path": "/metrics", "verb": "get"}
    expression = (
        "authorizer.serviceAccount('ci', 'deployer').group('').resource('pods').check('list')"
    )
    assert _evaluate(f"{expression}.allowed()", recorder) is True
    assert recorder.specs[-1]["user"] == "system:serviceaccount:ci:deployer"
    assert recorder.specs[-1]["groups"] == ["system:serviceaccounts", "system:serviceaccounts:ci"]


def test_a_failing_authorizer_is_an_errored_decision() -> None:
    def broken(spec: Mapping[str, Any]) -> tuple[str, str] | None:
        raise RuntimeError("webhook authorizer timed out")

    decision = "authorizer.group('').resource('pods').check('get')"
    assert _evaluate(f"{decision}.errored()", broken) is True
    assert _evaluate(f"{decision}.error()", broken) == "webhook authorizer timed out"
    assert _evaluate(f"{decision}.allowed()", broken) is False


@pytest.mark.parametrize(
    ("expression", "authorize", "cause"),
    [
        ("authorizer.path('/x').check('get').allowed()", lambda spec: None, "no authorizer to ask"),
        ("authorizer.path(' ').check('get').allowed()", Recorder(), "path must not be empty"),
        (
            "authorizer.group('').resource('').check('get').allowed()",
            Recorder(),
            "resource must not be empty",
        ),
        (
            "authorizer.serviceAccount('NS', 'sa').path('/').check('get').allowed()",
            Recorder(),
            "Invalid service account namespace",
        ),
        (
            "authorizer.serviceAccount('ns', 'S A').path('/').check('get').allowed()",
            Recorder(),
            "Invalid service account name",
        ),
    ],
)
def test_errors(expression: str, authorize: Any, cause: str) -> None:
    with pytest.raises(cel.CelEvaluationError, match=cause):
        _evaluate(expression, authorize)


def test_misuse_fails_to_compile() -> None:
    for expression in (
        "authorizer.check('get')",
        "authorizer.group('').check('get')",
        "authorizer.path('/').resource('x')",
    ):
        with pytest.raises(cel.CelError, match="no matching overload"):
            cel.compile(expression, variables=VARIABLES)
