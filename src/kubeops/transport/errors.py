"""The typed errors a request to the API server can end in.

The API server explains a refusal with a ``Status`` object; client-go turns it
into a ``StatusError`` that callers test with ``IsNotFound`` and friends.  Here
the same information becomes one exception class per reason, so callers can
``except NotFound`` or use the ``is_*`` classifiers, which follow client-go's
rules exactly.  Every error reads as one line naming the operation, the object
and the cause.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any

import orjson

from kubeops.config.redact import redact_url
from kubeops.errors import KubeopsError

# A body that is not a Status (an HTML page from a proxy, a panic trace) is
# kept as the message, cut to what fits on a line; client-go keeps 2048 bytes.
MAX_MESSAGE_CHARS = 300

# The reasons client-go knows (apimachinery's ``knownReasons``).  A classifier
# falls back to the HTTP code only when the reason is not one of these.
KNOWN_REASONS = frozenset(
    {
        "Unauthorized",
        "Forbidden",
        "NotFound",
        "AlreadyExists",
        "Conflict",
        "Gone",
        "Invalid",
        "ServerTimeout",
        "Timeout",
        "TooManyRequests",
        "BadRequest",
        "MethodNotAllowed",
        "NotAcceptable",
        "RequestEntityTooLarge",
        "UnsupportedMediaType",
        "InternalError",
        "Expired",
        "ServiceUnavailable",
    }
)

# The message when the server gave none (client-go's wording where it has one).
_DEFAULT_MESSAGES = {
    400: "the server rejected our request for an unknown reason",
    401: "the server has asked for the client to provide credentials",
    403: "the server does not allow access to the requested resource",
    404: "the server could not find the requested resource",
    405: "the server does not allow this method on the requested resource",
    406: "the server was unable to respond with a content type that the client supports",
    409: "the server reported a conflict",
    410: "the server no longer has the requested resource",
    413: "the request is larger than the server accepts",
    415: "the server does not support the media type of the request body",
    422: "the server rejected our request due to an error in our request",
    429: "the server has received too many requests and has asked us to try again later",
    503: "the server is currently unable to handle the request",
    504: "the server was unable to return a response in the time allotted, but may still be processing the request",
}

_REASON_FOR_CODE = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    409: "Conflict",
    410: "Gone",
    413: "RequestEntityTooLarge",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    503: "ServiceUnavailable",
    504: "Timeout",
}


def _default_message(code: int) -> str:
    return _DEFAULT_MESSAGES.get(
        code,
        f"the server responded with the status code {code} but did not return more information",
    )


def describe_operation(
    verb: str, resource: str | None, namespace: str | None, name: str | None
) -> str:
    """``create configmaps "x" in namespace "default"``: the request, in the words of kubectl."""
    parts = [verb]
    if resource:
        parts.append(resource)
    if name:
        parts.append(f'"{name}"')
    if namespace:
        parts.append(f'in namespace "{namespace}"')
    return " ".join(parts)


def _restore(cls: type[BaseException], args: tuple[Any, ...], state: dict[str, Any]) -> Any:
    err = cls.__new__(cls)
    err.args = args
    err.__dict__.update(state)
    return err


class _Reducible(KubeopsError):
    """Keyword-only constructors break pickle and copy; rebuild from the attributes instead."""

    def __reduce__(self) -> tuple[Any, ...]:
        return (_restore, (type(self), self.args, self.__dict__))


@dataclass(frozen=True)
class FieldCause:
    """One reason an object was rejected: the field, a machine-readable reason, and why."""

    field: str
    reason: str
    message: str

    def __str__(self) -> str:
        where = f"{self.field}: " if self.field else ""
        why = f" ({self.reason})" if self.reason else ""
        return f"{where}{self.message}{why}"


class ApiError(_Reducible):
    """The API server answered a request with an error status.

    ``reason`` is the Status reason as the server sent it (possibly ``""``) or,
    when the body was not a Status, the one client-go derives from the code
    (``"Unknown"`` for codes it does not map); ``details`` is Status.details, or
    ``{}`` when the body was not a Status.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None,
        reason: str,
        verb: str,
        resource: str | None = None,
        namespace: str | None = None,
        name: str | None = None,
        details: dict[str, Any] | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message
        self.verb = verb
        self.resource = resource
        self.namespace = namespace
        self.name = name
        self.details: dict[str, Any] = details if details is not None else {}
        self.retry_after = retry_after

    @property
    def operation(self) -> str:
        """The operation in words (``get pods "web" in namespace "shop"``), for messages."""
        return describe_operation(self.verb, self.resource, self.namespace, self.name)

    def _cause(self) -> str:
        return self.message

    def __str__(self) -> str:
        reason = f"{self.reason}: " if self.reason else ""
        code = f" ({self.status})" if self.status is not None else ""
        return f"{self.operation}: {reason}{self._cause()}{code}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"


