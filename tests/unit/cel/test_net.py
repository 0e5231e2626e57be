"""Kubernetes' IP and CIDR libraries, read as Go's netip reads addresses."""

from __future__ import annotations

import pytest

from ._table import compile_error, evaluation_error, value


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("isIP('10.0.0.1')", True),
        ("isIP('2001:db8::1')", True),
        ("isIP('10.0.0.01')", False),  # no leading zeros
        ("isIP('fe80::1%eth0')", False),  # no zones
        ("isIP('::ffff:1.2.3.4')", False),  # no IPv4-mapped IPv6
        ("isIP('10.0.0.1/8')", False),
        ("ip('10.0.0.1').family()", 4),
        ("ip('::1').family()", 6),
        ("ip.isCanonical('2001:db8::1')", True),
        ("ip.isCanonical('2001:DB8::1')", False),
        ("ip.isCanonical('2001:db8:0:0:0:0:0:1')", False),
        ("ip('0.0.0.0').isUnspecified()", True),
        ("ip('127.0.0.2').isLoopback()", True),
        ("ip('224.0.0.1').isLinkLocalMulticast()", True),
        ("ip('ff02::1').isLinkLocalMulticast()", True),
        ("ip('169.254.1.1').isLinkLocalUnicast()", True),
        ("ip('fe80::1').isLinkLocalUnicast()", True),
        ("ip('192.168.0.1').isGlobalUnicast()", True),  # Go's meaning: private counts
        ("ip('255.255.255.255').isGlobalUnicast()", False),
        ("ip('10.0.0.1') == ip('10.0.0.1')", True),
        ("ip('10.0.0.1') == ip('10.0.0.2')", False),
        ("string(ip('2001:DB8::1'))", "2001:db8::1"),
        ("ip('10.0.0.1')", "10.0.0.1"),
        ("isCIDR('10.0.0.0/8')", True),
        ("isCIDR('10.0.0.0/33')", False),
        ("isCIDR('10.0.0.0/08')", False),
        ("isCIDR('10.0.0.0')", False),
        ("cidr('10.0.0.0/8').containsIP('10.1.2.3')", True),
        ("cidr('10.0.0.0/8').containsIP(ip('11.0.0.1'))", False),
        ("cidr('::/0').containsIP('10.0.0.1')", False),  # families differ
        ("cidr('10.0.0.0/8').containsCIDR('10.1.0.0/16')", True),
        ("cidr('10.1.0.0/16').containsCIDR(cidr('10.0.0.0/8'))", False),
        ("cidr('10.0.0.0/8').prefixLength()", 8),
        ("cidr('10.1.2.3/8').ip()", "10.1.2.3"),
        ("string(cidr('10.1.2.3/8').masked())", "10.0.0.0/8"),
        ("cidr('10.1.2.3/8') == cidr('10.0.0.0/8')", False),  # kept as written
        ("cidr('10.1.2.3/8').masked() == cidr('10.0.0.0/8')", True),
        ("string(cidr('2001:db8::/32'))", "2001:db8::/32"),
        ("object.ips.all(a, isIP(a) && ip(a).family() == 4)", True),
    ],
)
def test_ip_and_cidr(expression: str, expected: object) -> None:
    assert value(expression, object={"ips": ["10.0.0.1", "192.168.1.1"]}) == expected


@pytest.mark.parametrize(
    ("expression", "cause"),
    [
        ("ip('nope')", 'IP Address "nope" parse error during conversion from string'),
        ("ip('fe80::1%eth0')", "with zone value is not allowed"),
        ("ip('::ffff:1.2.3.4')", 'IPv4-mapped IPv6 address "::ffff:1.2.3.4" is not allowed'),
        ("ip.isCanonical('x')", "parse error"),
        ("cidr('10.0.0.0/40')", "network address parse error"),
        ("cidr('10.0.0.0/8').containsIP('x')", "parse error"),
    ],
)
def test_bad_addresses_are_evaluation_errors(expression: str, cause: str) -> None:
    assert cause in evaluation_error(expression)


def test_an_ip_is_not_a_cidr_when_compiled() -> None:
    assert "no matching overload for 'prefixLength'" in compile_error(
        "ip('1.2.3.4').prefixLength()"
    )
    assert "no matching overload for 'family'" in compile_error("cidr('1.2.3.0/24').family()")
