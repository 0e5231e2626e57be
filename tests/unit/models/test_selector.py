"""Label selectors parse, match, print and convert to API form as apimachinery's labels package."""

from __future__ import annotations

import pickle
from typing import Any

import pytest

from kubeops.errors import KubeopsError
from kubeops.models import Operator, Requirement, Selector, SelectorError, parse_selector


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("", ""),
        ("   ", ""),
        ("a=b", "a=b"),
        ("a==b", "a==b"),
        ("a!=b", "a!=b"),
        ("a in (x, y)", "a in (x,y)"),
        ("a in (y,x,y)", "a in (x,y)"),
        ("a notin (x)", "a notin (x)"),
        ("a", "a"),
        ("!a", "!a"),
        ("! a", "!a"),
        ("a>5", "a>5"),
        ("a < 10", "a<10"),
        ("b=1, a in (z,y)", "a in (y,z),b=1"),
        ("  x  in  ( foo ,, baz ) , y , z notin ( ) ", "x in (,baz,foo),y,z notin ()"),
        ("a=", "a="),
        ("a=,b", "a=,b"),
        ("a in (x,)", "a in (,x)"),
        ("a in(x)", "a in (x)"),
        ("\ta=b\n,\rc", "a=b,c"),
        ("in in (in, notin)", "in in (in,notin)"),
        ("notin notin (in)", "notin notin (in)"),
        ("a=in", "a=in"),
        ("app.kubernetes.io/name=web", "app.kubernetes.io/name=web"),
        ("example.com/My_Key.2=Val-1", "example.com/My_Key.2=Val-1"),
        ("z,y,x", "x,y,z"),
        ("a=2,a=1", "a=2,a=1"),
    ],
)
def test_parse_gives_the_canonical_string(text: str, canonical: str) -> None:
    assert str(parse_selector(text)) == canonical


@pytest.mark.parametrize(
    "text",
    [
        "a=b",
        "a==b,c!=d",
        "x in (,baz,foo),y,z notin ()",
        "!a,b>3,c<4",
        "app.kubernetes.io/name in (api,web),tier",
        "a=2,a=1",
        "",
    ],
)
def test_canonical_string_parses_back_to_an_equal_selector(text: str) -> None:
    selector = parse_selector(text)
    again = parse_selector(str(selector))
    assert again == selector
    assert str(again) == str(selector)
    assert eval(repr(selector), {"Selector": Selector}) == selector


def test_requirements_are_sorted_by_key_and_keep_their_operators() -> None:
    selector = parse_selector("tier in (b,a),app=web,!canary")
    assert selector.requirements == (
        Requirement("app", Operator.EQUALS, ["web"]),
        Requirement("canary", Operator.DOES_NOT_EXIST),
        Requirement("tier", Operator.IN, ["a", "b"]),
    )


LABELS = {"app": "web", "tier": "front", "version": "12", "empty": ""}


@pytest.mark.parametrize(
    ("text", "selected"),
    [
        ("", True),
        ("app=web", True),
        ("app==web", True),
        ("app=db", False),
        ("app!=db", True),
        ("app!=web", False),
        ("missing!=x", True),
        ("app in (db,web)", True),
        ("app in (db)", False),
        ("missing in (x)", False),
        ("app notin (db)", True),
        ("app notin (web)", False),
        ("missing notin (x)", True),
        ("app", True),
        ("missing", False),
        ("!missing", True),
        ("!app", False),
        ("empty", True),
        ("empty=", True),
        ("empty in ()", True),
        ("missing=", False),
        ("version>11", True),
        ("version>12", False),
        ("version<13", True),
        ("version<12", False),
        ("app>1", False),
        ("missing<1", False),
        ("app=web,tier=front", True),
        ("app=web,tier=back", False),
        ("app=web,!version", False),
        ("app in (web),app notin (web)", False),
    ],
)
def test_matches_as_kubernetes_does(text: str, selected: bool) -> None:
    assert parse_selector(text).matches(LABELS) is selected


def test_an_object_without_labels_matches_only_absence_requirements() -> None:
    assert parse_selector("").matches(None)
    assert parse_selector("!app,app notin (web),app!=web").matches(None)
    assert not parse_selector("app").matches(None)
    assert not parse_selector("app=web").matches({})


