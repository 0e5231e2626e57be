"""The webhook's own TLS: a CA and a serving certificate it issues itself, renewed
before they expire without a refused request.

The API server trusts the webhook through the configuration's ``caBundle``, so
the CA is what must stay put: the serving certificate is reissued from the same
CA (every new handshake presents the new one, connections open keep theirs), and
only when the CA itself nears its end is a new CA published *beside* the old one
(``caBundle`` holds both) before anything it signed is served.  Keys are ECDSA
P-256: quick to make, and what kube-apiserver's own self-signed serving uses.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kubeops.errors import KubeopsError

SKEW = datetime.timedelta(minutes=1)
"""Certificates are valid from a minute ago: a peer whose clock is a little behind accepts them."""
CA_FILE, CA_KEY_FILE = "ca.crt", "ca.key"
CERT_FILE, KEY_FILE = "tls.crt", "tls.key"


class CertificateError(KubeopsError, ValueError):
    """A certificate directory or setting that cannot be used."""


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


@dataclass(frozen=True)
class Issued:
    """One certificate and its key, as PEM, with when it stops being valid."""

    cert_pem: bytes
    key_pem: bytes
    not_after: datetime.datetime
    serial: int

    @property
    def lifetime(self) -> float:
        """Seconds between issue (without the skew) and expiry."""
        cert = x509.load_pem_x509_certificate(self.cert_pem)
        return (cert.not_valid_after_utc - cert.not_valid_before_utc - SKEW).total_seconds()


class CertificateAuthority:
    """A self-signed CA that issues the webhook's serving certificates."""

    def __init__(self, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey | None) -> None:
        self.cert = cert
        self.key = key
        """None for a CA only trusted here (an older one in a bundle), not signing."""

    @classmethod
    def generate(cls, name: str, validity: float) -> CertificateAuthority:
        """A new CA named ``name``, valid for ``validity`` seconds."""
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = _now()
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - SKEW)
            .not_valid_after(now + datetime.timedelta(seconds=validity))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .sign(key, hashes.SHA256())
        )
        return cls(cert, key)

    @classmethod
    def load(cls, cert_pem: bytes, key_pem: bytes, where: str) -> CertificateAuthority:
        """A CA kept from an earlier run (``where`` names it in errors)."""
        try:
            cert = x509.load_pem_x509_certificate(cert_pem)
            key = serialization.load_pem_private_key(key_pem, password=None)
        except ValueError as err:
            raise CertificateError(f"{where}: not a usable CA certificate and key: {err}") from None
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise CertificateError(f"{where}: the CA key is not an ECDSA key")
        return cls(cert, key)

    @property
    def pem(self) -> bytes:
        """The CA certificate, for a caBundle."""
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def key_pem(self) -> bytes:
        """The CA's private key."""
        return _key_pem(self._signing_key())

    def _signing_key(self) -> ec.EllipticCurvePrivateKey:
        if self.key is None:
            raise CertificateError(f"CA {self.cert.subject.rfc4514_string()}: no private key here")
        return self.key

    @property
    def not_after(self) -> datetime.datetime:
        """When the CA expires."""
        return self.cert.not_valid_after_utc

    def issue(self, hosts: Sequence[str], validity: float) -> Issued:
        """A serving certificate for ``hosts`` (IP addresses and DNS names), valid for
        ``validity`` seconds but never past the CA's own end."""
        signing_key = self._signing_key()
        key = ec.generate_private_key(ec.SECP256R1())
        now = _now()
        not_after = min(now + datetime.timedelta(seconds=validity), self.not_after)
        names: list[x509.GeneralName] = []
        for host in dict.fromkeys(hosts):
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                names.append(x509.DNSName(host))
        serial = x509.random_serial_number()
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(serial)
            .not_valid_before(now - SKEW)
            .not_valid_after(not_after)
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(signing_key.public_key()), False
            )
            .sign(signing_key, hashes.SHA256())
        )
        return Issued(
            cert.public_bytes(serialization.Encoding.PEM), _key_pem(key), not_after, serial
        )


def service_hosts(namespace: str, name: str) -> list[str]:
    """The DNS names a Service is reached by from the API server."""
    return [
        f"{name}.{namespace}.svc",
        f"{name}.{namespace}.svc.cluster.local",
        f"{name}.{namespace}",
        name,
    ]


def write_private(path: Path, data: bytes) -> None:
    """Replace ``path`` at once (a new file renamed over it), readable by its owner only,
    so a reader never sees half of it."""
    fd, scratch = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.chmod(scratch, 0o600)
        os.replace(scratch, path)
    except BaseException:
        Path(scratch).unlink(missing_ok=True)
        raise


@dataclass(frozen=True)
class SharedCA:
    """A CA kept where every replica reads it (a Secret): the bundle the API server must
    trust (oldest first), the key that signs now, and -- while a successor is being
    introduced -- the successor's key (its certificate already last in the bundle)."""

    bundle: bytes
    key: bytes
    next_key: bytes = b""
    version: str = ""
    """The Secret's resourceVersion, for a compare-and-swap."""


def bundle_of(shared: SharedCA, where: str) -> list[CertificateAuthority]:
    """The bundle's CAs, the signing one holding ``shared.key`` (a CertificateError names
    ``where`` when the bundle or key is unusable or the key matches no certificate)."""
    try:
        certs = x509.load_pem_x509_certificates(shared.bundle)
        key = serialization.load_pem_private_key(shared.key, password=None)
    except ValueError as err:
        raise CertificateError(f"{where}: not a usable CA bundle and key: {err}") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise CertificateError(f"{where}: the CA key is not an ECDSA key")
    public = key.public_key().public_numbers()
    cas = [
        CertificateAuthority(
            cert,
            key if cert.public_key().public_numbers() == public else None,  # type: ignore[union-attr]
        )
        for cert in certs
    ]
    if not any(ca.key is not None for ca in cas):
        raise CertificateError(f"{where}: the CA key matches no certificate of the bundle")
    return cas


