"""Fuzzing the value parsers of kubeops.models: quantities, durations, label and field
selectors, JSONPath (and ``--for`` wait conditions), image references.

Beyond the shared invariant, what parses must print back to the same value.
"""

from __future__ import annotations

import math
from typing import Any

from hypothesis import strategies as st

from fuzz.harness import fuzz, only_typed_errors
from fuzz.strategies import HUGE_NUMBERS, hostile_text, splice, trees
from kubeops.models import (
    FieldSelector,
    ImageReference,
    JSONPath,
    Quantity,
    Selector,
    bytes_,
    cpu_cores,
    format_duration,
    jsonpath_text,
    parse_duration,
    parse_field_selector,
    parse_quantity,
    parse_selector,
)
from kubeops.ops.wait import parse_condition

_DIGITS = st.one_of(
    st.text("0123456789", min_size=1, max_size=6),
    st.sampled_from(["0", "9" * 400, "1" * 1001, "0" * 2000 + "1"]),
)

quantities = st.one_of(
    splice(
        [
            st.sampled_from(["", "+", "-", "--"]),
            _DIGITS,
            st.just("."),
            st.sampled_from(
                [
                    "n",
                    "u",
                    "m",
                    "k",
                    "M",
                    "G",
                    "T",
                    "P",
                    "E",
                    "Ki",
                    "Mi",
                    "Gi",
                    "Ti",
                    "Pi",
                    "Ei",
                    "e",
                    "E",
                    "i",
                ]
            ),
            st.integers(-(10**20), 10**20).map(lambda n: f"e{n}"),
            st.sampled_from(["e9223372036854775807", "E-9223372036854775808", "e+3", "e-", " "]),
        ],
        max_parts=6,
    ),
    hostile_text(),
)


@fuzz(quantities, weight=2)
def test_quantities(text: str) -> None:
    """A quantity parses or is refused; what parses prints back to itself and converts."""
    quantity = only_typed_errors(parse_quantity, text)
    if quantity is None:
        return
    again = parse_quantity(str(quantity))
    assert again == quantity, (text, str(quantity))
    # What reports do with cluster quantities: never an OverflowError.
    cores = cpu_cores(quantity)
    assert isinstance(cores, float)
    assert math.isinf(cores) or abs(cores - float(again)) <= abs(cores) * 1e-9
    bytes_(quantity)
    quantity.milli_value()


durations = st.one_of(
    splice(
        [
            st.sampled_from(["", " ", "-", "+", "--"]),
            _DIGITS,
            st.just("."),
            st.sampled_from(
                ["ns", "us", "µs", "μs", "ms", "s", "m", "h", "d", "H", "MS", "y", "w", "e3"]
            ),
        ],
        max_parts=8,
    ),
    hostile_text(),
)


@fuzz(durations, weight=2)
def test_durations(text: str) -> None:
    """A duration parses to a finite number of seconds that formats and reads back."""
    seconds = only_typed_errors(parse_duration, text)
    if seconds is None:
        return
    assert math.isfinite(seconds), (text, seconds)
    spelled = format_duration(seconds)
    back = parse_duration(spelled)
    assert math.isclose(back, seconds, rel_tol=1e-6, abs_tol=1e-3), (text, spelled, back)
    only_typed_errors(parse_duration, text, positive=True)


_KEYS = st.one_of(
    st.sampled_from(
        [
            "app",
            "tier",
            "example.com/name",
            "a.b-c_d",
            "in",
            "notin",
            "x" * 64,
            "A/b",
            "a//b",
            "/b",
            "-a",
        ]
    ),
    st.from_regex(r"\A[a-z0-9]([-a-z0-9.]{0,10}[a-z0-9])?/?[A-Za-z0-9]{1,8}\Z"),
)
_VALUES = st.one_of(
    st.sampled_from(["web", "", "1", "-1", "9" * 25, "v" * 64, "a_b.c-d"]),
    st.from_regex(r"\A[A-Za-z0-9]{0,8}\Z"),
)

label_selectors = st.one_of(
    splice(
        [
            _KEYS,
            _VALUES,
            st.sampled_from(
                [
                    "=",
                    "==",
                    "!=",
                    " in ",
                    " notin ",
                    ">",
                    "<",
                    "!",
                    "(",
                    ")",
                    ",",
                    " ",
                    "\t",
                    "\u3000",
                ]
            ),
        ],
        max_parts=12,
    ),
    hostile_text(),
)


@fuzz(label_selectors, weight=2)
def test_label_selectors(text: str) -> None:
    """A label selector parses or is refused; what parses prints back to itself."""
    selector = only_typed_errors(parse_selector, text)
    if selector is None:
        return
    assert parse_selector(str(selector)) == selector, (text, str(selector))
    selector.matches({"app": "web", "tier": "1"})
    only_typed_errors(selector.to_label_selector)


_API_SELECTORS = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            "matchLabels": st.one_of(
                st.dictionaries(_KEYS, _VALUES, max_size=3), trees(max_leaves=4)
            ),
            "matchExpressions": st.one_of(
                st.lists(
                    st.fixed_dictionaries(
                        {},
                        optional={
                            "key": st.one_of(_KEYS, HUGE_NUMBERS),
                            "operator": st.sampled_from(
                                ["In", "NotIn", "Exists", "DoesNotExist", "in", "Gt", 1]
                            ),
                            "values": st.one_of(st.lists(_VALUES, max_size=3), trees(max_leaves=3)),
                        },
                    ),
                    max_size=3,
                ),
                trees(max_leaves=4),
            ),
            "other": st.just(1),
        },
    ),
    trees(max_leaves=6),
)