class BadRequest(ApiError):
    """400: the server could not make sense of the request."""


class Unauthorized(ApiError):
    """401: the credentials are missing, expired or not accepted."""


class Forbidden(ApiError):
    """403: the user is known but RBAC (or a webhook) does not allow the verb."""


class NotFound(ApiError):
    """404: the object (or the resource type, or the namespace) does not exist."""


class MethodNotAllowed(ApiError):
    """405: the resource does not support this verb."""


class AlreadyExists(ApiError):
    """409 on create: an object with that name exists already."""


class Conflict(ApiError):
    """409 otherwise: the object changed since it was read (stale resourceVersion)."""


class Gone(ApiError):
    """410: the requested resourceVersion is too old (reason ``Expired``) or the resource is gone."""

    @property
    def expired(self) -> bool:
        """True when the resourceVersion was compacted away: list again and watch from there."""
        return self.reason == "Expired"


Expired = Gone


class Invalid(ApiError):
    """422: the object failed validation; ``causes`` says which fields and why."""

    def __init__(self, message: str, *, causes: list[FieldCause] | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.causes: list[FieldCause] = list(causes or [])

    def _cause(self) -> str:
        if not self.causes:
            return self.message
        # The API server already lists the causes in its message ("X is invalid:
        # [a: ..., b: ...]"): keep its summary and list each cause once, with its reason.
        found = [self.message.find(f"{c.field}: {c.message}") for c in self.causes if c.field]
        summary = self.message
        if found and len(found) == len(self.causes) and min(found) >= 0:
            summary = self.message[: min(found)].rstrip(" :[")
        causes = "; ".join(str(c) for c in self.causes)
        return f"{summary}: {causes}" if summary else causes


class TooManyRequests(ApiError):
    """429: API Priority and Fairness (or a proxy) rejected the request; try again later."""


class InternalError(ApiError):
    """5xx: the server failed while handling the request."""


class ServiceUnavailable(InternalError):
    """503: the server (or an aggregated API behind it) cannot serve requests right now."""


class ServerTimeout(ApiError):
    """The server gave up (reason ``ServerTimeout``) or a gateway timed out (504, ``Timeout``).

    With 504 the request may still be running: a write may yet take effect.
    """


_CLASS_FOR_REASON: dict[str, type[ApiError]] = {
    "BadRequest": BadRequest,
    "Unauthorized": Unauthorized,
    "Forbidden": Forbidden,
    "NotFound": NotFound,
    "MethodNotAllowed": MethodNotAllowed,
    "AlreadyExists": AlreadyExists,
    "Conflict": Conflict,
    "Gone": Gone,
    "Expired": Gone,
    "Invalid": Invalid,
    "TooManyRequests": TooManyRequests,
    "InternalError": InternalError,
    "ServiceUnavailable": ServiceUnavailable,
    "ServerTimeout": ServerTimeout,
    "Timeout": ServerTimeout,
}


def _class_for(reason: str, code: int) -> type[ApiError]:
    if reason in KNOWN_REASONS:
        return _CLASS_FOR_REASON.get(reason, ApiError)
    cls = _CLASS_FOR_REASON.get(_REASON_FOR_CODE.get(code, ""))
    if cls is not None:
        return cls
    return InternalError if code >= 500 else ApiError


class ConnectionFailed(_Reducible):
    """No HTTP answer came back: the address is unreachable, TLS failed, or the connection broke."""

    def __init__(
        self,
        server: str,
        cause: str,
        *,
        verb: str | None = None,
        resource: str | None = None,
        namespace: str | None = None,
        name: str | None = None,
    ) -> None:
        # Only the redacted URL is kept: a user:password in it must not reach a message.
        shown = redact_url(server)
        if shown != server:
            cause = cause.replace(server, shown)
        self.server = shown
        self.cause = cause
        self.verb = verb
        self.resource = resource
        self.namespace = namespace
        self.name = name
        operation = describe_operation(verb, resource, namespace, name) + ": " if verb else ""
        super().__init__(f"{operation}cannot reach {shown}: {cause}")


class CircuitOpen(ConnectionFailed):
    """Requests to a server fail fast because its last requests all failed.

    ``retry_in`` is the time until the breaker lets a request through again;
    ``probing`` says a probe request is testing the server right now.
    """

    def __init__(
        self, server: str, cause: str, *, failures: int, retry_in: float, probing: bool = False
    ) -> None:
        self.failures = failures
        self.retry_in = retry_in
        self.probing = probing
        self.last_cause = cause
        when = (
            "a probe request is testing it now"
            if probing
            else f"the next attempt is allowed in {retry_in:.1f}s"
        )
        super().__init__(
            server,
            f"{failures} consecutive requests failed, the last with: {cause}; "
            f"failing fast (circuit breaker open), {when}",
        )


def _retry_after_from(details: dict[str, Any]) -> float | None:
    seconds = details.get("retryAfterSeconds")
    if isinstance(seconds, int | float) and not isinstance(seconds, bool) and seconds > 0:
        return float(seconds)
    return None


def _causes_from(details: dict[str, Any]) -> list[FieldCause]:
    raw = details.get("causes")
    if not isinstance(raw, list):
        return []
    return [
        FieldCause(
            field=str(c.get("field") or ""),
            reason=str(c.get("reason") or ""),
            message=str(c.get("message") or ""),
        )
        for c in raw
        if isinstance(c, dict)
    ]


_TAG = re.compile(r"<[^>]*>")
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_HIDDEN = re.compile(r"<(script|style|head)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)


def _text_of(body: bytes) -> str:
    """A non-Status body as one short line: HTML loses its markup, whitespace collapses."""
    limit = MAX_MESSAGE_CHARS * 8
    cut = len(body) > limit
    text = body[:limit].decode("utf-8", errors="replace")
    if text.lstrip().startswith("<"):
        title = _TITLE.search(text)
        if title and title.group(1).strip():
            text, cut = title.group(1), False
        else:
            text = _TAG.sub(" ", _HIDDEN.sub(" ", text))
        text = html.unescape(text)
    text = " ".join(text.split())
    if len(text) > MAX_MESSAGE_CHARS:
        return text[: MAX_MESSAGE_CHARS - 3].rstrip() + "..."
    return text + "..." if cut else text


def _failure_status(body: bytes) -> dict[str, Any] | None:
    try:
        obj = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    # Old servers leave out the kind; anything else of a different kind is not a Status.
    if (
        isinstance(obj, dict)
        and obj.get("kind", "Status") == "Status"
        and obj.get("status") == "Failure"
    ):
        return obj
    return None


def error_from_response(
    status_code: int,
    body: bytes,
    *,
    verb: str,
    resource: str | None,
    namespace: str | None,
    name: str | None,
    retry_after: float | None = None,
) -> ApiError:
    """The error for a non-2xx response, following client-go.

    A Failure Status in the body is used as it is and its reason picks the class
    (the HTTP code does when the reason is not a known one).  Otherwise the code
    decides, and 409 means AlreadyExists for a create, Conflict for anything else.
    ``retry_after`` is the parsed Retry-After header; Status.details.retryAfterSeconds
    is used when there was none.
    """
    status = _failure_status(body) if body else None
    if status is not None:
        details = status.get("details")
        details = details if isinstance(details, dict) else {}
        code = status.get("code")
        code = code if isinstance(code, int) and code > 0 else status_code
        reason = str(status.get("reason") or "")
        message = str(status.get("message") or "") or _default_message(code)
        if not name and isinstance(details.get("name"), str):
            name = details["name"] or None
        if not resource and isinstance(details.get("kind"), str) and details["kind"]:
            group = details.get("group")
            resource = f"{details['kind']}.{group}" if group else details["kind"]
    else:
        details = {}
        code = status_code
        if code == 409 and verb.lower() in ("create", "post"):
            reason = "AlreadyExists"
        elif code in _REASON_FOR_CODE:
            reason = _REASON_FOR_CODE[code]
        elif code >= 500:
            reason = "InternalError"
        else:
            reason = "Unknown"
        message = _text_of(body) or _default_message(code)
    if retry_after is None:
        retry_after = _retry_after_from(details)
    cls = _class_for(reason, code)
    kw: dict[str, Any] = {
        "status": code,
        "reason": reason,
        "verb": verb,
        "resource": resource,
        "namespace": namespace,
        "name": name,
        "details": details,
        "retry_after": retry_after,
    }
    if cls is Invalid:
        return Invalid(message, causes=_causes_from(details), **kw)
    return cls(message, **kw)


# Classifiers, as in apimachinery's pkg/api/errors: they accept any exception.


def _reason_and_code(err: BaseException) -> tuple[str, int | None]:
    if isinstance(err, ApiError):
        return err.reason, err.status
    return "", None


def _matches(err: BaseException, reason: str, code: int) -> bool:
    got_reason, got_code = _reason_and_code(err)
    if got_reason == reason:
        return True
    return got_reason not in KNOWN_REASONS and got_code == code


def _reason_is(err: BaseException, reason: str) -> bool:
    return isinstance(err, ApiError) and err.reason == reason


def is_bad_request(err: BaseException) -> bool:
    """Reason BadRequest, or code 400 with an unknown reason."""
    return _matches(err, "BadRequest", 400)


def is_unauthorized(err: BaseException) -> bool:
    """Reason Unauthorized, or code 401 with an unknown reason."""
    return _matches(err, "Unauthorized", 401)


def is_forbidden(err: BaseException) -> bool:
    """Reason Forbidden, or code 403 with an unknown reason."""
    return _matches(err, "Forbidden", 403)


def is_not_found(err: BaseException) -> bool:
    """Reason NotFound, or code 404 with an unknown reason."""
    return _matches(err, "NotFound", 404)


def is_method_not_allowed(err: BaseException) -> bool:
    """Reason MethodNotAllowed, or code 405 with an unknown reason."""
    return _matches(err, "MethodNotAllowed", 405)


def is_not_acceptable(err: BaseException) -> bool:
    """Reason NotAcceptable, or code 406 with an unknown reason."""
    return _matches(err, "NotAcceptable", 406)


def is_already_exists(err: BaseException) -> bool:
    """Reason AlreadyExists only: a bare 409 is a conflict, as in client-go."""
    return _reason_is(err, "AlreadyExists")


def is_conflict(err: BaseException) -> bool:
    """Reason Conflict, or code 409 with an unknown reason."""
    return _matches(err, "Conflict", 409)


def is_gone(err: BaseException) -> bool:
    """Reason Gone, or code 410 with an unknown reason."""
    return _matches(err, "Gone", 410)


def is_resource_expired(err: BaseException) -> bool:
    """Reason Expired only: the resourceVersion asked for was compacted away."""
    return _reason_is(err, "Expired")


def is_request_entity_too_large(err: BaseException) -> bool:
    """Reason RequestEntityTooLarge, or code 413 with an unknown reason."""
    return _matches(err, "RequestEntityTooLarge", 413)


def is_unsupported_media_type(err: BaseException) -> bool:
    """Reason UnsupportedMediaType, or code 415 with an unknown reason."""
    return _matches(err, "UnsupportedMediaType", 415)


def is_invalid(err: BaseException) -> bool:
    """Reason Invalid, or code 422 with an unknown reason."""
    return _matches(err, "Invalid", 422)


def is_too_many_requests(err: BaseException) -> bool:
    """Reason TooManyRequests, or code 429 whatever the reason."""
    got_reason, got_code = _reason_and_code(err)
    return got_reason == "TooManyRequests" or got_code == 429


def is_internal_error(err: BaseException) -> bool:
    """Reason InternalError, or code 500 with an unknown reason."""
    return _matches(err, "InternalError", 500)


def is_service_unavailable(err: BaseException) -> bool:
    """Reason ServiceUnavailable, or code 503 with an unknown reason."""
    return _matches(err, "ServiceUnavailable", 503)


def is_timeout(err: BaseException) -> bool:
    """Reason Timeout (a gateway timeout, 504); the request may still complete."""
    return _matches(err, "Timeout", 504)


def is_server_timeout(err: BaseException) -> bool:
    """Reason ServerTimeout only: the server could not finish in time and asks for a retry."""
    return _reason_is(err, "ServerTimeout")


def is_connection_failed(err: BaseException) -> bool:
    """No answer came from the server at all (including a fail-fast from an open circuit)."""
    return isinstance(err, ConnectionFailed)
