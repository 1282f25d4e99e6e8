"""Client commands of `temporal-registry`: daily use of a running registry over gRPC.

  temporal-registry workflows list|get|enable|disable     workflow types and their health
  temporal-registry workflows watch                        the catalogue's changes, as they happen
  temporal-registry workers list|get                      registered workers and leases
  temporal-registry start TYPE --input JSON|@file         start a run on the right task queue
  temporal-registry ids claim|reset|list                  readable workflow ids
  temporal-registry schedules list|get|create|update|pause|unpause|trigger|backfill|delete
  temporal-registry search-attributes list|reconcile

Each command makes the same RPC a program would, with the address and token of
registry.client (REGISTRY_ADDRESS, REGISTRY_TOKEN, ...; --address overrides). Output is a
table, or with -o json the response in the HTTP API's JSON (`workflows watch`: a line per
event, or one JSON object per line). Exit codes: 0 done, 1 the registry refused or could
not be reached (its google.rpc.Status is printed), 2 bad usage.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import duration_pb2, json_format, struct_pb2
from google.protobuf.message import Message
from temporal_registry.v1 import (
    dispatch_pb2,
    dispatch_pb2_grpc,
    registry_pb2,
    registry_pb2_grpc,
    schedules_pb2,
    schedules_pb2_grpc,
    search_attributes_pb2,
    search_attributes_pb2_grpc,
)

from registry.client.connection import ClientSettings, RegistryCallError, open_channel
from registry.client.watch import CatalogWatch, Resync, WatchItem, watch

EXIT_REFUSED = 1
EXIT_USAGE = 2


class UsageError(Exception):
    """A bad argument found after parsing (e.g. --input that is not JSON)."""


@dataclass(frozen=True)
class Stubs:
    """The registry's services on one channel."""

    registry: registry_pb2_grpc.RegistryServiceStub
    dispatch: dispatch_pb2_grpc.DispatchServiceStub
    schedules: schedules_pb2_grpc.ScheduleServiceStub
    search_attributes: search_attributes_pb2_grpc.SearchAttributeServiceStub

    @classmethod
    def on(cls, channel: grpc.aio.Channel) -> Stubs:
        return cls(
            registry_pb2_grpc.RegistryServiceStub(channel),
            dispatch_pb2_grpc.DispatchServiceStub(channel),
            schedules_pb2_grpc.ScheduleServiceStub(channel),
            search_attributes_pb2_grpc.SearchAttributeServiceStub(channel),
        )


Call = Callable[[argparse.Namespace, Stubs], Awaitable[Message]]
Table = tuple[Sequence[str], list[Sequence[Any]]]
Tabulate = Callable[[Any], Table]


# --- output ----------------------------------------------------------------------------


def to_json(message: Message) -> str:
    """The message as the HTTP API prints it (proto field names, every field, and whole
    numbers of JSON values as integers, as Envoy prints them)."""
    return json.dumps(json_document(message), indent=2)


def json_document(message: Message) -> Any:
    """The message as the HTTP API's JSON document (see to_json)."""
    document = json_format.MessageToDict(
        message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )
    return whole_numbers(document)


