"""A local OTLP/HTTP trace receiver: where OTEL_EXPORTER_OTLP_ENDPOINT points in the tests (a
web process's or a Celery worker's spans, decoded) and in bench/tracing_overhead.py (spans
received and dropped, as a collector on the same machine would take them)."""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

HOST = "127.0.0.1"


@dataclass(frozen=True)
class ReceivedSpan:
    service: str
    name: str
    trace_id: str
    span_id: str
    parent_span_id: str | None
    attributes: dict[str, Any]


class OtlpSink:
    """An OTLP/HTTP receiver on 127.0.0.1 in a thread of this process, while the block lasts.
    `keep=False` decodes nothing (the bench: only the export's cost on the sender counts)."""

    def __init__(self, keep: bool = True) -> None:
        self.keep = keep
        self.received: list[ReceivedSpan] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer((HOST, 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="otlp-sink", daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://{HOST}:{self._server.server_port}"

    def __enter__(self) -> OtlpSink:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def spans(self) -> list[ReceivedSpan]:
        with self._lock:
            return list(self.received)

    def wait_for(self, condition: Callable[[list[ReceivedSpan]], bool], timeout: float = 20) -> list[ReceivedSpan]:
        """The spans received, once `condition` holds for them (fails after `timeout` seconds)."""
        deadline = time.monotonic() + timeout
        while not condition(spans := self.spans()):
            if time.monotonic() > deadline:
                names = sorted({f"{span.service}: {span.name}" for span in spans})
                raise AssertionError(f"The spans received in {timeout} s are not those expected: {names}")
            time.sleep(0.05)
        return spans

    def take(self, body: bytes) -> None:
        if not self.keep:
            return
        request = ExportTraceServiceRequest.FromString(body)
        spans = [
            ReceivedSpan(
                service=_attributes(resource_spans.resource.attributes).get("service.name", ""),
                name=span.name,
                trace_id=span.trace_id.hex(),
                span_id=span.span_id.hex(),
                parent_span_id=span.parent_span_id.hex() or None,
                attributes=_attributes(span.attributes),
            )
            for resource_spans in request.resource_spans
            for scope_spans in resource_spans.scope_spans
            for span in scope_spans.spans
        ]
        with self._lock:
            self.received.extend(spans)


def _handler_for(sink: OtlpSink) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            sink.take(body)
            answer = ExportTraceServiceResponse().SerializeToString()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *_: Any) -> None:
            pass

    return Handler


def _attributes(key_values) -> dict[str, Any]:
    return {item.key: _value(item.value) for item in key_values}


def _value(any_value) -> Any:
    kind = any_value.WhichOneof("value")
    if kind == "array_value":
        return [_value(item) for item in any_value.array_value.values]
    return getattr(any_value, kind) if kind else None


def main() -> None:
    """`python -m bench.otlp_sink`: a receiver that drops what it gets, in a process of its own
    (as a collector beside the web process would be), until its standard input closes; prints
    its endpoint first."""
    import sys

    with OtlpSink(keep=False) as sink:
        print(sink.endpoint, flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    main()