@pytest.mark.parametrize(
    ("text", "position", "problem"),
    [
        ("a in (x", 7, "expected a value, ',' or ')', found end of string"),
        ("a in (x y)", 8, "expected ',' or ')' between values, found 'y'"),
        ("a in x", 5, "expected '(' and the values of 'a', found 'x'"),
        ("a in (x,=)", 8, "expected a value, ',' or ')', found '='"),
        ("a=b c", 4, "expected ',' or the end after a requirement, found 'c'"),
        ("a=b=c", 3, "expected ',' or the end after a requirement, found '='"),
        ("a,", 2, "expected a key or '!key', found end of string"),
        ("a=b,,c", 4, "expected a key or '!key', found ','"),
        (",a", 0, "expected a key or '!key', found ','"),
        ("=a", 0, "expected a key or '!key', found '='"),
        ("(a)", 0, "expected a key or '!key', found '('"),
        ("!", 1, "expected a key after '!', found end of string"),
        ("!!a", 1, "expected a key after '!', found '!'"),
        (
            "!a=b",
            2,
            "'!a' selects objects without the key and takes no operator or value, found '='",
        ),
        ("a b", 2, "expected an operator (=, ==, !=, in, notin, >, <) after key 'a', found 'b'"),
        ("a (x)", 2, "expected an operator (=, ==, !=, in, notin, >, <) after key 'a', found '('"),
        ("a!b", 1, "expected an operator (=, ==, !=, in, notin, >, <) after key 'a', found '!'"),
        ("a=(", 2, "expected a value for 'a', found '('"),
        ("a>b", 2, "operator '>' compares integers; 'b' is not one"),
        ("a<", 2, "operator '<' compares integers; '' is not one"),
        (
            "a<99999999999999999999",
            2,
            "operator '<' compares integers; '99999999999999999999' is not one",
        ),
    ],
)
def test_syntax_errors_name_the_input_the_position_and_the_problem(
    text: str, position: int, problem: str
) -> None:
    with pytest.raises(SelectorError) as caught:
        parse_selector(text)
    error = caught.value
    assert str(error) == f"invalid label selector {text!r} at position {position}: {problem}"
    assert (error.text, error.position, error.reason) == (text, position, problem)


LONG = "x" * 64


@pytest.mark.parametrize(
    ("text", "position", "problem"),
    [
        ("-a=b", 0, "key '-a' is invalid: the name part must consist of alphanumeric characters"),
        ("a-=b", 0, "key 'a-' is invalid: the name part must consist"),
        ("a b=c", 2, "expected an operator"),
        (
            "a/b/c=d",
            0,
            "key 'a/b/c' is invalid: a key is a name with an optional DNS subdomain prefix",
        ),
        ("/a=b", 0, "key '/a' is invalid: the prefix before '/' is empty"),
        ("a/=b", 0, "key 'a/' is invalid: the name part is empty"),
        ("Example.com/a=b", 0, "the prefix must be a DNS subdomain"),
        ("ex_ample.com/a", 0, "the prefix must be a DNS subdomain"),
        (f"{'p' * 254}/a", 0, "the prefix must be at most 253 characters"),
        (f"{LONG}=b", 0, "the name part must be at most 63 characters, not 64"),
        (f"k.io/{LONG}", 0, "the name part must be at most 63 characters, not 64"),
        ("caf\u00e9=b", 0, "key 'caf\u00e9' is invalid"),
        (
            f"a={LONG}",
            2,
            f"value {LONG!r} for key 'a' is invalid: it must be at most 63 characters",
        ),
        ("a=-b", 2, "value '-b' for key 'a' is invalid: it must be empty or consist of"),
        ("a=b.", 2, "value 'b.' for key 'a' is invalid"),
        ("a in (ok, b/c)", 10, "value 'b/c' for key 'a' is invalid"),
        ("a notin (x,_y)", 11, "value '_y' for key 'a' is invalid"),
    ],
)
def test_invalid_keys_and_values_are_named_with_their_position(
    text: str, position: int, problem: str
) -> None:
    with pytest.raises(SelectorError) as caught:
        parse_selector(text)
    assert caught.value.position == position
    assert problem in caught.value.reason
    assert str(caught.value).startswith(f"invalid label selector {text!r} at position {position}: ")


