"""An OTLP/HTTP trace receiver for the e2e: POST /v1/traces with an ExportTraceServiceRequest in
binary protobuf (the OTLP specification's "OTLP/HTTP": Content-Type application/x-protobuf, optionally
gzip-encoded; opentelemetry-proto's collector/trace/v1/trace_service.proto), answered with an empty
ExportTraceServiceResponse. Each span received is printed as one JSON line on stdout (`docker logs`):
its service, name, trace and span id, and attributes. GET /health answers 200 for the health check.
Nothing is stored: the e2e reads the log."""

from __future__ import annotations

import gzip
import json
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

PORT = int(os.environ.get("PORT", "4318"))  # OTLP/HTTP's default port
MAX_BODY = 16 * 2**20


def value(v) -> object:
    """An AnyValue as plain JSON (strings, numbers, booleans; anything else as its text)."""
    kind = v.WhichOneof("value")
    return getattr(v, kind) if kind in ("string_value", "int_value", "double_value", "bool_value") else str(v)


def spans(request: ExportTraceServiceRequest) -> list[dict]:
    out = []
    for resource_spans in request.resource_spans:
        resource = {a.key: value(a.value) for a in resource_spans.resource.attributes}
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                out.append(
                    {
                        "service": resource.get("service.name"),
                        "scope": scope_spans.scope.name,
                        "name": span.name,
                        "trace_id": span.trace_id.hex(),
                        "span_id": span.span_id.hex(),
                        "parent_span_id": span.parent_span_id.hex(),
                        "attributes": {a.key: value(a.value) for a in span.attributes},
                    }
                )
    return out


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        self._answer(200 if self.path == "/health" else 404, b"", "text/plain")

    def do_POST(self) -> None:  # noqa: N802
        if self.path != "/v1/traces":
            return self._answer(404, b"", "text/plain")
        if self.headers.get("Content-Type", "").split(";")[0] != "application/x-protobuf":
            return self._answer(415, b"only application/x-protobuf", "text/plain")
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            return self._answer(413, b"", "text/plain")
        body = self.rfile.read(length)
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        request = ExportTraceServiceRequest()
        try:
            request.ParseFromString(body)
        except Exception:  # noqa: BLE001 - a body that is not the message: the client's error
            return self._answer(400, b"not an ExportTraceServiceRequest", "text/plain")
        for span in spans(request):
            print(json.dumps(span, sort_keys=True), flush=True)
        self._answer(200, ExportTraceServiceResponse().SerializeToString(), "application/x-protobuf")

    def _answer(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt: str, *args) -> None:  # the spans are the log
        pass


if __name__ == "__main__":
    ThreadingHTTPServer(("0.0.0.0", PORT), Handler).serve_forever()
