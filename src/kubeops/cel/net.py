"""Kubernetes' CEL IP and CIDR libraries: ``ip('10.0.0.1').family()``, ``cidr('10.0.0.0/8').containsIP(...)``.

As k8s.io/apiserver's ``library.IP`` and ``library.CIDR``, which read addresses
with Go's ``netip``: no zones, no IPv4-mapped IPv6, no leading zeros; a CIDR keeps
its address as written (``cidr('10.0.0.1/8') != cidr('10.0.0.0/8')``; ``masked()``
clears the host bits).  ``isGlobalUnicast`` is Go's (private ranges count), not
Python's ``is_global``.  An IP travels as ``{"net.IP": <address bytes in hex>}``, a CIDR as
``{"net.CIDR": [<address bytes in hex>, <prefix length>]}`` (hex: cel-expr-python
cuts bytes at a NUL), so ``==`` compares them as Kubernetes does.
"""

from __future__ import annotations

import ipaddress
from typing import Any, Final

from cel_expr_python import cel  # type: ignore[import-untyped]

from kubeops.cel.overloads import Fn, Opaque, fn, go_quote, method, register

__all__ = ["CIDR", "IP", "overloads", "parse_cidr", "parse_ip"]

_T = cel.Type
IP: Final = register(
    Opaque("net.IP", _T.Map(_T.STRING, _T.BYTES), "net.IP", show=lambda b: str(_address_of(b)))
)
CIDR: Final = register(
    Opaque(
        "net.CIDR",
        _T.Map(_T.STRING, _T.List(_T.BYTES)),
        "net.CIDR",
        show=lambda p: f"{_address_of(p[0])}/{int(bytes(p[1]))}",
    )
)

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def _address(text: str) -> Address:
    """``text`` as Go's ``netip.ParseAddr`` reads it (ValueError with its reason)."""
    if "%" in text:
        raise ValueError("zone")
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        raise ValueError("invalid") from None
    return address


def parse_ip(text: str) -> Address:
    """The address ``text`` names, or ValueError worded as the API server's."""
    try:
        address = _address(text)
    except ValueError as error:
        if str(error) == "zone":
            raise ValueError(
                f"IP address {go_quote(text)} with zone value is not allowed"
            ) from None
        raise ValueError(
            f"IP Address {go_quote(text)} parse error during conversion from string: ParseAddr({go_quote(text)})"
        ) from None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        raise ValueError(f"IPv4-mapped IPv6 address {go_quote(text)} is not allowed")
    return address


def parse_cidr(text: str) -> tuple[Address, int]:
    """The address and prefix length ``text`` names (the address kept as written)."""
    where, slash, bits = text.rpartition("/")
    problem = None
    if not slash:
        problem = "no '/'"
    elif "%" in where:
        problem = "IPv6 zones cannot be present in a prefix"
    elif not bits.isascii() or not bits.isdigit() or (len(bits) > 1 and bits[0] == "0"):
        problem = "bad bits after slash"
    if problem is None:
        try:
            address = _address(where)
        except ValueError:
            problem = "invalid address"
        else:
            if int(bits) > address.max_prefixlen:
                problem = "prefix length out of range"
    if problem is not None:
        raise ValueError(
            "network address parse error during conversion from string: "
            f"netip.ParsePrefix({go_quote(text)}): {problem}"
        )
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        raise ValueError(f"IPv4-mapped IPv6 address {go_quote(text)} is not allowed")
    return address, int(bits)


def _address_of(payload: object) -> Address:
    """The address whose hex text ``payload`` holds (cel-expr-python cuts bytes at a NUL)."""
    return ipaddress.ip_address(bytes.fromhex(bytes(payload).decode()))  # type: ignore[call-overload]


def _ip(address: Address) -> dict[object, object]:
    return IP.wrap(address.packed.hex().encode())


def _from_ip(value: object) -> Address:
    return _address_of(IP.unwrap(value))


def _cidr(address: Address, bits: int) -> dict[object, object]:
    return CIDR.wrap([address.packed.hex().encode(), str(bits).encode()])


def _from_cidr(value: object) -> tuple[Address, int]:
    packed, bits = CIDR.unwrap(value)
    return _address_of(packed), int(bytes(bits))


def _network(value: object) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    address, bits = _from_cidr(value)
    return ipaddress.ip_network((address, bits), strict=False)


def _is_ip(text: str) -> bool:
    try:
        parse_ip(text)
    except ValueError:
        return False
    return True


