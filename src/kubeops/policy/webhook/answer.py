"""What the API server is told: a policy set's verdict as an AdmissionReview response.

Denials become ``allowed: false`` with one status message (a CEL policy's in the
API server's own ValidatingAdmissionPolicy wording, the others as
``[policy] message``), warnings become ``response.warnings`` (kubectl prints each
as ``Warning: ...``), and audits become ``auditAnnotations`` (the API server files
them, prefixed with the webhook's name, in its audit log).
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from kubeops.policy.model import Action, Violation

API_VERSION = "admission.k8s.io/v1"
MAX_MESSAGE = 4096
"""Longer status messages are cut (the API server passes them to the client whole)."""
MAX_WARNING = 512
MAX_WARNINGS = 32
MAX_ANNOTATION = 1024
_KEY_CHARACTERS = re.compile(r"[^A-Za-z0-9_.-]+")
_REASONS = {401: "Unauthorized", 403: "Forbidden", 413: "RequestEntityTooLarge", 422: "Invalid"}


class InvalidReview(ValueError):
    """A body that is not an admission.k8s.io/v1 AdmissionReview with a request."""


def request_of(body: Any) -> Mapping[str, Any]:
    """The ``request`` of an AdmissionReview body, or :class:`InvalidReview` saying why not."""
    if not isinstance(body, dict):
        raise InvalidReview("the body is not a JSON object")
    if body.get("apiVersion") != API_VERSION or body.get("kind") != "AdmissionReview":
        raise InvalidReview(
            f"expected an {API_VERSION} AdmissionReview, got "
            f"{str(body.get('apiVersion'))[:80]} {str(body.get('kind'))[:80]}"
        )
    request = body.get("request")
    if not isinstance(request, dict) or not request.get("uid"):
        raise InvalidReview("the AdmissionReview has no request with a uid")
    return request


@dataclass(frozen=True)
class Found:
    """One violation on the review, with the engine of the policy that found it
    (``webhook`` for a policy the webhook judged because it could not decide)."""

    engine: str
    violation: Violation


@cache
def _vap(name: str) -> Callable[[Violation], Any] | None:
    """A function of ``kubeops.policy.vap`` (``admission_message``, ``warning_message``,
    ``status_code``) once the CEL engine provides it."""
    try:
        module = importlib.import_module("kubeops.policy.vap")
    except ImportError:
        return None
    found = getattr(module, name, None)
    return found if callable(found) else None


def wording(found: Found, *, warning: bool = False) -> str:
    """How the user reads one violation: a CEL policy's in the API server's own words
    (its denial, or its ``Validation failed for ...`` warning)."""
    if found.engine == "cel":
        api_server = _vap("warning_message" if warning else "admission_message")
        if api_server is not None:
            return str(api_server(found.violation))
    return f"[{found.violation.policy}] {found.violation.message}"


def status_code(found: Found) -> int:
    """The HTTP code of a denial: the API server's for a CEL policy, else 403."""
    code = _vap("status_code") if found.engine == "cel" else None
    return int(code(found.violation)) if code is not None else 403


def annotation_key(policy: str) -> str:
    """An audit annotation key for ``policy`` (a label-key name part: 63 characters at
    most, alphanumerics at both ends)."""
    key = _KEY_CHARACTERS.sub("-", policy)[:63].strip("-_.")
    return key or "policy"


def response(
    uid: str,
    *,
    allowed: bool,
    message: str = "",
    code: int = 403,
    warnings: Iterable[str] = (),
    audit_annotations: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """An AdmissionReview answering request ``uid``."""
    answer: dict[str, Any] = {"uid": uid, "allowed": allowed}
    if not allowed:
        answer["status"] = {
            "code": code,
            "reason": _REASONS.get(code, "Invalid"),
            "message": _cut(message or "denied by policy", MAX_MESSAGE),
        }
    shown = [_cut(w, MAX_WARNING) for w in warnings][:MAX_WARNINGS]
    if shown:
        answer["warnings"] = shown
    if audit_annotations:
        answer["auditAnnotations"] = {
            k: _cut(v, MAX_ANNOTATION) for k, v in audit_annotations.items()
        }
    return {"apiVersion": API_VERSION, "kind": "AdmissionReview", "response": answer}


def verdict_response(
    uid: str, found: Iterable[Found], extra_warnings: Iterable[str] = ()
) -> dict[str, Any]:
    """The response for what the policies found (``extra_warnings`` first)."""
    denials: list[str] = []
    codes: list[int] = []
    warnings = list(extra_warnings)
    annotations: dict[str, str] = {}
    for item in found:
        actions = item.violation.actions
        if Action.DENY in actions:
            denials.append(wording(item))
            codes.append(status_code(item))
        if Action.WARN in actions:
            warnings.append(wording(item, warning=True))
        if Action.AUDIT in actions:
            key = annotation_key(item.violation.policy)
            annotations[key] = (
                f"{annotations[key]}; {item.violation.message}"
                if key in annotations
                else item.violation.message
            )
        for key, value in item.violation.audit_annotations.items():
            annotations[annotation_key(f"{item.violation.policy}-{key}")] = value
    return response(
        uid,
        allowed=not denials,
        message="\n".join(dict.fromkeys(denials)),
        code=codes[0] if codes else 403,
        warnings=dict.fromkeys(warnings),
        audit_annotations=annotations,
    )


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
