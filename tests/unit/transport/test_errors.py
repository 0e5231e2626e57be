"""Responses become the typed error client-go would give, and read as one clear line."""

from __future__ import annotations

import copy
import pickle
from collections.abc import Callable
from typing import Any

import orjson
import pytest

from kubeops.errors import KubeopsError
from kubeops.transport import errors
from kubeops.transport.errors import (
    MAX_MESSAGE_CHARS,
    AlreadyExists,
    ApiError,
    BadRequest,
    CircuitOpen,
    Conflict,
    ConnectionFailed,
    Expired,
    FieldCause,
    Forbidden,
    Gone,
    InternalError,
    Invalid,
    MethodNotAllowed,
    NotFound,
    ServerTimeout,
    ServiceUnavailable,
    TooManyRequests,
    Unauthorized,
    error_from_response,
)


def status_body(
    code: int, reason: str, message: str, details: dict[str, Any] | None = None, **extra: Any
) -> bytes:
    status: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details is not None:
        status["details"] = details
    status.update(extra)
    return orjson.dumps(status)


def from_code(code: int, verb: str = "get", body: bytes = b"") -> ApiError:
    return error_from_response(
        code, body, verb=verb, resource="pods", namespace="default", name="web-0"
    )


def api_error(reason: str, status: int | None) -> ApiError:
    return ApiError("m", status=status, reason=reason, verb="get")


# -- mapping without a Status body: the HTTP code decides -------------------------------------


@pytest.mark.parametrize(
    ("code", "verb", "cls", "reason"),
    [
        (400, "get", BadRequest, "BadRequest"),
        (401, "get", Unauthorized, "Unauthorized"),
        (403, "get", Forbidden, "Forbidden"),
        (404, "get", NotFound, "NotFound"),
        (405, "patch", MethodNotAllowed, "MethodNotAllowed"),
        (409, "create", AlreadyExists, "AlreadyExists"),
        (409, "POST", AlreadyExists, "AlreadyExists"),
        (409, "update", Conflict, "Conflict"),
        (409, "patch", Conflict, "Conflict"),
        (410, "watch", Gone, "Gone"),
        (422, "create", Invalid, "Invalid"),
        (429, "list", TooManyRequests, "TooManyRequests"),
        (500, "get", InternalError, "InternalError"),
        (502, "get", InternalError, "InternalError"),
        (503, "get", ServiceUnavailable, "ServiceUnavailable"),
        (504, "get", ServerTimeout, "Timeout"),
        (418, "get", ApiError, "Unknown"),
    ],
)
def test_without_a_status_body_the_code_picks_the_error(
    code: int, verb: str, cls: type[ApiError], reason: str
) -> None:
    err = from_code(code, verb)
    assert type(err) is cls
    assert err.reason == reason
    assert err.status == code
    assert err.details == {}


def test_every_5xx_is_an_internal_error_except_a_gateway_timeout() -> None:
    assert isinstance(from_code(503), InternalError)
    assert isinstance(from_code(599), InternalError)
    assert not isinstance(from_code(504), InternalError)


def test_an_error_carries_the_request_it_answers() -> None:
    err = error_from_response(
        404, b"", verb="get", resource="deployments.apps", namespace="prod", name="web"
    )
    assert (err.verb, err.resource, err.namespace, err.name) == (
        "get",
        "deployments.apps",
        "prod",
        "web",
    )
    assert err.message == "the server could not find the requested resource"


# -- Failure Status bodies: used as they are --------------------------------------------------


def test_a_failure_status_is_used_as_is() -> None:
    details = {"name": "x", "kind": "configmaps"}
    body = status_body(409, "AlreadyExists", 'configmaps "x" already exists', details)
    err = error_from_response(
        409, body, verb="create", resource="configmaps", namespace="default", name=None
    )
    assert type(err) is AlreadyExists
    assert err.reason == "AlreadyExists"
    assert err.message == 'configmaps "x" already exists'
    assert err.details == details
    assert err.name == "x"  # a create names the object only in its body


def test_the_status_reason_picks_the_class_whatever_the_http_code() -> None:
    body = status_body(500, "ServerTimeout", "the server cannot complete the requested operation")
    assert type(from_code(500, body=body)) is ServerTimeout
    body = status_body(409, "Conflict", "the object has been modified")
    assert type(from_code(409, "create", body=body)) is Conflict


def test_an_expired_status_is_gone_and_says_so() -> None:
    body = status_body(410, "Expired", "too old resource version: 1 (2837)")
    err = from_code(410, "watch", body)
    assert isinstance(err, Gone)
    assert err.expired
    assert Expired is Gone
    assert not from_code(410, "watch").expired