def _is_cidr(text: str) -> bool:
    try:
        parse_cidr(text)
    except ValueError:
        return False
    return True


def _is_canonical(text: str) -> bool:
    return str(parse_ip(text)) == text


def _global_unicast(address: Address) -> bool:
    """Go's ``IsGlobalUnicast``: not unspecified, loopback, multicast, link-local, broadcast."""
    if isinstance(address, ipaddress.IPv4Address) and int(address) == 0xFFFFFFFF:
        return False
    return not (
        address.is_unspecified
        or address.is_loopback
        or address.is_multicast
        or address.is_link_local
    )


def _link_local_multicast(address: Address) -> bool:
    if isinstance(address, ipaddress.IPv4Address):
        return address in ipaddress.ip_network("224.0.0.0/24")
    raw = address.packed
    return raw[0] == 0xFF and raw[1] & 0x0F == 0x02


def _contains_ip(cidr: object, other: object) -> bool:
    address = parse_ip(other) if isinstance(other, str) else _from_ip(other)
    network = _network(cidr)
    return address.version == network.version and address in network


def _contains_cidr(cidr: object, other: object) -> bool:
    if isinstance(other, str):
        address, bits = parse_cidr(other)
    else:
        address, bits = _from_cidr(other)
    network = _network(cidr)
    inner = ipaddress.ip_network((address, bits), strict=False)
    return (
        inner.version == network.version
        and network.overlaps(inner)
        and network.prefixlen <= inner.prefixlen
    )


def _masked(value: object) -> dict[object, object]:
    network = _network(value)
    return _cidr(network.network_address, network.prefixlen)


def _cidr_string(value: object) -> str:
    address, bits = _from_cidr(value)
    return f"{address}/{bits}"


def _ip_check(test: Any) -> Any:
    return lambda value: bool(test(_from_ip(value)))


def overloads() -> list[Fn]:
    """The IP and CIDR libraries' overloads."""
    ip, net, t = IP.type, CIDR.type, _T

    def parsed_cidr(text: str) -> dict[object, object]:
        return _cidr(*parse_cidr(text))

    return [
        fn("ip", "string_to_ip", ip, [t.STRING], lambda s: _ip(parse_ip(s))),
        fn("isIP", "is_ip", t.BOOL, [t.STRING], _is_ip),
        fn("ip.isCanonical", "ip_is_canonical", t.BOOL, [t.STRING], _is_canonical),
        method("family", "ip_family", t.INT, [ip], lambda v: _from_ip(v).version),
        method(
            "isUnspecified",
            "ip_is_unspecified",
            t.BOOL,
            [ip],
            _ip_check(lambda a: a.is_unspecified),
        ),
        method("isLoopback", "ip_is_loopback", t.BOOL, [ip], _ip_check(lambda a: a.is_loopback)),
        method(
            "isLinkLocalMulticast",
            "ip_is_link_local_multicast",
            t.BOOL,
            [ip],
            _ip_check(_link_local_multicast),
        ),
        method(
            "isLinkLocalUnicast",
            "ip_is_link_local_unicast",
            t.BOOL,
            [ip],
            _ip_check(lambda a: a.is_link_local),
        ),
        method("isGlobalUnicast", "ip_is_global_unicast", t.BOOL, [ip], _ip_check(_global_unicast)),
        fn("string", "ip_to_string", t.STRING, [ip], lambda v: str(_from_ip(v))),
        fn("cidr", "string_to_cidr", net, [t.STRING], parsed_cidr),
        fn("isCIDR", "is_cidr", t.BOOL, [t.STRING], _is_cidr),
        method("containsIP", "cidr_contains_ip_string", t.BOOL, [net, t.STRING], _contains_ip),
        method("containsIP", "cidr_contains_ip_ip", t.BOOL, [net, ip], _contains_ip),
        method(
            "containsCIDR", "cidr_contains_cidr_string", t.BOOL, [net, t.STRING], _contains_cidr
        ),
        method("containsCIDR", "cidr_contains_cidr", t.BOOL, [net, net], _contains_cidr),
        method("ip", "cidr_ip", ip, [net], lambda v: _ip(_from_cidr(v)[0])),
        method("prefixLength", "cidr_prefix_length", t.INT, [net], lambda v: _from_cidr(v)[1]),
        method("masked", "cidr_masked", net, [net], _masked),
        fn("string", "cidr_to_string", t.STRING, [net], _cidr_string),
    ]
