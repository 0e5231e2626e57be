"""Kubernetes' URL library, read as Go's net/url reads URLs."""

from __future__ import annotations

import pytest

from ._table import evaluation_error, value


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("isURL('https://example.com/a')", True),
        ("isURL('/absolute/path')", True),
        ("isURL('relative/path')", False),
        ("isURL('')", False),
        ("isURL('https://exa mple.com')", False),
        ("isURL('https://example.com:8o')", False),
        ("url('HTTPS://example.com').getScheme()", "https"),
        ("url('https://example.com:8080/p').getHost()", "example.com:8080"),
        ("url('https://example.com:8080/p').getHostname()", "example.com"),
        ("url('https://example.com:8080/p').getPort()", "8080"),
        ("url('https://example.com/p').getPort()", ""),
        ("url('https://[::1]:80/').getHostname()", "::1"),
        ("url('https://[::1]:80/').getHost()", "[::1]:80"),
        ("url('https://user:pw@example.com/').getHost()", "example.com"),
        ("url('https://example.com/a b/%7Ex').getEscapedPath()", "/a%20b/~x"),
        ("url('https://example.com/a%2Fb').getEscapedPath()", "/a%2Fb"),
        ("url('/p?x=1&x=2&y=a+b').getQuery()", {"x": ["1", "2"], "y": ["a b"]}),
        ("url('/p?a=1;b=2&c=3').getQuery()", {"c": ["3"]}),
        ("url('https://example.com/p#frag').getEscapedPath()", "/p"),
        ("url('mailto:someone@example.com').getHost()", ""),
        ("url('https://example.com') == url('https://example.com')", True),
    ],
)
def test_urls(expression: str, expected: object) -> None:
    assert value(expression) == expected


@pytest.mark.parametrize(
    ("expression", "cause"),
    [
        ("url('not a url')", "invalid URI for request"),
        ("url('https://example.com:port/')", "invalid port"),
        ("url('https://[::1/')", "missing ']' in host"),
        ("url('/a%zz')", "invalid URL escape"),
        ("url('')", "empty url"),
    ],
)
def test_bad_urls_are_evaluation_errors(expression: str, cause: str) -> None:
    message = evaluation_error(expression)
    assert "URL parse error during conversion from string" in message
    assert cause in message