def test_a_status_with_an_unknown_reason_is_classed_by_its_code() -> None:
    body = status_body(403, "", 'admission webhook "deny.example.com" denied the request')
    err = from_code(403, "create", body)
    assert type(err) is Forbidden
    assert err.reason == ""
    # A bare 409 Status on create is not AlreadyExists: the classifiers agree with the class.
    err = from_code(409, "create", status_body(409, "", "conflict"))
    assert type(err) is Conflict
    assert not errors.is_already_exists(err)
    assert errors.is_conflict(err)


def test_the_status_code_wins_over_the_http_code_and_fills_in_when_missing() -> None:
    assert from_code(500, body=status_body(404, "NotFound", "gone")).status == 404
    body = orjson.dumps({"kind": "Status", "status": "Failure", "reason": "NotFound"})
    err = from_code(404, body=body)
    assert err.status == 404
    assert err.message == "the server could not find the requested resource"


def test_a_status_without_a_kind_still_counts_as_in_client_go() -> None:
    body = orjson.dumps({"status": "Failure", "reason": "Forbidden", "code": 403, "message": "no"})
    err = from_code(403, body=body)
    assert type(err) is Forbidden
    assert err.message == "no"


@pytest.mark.parametrize(
    "body",
    [
        orjson.dumps({"kind": "Status", "status": "Success", "code": 200}),
        orjson.dumps({"kind": "Pod", "status": "Failure"}),
        orjson.dumps(["not", "a", "status"]),
    ],
)
def test_json_that_is_not_a_failure_status_falls_back_to_the_code(body: bytes) -> None:
    err = from_code(404, body=body)
    assert type(err) is NotFound
    assert err.reason == "NotFound"
    assert err.details == {}


def test_retry_after_comes_from_the_header_or_else_from_the_status() -> None:
    body = status_body(429, "TooManyRequests", "slow down", {"retryAfterSeconds": 3})
    assert from_code(429, body=body).retry_after == 3.0
    err = error_from_response(
        429, body, verb="get", resource="pods", namespace=None, name=None, retry_after=7.0
    )
    assert err.retry_after == 7.0
    assert from_code(429).retry_after is None


# -- messages: the operation, the object and the cause ---------------------------------------


def test_the_message_names_the_operation_the_object_and_the_cause() -> None:
    body = status_body(409, "AlreadyExists", 'configmaps "x" already exists', {"name": "x"})
    err = error_from_response(
        409, body, verb="create", resource="configmaps", namespace="default", name="x"
    )
    assert str(err) == (
        'create configmaps "x" in namespace "default": AlreadyExists: '
        'configmaps "x" already exists (409)'
    )


def test_the_message_of_a_cluster_scoped_or_collection_request_leaves_out_what_is_not_there() -> (
    None
):
    body = status_body(404, "NotFound", 'nodes "n1" not found')
    err = error_from_response(404, body, verb="get", resource="nodes", namespace=None, name="n1")
    assert str(err) == 'get nodes "n1": NotFound: nodes "n1" not found (404)'
    err = error_from_response(
        403, b"", verb="list", resource="pods", namespace="kube-system", name=None
    )
    assert str(err).startswith('list pods in namespace "kube-system": Forbidden: ')
    assert str(err).endswith("(403)")


def test_a_forbidden_message_keeps_who_was_refused_what() -> None:
    text = 'pods is forbidden: User "jane" cannot list resource "pods" in API group "" in the namespace "prod"'
    err = error_from_response(
        403,
        status_body(403, "Forbidden", text, {"kind": "pods"}),
        verb="list",
        resource="pods",
        namespace="prod",
        name=None,
    )
    assert str(err) == f'list pods in namespace "prod": Forbidden: {text} (403)'


INVALID_MESSAGE = (
    'Deployment.apps "web" is invalid: [spec.replicas: Invalid value: -1: must be greater '
    "than or equal to 0, spec.selector: Required value]"
)
INVALID_CAUSES = [
    {
        "reason": "FieldValueInvalid",
        "message": "Invalid value: -1: must be greater than or equal to 0",
        "field": "spec.replicas",
    },
    {"reason": "FieldValueRequired", "message": "Required value", "field": "spec.selector"},
]


def test_invalid_lists_each_field_cause_once_with_its_reason() -> None:
    details = {"name": "web", "group": "apps", "kind": "Deployment", "causes": INVALID_CAUSES}
    err = error_from_response(
        422,
        status_body(422, "Invalid", INVALID_MESSAGE, details),
        verb="create",
        resource="deployments.apps",
        namespace="default",
        name=None,
    )
    assert isinstance(err, Invalid)
    assert err.causes == [
        FieldCause(
            "spec.replicas",
            "FieldValueInvalid",
            "Invalid value: -1: must be greater than or equal to 0",
        ),
        FieldCause("spec.selector", "FieldValueRequired", "Required value"),
    ]
    assert str(err) == (
        'create deployments.apps "web" in namespace "default": Invalid: Deployment.apps "web" '
        "is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0 "
        "(FieldValueInvalid); spec.selector: Required value (FieldValueRequired) (422)"
    )


