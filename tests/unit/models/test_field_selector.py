"""Field selectors parse, match and print as apimachinery's fields package: =, == and != only."""

from __future__ import annotations

import pickle

import pytest

from kubeops.models import (
    FieldRequirement,
    FieldSelector,
    Operator,
    SelectorError,
    parse_field_selector,
)


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("", ""),
        (",", ""),
        ("metadata.name=web", "metadata.name=web"),
        ("metadata.name==web", "metadata.name=web"),
        ("status.phase!=Running", "status.phase!=Running"),
        ("status.phase!=Running,metadata.name=x", "metadata.name=x,status.phase!=Running"),
        ("b=1,,a=2", "a=2,b=1"),
        ("spec.nodeName=", "spec.nodeName="),
        ("a=x\\,y", "a=x\\,y"),
        ("a=x\\=y", "a=x\\=y"),
        ("a=x\\\\y", "a=x\\\\y"),
        ("a=!b", "a=!b"),
        ("a=b c", "a=b c"),
    ],
)
def test_parse_gives_the_canonical_string(text: str, canonical: str) -> None:
    selector = parse_field_selector(text)
    assert str(selector) == canonical
    assert parse_field_selector(canonical) == selector


def test_operators_are_found_left_to_right_preferring_not_equals() -> None:
    assert parse_field_selector("a!=b").requirements == (FieldRequirement("a", "!=", "b"),)
    assert parse_field_selector("a==b").requirements == (FieldRequirement("a", "=", "b"),)
    assert parse_field_selector("a!=!b").requirements == (FieldRequirement("a", "!=", "!b"),)


@pytest.mark.parametrize(
    ("value", "escaped"),
    [
        ("a,b", "a\\,b"),
        ("a=b", "a\\=b"),
        ("a\\b", "a\\\\b"),
        ("\\,=", "\\\\\\,\\="),
        ("plain", "plain"),
    ],
)
def test_values_with_commas_equals_and_backslashes_are_escaped_and_round_trip(
    value: str, escaped: str
) -> None:
    selector = FieldSelector.of({"metadata.name": value})
    assert str(selector) == f"metadata.name={escaped}"
    assert parse_field_selector(str(selector)).requirements[0].value == value


FIELDS = {"metadata.name": "web", "metadata.namespace": "prod", "status.phase": "Running"}


@pytest.mark.parametrize(
    ("text", "selected"),
    [
        ("", True),
        ("metadata.name=web", True),
        ("metadata.name==web", True),
        ("metadata.name=db", False),
        ("status.phase!=Running", False),
        ("status.phase!=Failed", True),
        ("metadata.name=web,metadata.namespace=prod", True),
        ("metadata.name=web,metadata.namespace=dev", False),
        # A field the object lacks reads as the empty string, as on the server.
        ("spec.nodeName=", True),
        ("spec.nodeName!=", False),
        ("spec.nodeName!=node-1", True),
    ],
)
def test_matches_as_the_api_server_does(text: str, selected: bool) -> None:
    assert parse_field_selector(text).matches(FIELDS) is selected


@pytest.mark.parametrize(
    ("text", "position", "problem"),
    [
        ("metadata.name", 0, "term 'metadata.name' has no operator; expected field=value, field==value or field!=value"),
        ("a=1,b", 4, "term 'b' has no operator"),
        ("a in (x)", 0, "term 'a in (x)' has no operator"),
        ("a>1", 0, "term 'a>1' has no operator"),
        ("=x", 0, "the field name before the operator is empty"),
        ("a=1,!=x", 4, "the field name before the operator is empty"),
        ("metadata.name =x", 0, "field name 'metadata.name ' contains ' '; field names look like 'metadata.name'"),
        ("a=b=c", 3, "unescaped '=' in a value; write it as '\\='"),
        ("a==b=c", 4, "unescaped '=' in a value"),
        ("a=\\q", 2, "invalid escape sequence '\\q'; only '\\\\', '\\,' and '\\=' are escapes"),
        ("a=b\\", 3, "the value ends in a lone '\\'; write a backslash as '\\\\'"),
    ],
)  # fmt: skip
def test_invalid_field_selectors_name_the_input_the_position_and_the_problem(
    text: str, position: int, problem: str
) -> None:
    with pytest.raises(SelectorError) as caught:
        parse_field_selector(text)
    error = caught.value
    assert str(error).startswith(f"invalid field selector {text!r} at position {position}: ")
    assert problem in error.reason


@pytest.mark.parametrize("operator", ["in", "notin", "exists", "!", "gt", "lt"])
def test_field_requirements_support_only_equality_operators(operator: str) -> None:
    with pytest.raises(SelectorError, match="field selectors support only '=', '==' and '!='"):
        FieldRequirement("metadata.name", operator, "x")


@pytest.mark.parametrize("field", ["", "a=b", "a,b", "a!", "a\\b", "a b"])
def test_field_requirements_reject_field_names_that_would_not_parse_back(field: str) -> None:
    with pytest.raises(SelectorError, match="invalid field selector requirement"):
        FieldRequirement(field, "=", "x")


def test_double_equals_is_kept_as_equals() -> None:
    requirement = FieldRequirement("a", Operator.DOUBLE_EQUALS, "b")
    assert requirement.operator is Operator.EQUALS
    assert str(requirement) == "a=b"


def test_of_builds_equality_terms_in_canonical_order() -> None:
    selector = FieldSelector.of({"metadata.namespace": "prod"}, **{"metadata.name": "web"})
    assert str(selector) == "metadata.name=web,metadata.namespace=prod"
    assert FieldSelector.of().selects_everything
    with pytest.raises(SelectorError, match="field 'a' is given twice"):
        FieldSelector.of({"a": "x"}, a="y")


def test_requires_exact_match_finds_equality_terms_only() -> None:
    selector = parse_field_selector("metadata.name=web,status.phase!=Running")
    assert selector.requires_exact_match("metadata.name") == "web"
    assert selector.requires_exact_match("status.phase") is None
    assert selector.requires_exact_match("spec.nodeName") is None


def test_field_selectors_are_immutable_hashable_and_picklable() -> None:
    selector = parse_field_selector("metadata.name=a\\,b,status.phase!=Running")
    with pytest.raises(AttributeError):
        selector._requirements = ()
    assert hash(selector) == hash(
        parse_field_selector("status.phase!=Running,metadata.name==a\\,b")
    )
    assert pickle.loads(pickle.dumps(selector)) == selector
    assert eval(repr(selector), {"FieldSelector": FieldSelector}) == selector