def test_selector_errors_are_kubeops_errors_and_value_errors() -> None:
    with pytest.raises(KubeopsError):
        parse_selector("a in")
    with pytest.raises(ValueError, match="a in"):
        parse_selector("a in")


def test_empty_and_nothing_selectors_differ() -> None:
    everything, nothing = Selector.everything(), Selector.nothing()
    assert everything.selects_everything
    assert not everything.selects_nothing
    assert nothing.selects_nothing
    assert not nothing.selects_everything
    assert everything.matches({})
    assert everything.matches({"a": "b"})
    assert not nothing.matches({})
    assert not nothing.matches({"a": "b"})
    assert everything != nothing
    assert parse_selector("") == everything
    assert nothing.add(Requirement("a", Operator.EXISTS)) == nothing
    assert repr(nothing) == "Selector.nothing()"
    assert repr(everything) == "Selector.everything()"


@pytest.mark.parametrize(
    ("obj", "canonical"),
    [
        ({}, ""),
        ({"matchLabels": {}}, ""),
        ({"matchLabels": None, "matchExpressions": None}, ""),
        ({"matchLabels": {"app": "web"}}, "app=web"),
        ({"matchLabels": {"tier": "a", "app": "web"}}, "app=web,tier=a"),
        (
            {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["b", "a"]}]},
            "tier in (a,b)",
        ),
        (
            {"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["a"]}]},
            "tier notin (a)",
        ),
        ({"matchExpressions": [{"key": "canary", "operator": "Exists"}]}, "canary"),
        (
            {"matchExpressions": [{"key": "canary", "operator": "DoesNotExist", "values": []}]},
            "!canary",
        ),
        (
            {
                "matchLabels": {"app": "web"},
                "matchExpressions": [
                    {"key": "tier", "operator": "In", "values": ["front"]},
                    {"key": "app", "operator": "Exists"},
                ],
            },
            "app=web,app,tier in (front)",
        ),
    ],
)
def test_api_form_gives_the_selector_it_means(obj: dict[str, Any], canonical: str) -> None:
    assert str(Selector.from_label_selector(obj)) == canonical


def test_an_absent_api_selector_matches_nothing_and_an_empty_one_everything() -> None:
    assert Selector.from_label_selector(None).selects_nothing
    assert not Selector.from_label_selector(None).matches({"app": "web"})
    assert Selector.from_label_selector({}).selects_everything
    assert Selector.from_label_selector({}).matches({"app": "web"})


@pytest.mark.parametrize(
    "obj",
    [
        {},
        {"matchLabels": {"app": "web", "tier": "front"}},
        {
            "matchLabels": {"app.kubernetes.io/name": "web"},
            "matchExpressions": [
                {"key": "canary", "operator": "DoesNotExist"},
                {"key": "env", "operator": "NotIn", "values": ["dev", "test"]},
                {"key": "zone", "operator": "In", "values": ["a", "b"]},
                {"key": "zz", "operator": "Exists"},
            ],
        },
    ],
)
def test_api_form_round_trips(obj: dict[str, Any]) -> None:
    selector = Selector.from_label_selector(obj)
    assert selector.to_label_selector() == obj
    assert Selector.from_label_selector(selector.to_label_selector()) == selector


def test_to_api_form_normalises_values_and_order() -> None:
    obj = {
        "matchExpressions": [
            {"key": "b", "operator": "In", "values": ["y", "x", "y"]},
            {"key": "a", "operator": "Exists"},
        ]
    }
    assert Selector.from_label_selector(obj).to_label_selector() == {
        "matchExpressions": [
            {"key": "a", "operator": "Exists"},
            {"key": "b", "operator": "In", "values": ["x", "y"]},
        ]
    }


@pytest.mark.parametrize(
    ("text", "obj"),
    [
        ("a=b,c==d", {"matchLabels": {"a": "b", "c": "d"}}),
        ("a!=b", {"matchExpressions": [{"key": "a", "operator": "NotIn", "values": ["b"]}]}),
        (
            "a=x,a=y",
            {
                "matchLabels": {"a": "x"},
                "matchExpressions": [{"key": "a", "operator": "In", "values": ["y"]}],
            },
        ),
    ],
)
def test_string_form_converts_to_an_api_form_selecting_the_same_objects(
    text: str, obj: dict[str, Any]
) -> None:
    selector = parse_selector(text)
    assert selector.to_label_selector() == obj
    converted = Selector.from_label_selector(obj)
    for labels in ({}, {"a": "b"}, {"a": "x"}, {"a": "y"}, {"a": "b", "c": "d"}, {"c": "d"}):
        assert converted.matches(labels) == selector.matches(labels)


