"""sha256(canonical(...)): the same content gives the same digest, whatever its key order."""

from __future__ import annotations

import hashlib

import pytest

from kubeops import cel


def _value(expression: str, obj: object = None) -> object:
    return cel.compile(expression).evaluate({"object": obj})


def test_canonical_is_sorted_compact_json_of_any_value() -> None:
    data = {"b": "é", "a": "1", "n": {"z": [1, 2.5, None, True]}}
    assert _value("canonical(object)", data) == '{"a":"1","b":"é","n":{"z":[1,2.5,null,true]}}'
    assert _value("canonical(object.b)", data) == '"é"'
    assert _value("canonical(object.n.z[2])", data) == "null"
    assert _value("canonical([3, 'x'])") == '[3,"x"]'


def test_sha256_of_canonical_data_ignores_key_order() -> None:
    first = _value("sha256(canonical(object))", {"a": "1", "b": "2"})
    again = _value("sha256(canonical(object))", {"b": "2", "a": "1"})
    assert first == again == hashlib.sha256(b'{"a":"1","b":"2"}').hexdigest()
    assert _value("sha256(b'abc')") == _value("sha256('abc')") == hashlib.sha256(b"abc").hexdigest()


def test_an_integrity_rule_sees_changed_content() -> None:
    recorded = hashlib.sha256(b'{"app.conf":"debug=false"}').hexdigest()
    program = cel.compile(
        "sha256(canonical(object.data)) != "
        "object.metadata.annotations['integrity.kubeops.io/sha256']"
    )
    config_map = {
        "metadata": {"annotations": {"integrity.kubeops.io/sha256": recorded}},
        "data": {"app.conf": "debug=false"},
    }
    assert program.matches({"object": config_map}) is False
    config_map["data"]["app.conf"] = "debug=true"
    assert program.matches({"object": config_map}) is True


def test_what_has_no_json_form_is_an_error() -> None:
    with pytest.raises(cel.CelError, match=r"canonical\(timestamp\)"):
        cel.compile("canonical(timestamp('2026-01-01T00:00:00Z'))").evaluate({})
    with pytest.raises(cel.CelEvaluationError, match="canonical: not a JSON value"):
        cel.compile("canonical({1: 'a', 'b': 2})").evaluate({})