class GeneratedTLS:
    """The serving pair in ``directory`` (``tls.crt``/``tls.key``, which the daemon's
    port serves and re-reads), issued by a CA of its own kept there too
    (``ca.crt``/``ca.key``: a restart with the same directory keeps the CA, so the
    caBundle stays valid) -- or by a :class:`SharedCA` every replica uses.

    :meth:`renew` reissues the pair.  An own CA within two serving lifetimes of its
    end gets a successor, published in :attr:`ca_bundle` one renewal before it signs
    anything; a shared CA is advanced by whoever keeps it (:meth:`adopt` takes the
    new state)."""

    def __init__(
        self,
        directory: Path,
        hosts: Sequence[str],
        *,
        validity: float,
        ca_validity: float,
        renew_fraction: float = 2 / 3,
        name: str = "kubeops-policy-webhook",
        shared: SharedCA | None = None,
    ) -> None:
        if not hosts:
            raise CertificateError("the serving certificate needs at least one host name")
        if not 0 < renew_fraction < 1:
            raise CertificateError(f"renew fraction {renew_fraction}: expected 0 < f < 1")
        if ca_validity < 3 * validity:
            raise CertificateError("the CA must be valid for at least three serving lifetimes")
        self.directory = directory
        self.hosts = list(hosts)
        self.validity = validity
        self.ca_validity = ca_validity
        self.renew_fraction = renew_fraction
        self.name = name
        self.shared = shared is not None
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        if shared is not None:
            self.cas = bundle_of(shared, "the shared CA")
        else:
            self.cas = [self._load_or_make_ca()]
        self.issued = self._issue()

    @property
    def signing(self) -> CertificateAuthority:
        """The CA that issues the serving certificates now."""
        if self.shared:
            return next(ca for ca in self.cas if ca.key is not None)
        return self.cas[self._signing]

    @property
    def cert_file(self) -> str:
        """The serving certificate's file."""
        return str(self.directory / CERT_FILE)

    @property
    def key_file(self) -> str:
        """The serving key's file."""
        return str(self.directory / KEY_FILE)

    @property
    def ca_bundle(self) -> bytes:
        """Every CA the API server must trust now (the current one, and its successor
        while it is being introduced)."""
        return b"".join(ca.pem for ca in self.cas)

    @property
    def not_after(self) -> datetime.datetime:
        """When the serving certificate expires."""
        return self.issued.not_after

    def renew_in(self) -> float:
        """Seconds until the serving certificate is due for renewal (0 when overdue)."""
        lifetime = (self.issued.not_after - self._issued_at).total_seconds()
        due = self._issued_at + datetime.timedelta(seconds=lifetime * self.renew_fraction)
        return max(0.0, (due - _now()).total_seconds())

    def adopt(self, shared: SharedCA) -> bool:
        """Take a shared CA's new state (the next :meth:`renew` signs with its key); True
        when :attr:`ca_bundle` changed."""
        before = self.ca_bundle
        self.cas = bundle_of(shared, "the shared CA")
        return self.ca_bundle != before

    def renew(self) -> bool:
        """Issue a new serving pair (from an own successor CA once it has been
        published); True when :attr:`ca_bundle` changed and must be published again."""
        if self.shared:
            self.issued = self._issue()
            return False
        changed = False
        now = _now()
        self._signing = len(self.cas) - 1  # a successor is published by now: it signs
        kept = [ca for ca in self.cas[:-1] if ca.not_after > now] + self.cas[-1:]
        if len(kept) != len(self.cas):
            self.cas, self._signing, changed = kept, len(kept) - 1, True
        self.issued = self._issue()
        if self.cas[-1].not_after - now < datetime.timedelta(seconds=2 * self.validity):
            successor = CertificateAuthority.generate(f"{self.name}-ca", self.ca_validity)
            self.cas.append(successor)
            self._save_ca(successor)
            changed = True
        return changed

    def _issue(self) -> Issued:
        self._issued_at = _now()
        issued = self.signing.issue(self.hosts, self.validity)
        # The key first: the port re-reads both files and accepts the pair only when they match.
        write_private(self.directory / KEY_FILE, issued.key_pem)
        write_private(self.directory / CERT_FILE, issued.cert_pem)
        return issued

    def _load_or_make_ca(self) -> CertificateAuthority:
        self._signing = 0
        cert_path, key_path = self.directory / CA_FILE, self.directory / CA_KEY_FILE
        if cert_path.exists() and key_path.exists():
            ca = CertificateAuthority.load(
                cert_path.read_bytes(), key_path.read_bytes(), str(cert_path)
            )
            if ca.not_after - _now() > datetime.timedelta(seconds=2 * self.validity):
                return ca
        ca = CertificateAuthority.generate(f"{self.name}-ca", self.ca_validity)
        self._save_ca(ca)
        return ca

    def _save_ca(self, ca: CertificateAuthority) -> None:
        # The newest CA is kept; a restart publishes it alone (the old one is then near its end).
        write_private(self.directory / CA_KEY_FILE, ca.key_pem)
        write_private(self.directory / CA_FILE, ca.pem)
