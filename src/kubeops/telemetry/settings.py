"""The standard ``OTEL_*`` variables read into one value, with no OpenTelemetry import.

Pure so it is tested without an exporter, and so a process that does not trace
decides that from its environment alone.  One deliberate difference from the
specification: with no exporter named and no endpoint given, tracing is *off*
(the specification's default exporter is OTLP to localhost:4318), because a
daemon deployed without a collector should not retry a missing one forever.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from kubeops.errors import KubeopsError

PROTOCOL = "http/protobuf"
"""The one OTLP protocol kubeops exports with (see docs/decisions.md)."""
DEFAULT_ENDPOINT = "http://localhost:4318"
TRACES_PATH = "/v1/traces"
EXPORTERS = frozenset({"otlp", "console"})
SAMPLERS = frozenset(
    {
        "always_on",
        "always_off",
        "traceidratio",
        "parentbased_always_on",
        "parentbased_always_off",
        "parentbased_traceidratio",
    }
)
DEFAULT_SAMPLER = "parentbased_always_on"


class TracingConfigError(KubeopsError):
    """An ``OTEL_*`` variable kubeops cannot use; the message names the variable and why."""


@dataclass(frozen=True)
class TraceSettings:
    """Where and how spans are exported; built by :func:`trace_settings`."""

    exporters: tuple[str, ...]
    endpoint: str
    """The full URL spans are posted to (``.../v1/traces``)."""
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    """Sent with every export; may hold an API key, so never shown."""
    sampler: str = DEFAULT_SAMPLER
    sampler_arg: float = 1.0
    service_name: str | None = None
    """``OTEL_SERVICE_NAME`` (or ``service.name`` in ``OTEL_RESOURCE_ATTRIBUTES``), if set."""


def trace_settings(env: Mapping[str, str]) -> TraceSettings | None:
    """The tracing ``env`` asks for, or None when tracing is off.

    Off when ``OTEL_SDK_DISABLED`` is true, when ``OTEL_TRACES_EXPORTER`` is
    ``none``, and when no exporter is named and no OTLP endpoint is given.
    Raises :class:`TracingConfigError` for a value that cannot be used.
    """
    if _get(env, "OTEL_SDK_DISABLED").lower() == "true":
        return None
    named = _get(env, "OTEL_TRACES_EXPORTER")
    endpoint_given = bool(
        _get(env, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or _get(env, "OTEL_EXPORTER_OTLP_ENDPOINT")
    )
    if not named:
        if not endpoint_given:
            return None
        named = "otlp"
    exporters = tuple(dict.fromkeys(e.strip().lower() for e in named.split(",") if e.strip()))
    unknown = [e for e in exporters if e not in EXPORTERS and e != "none"]
    if unknown:
        raise TracingConfigError(
            f"OTEL_TRACES_EXPORTER={named}: kubeops exports traces with otlp or console "
            f"(or none), not {', '.join(unknown)}"
        )
    exporters = tuple(e for e in exporters if e != "none")
    if not exporters:
        return None
    sampler, sampler_arg = _sampler(env)
    return TraceSettings(
        exporters=exporters,
        endpoint=_endpoint(env) if "otlp" in exporters else "",
        headers=_headers(env) if "otlp" in exporters else {},
        sampler=sampler,
        sampler_arg=sampler_arg,
        service_name=_service_name(env),
    )


def _get(env: Mapping[str, str], name: str) -> str:
    return env.get(name, "").strip()


def _endpoint(env: Mapping[str, str]) -> str:
    for variable in ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"):
        protocol = _get(env, variable)
        if protocol:
            if protocol != PROTOCOL:
                raise TracingConfigError(
                    f"{variable}={protocol}: kubeops exports traces over {PROTOCOL} only "
                    "(the collector's OTLP/HTTP port, 4318 by default)"
                )
            break
    # The signal's own endpoint is used as given; the general one gets the signal's path.
    variable, url = (
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        _get(env, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"),
    )
    if not url:
        variable, base = "OTEL_EXPORTER_OTLP_ENDPOINT", _get(env, "OTEL_EXPORTER_OTLP_ENDPOINT")
        url = (base or DEFAULT_ENDPOINT).rstrip("/") + TRACES_PATH
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TracingConfigError(
            f"{variable}: {_shown(url)!r} is not an http:// or https:// URL with a host"
        )
    try:
        parts.port  # noqa: B018 - raises for a port that is not a number
    except ValueError as err:
        raise TracingConfigError(f"{variable}: {_shown(url)!r}: {err}") from err
    return url


def _shown(url: str) -> str:
    """The URL without a user:password part, for an error message."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()


def _headers(env: Mapping[str, str]) -> dict[str, str]:
    variable = "OTEL_EXPORTER_OTLP_TRACES_HEADERS"
    text = _get(env, variable)
    if not text:
        variable, text = "OTEL_EXPORTER_OTLP_HEADERS", _get(env, "OTEL_EXPORTER_OTLP_HEADERS")
    headers: dict[str, str] = {}
    for number, entry in enumerate(text.split(","), start=1):
        if not entry.strip():
            continue
        key, equals, value = entry.partition("=")
        if not equals or not key.strip():
            # The value may be a secret: say where, never what.
            raise TracingConfigError(f"{variable}: entry {number} is not key=value")
        headers[unquote(key.strip()).lower()] = unquote(value.strip())
    return headers


def _sampler(env: Mapping[str, str]) -> tuple[str, float]:
    name = _get(env, "OTEL_TRACES_SAMPLER").lower() or DEFAULT_SAMPLER
    if name not in SAMPLERS:
        raise TracingConfigError(
            f"OTEL_TRACES_SAMPLER={name}: not one of {', '.join(sorted(SAMPLERS))}"
        )
    text = _get(env, "OTEL_TRACES_SAMPLER_ARG")
    if not text or not name.endswith("traceidratio"):
        return name, 1.0
    try:
        ratio = float(text)
    except ValueError:
        ratio = -1.0
    if not 0.0 <= ratio <= 1.0:
        raise TracingConfigError(
            f"OTEL_TRACES_SAMPLER_ARG={text}: the {name} sampler takes a ratio from 0 to 1"
        )
    return name, ratio


def _service_name(env: Mapping[str, str]) -> str | None:
    name = _get(env, "OTEL_SERVICE_NAME")
    if name:
        return name
    for entry in _get(env, "OTEL_RESOURCE_ATTRIBUTES").split(","):
        key, _, value = entry.partition("=")
        if key.strip() == "service.name" and value.strip():
            return unquote(value.strip())
    return None
