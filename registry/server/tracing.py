"""Optional OpenTelemetry tracing across the gRPC server, the Temporal client and the embedded
worker. Off unless `tracing.enabled`; the packages come with the `otel` extra
(`pip install 'temporal-registry[otel]'`) and are imported only when tracing is on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from registry.server.config import TracingConfig


class TracingUnavailable(RuntimeError):
    """tracing.enabled without the otel extra installed."""


@dataclass
class Tracing:
    server_interceptor: Any  # a grpc.aio.ServerInterceptor
    temporal_interceptor: Any  # a temporalio client (and worker) interceptor
    provider: Any  # the TracerProvider, flushed on shutdown

    def shutdown(self) -> None:
        self.provider.shutdown()


def setup_tracing(config: TracingConfig) -> Tracing | None:
    if not config.enabled:
        return None
    try:
        from opentelemetry import trace
        from opentelemetry.instrumentation.grpc import aio_server_interceptor
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import (
            BatchSpanProcessor,
            ConsoleSpanExporter,
            SimpleSpanProcessor,
            SpanExporter,
        )
        from temporalio.contrib.opentelemetry import TracingInterceptor
    except ImportError as error:
        raise TracingUnavailable(
            "tracing.enabled needs the otel extra: pip install 'temporal-registry[otel]'"
        ) from error
    provider = TracerProvider(resource=Resource.create({"service.name": config.service_name}))
    exporter: SpanExporter
    if config.exporter == "console":
        provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter()))
    else:
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter(endpoint=config.otlp_endpoint, insecure=config.otlp_insecure)
        provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    server_interceptor = aio_server_interceptor(tracer_provider=provider)  # type: ignore[no-untyped-call]
    return Tracing(server_interceptor, TracingInterceptor(), provider)
