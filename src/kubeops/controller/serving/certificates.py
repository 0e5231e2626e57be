"""The serving certificate of a daemon's HTTPS port, read again when its files change.

cert-manager and kubelet rotate a mounted certificate in place; the running
:class:`ssl.SSLContext` loads the new pair (after it has been checked in a scratch
context, so a half-written or mismatched pair never replaces a good one) and every
handshake after that presents it, without a restart or a dropped connection.
"""

from __future__ import annotations

import logging
import os
import ssl

from kubeops.config.inputs import CREDENTIAL_FILE_LIMIT, InputError, read_bounded
from kubeops.controller.serving.options import ServingError

LOG = logging.getLogger(__name__)


class ServingCertificate:
    """A server-side TLS context over a certificate file and its private key file."""

    def __init__(self, cert_file: str, key_file: str) -> None:
        self.cert_file = cert_file
        self.key_file = key_file
        self._stamp = self._stat()
        self.context = self._context()

    def _stat(self) -> tuple[tuple[int, int, int], ...]:
        stamps = []
        for flag, path in (
            ("--tls-cert-file", self.cert_file),
            ("--tls-private-key-file", self.key_file),
        ):
            try:
                st = os.stat(path)
            except OSError as err:
                raise ServingError(f"{flag} {path}: cannot read it: {err.strerror}") from None
            stamps.append((st.st_ino, st.st_size, st.st_mtime_ns))
        return tuple(stamps)

    def _context(self) -> ssl.SSLContext:
        """A new context holding the pair, or a ServingError naming the files and the cause."""
        for flag, path in (
            ("--tls-cert-file", self.cert_file),
            ("--tls-private-key-file", self.key_file),
        ):
            try:
                read_bounded(path, limit=CREDENTIAL_FILE_LIMIT, what="TLS file")
            except InputError as err:
                raise ServingError(f"{flag} {path}: {err.cause}") from None
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        self._load(context)
        return context

    def _load(self, context: ssl.SSLContext) -> None:
        try:
            context.load_cert_chain(self.cert_file, self.key_file)
        except (ssl.SSLError, OSError) as err:
            cause = getattr(err, "reason", None) or getattr(err, "strerror", None) or str(err)
            raise ServingError(
                f"--tls-cert-file {self.cert_file} / --tls-private-key-file {self.key_file}: "
                f"not a usable certificate and key: {cause}"
            ) from None

    def refresh(self) -> bool:
        """Load the files again when they changed; True when the new pair is now served.

        A pair that cannot be used is logged (one line) and the old one kept."""
        try:
            stamp = self._stat()
            if stamp == self._stamp:
                return False
            self._stamp = stamp
            self._context()  # checked aside first: a bad pair must not half-replace a good one
            self._load(self.context)
        except ServingError as err:
            LOG.warning("serving certificate not reloaded, the previous one stays: %s", err)
            return False
        LOG.info("serving certificate reloaded from %s", self.cert_file)
        return True
