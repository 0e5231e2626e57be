"""The JSONPath subset kubectl's wait uses, on plain dicts."""

from __future__ import annotations

from typing import Any

import pytest

from kubeops.errors import KubeopsError
from kubeops.models import JSONPath, JSONPathError, jsonpath_find, jsonpath_text

DEPLOYMENT: dict[str, Any] = {
    "metadata": {
        "name": "web",
        "generation": 4,
        "annotations": {"kubernetes.io/change-cause": "x"},
    },
    "spec": {"replicas": 3, "paused": False},
    "status": {
        "observedGeneration": 4,
        "readyReplicas": 3,
        "conditions": [
            {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"},
            {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"},
        ],
    },
}


def test_the_jsonpath_subset_selects_like_kubectl() -> None:
    assert jsonpath_find(DEPLOYMENT, '{.status.conditions[?(@.type=="Available")].reason}') == [
        "MinimumReplicasAvailable"
    ]
    assert jsonpath_find(DEPLOYMENT, "{.status.conditions[-1].type}") == ["Progressing"]
    assert jsonpath_find(DEPLOYMENT, "{.status.conditions[*].status}") == ["True", "False"]
    assert jsonpath_find(DEPLOYMENT, "{.status.conditions[0:1].type}") == ["Available"]
    assert jsonpath_find(DEPLOYMENT, "{..reason}") == [
        "MinimumReplicasAvailable",
        "ProgressDeadlineExceeded",
    ]
    assert jsonpath_find(DEPLOYMENT, r"{.metadata.annotations.kubernetes\.io/change-cause}") == [
        "x"
    ]
    assert jsonpath_find(DEPLOYMENT, "{.metadata.annotations['kubernetes.io/change-cause']}") == [
        "x"
    ]
    assert jsonpath_find(DEPLOYMENT, "{.status.readyReplicas}") == [3]
    assert jsonpath_find(DEPLOYMENT, "{.status.conditions[?(@.status!='True')].type}") == [
        "Progressing"
    ]
    assert jsonpath_find(DEPLOYMENT, "{.spec.missing.deeper}") == []


def test_braces_and_the_leading_dot_are_optional() -> None:
    for expression in ("{.spec.replicas}", ".spec.replicas", "spec.replicas", "{spec.replicas}"):
        assert jsonpath_find(DEPLOYMENT, expression) == [3]
    assert jsonpath_find(DEPLOYMENT, "{.metadata.*}")[:2] == ["web", 4]


def test_filters_compare_numbers_and_booleans() -> None:
    items = {"items": [{"n": 1, "ok": True}, {"n": 5, "ok": False}, {"n": "7"}]}
    assert jsonpath_find(items, "{.items[?(@.n>2)].n}") == [5, "7"]
    assert jsonpath_find(items, "{.items[?(@.ok==false)].n}") == [5]
    assert jsonpath_find(items, "{.items[?(@.ok)].n}") == [1, 5]  # present, whatever its value


def test_a_parsed_path_is_reused_and_compares_by_its_text() -> None:
    path = JSONPath.parse("{.status.readyReplicas}")
    assert path.find(DEPLOYMENT) == [3]
    assert path.find({"status": {"readyReplicas": 1}}) == [1]
    assert path == JSONPath.parse("{.status.readyReplicas}")
    assert str(path) == "{.status.readyReplicas}"


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("{.status.conditions[0}", "unclosed"),
        ("{}", "names no field"),
        ("{..}", "'..' needs a field name"),
        ("{.a[x]}", "unsupported"),
        ("{.a[?(@.b ~ 1)]}", "unsupported filter"),
        ("{.a[1:2:3:4]}", "unsupported"),
    ],
)
def test_bad_expressions_are_refused_when_parsed(expression: str, reason: str) -> None:
    with pytest.raises(JSONPathError, match=reason) as info:
        JSONPath.parse(expression)
    assert isinstance(info.value, KubeopsError)
    assert isinstance(info.value, ValueError)
    assert repr(expression) in str(info.value)


@pytest.mark.parametrize(
    ("value", "text"),
    [(True, "true"), (False, "false"), (None, "<nil>"), (3.0, "3"), (2.5, "2.5"), ("x", "x")],
)
def test_values_print_as_kubectl_compares_them(value: Any, text: str) -> None:
    assert jsonpath_text(value) == text
