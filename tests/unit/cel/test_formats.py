"""Kubernetes' format library: validate() gives none, or the reasons as apimachinery words them."""

from __future__ import annotations

import pytest

from kubeops.cel.formats import rewrite

from ._table import compile_error, value


@pytest.mark.parametrize(
    ("name", "good", "bad"),
    [
        ("dns1123Label", "my-name", "My_Name"),
        ("dns1123Subdomain", "a.example.com", "a..b"),
        ("dns1035Label", "abc-1", "1abc"),
        ("qualifiedName", "example.com/My.Name", "a/b/c"),
        ("dns1123LabelPrefix", "my-name-", "-x"),
        ("dns1123SubdomainPrefix", "a.b-", "A.b"),
        ("dns1035LabelPrefix", "abc-", "1abc-"),
        ("labelValue", "", "-x"),
        ("uri", "https://example.com/a", "a b"),
        ("uuid", "123e4567-e89b-12d3-a456-426614174000", "123e4567"),
        ("byte", "aGVsbG8=", "aGVsbG8"),
        ("date", "2024-02-29", "2023-02-29"),
        ("datetime", "2024-01-01T10:00:00Z", "2024-01-01T25:00:00Z"),
    ],
)
def test_each_named_format(name: str, good: str, bad: str) -> None:
    check = f"format.{name}().validate(object.s)"
    assert value(f"{check}.hasValue()", object={"s": good}) is False
    errors = value(f"{check}.value()", object={"s": bad})
    assert errors
    assert all(isinstance(e, str) for e in errors)
    assert value(f"format.named('{name}').value().validate(object.s).hasValue()", object={"s": bad})


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("format.dns1123Label().validate('a.b').value()", ["must not contain dots"]),
        ("format.dns1123Label().validate('x' + 'y').hasValue()", False),
        ("format.named('nope').hasValue()", False),
        ("format.named('uuid').value() == format.uuid()", True),
        ("format.labelValue().validate('a' + 'b').orValue(['none'])", ["none"]),
        (
            "[format.dns1123Label().validate('Bad'), format.uuid().validate('x')].all(r, r.hasValue())",
            True,
        ),
        ("'a.validate(x)'.size() > 0", True),  # strings are left alone
    ],
)
def test_validate_and_named(expression: str, expected: object) -> None:
    assert value(expression) == expected


def test_the_rewrite_wraps_the_receiver_and_leaves_strings() -> None:
    assert (
        rewrite("format.dns1123Label().validate(x).hasValue()")
        == "optional.ofNonZeroValue(format.dns1123Label().kubeopsValidate(x)).hasValue()"
    )
    assert rewrite("'.validate(' == s") == "'.validate(' == s"
    assert (
        rewrite("format.named(n).value().validate(s)")
        == "optional.ofNonZeroValue(optional.ofNonZeroValue(format.kubeopsNamed(n)).value()"
        ".kubeopsValidate(s))"
    )


def test_unknown_formats_fail_to_compile_under_their_own_names() -> None:
    message = compile_error("format.nope().validate('x')")
    assert "format.nope" in message
    assert "kubeops" not in message
