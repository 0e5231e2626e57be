"""Kubernetes' CEL URL library: ``url('https://example.com:80/a?x=1').getHost()`` and friends.

As k8s.io/apiserver's ``library.URLs``, which reads URLs with Go's ``net/url``:
``url()``/``isURL()`` accept what ``url.ParseRequestURI`` accepts (an absolute URL
or an absolute path; no fragment-only or relative text), and the getters answer
from ``url.Parse``.  Python's urllib differs in many corners (ports, brackets,
escapes), so this module follows Go's parser step by step.  A URL travels as
``{"kubernetes.URL": {<part>: <text>}}``.
"""

from __future__ import annotations

import ipaddress
import string
from typing import Final
from urllib.parse import unquote_to_bytes

from cel_expr_python import cel  # type: ignore[import-untyped]

from kubeops.cel.overloads import Fn, Opaque, fn, go_quote, method, register

__all__ = ["URL", "overloads", "parse"]

_T = cel.Type
URL: Final = register(
    Opaque(
        "kubernetes.URL",
        _T.Map(_T.STRING, _T.Map(_T.STRING, _T.STRING)),
        "kubernetes.URL",
        show=lambda parts: {k: v for k, v in parts.items() if v},
    )
)

_ALNUM: Final = frozenset(string.ascii_letters + string.digits)
_UNRESERVED: Final = frozenset("-_.~")
_RESERVED: Final = frozenset("$&+,/:;=?@")
_HOST_EXTRA: Final = frozenset("!$&'()*+,;=:[]<>\"")
_HEX: Final = frozenset(string.hexdigits)
_USERINFO: Final = _ALNUM | frozenset("-._:~!$&'()*+,;=%@")


class _Invalid(ValueError):
    pass


def _should_escape(c: str, mode: str) -> bool:
    """Go's ``shouldEscape`` for the modes the parser uses: path, host, zone, user, query."""
    if c in _ALNUM:
        return False
    if mode in ("host", "zone") and c in _HOST_EXTRA:
        return False
    if c in _UNRESERVED:
        return False
    if c in _RESERVED:
        if mode == "path":
            return c == "?"
        if mode == "user":
            return c in "@/?:"
        if mode == "query":
            return True
    return True


def _unescape(text: str, mode: str) -> str:
    """Go's ``unescape``: bad ``%`` escapes (and, in a host, bad characters) refused."""
    i = 0
    while i < len(text):
        c = text[i]
        if c == "%":
            if i + 2 >= len(text) or text[i + 1] not in _HEX or text[i + 2] not in _HEX:
                raise _Invalid(f"invalid URL escape {go_quote(text[i : i + 3])}")
            if mode == "host" and int(text[i + 1], 16) < 8 and text[i : i + 3] != "%25":
                raise _Invalid(f"invalid URL escape {go_quote(text[i : i + 3])}")
            if mode == "zone":
                value = chr(int(text[i + 1 : i + 3], 16))
                if text[i : i + 3] != "%25" and value != " " and _should_escape(value, "host"):
                    raise _Invalid(f"invalid URL escape {go_quote(text[i : i + 3])}")
            i += 3
            continue
        if mode in ("host", "zone") and ord(c) < 0x80 and _should_escape(c, mode):
            raise _Invalid(f"invalid character {go_quote(c)} in host name")
        i += 1
    if "%" not in text and not (mode == "query" and "+" in text):
        return text
    if mode == "query":
        text = text.replace("+", " ")
    return unquote_to_bytes(text).decode("utf-8", errors="surrogateescape")


def _escape_path(path: str) -> str:
    out = []
    for byte in path.encode("utf-8", errors="surrogateescape"):
        c = chr(byte)
        out.append(f"%{byte:02X}" if byte >= 0x80 or _should_escape(c, "path") else c)
    return "".join(out)


def _valid_encoded(text: str) -> bool:
    return all(
        c in "!$&'()*+,;=:@[]%" or (ord(c) < 0x80 and not _should_escape(c, "path")) for c in text
    )


def _valid_port(port: str) -> bool:
    return port == "" or (port[0] == ":" and all("0" <= c <= "9" for c in port[1:]))


def _scheme(raw: str) -> tuple[str, str]:
    for i, c in enumerate(raw):
        if c.isascii() and c.isalpha():
            continue
        if c.isascii() and (c.isdigit() or c in "+-."):
            if i == 0:
                return "", raw
            continue
        if c == ":":
            if i == 0:
                raise _Invalid("missing protocol scheme")
            return raw[:i], raw[i + 1 :]
        return "", raw
    return "", raw


def _host(scheme: str, host: str) -> str:
    bracket = host.rfind("[")
    if bracket > 0:
        raise _Invalid("invalid IP-literal")
    if bracket == 0:
        close = host.rfind("]")
        if close < 0:
            raise _Invalid("missing ']' in host")
        port = host[close + 1 :]
        if not _valid_port(port):
            raise _Invalid(f"invalid port {go_quote(port)} after host")
        name = host[1:close]
        zone = name.find("%25")
        if zone >= 0:
            name = _unescape(name[:zone], "host") + _unescape(name[zone:], "zone")
        else:
            name = _unescape(name, "host")
        try:
            address = ipaddress.ip_address(name.split("%", 1)[0])
        except ValueError:
            raise _Invalid(f"invalid host: ParseAddr({go_quote(name)})") from None
        if address.version == 4:
            raise _Invalid("invalid IP-literal")
        return f"[{name}]{port}"
    if (first := host.find(":")) != -1:
        last = host.rfind(":")
        if last != first and scheme not in ("http", "https"):
            first = last
        if not _valid_port(host[first:]):
            raise _Invalid(f"invalid port {go_quote(host[first:])} after host")
    return _unescape(host, "host")


