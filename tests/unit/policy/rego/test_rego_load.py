"""conftest modules: which packages become policies, what their results mean, and
load errors named by file and line."""

from __future__ import annotations

import pytest

from kubeops.policy import rego
from kubeops.policy.context import StaticContext
from kubeops.policy.model import (
    Action,
    Document,
    PolicyEvaluationError,
    PolicyLoadError,
    Review,
    Source,
)

DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web"},
    "spec": {},
}


def _docs(**files: str) -> list[Document]:
    return [Document(text, Source(f"{name}.rego", 1)) for name, text in files.items()]


def _run(policies: list[rego.RegoPolicy]) -> list[tuple[str, str, frozenset[Action]]]:
    review = Review.of_object(DEPLOYMENT)
    return sorted(
        (v.policy, v.message, v.actions)
        for p in policies
        for v in p.evaluate(review, StaticContext())
    )


def test_packages_with_checks_are_policies_and_their_results_are_read_as_conftest_does() -> None:
    policies = rego.load(
        _docs(
            main='package main\n\ndeny contains "no" if input.kind == "Deployment"\n'
            'warn_x contains {"msg": "careful", "details": 1} if true\n'
            "deny_bool := true\n",
            lib="package lib\n\nhelper := 1\n",
            other='package other\n\nviolation_y contains {"msg": "v"} if true\n'
            'deny_z contains "silenced" if true\nexception contains ["z"] if true\n',
        )
    )
    assert sorted(p.name for p in policies) == ["main", "other"]
    assert next(p for p in policies if p.name == "main").source == Source("main.rego", 3)
    assert _run(policies) == [
        ("main", "careful", frozenset({Action.WARN})),
        ("main", "no", frozenset({Action.DENY})),
        ("other", "v", frozenset({Action.DENY})),
    ]


def test_a_result_object_without_msg_is_an_evaluation_error() -> None:
    (policy,) = rego.load(_docs(main='package main\n\ndeny contains {"message": "x"} if true\n'))
    with pytest.raises(PolicyEvaluationError, match="needs a string msg"):
        policy.evaluate(Review.of_object(DEPLOYMENT), StaticContext())


@pytest.mark.parametrize(
    ("text", "line", "cause"),
    [
        ('package main\n\ndeny contains msg if {\n  msg := sprintf("x"\n}\n', 4, "expecting"),
        ("package main\n\ndeny[msg] { msg := 1 }\n", 3, "`if` keyword is required"),
        ("package main\n\ndeny contains msg if {\n  x := 1\n}\n", 3, "unsafe"),
        (
            "package main\n\ndeny contains msg if {\n  msg := nope(1)\n}\n",
            4,
            "could not find function",
        ),
    ],
)
def test_load_errors_name_the_file_and_line(text: str, line: int, cause: str) -> None:
    with pytest.raises(PolicyLoadError) as caught:
        rego.load(_docs(good='package ok\n\ndeny contains "x" if false\n', bad=text))
    (problem,) = caught.value.problems
    assert problem.source == Source("bad.rego", line)
    assert cause in problem.cause
    assert "\n" not in str(caught.value)


def test_every_broken_file_is_named_and_nothing_loads() -> None:
    with pytest.raises(PolicyLoadError) as caught:
        rego.load(_docs(a="package a\n\ndeny[", b="package b\n\nwarn {", c="package c\n"))
    assert [p.source.file for p in caught.value.problems] == ["a.rego", "b.rego"]


def test_a_builtin_error_makes_the_expression_undefined_as_in_opa() -> None:
    (policy,) = rego.load(
        _docs(
            main='package main\n\ndeny contains msg if {\n  startswith(input.spec.replicas, "x")\n'
            '  msg := "never"\n}\n\ndeny contains "counted" if count(input.metadata) > 0\n'
        )
    )
    assert policy.program.interpreted == ""  # compiled for the VM
    manifest = {**DEPLOYMENT, "spec": {"replicas": 3}}
    found = policy.evaluate(Review.of_object(manifest), StaticContext())
    assert [v.message for v in found] == ["counted"]