def whole_numbers(value: Any) -> Any:
    """value with every integral float as an int: JSON values travel as doubles in a
    google.protobuf.Value, so an input's 1 comes back 1.0."""
    if isinstance(value, float) and value.is_integer() and abs(value) <= 2**53:
        return int(value)
    if isinstance(value, dict):
        return {key: whole_numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [whole_numbers(item) for item in value]
    return value


def render_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain aligned table; lists are joined with commas, booleans read yes/no."""
    if not rows:
        return "  ".join(h.upper() for h in headers) + "\n(none)"
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [max([len(h), *(len(row[i]) for row in cells)]) for i, h in enumerate(headers)]
    lines = [[h.upper() for h in headers], *cells]
    return "\n".join(
        "  ".join(value.ljust(width) for value, width in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple) or type(value).__name__.startswith("Repeated"):
        return ",".join(str(item) for item in value)
    return str(value)


def epoch(seconds: float) -> str:
    """Unix seconds as UTC ISO 8601 to the second, or '-' for unset."""
    if not seconds:
        return "-"
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def labels_text(labels: Any) -> str:
    return ",".join(f"{key}={value}" for key, value in sorted(labels.items())) or "-"


# --- input -----------------------------------------------------------------------------


def read_json_argument(text: str, what: str) -> Any:
    """JSON given inline, from @file, or from @- (standard input)."""
    if text.startswith("@"):
        source = text[1:]
        try:
            text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
        except OSError as error:
            raise UsageError(f"{what}: cannot read {source}: {error.strerror}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise UsageError(f"{what} is not JSON: {error}") from None


def json_value(value: Any) -> struct_pb2.Value:
    message = struct_pb2.Value()
    json_format.ParseDict(value, message)
    return message


def key_values(pairs: Sequence[str], what: str) -> dict[str, Any]:
    """KEY=VALUE pairs; VALUE is JSON when it parses as JSON, else a string."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"{what} {pair!r}: expected KEY=VALUE")
        try:
            out[key] = json.loads(raw)
        except json.JSONDecodeError:
            out[key] = raw
    return out


def request_from_body(body: str, request: Message, **fields: Any) -> Message:
    """request filled from a JSON body (the HTTP API's body), then fields set over it."""
    document = read_json_argument(body, "--body")
    if not isinstance(document, dict):
        raise UsageError("--body must be a JSON object")
    try:
        json_format.ParseDict({**document, **fields}, request)
    except json_format.ParseError as error:
        raise UsageError(f"--body: {error}") from None
    return request


# --- running a command ---------------------------------------------------------------


def _handler(call: Call, tabulate: Tabulate) -> Callable[[argparse.Namespace], int]:
    def handle(args: argparse.Namespace) -> int:
        try:
            return asyncio.run(_run(args, call, tabulate))
        except UsageError as error:
            print(f"temporal-registry: {error}", file=sys.stderr)
            return EXIT_USAGE

    return handle


async def _run(args: argparse.Namespace, call: Call, tabulate: Tabulate) -> int:
    settings = ClientSettings.from_env(address=args.address)
    async with open_channel(settings) as channel:
        try:
            response = await call(args, Stubs.on(channel))
        except grpc.aio.AioRpcError as error:
            failure = RegistryCallError.from_rpc_error(error)
            print(f"temporal-registry: {failure_text(failure, settings)}", file=sys.stderr)
            return EXIT_REFUSED
    if args.output == "json":
        print(to_json(response))
    else:
        print(render_table(*tabulate(response)))
    return 0


def failure_text(failure: RegistryCallError, settings: ClientSettings) -> str:
    """A failed call as the commands print it: its status, and where the registry was
    looked for when nothing answered there."""
    # UNAVAILABLE with no reason is the transport's: nothing answered at the address.
    hint = (
        f" (is the registry at {settings.address}? set REGISTRY_ADDRESS)"
        if failure.code == grpc.StatusCode.UNAVAILABLE and not failure.reason
        else ""
    )
    return f"{failure.describe()}{hint}"


async def _all_pages(rpc: Callable[[Any], Awaitable[Any]], request: Any, field: str) -> list[Any]:
    """Every item of a paginated list: `rpc` called with `request` once per page (AIP-158
    page tokens)."""
    items: list[Any] = []
    while True:
        page = await rpc(request)
        items.extend(getattr(page, field))
        request.page_token = page.next_page_token
        if not request.page_token:
            return items


# --- workflows and workers -------------------------------------------------------------


async def list_workflows(args: argparse.Namespace, stubs: Stubs) -> Message:
    request = registry_pb2.ListWorkflowsRequest(page_size=200, label_selector=args.label or "")
    if args.enabled is not None:
        request.enabled = args.enabled
    if args.healthy is not None:
        request.healthy = args.healthy
    workflows = await _all_pages(stubs.registry.ListWorkflows, request, "workflows")
    return registry_pb2.ListWorkflowsResponse(workflows=workflows)


def workflows_table(response: registry_pb2.ListWorkflowsResponse) -> Table:
    return (
        ("type", "task queue", "version", "enabled", "healthy", "workers", "labels"),
        [
            (
                w.workflow_type,
                w.task_queue,
                w.version or "-",
                w.enabled,
                w.healthy,
                len(w.workers),
                labels_text(w.labels),
            )
            for w in response.workflows
        ],
    )


def workflow_table(workflow: Any) -> Table:
    health = "; ".join(workflow.health_reasons) or ("healthy" if workflow.healthy else "-")
    properties: list[Sequence[Any]] = [
        ("type", workflow.workflow_type),
        ("task queue", workflow.task_queue),
        ("version", workflow.version or "-"),
        ("description", workflow.description or "-"),
        ("enabled", workflow.enabled),
        ("disabled reason", workflow.disabled_reason or "-"),
        ("health", health),
        ("labels", labels_text(workflow.labels)),
        ("search attributes", [f"{a.name}:{a.type}" for a in workflow.search_attributes] or "-"),
        ("workers", [w.worker_id for w in workflow.workers] or "-"),
        (
            "input schema",
            json.dumps(whole_numbers(json_format.MessageToDict(workflow.input_schema))),
        ),
    ]
    return ("field", "value"), properties


async def get_workflow(args: argparse.Namespace, stubs: Stubs) -> Message:
    request = registry_pb2.GetWorkflowRequest(workflow_type=args.workflow_type)
    response: Message = await stubs.registry.GetWorkflow(request)
    return response


async def enable_workflow(args: argparse.Namespace, stubs: Stubs) -> Message:
    request = registry_pb2.EnableWorkflowRequest(workflow_type=args.workflow_type)
    response: Message = await stubs.registry.EnableWorkflow(request)
    return response


async def disable_workflow(args: argparse.Namespace, stubs: Stubs) -> Message:
    request = registry_pb2.DisableWorkflowRequest(
        workflow_type=args.workflow_type, reason=args.reason
    )
    response: Message = await stubs.registry.DisableWorkflow(request)
    return response


async def list_workers(args: argparse.Namespace, stubs: Stubs) -> Message:
    request = registry_pb2.ListWorkersRequest(
        page_size=200, task_queue=args.task_queue or "", workflow_type=args.workflow_type or ""
    )
    workers = await _all_pages(stubs.registry.ListWorkers, request, "workers")
    return registry_pb2.ListWorkersResponse(workers=workers)


def workers_table(response: registry_pb2.ListWorkersResponse) -> Table:
    return (
        ("worker", "task queue", "healthy", "lease expires", "last seen", "workflows"),
        [
            (
                w.worker_id,
                w.task_queue,
                w.healthy,
                epoch(w.lease_expires_epoch),
                epoch(w.last_seen_epoch),
                list(w.workflows),
            )
            for w in response.workers
        ],
    )


def worker_table(worker: Any) -> Table:
    return workers_table(registry_pb2.ListWorkersResponse(workers=[worker]))


async def get_worker(args: argparse.Namespace, stubs: Stubs) -> Message:
    response: Message = await stubs.registry.GetWorker(
        registry_pb2.GetWorkerRequest(worker_id=args.worker_id)
    )
    return response


# --- watching the catalogue ------------------------------------------------------------

_EVENT = registry_pb2.CatalogEvent


def event_line(item: WatchItem) -> str:
    """One watch item as `workflows watch` prints it: the revision, what happened, the
    workflow type or worker and what a person looks at first; free text last, after ` - `.

        r42 WORKFLOW_ADDED order.v1 queue=orders enabled=yes healthy=yes
        r43 WORKER_REGISTERED orders-1 queue=orders healthy=yes workflows=order.v1
        r44 WORKFLOW_DISABLED order.v1 queue=orders enabled=no healthy=yes - maintenance
        - RESYNC - the token is too old
    """
    if isinstance(item, Resync):
        return f"- RESYNC - {item.reason}"
    kind = _EVENT.Type.Name(item.type) if item.type in _EVENT.Type.values() else str(item.type)
    words = [f"r{item.revision}", kind.removeprefix("TYPE_")]
    if item.HasField("workflow"):
        workflow = item.workflow
        words.append(workflow.workflow_type)
        if item.type != _EVENT.TYPE_WORKFLOW_REMOVED:
            words.append(f"queue={workflow.task_queue or '-'}")
            words.append(f"enabled={_cell(workflow.enabled)}")
            words.append(f"healthy={_cell(workflow.healthy)}")
        if item.type == _EVENT.TYPE_WORKFLOW_DISABLED and workflow.disabled_reason:
            words.append(f"- {workflow.disabled_reason}")
        if item.type == _EVENT.TYPE_WORKFLOW_HEALTH_CHANGED and workflow.health_reasons:
            words.append(f"- {'; '.join(workflow.health_reasons)}")
    elif item.HasField("worker"):
        worker = item.worker
        words += [worker.worker_id, f"queue={worker.task_queue or '-'}"]
        if item.type in (_EVENT.TYPE_WORKER_REGISTERED, _EVENT.TYPE_WORKER_CHANGED):
            words.append(f"healthy={_cell(worker.healthy)}")
        words.append(f"workflows={_cell(list(worker.workflows)) or '-'}")
    return " ".join(words)


def event_json(item: WatchItem) -> str:
    """One watch item as a line of JSON: the event in the HTTP API's JSON (see to_json), or
    `{"type":"RESYNC","reason":...}`."""
    if isinstance(item, Resync):
        return json.dumps({"type": "RESYNC", "reason": item.reason}, separators=(",", ":"))
    return json.dumps(json_document(item), separators=(",", ":"))


def watch_catalog(args: argparse.Namespace) -> int:
    """`workflows watch`: a line per event until Ctrl-C (or, with --until-synced, the first
    SYNCED). Ctrl-C exits 0 and prints the --resume-token that continues from there."""
    settings = ClientSettings.from_env(address=args.address)
    watching: list[CatalogWatch] = []
    try:
        return asyncio.run(_watch(args, settings, watching))
    except KeyboardInterrupt:
        if watching and watching[0].resume_token:
            print(
                f"temporal-registry: stopped; --resume-token {watching[0].resume_token} goes on"
                " from here",
                file=sys.stderr,
            )
        return 0


async def _watch(
    args: argparse.Namespace, settings: ClientSettings, watching: list[CatalogWatch]
) -> int:
    def retrying(failure: RegistryCallError | None, delay: float) -> None:
        why = failure_text(failure, settings) if failure else "the registry closed the stream"
        print(f"temporal-registry: {why}; reconnecting in {delay:.1f} s", file=sys.stderr)

    render = event_json if args.output == "json" else event_line
    async with open_channel(settings) as channel:
        watching.append(watch(channel, resume_token=args.resume_token or "", on_retry=retrying))
        try:
            async with contextlib.aclosing(aiter(watching[0])) as items:
                async for item in items:
                    print(render(item), flush=True)
                    synced = isinstance(item, _EVENT) and item.type == _EVENT.TYPE_SYNCED
                    if synced and args.until_synced:
                        return 0
        except RegistryCallError as failure:
            print(f"temporal-registry: {failure_text(failure, settings)}", file=sys.stderr)
            return EXIT_REFUSED
    return 0


# --- dispatch --------------------------------------------------------------------------


async def start_workflow(args: argparse.Namespace, stubs: Stubs) -> Message:
    request = dispatch_pb2.StartWorkflowRequest(
        workflow_type=args.workflow_type,
        workflow_id=args.workflow_id or "",
        name=args.name or "",
        request_id=args.request_id or "",
        label_selector=args.label_selector or "",
        validate_only=args.validate_only,
    )
    if args.input is not None:
        request.input.CopyFrom(json_value(read_json_argument(args.input, "--input")))
    for key, value in key_values(args.search_attribute, "--search-attribute").items():
        request.search_attributes[key].CopyFrom(json_value(value))
    for key, value in key_values(args.memo, "--memo").items():
        request.memo[key].CopyFrom(json_value(value))
    if args.execution_timeout is not None:
        request.execution_timeout.CopyFrom(duration_pb2.Duration(seconds=args.execution_timeout))
    response: Message = await stubs.dispatch.StartWorkflow(request)
    return response


def started_table(response: dispatch_pb2.StartWorkflowResponse) -> Table:
    rows: list[Sequence[Any]] = [
        ("workflow id", response.workflow_id),
        ("run id", response.run_id or "-"),
        ("task queue", response.task_queue),
        ("started", response.started),
    ]
    rows += [("warning", f"{w.field}: {w.message}") for w in response.warnings]
    return ("field", "value"), rows


async def claim_id(args: argparse.Namespace, stubs: Stubs) -> Message:
    request = dispatch_pb2.ClaimWorkflowIdRequest(name=args.name, request_id=args.request_id or "")
    response: Message = await stubs.dispatch.ClaimWorkflowId(request)
    return response


async def reset_id(args: argparse.Namespace, stubs: Stubs) -> Message:
    response: Message = await stubs.dispatch.ResetWorkflowId(
        dispatch_pb2.ResetWorkflowIdRequest(name=args.name)
    )
    return response


async def list_ids(args: argparse.Namespace, stubs: Stubs) -> Message:
    request = dispatch_pb2.ListWorkflowIdsRequest(page_size=500)
    counters = await _all_pages(stubs.dispatch.ListWorkflowIds, request, "slug_counters")
    return dispatch_pb2.ListWorkflowIdsResponse(slug_counters=counters)


def ids_table(response: dispatch_pb2.ListWorkflowIdsResponse) -> Table:
    return (
        ("slug", "counter", "last claimed"),
        [(c.slug, c.counter, epoch(c.last_claimed_epoch)) for c in response.slug_counters],
    )


# --- schedules -------------------------------------------------------------------------


async def list_schedules(args: argparse.Namespace, stubs: Stubs) -> Message:
    request = schedules_pb2.ListSchedulesRequest(
        page_size=200, workflow_type=args.workflow_type or ""
    )
    schedules = await _all_pages(stubs.schedules.ListSchedules, request, "schedules")
    return schedules_pb2.ListSchedulesResponse(schedules=schedules)


def schedules_table(response: schedules_pb2.ListSchedulesResponse) -> Table:
    return (
        ("schedule", "workflow type", "paused", "next fire", "note"),
        [
            (s.id, s.workflow_type, s.paused, s.next_fires[0] if s.next_fires else "-", s.note)
            for s in response.schedules
        ],
    )


def schedule_table(schedule: Any) -> Table:
    spec = schedule.spec
    when = [
        *spec.cron_expressions,
        *(f"every {i.every_seconds}s" for i in spec.intervals),
        *(calendar_text(c) for c in spec.calendars),
    ]
    rows: list[Sequence[Any]] = [
        ("schedule", schedule.id),
        ("workflow type", schedule.workflow_type),
        ("task queue", schedule.task_queue),
        ("workflow id", schedule.workflow_id or "-"),
        ("spec", when or "-"),
        ("paused", schedule.paused),
        ("note", schedule.note or "-"),
        ("next fires", list(schedule.next_fires[:3]) or "-"),
        ("actions taken", schedule.action_count),
        ("input valid", schedule.input_valid),
        ("input", json.dumps(whole_numbers(json_format.MessageToDict(schedule.input)))),
    ]
    rows += [("input violation", f"{v.field}: {v.message}") for v in schedule.input_violations]
    return ("field", "value"), rows


def calendar_text(calendar: schedules_pb2.CalendarSpec) -> str:
    """A calendar spec as its set fields: `hour=2 minute=0` (Temporal keeps a cron
    expression as calendars)."""
    fields = json_format.MessageToDict(calendar, preserving_proto_field_name=True)
    return " ".join(f"{name}={value}" for name, value in fields.items()) or "calendar"


def _schedule_of(response: schedules_pb2.CreateScheduleResponse) -> Table:
    headers, rows = schedule_table(response.schedule)
    return headers, [*rows, *(("warning", f"{w.field}: {w.message}") for w in response.warnings)]


async def get_schedule(args: argparse.Namespace, stubs: Stubs) -> Message:
    response: Message = await stubs.schedules.GetSchedule(
        schedules_pb2.GetScheduleRequest(schedule_id=args.schedule_id)
    )
    return response


async def create_schedule(args: argparse.Namespace, stubs: Stubs) -> Message:
    if args.body is not None:
        request = request_from_body(
            args.body, schedules_pb2.CreateScheduleRequest(), schedule_id=args.schedule_id
        )
    else:
        if not args.workflow_type:
            raise UsageError("schedules create needs --workflow-type (or --body)")
        request = schedules_pb2.CreateScheduleRequest(
            schedule_id=args.schedule_id,
            workflow_type=args.workflow_type,
            workflow_id=args.workflow_id or "",
            note=args.note or "",
            paused=args.paused,
            overlap_policy=args.overlap_policy or "",
            spec=schedules_pb2.ScheduleSpec(
                cron_expressions=args.cron,
                intervals=[schedules_pb2.IntervalSpec(every_seconds=s) for s in args.every],
                time_zone_name=args.time_zone or "",
            ),
        )
        if args.input is not None:
            request.input.CopyFrom(json_value(read_json_argument(args.input, "--input")))
    response: Message = await stubs.schedules.CreateSchedule(request)
    return response


async def update_schedule(args: argparse.Namespace, stubs: Stubs) -> Message:
    """Replace a schedule with --body; the conflict token defaults to the current one."""
    request = request_from_body(
        args.body, schedules_pb2.UpdateScheduleRequest(), schedule_id=args.schedule_id
    )
    assert isinstance(request, schedules_pb2.UpdateScheduleRequest)
    if not request.conflict_token:
        current = await stubs.schedules.GetSchedule(
            schedules_pb2.GetScheduleRequest(schedule_id=args.schedule_id)
        )
        request.conflict_token = current.conflict_token
    response: Message = await stubs.schedules.UpdateSchedule(request)
    return response


async def pause_schedule(args: argparse.Namespace, stubs: Stubs) -> Message:
    request = schedules_pb2.PauseScheduleRequest(schedule_id=args.schedule_id, note=args.note)
    response: Message = await stubs.schedules.PauseSchedule(request)
    return response


async def unpause_schedule(args: argparse.Namespace, stubs: Stubs) -> Message:
    request = schedules_pb2.UnpauseScheduleRequest(schedule_id=args.schedule_id, note=args.note)
    response: Message = await stubs.schedules.UnpauseSchedule(request)
    return response


async def trigger_schedule(args: argparse.Namespace, stubs: Stubs) -> Message:
    request = schedules_pb2.TriggerScheduleRequest(
        schedule_id=args.schedule_id, overlap_policy=args.overlap_policy or ""
    )
    response: Message = await stubs.schedules.TriggerSchedule(request)
    return response


async def backfill_schedule(args: argparse.Namespace, stubs: Stubs) -> Message:
    request = schedules_pb2.BackfillScheduleRequest(
        schedule_id=args.schedule_id,
        start_at=args.start_at,
        end_at=args.end_at,
        overlap_policy=args.overlap_policy or "",
    )
    response: Message = await stubs.schedules.BackfillSchedule(request)
    return response


async def delete_schedule(args: argparse.Namespace, stubs: Stubs) -> Message:
    response: Message = await stubs.schedules.DeleteSchedule(
        schedules_pb2.DeleteScheduleRequest(schedule_id=args.schedule_id)
    )
    return response


def done_table(_: Message) -> Table:
    return ("result",), [("done",)]


def fields_table(message: Message) -> Table:
    """Any flat response as field/value rows."""
    fields = json_format.MessageToDict(
        message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )
    rows: list[Sequence[Any]] = list(fields.items())
    return ("field", "value"), rows


# --- search attributes -----------------------------------------------------------------


async def list_search_attributes(args: argparse.Namespace, stubs: Stubs) -> Message:
    if args.temporal:
        response: Message = await stubs.search_attributes.ListTemporalSearchAttributes(
            search_attributes_pb2.ListTemporalSearchAttributesRequest()
        )
    else:
        response = await stubs.search_attributes.ListDeclaredSearchAttributes(
            search_attributes_pb2.ListDeclaredSearchAttributesRequest()
        )
    return response


def search_attributes_table(response: Any) -> Table:
    attributes = response.search_attributes
    if isinstance(response, search_attributes_pb2.ListTemporalSearchAttributesResponse):
        return ("name", "type", "source"), [(a.name, a.type, a.source) for a in attributes]
    return (
        ("name", "type", "workflows", "description"),
        [(a.name, a.type, list(a.workflows), a.description) for a in attributes],
    )


async def reconcile_search_attributes(args: argparse.Namespace, stubs: Stubs) -> Message:
    request = search_attributes_pb2.ReconcileSearchAttributesRequest(
        mode=args.mode, attributes=args.attribute, confirm=args.confirm
    )
    response: Message = await stubs.search_attributes.ReconcileSearchAttributes(request)
    return response


def reconcile_table(response: search_attributes_pb2.ReconcileSearchAttributesResponse) -> Table:
    rows: list[Sequence[Any]] = [(a, "missing") for a in response.missing]
    rows += [(a, "added") for a in response.added]
    rows += [(a, "replaced") for a in response.replaced]
    rows += [(a, "unchanged") for a in response.unchanged]
    rows += [
        (c.name, f"conflict: {c.existing_type} in Temporal, {c.desired_type} wanted by {c.source}")
        for c in response.conflicts
    ]
    rows += [(r.name, f"refused: {r.reason}") for r in response.refused]
    rows += [("-", f"warning: {w}") for w in response.warnings]
    return ("attribute", f"{response.mode}"), rows


# --- the parser ------------------------------------------------------------------------


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the client commands to the `temporal-registry` parser."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--address", help="registry gRPC host:port (default: $REGISTRY_ADDRESS or 127.0.0.1:8080)"
    )
    common.add_argument(
        "-o", "--output", choices=("table", "json"), default="table", help="output format"
    )

    def group(name: str, help_text: str) -> argparse._SubParsersAction[argparse.ArgumentParser]:
        parser = commands.add_parser(name, help=help_text, description=help_text)
        return parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    def command(
        actions: argparse._SubParsersAction[argparse.ArgumentParser] | None,
        name: str,
        help_text: str,
        call: Call,
        tabulate: Tabulate,
    ) -> argparse.ArgumentParser:
        where = commands if actions is None else actions
        parser = where.add_parser(name, help=help_text, description=help_text, parents=[common])
        parser.set_defaults(handler=_handler(call, tabulate))
        return parser

    workflows = group("workflows", "list, inspect, enable and disable workflow types")
    listing = command(workflows, "list", "list workflow types", list_workflows, workflows_table)
    listing.add_argument("-l", "--label", help="label selector, e.g. team=payments,tier!=batch")
    _tristate(listing, "enabled", "disabled", "only enabled / only disabled types")
    _tristate(listing, "healthy", "unhealthy", "only types with / without a live worker")
    get = command(workflows, "get", "show one workflow type", get_workflow, workflow_table)
    get.add_argument("workflow_type")
    enable = command(workflows, "enable", "enable a workflow type", enable_workflow, workflow_table)
    enable.add_argument("workflow_type")
    disable = command(
        workflows, "disable", "disable a workflow type", disable_workflow, workflow_table
    )
    disable.add_argument("workflow_type")
    disable.add_argument("--reason", required=True, help="why (shown to callers that start it)")
    watching = workflows.add_parser(
        "watch",
        help="print the catalogue's changes as they happen, until Ctrl-C",
        description="Print the catalogue's changes as they happen, until Ctrl-C: first its"
        " state (WORKFLOW_ADDED per type, WORKER_REGISTERED per worker), then SYNCED, then"
        " each change (workflow types and workers), a line each (-o json: one JSON object"
        " per line). Reconnects by itself; Ctrl-C prints the --resume-token to go on from.",
        parents=[common],
    )
    watching.set_defaults(handler=watch_catalog)
    watching.add_argument(
        "--resume-token", help="go on after the event of this token (no state first)"
    )
    watching.add_argument(
        "--until-synced",
        action="store_true",
        help="stop at the first SYNCED: the state (or, with --resume-token, what changed since)",
    )

    workers = group("workers", "list and inspect registered workers")
    listing = command(workers, "list", "list workers", list_workers, workers_table)
    listing.add_argument("--task-queue", help="only workers polling this task queue")
    listing.add_argument("--workflow-type", help="only workers running this workflow type")
    get = command(workers, "get", "show one worker", get_worker, worker_table)
    get.add_argument("worker_id")

    start = command(
        None, "start", "start a workflow on its task queue", start_workflow, started_table
    )
    start.add_argument("workflow_type")
    start.add_argument("-i", "--input", help="input as JSON, @file or @- for standard input")
    start.add_argument("--workflow-id", help="explicit workflow id")
    start.add_argument("--name", help="readable name: the id becomes <slug>-<n>")
    start.add_argument("--request-id", help="idempotency key: a retry starts nothing new")
    start.add_argument(
        "--search-attribute", action="append", default=[], metavar="KEY=VALUE", help="repeatable"
    )
    start.add_argument("--memo", action="append", default=[], metavar="KEY=VALUE")
    start.add_argument("--label-selector", help="only workers whose labels match")
    start.add_argument("--execution-timeout", type=int, metavar="SECONDS")
    start.add_argument(
        "--validate-only", action="store_true", help="check everything, start nothing"
    )

    ids = group("ids", "readable workflow ids")
    claim = command(ids, "claim", "claim the next id for a name", claim_id, fields_table)
    claim.add_argument("name")
    claim.add_argument("--request-id", help="idempotency key")
    reset = command(ids, "reset", "reset a name's counter", reset_id, fields_table)
    reset.add_argument("name")
    command(ids, "list", "list names and counters", list_ids, ids_table)

    schedules = group("schedules", "Temporal schedules of registered workflow types")
    listing = command(schedules, "list", "list schedules", list_schedules, schedules_table)
    listing.add_argument("--workflow-type", help="only schedules of this workflow type")
    get = command(schedules, "get", "show one schedule", get_schedule, schedule_table)
    get.add_argument("schedule_id")
    create = command(schedules, "create", "create a schedule", create_schedule, _schedule_of)
    create.add_argument("schedule_id")
    create.add_argument(
        "--body", help="the whole request as JSON, @file or @- (the HTTP API's body)"
    )
    create.add_argument("--workflow-type")
    create.add_argument("--cron", action="append", default=[], help="cron expression; repeatable")
    create.add_argument("--every", action="append", type=int, default=[], metavar="SECONDS")
    create.add_argument("--time-zone", help="IANA time zone of the cron expressions")
    create.add_argument("-i", "--input", help="input as JSON, @file or @-")
    create.add_argument("--workflow-id", help="id of each run (Temporal appends the time)")
    create.add_argument("--overlap-policy", help="e.g. skip, buffer_one, allow_all")
    create.add_argument("--note")
    create.add_argument("--paused", action="store_true", help="create it paused")
    update = command(
        schedules, "update", "replace a schedule's action and spec", update_schedule, schedule_table
    )
    update.add_argument("schedule_id")
    update.add_argument(
        "--body", required=True, help="the PUT body as JSON, @file or @- (conflict token optional)"
    )
    for name, call, help_text in (
        ("pause", pause_schedule, "pause a schedule"),
        ("unpause", unpause_schedule, "unpause a schedule"),
    ):
        parser = command(schedules, name, help_text, call, schedule_table)
        parser.add_argument("schedule_id")
        parser.add_argument("--note", default="", help="why (kept on the schedule)")
    trigger = command(schedules, "trigger", "start one run now", trigger_schedule, done_table)
    trigger.add_argument("schedule_id")
    trigger.add_argument("--overlap-policy")
    backfill = command(
        schedules, "backfill", "run the actions of a past period", backfill_schedule, done_table
    )
    backfill.add_argument("schedule_id")
    backfill.add_argument("--start-at", required=True, help="RFC 3339 time")
    backfill.add_argument("--end-at", required=True, help="RFC 3339 time")
    backfill.add_argument("--overlap-policy")
    delete = command(schedules, "delete", "delete a schedule", delete_schedule, done_table)
    delete.add_argument("schedule_id")

    attributes = group("search-attributes", "search attributes, declared and in Temporal")
    listing = command(
        attributes,
        "list",
        "search attributes the workflow types declare",
        list_search_attributes,
        search_attributes_table,
    )
    listing.add_argument(
        "--temporal", action="store_true", help="list the namespace's attributes instead"
    )
    reconcile = command(
        attributes,
        "reconcile",
        "compare (validate), add missing (ensure) or retype (replace) attributes in Temporal",
        reconcile_search_attributes,
        reconcile_table,
    )
    reconcile.add_argument("--mode", choices=("validate", "ensure", "replace"), default="validate")
    reconcile.add_argument(
        "--attribute", action="append", default=[], help="only this attribute; repeatable"
    )
    reconcile.add_argument("--confirm", action="store_true", help="required by replace")


def _tristate(parser: argparse.ArgumentParser, yes: str, no: str, help_text: str) -> None:
    """--yes / --no flags that set args.<yes> to True / False (None when neither)."""
    choice = parser.add_mutually_exclusive_group()
    choice.add_argument(f"--{yes}", dest=yes, action="store_const", const=True, help=help_text)
    choice.add_argument(f"--{no}", dest=yes, action="store_const", const=False)
    parser.set_defaults(**{yes: None})