def _authority(scheme: str, authority: str, parts: dict[str, str]) -> None:
    at = authority.rfind("@")
    parts["host"] = _host(scheme, authority[at + 1 :] if at >= 0 else authority)
    if at >= 0:
        userinfo = authority[:at]
        if not all(c in _USERINFO for c in userinfo):
            raise _Invalid("net/url: invalid userinfo")
        parts["user"] = ":".join(_unescape(p, "user") for p in userinfo.split(":", 1))


def _parse(raw: str, via_request: bool) -> dict[str, str]:
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in raw):
        raise _Invalid("net/url: invalid control character in URL")
    if raw == "" and via_request:
        raise _Invalid("empty url")
    parts = dict.fromkeys(
        ("scheme", "opaque", "user", "host", "path", "rawPath", "rawQuery", "forceQuery"), ""
    )
    if raw == "*":
        parts["path"] = "*"
        return parts
    scheme, rest = _scheme(raw)
    parts["scheme"] = scheme.lower()
    if rest.endswith("?") and rest.count("?") == 1:
        parts["forceQuery"], rest = "true", rest[:-1]
    else:
        rest, _, parts["rawQuery"] = rest.partition("?")
    if not rest.startswith("/"):
        if parts["scheme"]:
            parts["opaque"] = rest
            return parts
        if via_request:
            raise _Invalid("invalid URI for request")
        if ":" in rest.split("/", 1)[0]:
            raise _Invalid("first path segment in URL cannot contain colon")
    if (parts["scheme"] or (not via_request and not rest.startswith("///"))) and rest.startswith(
        "//"
    ):
        authority, slash, path = rest[2:].partition("/")
        rest = slash + path
        _authority(parts["scheme"], authority, parts)
    path = _unescape(rest, "path")
    parts["path"] = path
    parts["rawPath"] = "" if _escape_path(path) == rest else rest
    return parts


def request_uri_problem(text: str) -> str | None:
    """Why Go's ``url.ParseRequestURI`` refuses ``text`` (its error text), or None."""
    try:
        _parse(text, True)
    except _Invalid as error:
        return f"parse {go_quote(text)}: {error}"
    return None


def parse(text: str) -> dict[str, str]:
    """The parts of URL ``text`` (as ``url.Parse`` after ``url.ParseRequestURI``), or ValueError."""
    problem = request_uri_problem(text)
    if problem is None:
        try:
            parts = _parse(text.partition("#")[0], False)
        except _Invalid as error:
            problem = f"parse {go_quote(text.partition('#')[0])}: {error}"
    if problem is not None:
        raise ValueError(f"URL parse error during conversion from string: {problem}")
    if "#" in text:
        parts["fragment"] = text.partition("#")[2]
    return parts


def _is_url(text: str) -> bool:
    try:
        _parse(text, True)
    except _Invalid:
        return False
    return True


def _split_host_port(host: str) -> tuple[str, str]:
    port = ""
    colon = host.rfind(":")
    if colon != -1 and _valid_port(host[colon:]):
        host, port = host[:colon], host[colon + 1 :]
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, port


def _escaped_path(parts: dict[str, str]) -> str:
    raw = parts["rawPath"]
    if raw and _valid_encoded(raw):
        try:
            if _unescape(raw, "path") == parts["path"]:
                return raw
        except _Invalid:
            pass
    if parts["path"] == "*":
        return "*"
    return _escape_path(parts["path"])


def _query(parts: dict[str, str]) -> dict[str, list[str]]:
    """Go's ``URL.Query()``: pairs with a ``;`` or a bad escape left out."""
    values: dict[str, list[str]] = {}
    for pair in parts["rawQuery"].split("&"):
        if not pair or ";" in pair:
            continue
        key, _, value = pair.partition("=")
        try:
            values.setdefault(_unescape(key, "query"), []).append(_unescape(value, "query"))
        except _Invalid:
            continue
    return values


def _parts(value: object) -> dict[str, str]:
    return dict(URL.unwrap(value))


def overloads() -> list[Fn]:
    """The library's overloads."""
    u, t = URL.type, _T
    return [
        fn("url", "string_to_url", u, [t.STRING], lambda s: URL.wrap(parse(s))),
        fn("isURL", "is_url_string", t.BOOL, [t.STRING], _is_url),
        method("getScheme", "url_get_scheme", t.STRING, [u], lambda v: _parts(v)["scheme"]),
        method("getHost", "url_get_host", t.STRING, [u], lambda v: _parts(v)["host"]),
        method(
            "getHostname",
            "url_get_hostname",
            t.STRING,
            [u],
            lambda v: _split_host_port(_parts(v)["host"])[0],
        ),
        method(
            "getPort",
            "url_get_port",
            t.STRING,
            [u],
            lambda v: _split_host_port(_parts(v)["host"])[1],
        ),
        method(
            "getEscapedPath",
            "url_get_escaped_path",
            t.STRING,
            [u],
            lambda v: _escaped_path(_parts(v)),
        ),
        method(
            "getQuery",
            "url_get_query",
            t.Map(t.STRING, t.List(t.STRING)),
            [u],
            lambda v: _query(_parts(v)),
        ),
    ]
