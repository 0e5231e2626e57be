"""What kubeops may show of a URL or of cluster text: the one owner of both rules.

A URL can carry a secret twice: in its userinfo (``https://user:password@host``)
and, for Slack-style webhooks, in its path (``https://hooks.slack.com/services/T0/B0/xyz``
is itself the credential).  :func:`redact_url` is applied wherever a URL is
printed, logged, stored in a report or copied into another kubeconfig.

Text that may quote a secret kubeops holds (a credential plugin's stderr) has
each of those values masked by :func:`mask_values` before it is logged.

Text from a cluster (a certificate subject, an annotation, a log line) can carry
terminal control sequences; :func:`printable` is applied to everything written
to a terminal, so ESC, OSC and the other C0/C1 control characters never reach it
raw.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import urlsplit, urlunsplit

__all__ = ["mask_values", "printable", "redact_url", "strip_userinfo"]

MASK = "***"


# "user:password@" wherever it stands (a URL that does not parse, or one nested in a path);
# it starts only at the start or after "/", "@" or a blank, so long text is scanned once.
_USERINFO = re.compile(r"(?:^|(?<=[/\s@]))([^:/@\s]*:)[^@/\s]*@")
# A query parameter that holds a credential: ?password=..., &sslpassword=..., ?token=...
_SECRET_PARAM = re.compile(r"(?i)([?&;][^=&#;?]*(?:password|passwd|secret|token)[^=&#;?]*=)[^&#;]*")


def redact_url(url: str, *, secret_path: bool = False) -> str:
    """``url`` as it may be shown: a password in its userinfo or in a query parameter
    (``password``, ``token``, ``secret``) becomes ``***`` and, with ``secret_path``
    (webhooks), everything after the host becomes ``/***``.

    Text that does not parse as a URL is masked by pattern, never returned raw.
    """
    text = url.strip()
    try:
        parts = urlsplit(text)
    except ValueError:
        parts = None
    if parts is not None and parts.netloc:
        netloc = parts.netloc
        if "@" in netloc:
            userinfo, _, host = netloc.rpartition("@")
            user, colon, _ = userinfo.partition(":")
            netloc = f"{user}:{MASK}@{host}" if colon else f"{user}@{host}"
        if secret_path:
            hidden = bool(parts.path.strip("/") or parts.query or parts.fragment)
            path = f"/{MASK}" if hidden else parts.path
            text = urlunsplit((parts.scheme, netloc, path, "", ""))
        else:
            text = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    elif secret_path:
        if parts is None and "://" in text:
            text = re.sub(r"(://[^/\s]*)[/?#]\S*", rf"\1/{MASK}", text)
        else:  # no host found: everything after the first "/" may be the secret
            head, slash, rest = text.partition("/")
            text = f"{head}/{MASK}" if slash and rest else text
    return _SECRET_PARAM.sub(rf"\1{MASK}", _USERINFO.sub(rf"\1{MASK}@", text))


def strip_userinfo(url: str) -> str:
    """``url`` without any ``user:password@`` (for copying a server into a new kubeconfig)."""
    text = url.strip()
    try:
        parts = urlsplit(text)
    except ValueError:
        return _USERINFO.sub("", text)
    if "@" in parts.netloc:
        text = urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))
    return _USERINFO.sub("", text)


# C0 controls except tab and newline, DEL, and the C1 controls (U+0080..U+009F).
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    return _NAMED.get(char) or f"\\x{ord(char):02x}"


# The same and newline and tab too: for a value shown inside a one-line message.
_CONTROL_IN_LINE = re.compile("[\x00-\x1f\x7f-\x9f]")


def printable(text: str, *, one_line: bool = False) -> str:
    """``text`` safe for a terminal: every control character except newline and tab is
    shown escaped (ESC becomes the four characters ``\\x1b``), so no escape or OSC
    sequence from cluster data can move the cursor, retitle the window or clear it.

    ``one_line`` escapes newline, carriage return and tab too (as ``\\n``, ``\\r``,
    ``\\t``), for a name or key from a file quoted in a message that must stay one line.
    """
    return (_CONTROL_IN_LINE if one_line else _CONTROL).sub(_escape, text)


def error_line(err: BaseException, limit: int | None = 500) -> str:
    """An error as one printable log line (its type when it has no message), cut to ``limit``."""
    text = printable(str(err) or type(err).__name__, one_line=True)
    return text if limit is None else text[:limit]


def mask_values(text: str, secrets: Iterable[str | bytes | None]) -> str:
    """``text`` with each of ``secrets`` (and each long line of a multi-line one, such
    as a PEM key's body) replaced by ``***``: for text from elsewhere that may quote a
    secret kubeops holds, e.g. a credential plugin's stderr."""
    found: set[str] = set()
    for secret in secrets:
        value = secret.decode(errors="replace") if isinstance(secret, bytes) else secret
        if not value or not value.strip():
            continue
        found.add(value.strip())
        found.update(line.strip() for line in value.splitlines() if len(line.strip()) >= 16)
    for value in sorted(found, key=len, reverse=True):  # a whole value before its lines
        text = text.replace(value, MASK)
    return text
