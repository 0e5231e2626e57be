"""What a request authenticates with, and the sources that produce it.

The transport asks a :class:`CredentialSource` for a :class:`Credential` before
each request (cheap: sources cache) and calls ``invalidate()`` after a 401, so
that a rotated token file is re-read or an exec plugin is run again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol, runtime_checkable

from kubeops.config.errors import ConfigError
from kubeops.config.inputs import CREDENTIAL_FILE_LIMIT, InputError, read_bounded
from kubeops.config.schema import header_safe

log = logging.getLogger(__name__)

# client-go re-reads token files about once a minute; projected service-account
# tokens are rotated well before they expire, so this is frequent enough.
TOKEN_FILE_REFRESH_INTERVAL = 50.0


@dataclass(frozen=True)
class Credential:
    """A bearer token, a client certificate and key, or both; ``repr`` hides the secrets."""

    token: str | None = field(default=None, repr=False)
    client_cert_pem: bytes | None = field(default=None, repr=False)
    client_key_pem: bytes | None = field(default=None, repr=False)
    expires_at: datetime | None = None

    @property
    def has_client_cert(self) -> bool:
        """Whether both a client certificate and its key are present."""
        return self.client_cert_pem is not None and self.client_key_pem is not None


@runtime_checkable
class CredentialSource(Protocol):
    """Produces the credential for a cluster; the transport's only view of authentication."""

    async def get(self) -> Credential:
        """The current credential; cached, so cheap unless it must be refreshed."""
        ...

    def invalidate(self) -> None:
        """Forget the cached credential (the server answered 401); ``get`` refreshes it."""
        ...

    def describe(self) -> str:
        """What the credential is and where it comes from, without its value."""
        ...


class StaticCredentials:
    """A credential fixed at load time: inline token, client certificate, or nothing."""

    def __init__(self, credential: Credential | None = None, description: str | None = None):
        self._credential = credential or Credential()
        self._description = description or _describe(self._credential)

    async def get(self) -> Credential:
        """The credential given at load time."""
        return self._credential

    def invalidate(self) -> None:
        """Nothing to refresh: a 401 with a static credential is final."""
        # Nothing to refresh: a 401 with a static credential is final.
        pass

    def describe(self) -> str:
        """What the credential is, without its value."""
        return self._description

    def __repr__(self) -> str:
        return f"StaticCredentials({self._description!r})"


def _describe(credential: Credential) -> str:
    parts = []
    if credential.has_client_cert:
        parts.append("client certificate")
    if credential.token is not None:
        parts.append("token")
    return " and ".join(parts) or "no credentials"


def read_token_file(path: Path) -> str:
    """The token in ``path``, whitespace stripped; ConfigError if unreadable or empty."""
    try:
        data = read_bounded(path, limit=CREDENTIAL_FILE_LIMIT, what="token file")
        token = data.decode("utf-8").strip()
    except InputError as exc:
        raise ConfigError(f"cannot read token file {path}: {exc.cause}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"token file {path} is not UTF-8 text") from None
    if not token:
        raise ConfigError(f"token file {path} is empty")
    if not header_safe(token):
        raise ConfigError(
            f"token file {path}: the token holds a line break or another control character"
        )
    return token


class TokenFileCredentials:
    """A bearer token read from a file and re-read every ``refresh_interval`` seconds.

    Service-account tokens are rotated by the kubelet, which rewrites the file.
    A failed re-read keeps the last good token (the file may be mid-rotation);
    ``invalidate()`` forces a re-read on the next ``get()``.
    """

    def __init__(
        self,
        path: Path,
        *,
        token: str | None = None,
        client_cert_pem: bytes | None = None,
        client_key_pem: bytes | None = None,
        refresh_interval: float = TOKEN_FILE_REFRESH_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
        description: str | None = None,
    ) -> None:
        """``token``, if given, is the last known token, used until the file can be read."""
        self.path = path
        self.refresh_interval = refresh_interval
        self._clock = clock
        self._cert = client_cert_pem
        self._key = client_key_pem
        self._token = token
        self._read_at: float | None = None
        self._failing = False
        self._description = description or f"token file {path}"
        if client_cert_pem is not None:
            self._description = f"client certificate and {self._description}"

    def _stale(self) -> bool:
        return self._read_at is None or self._clock() - self._read_at >= self.refresh_interval

    def _refresh(self) -> None:
        try:
            token = read_token_file(self.path)
        except ConfigError as exc:
            if self._token is None:
                raise
            if not self._failing:
                log.warning("%s; keeping the token read before", exc)
                self._failing = True
            return
        self._token = token
        self._read_at = self._clock()
        self._failing = False

    def current(self) -> Credential:
        """The credential, re-reading the file first if it is due (synchronous)."""
        if self._stale():
            self._refresh()
        return Credential(token=self._token, client_cert_pem=self._cert, client_key_pem=self._key)

    async def get(self) -> Credential:
        """The credential, re-reading the token file when it is due."""
        # A token file is a few hundred bytes on a local or memory file system:
        # reading it inline costs less than handing it to a thread.
        return self.current()

    def invalidate(self) -> None:
        """Re-read the files on the next :meth:`get` (the server refused the token)."""
        self._read_at = None

    def describe(self) -> str:
        """Which files the credential comes from, without their contents."""
        return self._description

    def __repr__(self) -> str:
        return f"TokenFileCredentials({str(self.path)!r})"