def test_selectors_without_an_api_form_raise() -> None:
    with pytest.raises(SelectorError, match="have no 'gt' operator"):
        parse_selector("a>1").to_label_selector()
    with pytest.raises(SelectorError, match="matches nothing has no API form"):
        Selector.nothing().to_label_selector()


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        ("app=web", "invalid label selector: expected a mapping with matchLabels and matchExpressions, not str"),
        ({"matchlabels": {"a": "b"}}, "invalid label selector: unknown field 'matchlabels'; expected one of matchLabels, matchExpressions"),
        ({"matchLabels": ["a"]}, "invalid label selector at matchLabels: matchLabels must map keys to values, not be a list"),
        ({"matchLabels": ""}, "invalid label selector at matchLabels: matchLabels must map keys to values, not be a str"),
        ({"matchExpressions": [{"key": "a", "operator": "In", "values": ""}]}, "at matchExpressions[0].values: values must be a list of strings, not a str"),
        ({"matchLabels": {"a": 1}}, "invalid label selector at matchLabels['a']: labels map strings to strings, not str to int"),
        ({"matchLabels": {"a b": "c"}}, "invalid label selector at matchLabels['a b']: key 'a b' is invalid"),
        ({"matchLabels": {"a": "c d"}}, "invalid label selector at matchLabels['a']: value 'c d' for key 'a' is invalid"),
        ({"matchExpressions": {"key": "a"}}, "invalid label selector at matchExpressions: matchExpressions must be a list, not a dict"),
        ({"matchExpressions": ["a"]}, "invalid label selector at matchExpressions[0]: an expression is a mapping"),
        ({"matchExpressions": [{"key": "a", "operator": "In", "value": ["x"]}]}, "invalid label selector at matchExpressions[0]: unknown field 'value'; expected one of key, operator, values"),
        ({"matchExpressions": [{"operator": "Exists"}]}, "invalid label selector at matchExpressions[0].key: the key is missing or not a string"),
        ({"matchExpressions": [{"key": "-a", "operator": "Exists"}]}, "invalid label selector at matchExpressions[0].key: key '-a' is invalid"),
        ({"matchExpressions": [{"key": "a", "operator": "in", "values": ["x"]}]}, "invalid label selector at matchExpressions[0].operator: 'in' is not a label selector operator; expected In, NotIn, Exists or DoesNotExist"),
        ({"matchExpressions": [{"key": "a", "operator": "Gt", "values": ["1"]}]}, "at matchExpressions[0].operator: 'Gt' is not a label selector operator"),
        ({"matchExpressions": [{"key": "a"}]}, "at matchExpressions[0].operator: None is not a label selector operator"),
        ({"matchExpressions": [{"key": "a", "operator": "In"}]}, "invalid label selector at matchExpressions[0].values: operator In needs at least one value"),
        ({"matchExpressions": [{"key": "a", "operator": "NotIn", "values": []}]}, "at matchExpressions[0].values: operator NotIn needs at least one value"),
        ({"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]}, "at matchExpressions[0].values: operator Exists takes no values, not 1"),
        ({"matchExpressions": [{"key": "a", "operator": "In", "values": "x"}]}, "at matchExpressions[0].values: values must be a list of strings, not a str"),
        ({"matchExpressions": [{"key": "a", "operator": "In", "values": [1]}]}, "at matchExpressions[0].values[0]: values are strings, not int"),
        ({"matchExpressions": [{"key": "a", "operator": "Exists"}, {"key": "b", "operator": "In", "values": ["ok", "x y"]}]}, "invalid label selector at matchExpressions[1].values[1]: value 'x y' for key 'b' is invalid"),
    ],
)  # fmt: skip
def test_invalid_api_forms_name_the_field_and_the_problem(obj: Any, message: str) -> None:
    with pytest.raises(SelectorError) as caught:
        Selector.from_label_selector(obj)
    assert message in str(caught.value)


