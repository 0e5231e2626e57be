"""One CA for every replica, kept in a Secret (``--ca-secret``).

Each replica issues its own serving certificate, but the API server trusts one
caBundle: so the CA lives in a Secret of the webhook's namespace, created by
whichever replica starts first (a create that loses the race reads the winner's).
The registrant -- the Lease holder -- advances it at its renewals: when the newest
CA has less than two serving lifetimes left, a successor is added to the bundle
(its key kept aside as ``next.key``) and registered; at the next renewal the
successor's key becomes the signing key, and expired CAs leave the bundle.  The
other replicas read the Secret at each of their renewals and sign with its key.
"""

from __future__ import annotations

import base64
import datetime
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from kubeops.api import Client
from kubeops.errors import AlreadyExists, Conflict, NotFound
from kubeops.policy.webhook.certs import CertificateAuthority, SharedCA

BUNDLE, KEY, NEXT_KEY = "ca.crt", "ca.key", "next.key"


def of_secret(secret: dict[str, Any]) -> SharedCA:
    """The CA a Secret holds."""
    data = secret.get("data") or {}
    meta = secret.get("metadata") or {}

    def field(name: str) -> bytes:
        return base64.b64decode(data.get(name) or "")

    return SharedCA(
        field(BUNDLE), field(KEY), field(NEXT_KEY), str(meta.get("resourceVersion") or "")
    )


def secret_of(namespace: str, name: str, ca: SharedCA) -> dict[str, Any]:
    """The Secret holding ``ca`` (with its resourceVersion, for a compare-and-swap)."""
    data = {BUNDLE: ca.bundle, KEY: ca.key}
    if ca.next_key:
        data[NEXT_KEY] = ca.next_key
    metadata: dict[str, Any] = {
        "name": name,
        "namespace": namespace,
        "labels": {"app.kubernetes.io/managed-by": "kubeops-policy-webhook"},
    }
    if ca.version:
        metadata["resourceVersion"] = ca.version
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": metadata,
        "type": "Opaque",
        "data": {k: base64.b64encode(v).decode() for k, v in data.items()},
    }


async def load_or_create(
    client: Client, namespace: str, name: str, *, ca_validity: float
) -> SharedCA:
    """The Secret's CA; a new one when there is no Secret yet."""
    try:
        return of_secret(await client.get("v1/Secret", name, namespace))
    except NotFound:
        pass
    ca = CertificateAuthority.generate("kubeops-policy-webhook-ca", ca_validity)
    try:
        created = await client.create(secret_of(namespace, name, SharedCA(ca.pem, ca.key_pem)))
    except AlreadyExists:  # another replica was first: use its CA
        return of_secret(await client.get("v1/Secret", name, namespace))
    return of_secret(created)


async def read(client: Client, namespace: str, name: str) -> SharedCA:
    """The Secret's CA as it is now."""
    return of_secret(await client.get("v1/Secret", name, namespace))


def advanced(current: SharedCA, *, lifetime: float, ca_validity: float) -> SharedCA | None:
    """The next state of the CA, or None when nothing is due: a successor's key promoted
    (expired CAs dropped), or a successor introduced when the newest CA has less than two
    serving lifetimes (``lifetime`` seconds each) left."""
    now = datetime.datetime.now(datetime.UTC)
    certs = x509.load_pem_x509_certificates(current.bundle)
    if current.next_key:
        kept = [c for c in certs[:-1] if c.not_valid_after_utc > now] + certs[-1:]
        bundle = b"".join(c.public_bytes(Encoding.PEM) for c in kept)
        return SharedCA(bundle, current.next_key, b"", current.version)
    if certs[-1].not_valid_after_utc - now < datetime.timedelta(seconds=2 * lifetime):
        successor = CertificateAuthority.generate("kubeops-policy-webhook-ca", ca_validity)
        bundle = current.bundle + successor.pem
        return SharedCA(bundle, current.key, successor.key_pem, current.version)
    kept = [c for c in certs[:-1] if c.not_valid_after_utc > now] + certs[-1:]
    if len(kept) != len(certs):  # an old CA expired: nothing it signed is valid any more
        bundle = b"".join(c.public_bytes(Encoding.PEM) for c in kept)
        return SharedCA(bundle, current.key, b"", current.version)
    return None


async def advance(
    client: Client, namespace: str, name: str, *, lifetime: float, ca_validity: float
) -> SharedCA:
    """Read the Secret and write its next state when one is due (the registrant's part);
    a lost compare-and-swap reads what the other writer wrote."""
    current = await read(client, namespace, name)
    following = advanced(current, lifetime=lifetime, ca_validity=ca_validity)
    if following is None:
        return current
    try:
        return of_secret(await client.replace(secret_of(namespace, name, following)))
    except Conflict:
        return await read(client, namespace, name)