@fuzz(_API_SELECTORS)
def test_api_label_selectors(obj: Any) -> None:
    """A LabelSelector from an API object (cluster data, or a rule file) reads or is refused."""
    selector = only_typed_errors(Selector.from_label_selector, obj)
    if selector is not None and not selector.selects_nothing:
        assert Selector.from_label_selector(selector.to_label_selector()) == selector


field_selectors = st.one_of(
    splice(
        [
            st.sampled_from(["metadata.name", "status.phase", "spec.nodeName", "a", ""]),
            _VALUES,
            st.sampled_from(["=", "==", "!=", ",", "\\", "\\,", "\\=", "\\\\", "!", " "]),
        ],
        max_parts=10,
    ),
    hostile_text(),
)


@fuzz(field_selectors, weight=2)
def test_field_selectors(text: str) -> None:
    """A field selector parses or is refused; what parses prints back to itself."""
    selector = only_typed_errors(parse_field_selector, text)
    if selector is None:
        return
    assert FieldSelector.parse(str(selector)) == selector, (text, str(selector))


_SAMPLE = {
    "metadata": {"name": "web", "labels": {"a.b": "1"}},
    "spec": {"replicas": 3, "containers": [{"name": "c", "ports": [1, 2]}]},
    "status": {"conditions": [{"type": "Ready", "status": "True"}, {"type": "X", "status": 1.5}]},
}

jsonpaths = st.one_of(
    splice(
        [
            st.sampled_from(
                [
                    "{",
                    "}",
                    ".",
                    "..",
                    "[",
                    "]",
                    "*",
                    "[*]",
                    "?(",
                    ")",
                    "@",
                    "@.type",
                    "==",
                    "!=",
                    "<",
                    ">=",
                    "'",
                    '"',
                    "\\",
                    ":",
                    "-1",
                    "0",
                    "::0",
                    "::",
                    "1:2:3:4",
                ]
            ),
            st.sampled_from(
                [
                    "metadata",
                    "name",
                    "spec",
                    "containers",
                    "status",
                    "conditions",
                    "type",
                    "Ready",
                    "a.b",
                ]
            ),
            st.integers().map(str),
            st.sampled_from(["9" * 5000, str(2**63)]),
        ],
        max_parts=12,
    ),
    hostile_text(),
)


@fuzz(jsonpaths, st.one_of(st.just(_SAMPLE), trees()), weight=2)
def test_jsonpath(expression: str, obj: Any) -> None:
    """An expression parses or is refused; a parsed one finds values in any object."""
    path = only_typed_errors(JSONPath.parse, expression)
    if path is None:
        return
    found = only_typed_errors(path.find, obj)
    for value in found or []:
        jsonpath_text(value)


@fuzz(
    st.one_of(
        splice(
            [
                st.sampled_from(
                    ["delete", "create", "condition=", "jsonpath=", "=", "==", "Ready", "True", "'"]
                ),
                jsonpaths,
            ],
            max_parts=5,
        ),
        hostile_text(),
    )
)
def test_wait_conditions(text: str) -> None:
    """A ``--for`` value parses or is refused; a parsed one evaluates against an object."""
    condition = only_typed_errors(parse_condition, text)
    if condition is not None:
        only_typed_errors(condition.missing, _SAMPLE)
        only_typed_errors(condition.missing, None)


_COMPONENT = st.one_of(
    st.from_regex(r"\A[a-z0-9]+([._-][a-z0-9]+)*\Z"),
    st.sampled_from(["nginx", "library", "UPPER", "a__b", "a---b", "-a", "", "x" * 300]),
)
images = st.one_of(
    splice(
        [
            st.sampled_from(
                [
                    "docker.io/",
                    "quay.io/",
                    "localhost:5000/",
                    "[::1]:5000/",
                    "REG.io/",
                    "index.docker.io/",
                    "a:b:c/",
                    "[zz]/",
                ]
            ),
            _COMPONENT,
            st.just("/"),
            st.sampled_from([":latest", ":1.2", ":" + "t" * 129, ":", ":-x"]),
            st.sampled_from(
                [
                    "@sha256:" + "ab" * 32,
                    "@sha256:abc",
                    "@sha512:" + "c" * 128,
                    "@",
                    "@x:" + "0" * 32,
                    "@@",
                ]
            ),
        ],
        max_parts=7,
    ),
    hostile_text(),
)


@fuzz(images, weight=2)
def test_image_references(text: str) -> None:
    """An image reference parses or is refused; what parses prints back to itself."""
    reference = only_typed_errors(ImageReference.parse, text)
    if reference is None:
        return
    assert ImageReference.parse(str(reference)) == reference, (text, str(reference))
    reference.comes_from(["docker.io/library", "*.gcr.io", text, "quay.io/*"])


@fuzz(st.one_of(st.integers(-(2**70), 2**70), st.text("0123456789", min_size=1, max_size=30)))
def test_quantities_from_numbers(value: int | str) -> None:
    """Integers and digit strings (what a YAML number becomes) are quantities."""
    quantity = only_typed_errors(Quantity, value)
    if quantity is not None:
        assert Quantity(str(quantity)) == quantity