def test_invalid_keeps_the_server_message_and_adds_causes_it_does_not_mention() -> None:
    causes = [{"reason": "FieldValueForbidden", "message": "may not be set", "field": "spec.x"}]
    err = from_code(
        422, "update", status_body(422, "Invalid", "object is invalid", {"causes": causes})
    )
    assert str(err) == (
        'update pods "web-0" in namespace "default": Invalid: object is invalid: '
        "spec.x: may not be set (FieldValueForbidden) (422)"
    )


def test_invalid_without_causes_shows_the_server_message() -> None:
    err = from_code(422, "create", status_body(422, "Invalid", "bad object"))
    assert isinstance(err, Invalid)
    assert err.causes == []
    assert str(err) == 'create pods "web-0" in namespace "default": Invalid: bad object (422)'


def test_a_request_without_a_resource_names_just_the_verb() -> None:
    err = error_from_response(418, b"", verb="get", resource=None, namespace=None, name=None)
    assert str(err) == (
        "get: Unknown: the server responded with the status code 418 "
        "but did not return more information (418)"
    )


# -- bodies that are not JSON ------------------------------------------------------------------


def test_an_html_proxy_page_becomes_its_title() -> None:
    page = (
        b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
        b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
        b"</body>\r\n</html>\r\n"
    )
    err = from_code(502, body=page)
    assert type(err) is InternalError
    assert err.message == "502 Bad Gateway"
    assert str(err) == (
        'get pods "web-0" in namespace "default": InternalError: 502 Bad Gateway (502)'
    )


def test_an_html_page_without_a_title_loses_its_markup() -> None:
    page = b"<html><style>p{color:red}</style><body><p>upstream &amp; backend\n  down</p></body></html>"
    assert from_code(503, body=page).message == "upstream & backend down"


def test_a_plain_text_body_becomes_the_message_on_one_line() -> None:
    err = from_code(500, body=b"  panic: runtime error\n\tgoroutine 1 [running]\n")
    assert err.message == "panic: runtime error goroutine 1 [running]"


def test_a_long_body_is_cut_to_a_line() -> None:
    err = from_code(500, body=b"x" * 100_000)
    assert len(err.message) == MAX_MESSAGE_CHARS
    assert err.message.endswith("...")


def test_a_body_that_is_not_utf8_does_not_break_the_error() -> None:
    err = from_code(500, body=b"bad \xff\xfe bytes")
    assert err.message.startswith("bad ")
    assert err.message.endswith(" bytes")


def test_an_empty_body_gives_client_go_s_message_for_the_code() -> None:
    assert from_code(429).message == (
        "the server has received too many requests and has asked us to try again later"
    )


# -- connection failures -----------------------------------------------------------------------


def test_a_connection_failure_names_the_address_and_the_cause() -> None:
    err = ConnectionFailed("https://10.0.0.1:6443", "connection refused")
    assert isinstance(err, KubeopsError)
    assert str(err) == "cannot reach https://10.0.0.1:6443: connection refused"
    err = ConnectionFailed(
        "https://10.0.0.1:6443", "TLS handshake timed out", verb="get", resource="pods", name="p"
    )
    assert str(err) == 'get pods "p": cannot reach https://10.0.0.1:6443: TLS handshake timed out'


def test_an_open_circuit_is_a_connection_failure() -> None:
    err = CircuitOpen("https://a:6443", "connection refused", failures=5, retry_in=3.0)
    assert isinstance(err, ConnectionFailed)
    assert (err.server, err.last_cause, err.failures, err.retry_in) == (
        "https://a:6443",
        "connection refused",
        5,
        3.0,
    )


def test_api_errors_are_kubeops_errors() -> None:
    assert issubclass(ApiError, KubeopsError)
    assert not issubclass(ConnectionFailed, ApiError)


# -- classifiers: client-go's IsX rules ---------------------------------------------------------

Classifier = Callable[[BaseException], bool]


