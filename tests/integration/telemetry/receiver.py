"""An OTLP/HTTP receiver for tests: the spans kubeops exported, decoded.

The receiver is a stdlib HTTP server on its own thread: the SDK's exporter posts
from a thread of its own, so the receiver must not depend on the test's event loop.
It decodes each ``ExportTraceServiceRequest`` with opentelemetry-proto's classes.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span as ProtoSpan
from opentelemetry.proto.trace.v1.trace_pb2 import Status


@dataclass(frozen=True)
class ReceivedSpan:
    """One span as the collector got it: ids in hex, attributes as Python values."""

    name: str
    trace_id: str
    span_id: str
    parent_id: str
    attributes: dict[str, Any]
    error: bool
    status_message: str
    client: bool
    service: str


@dataclass
class Receiver:
    """What the receiver got so far (appended from its thread, read from the test's)."""

    endpoint: str
    spans: list[ReceivedSpan] = field(default_factory=list)
    requests: list[dict[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def named(self, name: str, **attributes: Any) -> list[ReceivedSpan]:
        """Spans of ``name`` whose attributes include every one given."""
        with self.lock:
            spans = list(self.spans)
        return [
            s
            for s in spans
            if s.name == name and all(s.attributes.get(k) == v for k, v in attributes.items())
        ]

    def one(self, name: str, **attributes: Any) -> ReceivedSpan:
        """The single span of ``name`` with these attributes (AssertionError otherwise: retried)."""
        found = self.named(name, **attributes)
        assert len(found) == 1, (name, attributes, found, self.names())
        return found[0]

    def names(self) -> list[str]:
        """Every span name received, in order (for failure messages)."""
        with self.lock:
            return [s.name for s in self.spans]

    def by_id(self, span_id: str) -> ReceivedSpan:
        """The span with this id."""
        with self.lock:
            return next(s for s in self.spans if s.span_id == span_id)


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind else None


def _decode(body: bytes) -> list[ReceivedSpan]:
    request = ExportTraceServiceRequest()
    request.ParseFromString(body)
    found = []
    for resource_spans in request.resource_spans:
        resource = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                found.append(
                    ReceivedSpan(
                        name=span.name,
                        trace_id=span.trace_id.hex(),
                        span_id=span.span_id.hex(),
                        parent_id=span.parent_span_id.hex(),
                        attributes={a.key: _value(a.value) for a in span.attributes},
                        error=span.status.code == Status.STATUS_CODE_ERROR,
                        status_message=span.status.message,
                        client=span.kind == ProtoSpan.SPAN_KIND_CLIENT,
                        service=str(resource.get("service.name", "")),
                    )
                )
    return found


@contextlib.contextmanager
def serve_otlp() -> Iterator[Receiver]:
    """An OTLP/HTTP protobuf receiver on 127.0.0.1 (``POST /v1/traces``) until the block ends."""
    received: list[Receiver] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            known = self.path == "/v1/traces"
            receiver = received[0]
            with receiver.lock:
                receiver.spans.extend(_decode(body) if known else [])
                receiver.requests.append({"path": self.path, **dict(self.headers.items())})
            answer = ExportTraceServiceResponse().SerializeToString()
            self.send_response(200 if known else 404)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    received.append(Receiver(f"http://127.0.0.1:{server.server_address[1]}"))
    thread = threading.Thread(target=server.serve_forever, name="otlp receiver", daemon=True)
    thread.start()
    try:
        yield received[0]
    finally:
        server.shutdown()
        server.server_close()
