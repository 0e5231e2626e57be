"""The secrets built-in: credentials leaked into env values, args and commands,
ConfigMap data and annotations, found by :mod:`kubeops.policy.secrets` and
reported by where and what kind -- never by value.
"""

from __future__ import annotations

from kubeops.policy.library.base import POD_KINDS, Check, Finding, pod_spec
from kubeops.policy.library.settings import Environment, Reader
from kubeops.policy.model import Context, Review
from kubeops.policy.secrets import DetectorSettings, find_leaks

ADMISSION_KINDS = POD_KINDS | {"ConfigMap", "Service", "Ingress"}
"""What the webhook is sent for the secrets check unless an entry's match names
kinds: where text usually leaks (Pod specs, ConfigMap data, the annotations of
Services and Ingresses).  In CI and the audit every kind is judged; sending every
object of a cluster (Leases, Events) through a fail-closed webhook would not pay."""


def configure(settings: Reader, environment: Environment) -> Check:
    """The secrets check: ``entropy`` (bits per character a value under a secret-like
    key must reach, 3.0 by default), ``minLength`` (8) and ``ignoreKeys`` (env names
    or data keys never judged by entropy)."""
    settings.only(("entropy", "minLength", "ignoreKeys"))
    detector = DetectorSettings(
        entropy=settings.number("entropy", 3.0, 0.0, 8.0),
        min_length=int(settings.number("minLength", 8, 1, 1024)),
        ignore_keys=frozenset(settings.strings("ignoreKeys")),
    )

    def check(review: Review, context: Context) -> list[Finding]:
        subject = review.subject
        pod = pod_spec(subject)
        where = (pod.spec, pod.meta, pod.path) if pod is not None else None
        return [
            Finding(f"leaked secret: {leak.describe()}", leak.field_path)
            for leak in find_leaks(subject, where, detector)
        ]

    return check
