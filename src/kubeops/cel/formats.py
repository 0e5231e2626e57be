"""Kubernetes' CEL format library: ``format.dns1123Label().validate(name)`` and ``format.named(n)``.

As k8s.io/apiserver's ``library.Format``: ``validate`` gives ``optional.none()``
for a valid string and ``optional.of([reasons])`` otherwise, the reasons worded as
apimachinery's validation words them.  cel-expr-python cannot return an optional
from Python, so kubeops rewrites ``X.validate(s)`` to
``optional.ofNonZeroValue(X.kubeopsValidate(s))`` and ``format.named(n)`` to
``optional.ofNonZeroValue(format.kubeopsNamed(n))`` before compiling (see
:func:`rewrite`); the results are the same.  A format travels as
``{"kubernetes.NamedFormat": <its index>}``.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from datetime import date
from typing import Final

from cel_expr_python import cel  # type: ignore[import-untyped]

from kubeops.cel.overloads import Fn, Opaque, fn, method, register

__all__ = ["FORMAT", "NAMES", "dns1123_label", "dns1123_subdomain", "overloads", "rewrite"]

_T = cel.Type
FORMAT: Final = register(
    Opaque(
        "kubernetes.NamedFormat",
        _T.Map(_T.STRING, _T.INT),
        "kubernetes.NamedFormat",
        show=lambda i: NAMES[i][0],
    )
)

_LABEL_FMT: Final = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_SUBDOMAIN_FMT: Final = _LABEL_FMT + "(\\." + _LABEL_FMT + ")*"
_DNS1035_FMT: Final = "[a-z]([-a-z0-9]*[a-z0-9])?"
_KEY_FMT: Final = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_VALUE_FMT: Final = "(" + _KEY_FMT + ")?"
_LABEL_MSG: Final = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character"
)
_SUBDOMAIN_MSG: Final = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
    "and must start and end with an alphanumeric character"
)
_DNS1035_MSG: Final = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
    "alphabetic character, and end with an alphanumeric character"
)
_KEY_MSG: Final = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character"
)
_VALUE_MSG: Final = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
    "and must start and end with an alphanumeric character"
)
_UUID: Final = re.compile(r"[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}", re.I)
_BASE64: Final = re.compile(
    r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{4})"
)
_DATE: Final = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_TIME: Final = re.compile(r"([0-9]{2}):([0-9]{2}):([0-9]{2})(.[0-9]+)?(z|([+-][0-9]{2}:[0-9]{2}))")


def _regex_error(message: str, pattern: str, *examples: str) -> str:
    """apimachinery's ``RegexError``, to the letter: ``(e.g. 'a',  or 'b', regex ...)``."""
    shown = " or ".join(f"'{e}', " for e in examples)
    return f"{message} (e.g. {shown}regex used for validation is '{pattern}')"


def _too_long(limit: int, unit: str = "characters") -> str:
    """``MaxLenError``: util/validation's counts characters, api/validate/content's bytes."""
    return f"must be no more than {limit} {unit}"


def dns1123_label(value: str) -> list[str]:
    """apimachinery's ``IsDNS1123Label``: the reasons ``value`` is not one ([] if it is)."""
    errors = [_too_long(63)] if len(value.encode()) > 63 else []
    if not re.fullmatch(_LABEL_FMT, value):
        if re.fullmatch(_SUBDOMAIN_FMT, value):
            errors.append("must not contain dots")
        else:
            errors.append(_regex_error(_LABEL_MSG, _LABEL_FMT, "my-name", "123-abc"))
    return errors


def dns1123_subdomain(value: str, unit: str = "characters") -> list[str]:
    """apimachinery's ``IsDNS1123Subdomain``."""
    errors = [_too_long(253, unit)] if len(value.encode()) > 253 else []
    if not re.fullmatch(_SUBDOMAIN_FMT, value):
        errors.append(_regex_error(_SUBDOMAIN_MSG, _SUBDOMAIN_FMT, "example.com"))
    return errors