@pytest.mark.parametrize(
    ("classifier", "reason", "code", "expected"),
    [
        (errors.is_not_found, "NotFound", 404, True),
        (errors.is_not_found, "", 404, True),
        (errors.is_not_found, "Unknown", 404, True),
        (errors.is_not_found, "SomethingNew", 404, True),
        (errors.is_not_found, "Forbidden", 404, False),  # a known reason wins over the code
        (errors.is_not_found, "NotFound", 500, True),
        (errors.is_forbidden, "", 403, True),
        (errors.is_unauthorized, "", 401, True),
        (errors.is_bad_request, "", 400, True),
        (errors.is_method_not_allowed, "", 405, True),
        (errors.is_invalid, "", 422, True),
        (errors.is_invalid, "Invalid", 400, True),
        (errors.is_conflict, "", 409, True),
        (errors.is_conflict, "AlreadyExists", 409, False),
        (errors.is_already_exists, "AlreadyExists", 409, True),
        (errors.is_already_exists, "", 409, False),  # reason only
        (errors.is_gone, "Gone", 410, True),
        (errors.is_gone, "", 410, True),
        (errors.is_gone, "Expired", 410, False),
        (errors.is_resource_expired, "Expired", 410, True),
        (errors.is_resource_expired, "", 410, False),  # reason only
        (errors.is_resource_expired, "Gone", 410, False),
        (errors.is_server_timeout, "ServerTimeout", 500, True),
        (errors.is_server_timeout, "", 504, False),  # reason only
        (errors.is_server_timeout, "Timeout", 504, False),
        (errors.is_timeout, "Timeout", 504, True),
        (errors.is_timeout, "", 504, True),
        (errors.is_too_many_requests, "TooManyRequests", None, True),
        (errors.is_too_many_requests, "", 429, True),
        (
            errors.is_too_many_requests,
            "Forbidden",
            429,
            True,
        ),  # the code counts whatever the reason
        (errors.is_too_many_requests, "Forbidden", 403, False),
        (errors.is_internal_error, "", 500, True),
        (errors.is_internal_error, "", 502, False),
        (errors.is_service_unavailable, "", 503, True),
        (errors.is_request_entity_too_large, "", 413, True),
        (errors.is_unsupported_media_type, "", 415, True),
        (errors.is_not_acceptable, "", 406, True),
    ],
)
def test_classifiers_match_the_reason_or_the_code_when_the_reason_is_unknown(
    classifier: Classifier, reason: str, code: int | None, expected: bool
) -> None:
    assert classifier(api_error(reason, code)) is expected


ALL_CLASSIFIERS = [
    errors.is_bad_request,
    errors.is_unauthorized,
    errors.is_forbidden,
    errors.is_not_found,
    errors.is_method_not_allowed,
    errors.is_not_acceptable,
    errors.is_already_exists,
    errors.is_conflict,
    errors.is_gone,
    errors.is_resource_expired,
    errors.is_request_entity_too_large,
    errors.is_unsupported_media_type,
    errors.is_invalid,
    errors.is_too_many_requests,
    errors.is_internal_error,
    errors.is_service_unavailable,
    errors.is_timeout,
    errors.is_server_timeout,
]


@pytest.mark.parametrize("classifier", ALL_CLASSIFIERS)
@pytest.mark.parametrize(
    "err",
    [ValueError("x"), KeyError("NotFound"), ConnectionFailed("https://a", "refused")],
)
def test_classifiers_say_no_to_anything_that_is_not_an_api_error(
    classifier: Classifier, err: BaseException
) -> None:
    assert classifier(err) is False


def test_is_connection_failed_spots_transport_failures_only() -> None:
    assert errors.is_connection_failed(ConnectionFailed("https://a", "refused"))
    assert errors.is_connection_failed(CircuitOpen("https://a", "x", failures=5, retry_in=1))
    assert not errors.is_connection_failed(from_code(503))


def test_classifiers_agree_with_errors_built_from_responses() -> None:
    assert errors.is_not_found(from_code(404))
    assert errors.is_already_exists(from_code(409, "create"))
    assert errors.is_conflict(from_code(409, "update"))
    assert errors.is_gone(from_code(410))
    assert errors.is_timeout(from_code(504))
    assert errors.is_too_many_requests(from_code(429))
    assert errors.is_resource_expired(from_code(410, body=status_body(410, "Expired", "old")))


def test_errors_survive_pickle_and_copy_for_process_pools() -> None:
    details = {
        "causes": [{"field": "spec.x", "reason": "FieldValueRequired", "message": "Required value"}]
    }
    originals: list[Exception] = [
        from_code(422, "create", status_body(422, "Invalid", "bad", details)),
        from_code(404),
        ConnectionFailed("https://a:6443", "refused", verb="get", resource="pods"),
        CircuitOpen("https://a:6443", "refused", failures=5, retry_in=2.0),
    ]
    for original in originals:
        for clone in (pickle.loads(pickle.dumps(original)), copy.copy(original)):
            assert type(clone) is type(original)
            assert str(clone) == str(original)
            assert vars(clone) == vars(original)
