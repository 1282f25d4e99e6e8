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

        def spans() -> dict[str, set[str]]:
            found: dict[str, set[str]] = {}
            for name, trace in SPAN.findall(log.log()):
                found.setdefault(name, set()).add(trace)
            return found

        wait_until(lambda: "HandleUpdate:apply" in spans(), 10, "worker span")
        traces = spans()
        # the gRPC call and the Temporal client calls it makes (a batch to each shard): one trace
        (call,) = traces[rpc]
        assert call in traces["StartWorkflowUpdate:apply"], json.dumps(traces, default=list)
        # the worker's validators and handlers: in the shard workflows' traces
        runs = traces["RunWorkflow:TemporalRegistryShard"]
        assert traces["ValidateUpdate:apply"] <= runs, json.dumps(traces, default=list)
        assert traces["HandleUpdate:apply"] <= runs, json.dumps(traces, default=list)


def test_without_tracing_nothing_is_exported(registry: Registry) -> None:
    assert registry.process is not None
    assert '"trace_id"' not in registry.process.log()