def _dns1035_label(value: str) -> list[str]:
    errors = [_too_long(63)] if len(value.encode()) > 63 else []
    if not re.fullmatch(_DNS1035_FMT, value):
        errors.append(_regex_error(_DNS1035_MSG, _DNS1035_FMT, "my-name", "abc-123"))
    return errors


def _qualified_name(value: str) -> list[str]:
    errors: list[str] = []
    parts = value.split("/")
    if len(parts) > 2:
        return [
            "a valid label key "
            + _regex_error(_KEY_MSG, _KEY_FMT, "MyName", "my.name", "123-abc")
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ]
    name = parts[-1]
    if len(parts) == 2:
        if not parts[0]:
            errors.append("prefix part must be non-empty")
        else:
            errors += ["prefix part " + m for m in dns1123_subdomain(parts[0], "bytes")]
    if not name:
        errors.append("name part must be non-empty")
    elif len(name.encode()) > 63:
        errors.append("name part " + _too_long(63, "bytes"))
    if not re.fullmatch(_KEY_FMT, name):
        errors.append(
            "name part " + _regex_error(_KEY_MSG, _KEY_FMT, "MyName", "my.name", "123-abc")
        )
    return errors


def _label_value(value: str) -> list[str]:
    errors = [_too_long(63, "bytes")] if len(value.encode()) > 63 else []
    if not re.fullmatch(_VALUE_FMT, value):
        errors.append(_regex_error(_VALUE_MSG, _VALUE_FMT, "MyValue", "my_value", "12345"))
    return errors


def _prefix(check: Callable[[str], list[str]]) -> Callable[[str], list[str]]:
    """A generateName prefix: a trailing dash allowed (apimachinery's ``maskTrailingDash``)."""

    def prefixed(value: str) -> list[str]:
        if len(value) > 1 and value.endswith("-"):
            value = value[:-2] + "a"
        return check(value)

    return prefixed


def _uri(value: str) -> list[str]:
    from kubeops.cel.urls import request_uri_problem

    problem = request_uri_problem(value)
    return [] if problem is None else [problem]


def _is_date(value: str) -> bool:
    match = _DATE.fullmatch(value)
    if match is None:
        return False
    try:
        date(*(int(g) for g in match.groups()))
    except ValueError:
        return False
    return True


def _datetime(value: str) -> list[str]:
    parts = value.lower().split("t")
    ok = len(value) >= 4 and len(parts) >= 2 and _is_date(parts[0])
    match = _TIME.fullmatch(parts[1]) if ok else None
    if match is None or not (match[1] <= "23" and match[2] <= "59" and match[3] <= "59"):
        return ["invalid datetime"]
    return []


def _byte(value: str) -> list[str]:
    if not _BASE64.fullmatch(value):
        return ["invalid base64"]
    try:
        base64.b64decode(value, validate=True)
    except binascii.Error:
        return ["invalid base64"]
    return []


NAMES: Final[tuple[tuple[str, Callable[[str], list[str]]], ...]] = (
    ("dns1123Label", dns1123_label),
    ("dns1123Subdomain", dns1123_subdomain),
    ("dns1035Label", _dns1035_label),
    ("qualifiedName", _qualified_name),
    ("dns1123LabelPrefix", _prefix(dns1123_label)),
    ("dns1123SubdomainPrefix", _prefix(dns1123_subdomain)),
    ("dns1035LabelPrefix", _prefix(_dns1035_label)),
    ("labelValue", _label_value),
    ("uri", _uri),
    ("uuid", lambda s: [] if _UUID.fullmatch(s) else ["does not match the UUID format"]),
    ("byte", _byte),
    ("date", lambda s: [] if _is_date(s) else ["invalid date"]),
    ("datetime", _datetime),
)
"""The named formats, in Kubernetes' names, with their validators."""

_INDEX: Final = {name: i for i, (name, _) in enumerate(NAMES)}


