"""OpenTelemetry tracing, when enabled, across the gRPC server, the Temporal client and the
embedded worker (console exporter, read from the log). Temporal's interceptor puts a
workflow's handler spans in the workflow's own trace, beside its run span."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from integration.stack import Registry, TemporalDevServer, wait_until
from integration.test_registry_durability import own_registry_settings, register, running

pytestmark = pytest.mark.integration

SPAN = re.compile(r'"name": "([^"]+)",\s*"context": \{\s*"trace_id": "([^"]+)"')


def test_a_registration_is_traced_from_grpc_to_the_worker(
    workdir: Path, temporal: TemporalDevServer
) -> None:
    overrides = {**own_registry_settings(), "tracing": {"enabled": True, "exporter": "console"}}
    registry = Registry(workdir, temporal.address, overrides=overrides)
    with running(registry) as stub:
        register(stub, "traced-worker", "traced-type")
        rpc = "/temporal_registry.v1.RegistryService/RegisterWorker"
        assert registry.process is not None
        log = registry.process

        def spans() -> dict[str, str]:
            return {name: trace for name, trace in SPAN.findall(log.log())}

        wait_until(lambda: "HandleUpdate:register_worker" in spans(), 10, "worker span")
        traces = spans()
        # the gRPC call and the Temporal client call it makes: one trace
        assert traces[rpc] == traces["StartWorkflowUpdate:register_worker"], json.dumps(traces)
        # the worker's validator and handler: in the registry workflow's trace
        run = traces["RunWorkflow:TemporalRegistry"]
        assert traces["ValidateUpdate:register_worker"] == run, json.dumps(traces)
        assert traces["HandleUpdate:register_worker"] == run, json.dumps(traces)


def test_without_tracing_nothing_is_exported(registry: Registry) -> None:
    assert registry.process is not None
    assert '"trace_id"' not in registry.process.log()
