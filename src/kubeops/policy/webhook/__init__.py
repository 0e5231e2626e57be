"""``kubeops policy webhook``: the policy set as a ValidatingAdmissionWebhook.

:class:`WebhookDaemon` serves ``POST /validate`` over TLS (certificates generated
and renewed by :class:`~kubeops.policy.webhook.certs.GeneratedTLS`, or given),
decides each review within its deadline (:class:`Reviewer`), and registers its
ValidatingWebhookConfiguration (:class:`Registration`) when asked.
"""

from kubeops.policy.webhook.answer import InvalidReview, request_of
from kubeops.policy.webhook.certs import CertificateAuthority, CertificateError, GeneratedTLS
from kubeops.policy.webhook.daemon import WebhookDaemon, check_policies, run
from kubeops.policy.webhook.metrics import WebhookMetrics
from kubeops.policy.webhook.options import WebhookError, WebhookOptions
from kubeops.policy.webhook.registration import (
    WEBHOOK_NAME,
    Registration,
    ServiceRef,
    admission_rules,
)
from kubeops.policy.webhook.reviewer import Reviewer

__all__ = [
    "WEBHOOK_NAME",
    "CertificateAuthority",
    "CertificateError",
    "GeneratedTLS",
    "InvalidReview",
    "Registration",
    "Reviewer",
    "ServiceRef",
    "WebhookDaemon",
    "WebhookError",
    "WebhookMetrics",
    "WebhookOptions",
    "admission_rules",
    "check_policies",
    "request_of",
    "run",
]
