"""The ``OTEL_*`` variables read: off unless an exporter or endpoint is given, the
disabled flag, the endpoint forms, headers, sampler and service name; each bad value
is one line naming its variable (a header's value never shown)."""

from __future__ import annotations

import pytest

from kubeops.errors import KubeopsError
from kubeops.telemetry.settings import TraceSettings, TracingConfigError, trace_settings


def settings(**env: str) -> TraceSettings:
    found = trace_settings(env)
    assert found is not None
    return found


@pytest.mark.parametrize(
    "env",
    [
        {},
        {"OTEL_SERVICE_NAME": "kubeops", "OTEL_TRACES_SAMPLER": "always_on"},
        {"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"},
        {"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "otlp"},
        {"OTEL_SDK_DISABLED": "TRUE", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c/v1/traces"},
        {"OTEL_EXPORTER_OTLP_ENDPOINT": " "},
    ],
)
def test_off_unless_an_exporter_or_an_endpoint_is_given(env: dict[str, str]) -> None:
    assert trace_settings(env) is None


def test_on_with_an_endpoint_alone_or_an_exporter_named() -> None:
    assert settings(OTEL_EXPORTER_OTLP_ENDPOINT="http://c:4318").exporters == ("otlp",)
    named = settings(OTEL_TRACES_EXPORTER="otlp")
    assert named.endpoint == "http://localhost:4318/v1/traces"  # the specification's default
    assert settings(OTEL_TRACES_EXPORTER="Console").exporters == ("console",)
    assert settings(OTEL_TRACES_EXPORTER="otlp, console,otlp").exporters == ("otlp", "console")
    assert settings(OTEL_TRACES_EXPORTER="none,console").exporters == ("console",)
    assert settings(OTEL_SDK_DISABLED="false", OTEL_TRACES_EXPORTER="otlp").exporters == ("otlp",)


@pytest.mark.parametrize(
    ("env", "endpoint"),
    [
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, "http://c:4318/v1/traces"),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "https://c:4318/"}, "https://c:4318/v1/traces"),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://gw/otlp"}, "http://gw/otlp/v1/traces"),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/custom"}, "http://c:4318/custom"),
        (
            {
                "OTEL_EXPORTER_OTLP_ENDPOINT": "http://general:4318",
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://traces:4318/v1/traces",
            },
            "http://traces:4318/v1/traces",
        ),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://[::1]:4318"}, "http://[::1]:4318/v1/traces"),
    ],
)
def test_endpoint_forms(env: dict[str, str], endpoint: str) -> None:
    assert settings(**env).endpoint == endpoint


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4318"},
            "OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318/v1/traces' is not an http:// or https:// URL with a host",
        ),
        (
            {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "grpc://c:4317"},
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'grpc://c:4317' is not an http:// or https:// URL",
        ),
        (
            {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://user:s3cret@c:port"},
            "OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:port/v1/traces': Port could not be cast",
        ),
        (
            {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
            "OTEL_EXPORTER_OTLP_PROTOCOL=grpc: kubeops exports traces over http/protobuf only",
        ),
        (
            {"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/json"},
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=http/json: kubeops exports traces over http/protobuf",
        ),
        (
            {"OTEL_TRACES_EXPORTER": "zipkin,otlp"},
            "OTEL_TRACES_EXPORTER=zipkin,otlp: kubeops exports traces with otlp or console (or none), not zipkin",
        ),
        (
            {"OTEL_TRACES_EXPORTER": "otlp", "OTEL_TRACES_SAMPLER": "sometimes"},
            "OTEL_TRACES_SAMPLER=sometimes: not one of always_off, always_on",
        ),
        (
            {
                "OTEL_TRACES_EXPORTER": "otlp",
                "OTEL_TRACES_SAMPLER": "traceidratio",
                "OTEL_TRACES_SAMPLER_ARG": "2",
            },
            "OTEL_TRACES_SAMPLER_ARG=2: the traceidratio sampler takes a ratio from 0 to 1",
        ),
        (
            {
                "OTEL_TRACES_EXPORTER": "otlp",
                "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
                "OTEL_TRACES_SAMPLER_ARG": "half",
            },
            "OTEL_TRACES_SAMPLER_ARG=half: the parentbased_traceidratio sampler takes a ratio",
        ),
    ],
)
def test_a_value_that_cannot_be_used_is_one_line_naming_its_variable(
    env: dict[str, str], message: str
) -> None:
    with pytest.raises(TracingConfigError) as caught:
        trace_settings(env)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)
    assert "s3cret" not in str(caught.value)
    assert isinstance(caught.value, KubeopsError)  # the CLI prints it as one line, exit 1


def test_headers_are_url_decoded_and_a_bad_entry_is_named_not_shown() -> None:
    found = settings(
        OTEL_EXPORTER_OTLP_ENDPOINT="http://c:4318",
        OTEL_EXPORTER_OTLP_HEADERS="Authorization=Bearer%20t0ken, x-tenant = a%2Cb ,",
    )
    assert found.headers == {"authorization": "Bearer t0ken", "x-tenant": "a,b"}
    assert "t0ken" not in repr(found)
    traces_own = settings(
        OTEL_EXPORTER_OTLP_ENDPOINT="http://c:4318",
        OTEL_EXPORTER_OTLP_HEADERS="a=1",
        OTEL_EXPORTER_OTLP_TRACES_HEADERS="b=2",
    )
    assert traces_own.headers == {"b": "2"}
    with pytest.raises(TracingConfigError) as caught:
        settings(OTEL_TRACES_EXPORTER="otlp", OTEL_EXPORTER_OTLP_HEADERS="a=1,t0psecret")
    assert str(caught.value) == "OTEL_EXPORTER_OTLP_HEADERS: entry 2 is not key=value"


def test_sampler_and_service_name() -> None:
    plain = settings(OTEL_TRACES_EXPORTER="otlp")
    assert (plain.sampler, plain.sampler_arg, plain.service_name) == (
        "parentbased_always_on",
        1.0,
        None,
    )
    ratio = settings(
        OTEL_TRACES_EXPORTER="otlp",
        OTEL_TRACES_SAMPLER="ParentBased_TraceIdRatio",
        OTEL_TRACES_SAMPLER_ARG="0.25",
    )
    assert (ratio.sampler, ratio.sampler_arg) == ("parentbased_traceidratio", 0.25)
    ignored_arg = settings(
        OTEL_TRACES_EXPORTER="otlp", OTEL_TRACES_SAMPLER="always_off", OTEL_TRACES_SAMPLER_ARG="x"
    )
    assert ignored_arg.sampler == "always_off"
    from_resource = settings(
        OTEL_TRACES_EXPORTER="otlp",
        OTEL_RESOURCE_ATTRIBUTES="deployment.environment=prod,service.name=kubeops%2Dblue",
    )
    assert from_resource.service_name == "kubeops-blue"
    both = settings(
        OTEL_TRACES_EXPORTER="otlp",
        OTEL_SERVICE_NAME="kubeops-green",
        OTEL_RESOURCE_ATTRIBUTES="service.name=kubeops-blue",
    )
    assert both.service_name == "kubeops-green"