def _validate(value: object, text: str) -> list[str]:
    index: int = FORMAT.unwrap(value)
    return NAMES[index][1](text)


def _named(name: str) -> dict[object, object]:
    index = _INDEX.get(name)
    return {} if index is None else FORMAT.wrap(index)


def overloads() -> list[Fn]:
    """The library's overloads (``validate`` and ``named`` under their rewritten names)."""
    f, t = FORMAT.type, _T
    result = [
        fn(f"format.{name}", f"format.{name}", f, [], lambda i=i: FORMAT.wrap(i))
        for i, (name, _) in enumerate(NAMES)
    ]
    result.append(
        method("kubeopsValidate", "format-validate", t.List(t.STRING), [f, t.STRING], _validate)
    )
    result.append(fn("format.kubeopsNamed", "format-named", f, [t.STRING], _named))
    return result


_TOKEN: Final = re.compile(
    r"""(?P<string>[rR]?[bB]?[rR]?(?P<q>'''|\"\"\"|'|")(?:\\.|(?!(?P=q)).)*?(?P=q))"""
    r"""|(?P<comment>//[^\n]*)|(?P<validate>\.\s*validate\s*\()|(?P<named>\bformat\s*\.\s*named\s*\()"""
    r"""|(?P<open>[(\[{])|(?P<close>[)\]}])""",
    re.S,
)


def rewrite(expression: str) -> str:
    """``expression`` with ``.validate(..)`` and ``format.named(..)`` wrapped in ``optional.ofNonZeroValue``.

    Strings and comments are left alone; the receiver of ``validate`` is the
    primary expression before it (a call chain such as ``format.dns1123Label()``
    or a name such as ``variables.f``).
    """
    if "validate" not in expression and "named" not in expression:
        return expression
    text = expression
    while True:
        edit = _next_edit(text)
        if edit is None:
            return text
        text = edit


def _next_edit(text: str) -> str | None:
    for match in _TOKEN.finditer(text):
        kind, at = match.lastgroup, match.start()
        if kind == "named":
            close = _closing(text, match.end() - 1)
            inner = text[match.end() : close]
            return (
                text[:at]
                + "optional.ofNonZeroValue(format.kubeopsNamed("
                + inner
                + "))"
                + text[close + 1 :]
            )
        if kind == "validate":
            begin = _receiver_start(text, at)
            close = _closing(text, match.end() - 1)
            inner = text[match.end() : close]
            return (
                text[:begin]
                + "optional.ofNonZeroValue("
                + text[begin:at]
                + ".kubeopsValidate("
                + inner
                + "))"
                + text[close + 1 :]
            )
    return None


def _closing(text: str, open_at: int) -> int:
    """Where the bracket opened at ``open_at`` closes (strings skipped); the end if never."""
    depth = 0
    for match in _TOKEN.finditer(text, open_at):
        if match.lastgroup in ("open", "validate", "named"):
            depth += 1
        elif match.lastgroup == "close":
            depth -= 1
            if depth == 0:
                return match.start()
    return len(text)


def _receiver_start(text: str, dot: int) -> int:
    """The start of the primary expression that ends just before ``dot``."""
    i = dot
    while True:
        while i > 0 and text[i - 1].isspace():
            i -= 1
        if i > 0 and text[i - 1] in ")]":
            i = _opening(text, i - 1)
        while i > 0 and (text[i - 1].isalnum() or text[i - 1] == "_"):
            i -= 1
        j = i
        while j > 0 and text[j - 1].isspace():
            j -= 1
        if j > 0 and text[j - 1] == "." and not (j > 1 and text[j - 2].isdigit()):
            i = j - 1
            continue
        return i


def _opening(text: str, close_at: int) -> int:
    depth = 0
    for i in range(close_at, -1, -1):
        if text[i] in ")]}":
            depth += 1
        elif text[i] in "([{":
            depth -= 1
            if depth == 0:
                return i
    return 0