def test_of_builds_equality_and_set_requirements() -> None:
    assert str(Selector.of(app="web", tier=["b", "a"])) == "app=web,tier in (a,b)"
    assert str(Selector.of({"app.kubernetes.io/name": "web"}, tier=("x",))) == (
        "app.kubernetes.io/name=web,tier in (x)"
    )
    assert Selector.of() == Selector.everything()


def test_of_rejects_invalid_and_repeated_keys() -> None:
    with pytest.raises(SelectorError, match="key 'a' is given twice"):
        Selector.of({"a": "x"}, a="y")
    with pytest.raises(SelectorError, match="key 'bad key' is invalid"):
        Selector.of({"bad key": "x"})
    with pytest.raises(SelectorError, match="operator 'in' needs at least one value"):
        Selector.of(tier=[])


def test_add_returns_a_new_selector_with_the_requirement_in_key_order() -> None:
    base = parse_selector("b=1")
    added = base.add(Requirement("a", "exists"), Requirement("c", "!=", ["2"]))
    assert str(added) == "a,b=1,c!=2"
    assert str(base) == "b=1"


@pytest.mark.parametrize(
    ("key", "operator", "values", "canonical"),
    [
        ("a", Operator.IN, ["y", "x", "x"], "a in (x,y)"),
        ("a", "notin", ["x"], "a notin (x)"),
        ("a", "=", ["x"], "a=x"),
        ("a", "==", ["x"], "a==x"),
        ("a", "!=", [""], "a!="),
        ("a", "exists", [], "a"),
        ("a", "!", [], "!a"),
        ("a", "gt", ["3"], "a>3"),
        ("a", Operator.LESS_THAN, ["3"], "a<3"),
    ],
)
def test_requirements_print_as_kubernetes_does(
    key: str, operator: Operator | str, values: list[str], canonical: str
) -> None:
    requirement = Requirement(key, operator, values)
    assert str(requirement) == canonical
    assert parse_selector(canonical).requirements == (requirement,)


@pytest.mark.parametrize(
    ("operator", "values", "message"),
    [
        ("in", [], "operator 'in' needs at least one value"),
        ("=", [], "operator '=' takes exactly one value, not 0"),
        ("!=", ["a", "b"], "operator '!=' takes exactly one value, not 2"),
        ("exists", ["a"], "operator 'exists' takes no values, not 1"),
        ("gt", ["x"], "operator 'gt' compares integers; 'x' is not one"),
        ("gt", ["1", "2"], "operator 'gt' takes exactly one value, not 2"),
        ("like", ["a"], "unknown operator 'like'; expected one of 'in', 'notin'"),
        ("=", ["a b"], "value 'a b' for key 'k' is invalid"),
    ],
)
def test_requirement_rejects_invalid_operator_and_values(
    operator: str, values: list[str], message: str
) -> None:
    with pytest.raises(SelectorError) as caught:
        Requirement("k", operator, values)
    assert str(caught.value) == f"invalid label selector requirement: {caught.value.reason}"
    assert message in caught.value.reason


def test_requirement_values_must_be_a_list_not_a_string() -> None:
    with pytest.raises(TypeError, match="not a string"):
        Requirement("a", "=", "x")
    with pytest.raises(TypeError, match="takes a list of strings, not int"):
        Selector.of(a=1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="takes strings, not int"):
        Requirement("a", "in", [1])  # type: ignore[list-item]


def test_requires_exact_match_finds_the_single_required_value() -> None:
    selector = parse_selector("a=x,b in (y),c in (y,z),d!=w,e")
    assert selector.requires_exact_match("a") == "x"
    assert selector.requires_exact_match("b") == "y"
    assert selector.requires_exact_match("c") is None
    assert selector.requires_exact_match("d") is None
    assert selector.requires_exact_match("e") is None
    assert selector.requires_exact_match("missing") is None


def test_selectors_are_immutable_hashable_and_picklable() -> None:
    selector = parse_selector("a in (x,y),!b")
    with pytest.raises(AttributeError):
        selector._requirements = ()
    with pytest.raises(AttributeError):
        selector.requirements[0].key = "z"
    assert hash(selector) == hash(parse_selector("!b, a in (y,x)"))
    for original in (selector, Selector.nothing(), Selector.everything()):
        assert pickle.loads(pickle.dumps(original)) == original
