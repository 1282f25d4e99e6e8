"""The client side: settings from the environment, errors as a person reads them, and the
pure helpers of the client commands (tables, JSON arguments, request bodies)."""

from __future__ import annotations

import io
from pathlib import Path

import grpc
import pytest
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from temporal_registry.v1 import schedules_pb2

from registry.client.commands import (
    UsageError,
    calendar_text,
    key_values,
    read_json_argument,
    render_table,
    request_from_body,
    whole_numbers,
)
from registry.client.connection import DEFAULT_ADDRESS, ClientSettings, RegistryCallError
from registry.shared.model import FieldViolation


def test_settings_come_from_the_environment_and_arguments_win() -> None:
    assert ClientSettings.from_env({}) == ClientSettings(DEFAULT_ADDRESS, "", False, None)
    env = {"REGISTRY_ADDRESS": "registry:443", "REGISTRY_TOKEN": "t" * 20, "REGISTRY_TLS": "True"}
    settings = ClientSettings.from_env(env, address="other:8080", token=None)
    assert (settings.address, settings.token, settings.tls) == ("other:8080", "t" * 20, True)
    with_ca = ClientSettings.from_env({"REGISTRY_CA_CERT": "/etc/ca.pem"})
    assert (with_ca.tls, with_ca.ca_cert) == (True, Path("/etc/ca.pem"))


def rich_error(code: grpc.StatusCode, message: str) -> grpc.aio.AioRpcError:
    details = [any_pb2.Any(), any_pb2.Any()]
    details[0].Pack(error_details_pb2.ErrorInfo(reason="INVALID_START", domain="temporal-registry"))
    details[1].Pack(
        error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(
                    field="input/order_id", description="is required"
                )
            ]
        )
    )
    status = status_pb2.Status(code=code.value[0], message=message, details=details)
    trailing = grpc.aio.Metadata(("grpc-status-details-bin", status.SerializeToString()))
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), trailing, details=message)


def test_an_error_reads_as_code_reason_message_and_one_line_per_field() -> None:
    failure = RegistryCallError.from_rpc_error(
        rich_error(grpc.StatusCode.INVALID_ARGUMENT, "bad input")
    )
    assert failure.reason == "INVALID_START"
    assert failure.violations == [FieldViolation("input/order_id", "is required")]
    assert (
        str(failure) == "INVALID_ARGUMENT (INVALID_START): bad input\n  input/order_id: is required"
    )
    assert failure.code.value[0] == code_pb2.INVALID_ARGUMENT


def test_an_error_names_each_bad_field_once() -> None:
    """The registry's message quotes the first violation (`field: description (and N more)`):
    the lines below it add only what the message does not already say."""
    summary = "input/order_id: is required"
    failure = RegistryCallError(
        grpc.StatusCode.INVALID_ARGUMENT,
        summary,
        "INVALID_START",
        [FieldViolation("input/order_id", "is required")],
    )
    assert failure.describe() == f"INVALID_ARGUMENT (INVALID_START): {summary}"
    several = RegistryCallError(
        grpc.StatusCode.INVALID_ARGUMENT,
        f"{summary} (and 1 more)",
        "INVALID_START",
        [FieldViolation("input/order_id", "is required"), FieldViolation("input/x", "no")],
    )
    assert several.describe().splitlines() == [
        f"INVALID_ARGUMENT (INVALID_START): {summary} (and 1 more)",
        "  input/x: no",
    ]


def test_an_error_without_details_keeps_code_and_message() -> None:
    plain = grpc.aio.AioRpcError(
        grpc.StatusCode.UNAVAILABLE, grpc.aio.Metadata(), grpc.aio.Metadata(), details="down"
    )
    assert str(RegistryCallError.from_rpc_error(plain)) == "UNAVAILABLE: down"


def test_tables_align_columns_and_spell_values() -> None:
    table = render_table(
        ("type", "healthy", "workers"), [("a", True, ["w1", "w2"]), ("long-name", False, [])]
    )
    assert table.splitlines() == [
        "TYPE       HEALTHY  WORKERS",
        "a          yes      w1,w2",
        "long-name  no",
    ]


def test_json_arguments_inline_from_a_file_or_stdin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert read_json_argument('{"a": 1}', "--input") == {"a": 1}
    (tmp_path / "in.json").write_text("[1, 2]")
    assert read_json_argument(f"@{tmp_path}/in.json", "--input") == [1, 2]
    monkeypatch.setattr("sys.stdin", io.StringIO('"text"'))
    assert read_json_argument("@-", "--input") == "text"
    with pytest.raises(UsageError, match="--input is not JSON"):
        read_json_argument("{a", "--input")
    with pytest.raises(UsageError, match="cannot read"):
        read_json_argument(f"@{tmp_path}/missing.json", "--input")


def test_key_values_parse_json_values_and_keep_other_text() -> None:
    assert key_values(["n=3", "s=plain", "b=true"], "--memo") == {"n": 3, "s": "plain", "b": True}
    with pytest.raises(UsageError, match="expected KEY=VALUE"):
        key_values(["novalue"], "--memo")


def test_a_request_body_is_the_http_body_with_the_path_fields_set() -> None:
    request = request_from_body(
        '{"workflow_type": "t", "interval_seconds": 60}',
        schedules_pb2.UpdateScheduleRequest(),
        schedule_id="s1",
    )
    assert isinstance(request, schedules_pb2.UpdateScheduleRequest)
    assert (request.schedule_id, request.workflow_type, request.interval_seconds) == ("s1", "t", 60)
    with pytest.raises(UsageError, match="--body"):
        request_from_body('{"no_such_field": 1}', schedules_pb2.UpdateScheduleRequest())
    with pytest.raises(UsageError, match="JSON object"):
        request_from_body("[]", schedules_pb2.UpdateScheduleRequest())


def test_json_values_print_whole_numbers_as_integers() -> None:
    assert whole_numbers({"n": 1.0, "x": 1.5, "list": [2.0, "a", True]}) == {
        "n": 1,
        "x": 1.5,
        "list": [2, "a", True],
    }
    assert whole_numbers(2.0**60) == 2.0**60  # beyond 2**53 a double is not an exact integer


def test_an_empty_table_says_so() -> None:
    assert render_table(("type", "healthy"), []) == "TYPE  HEALTHY\n(none)"


def test_a_calendar_reads_as_its_fields() -> None:
    calendar = schedules_pb2.CalendarSpec(hour="2", minute="0")
    assert calendar_text(calendar) == "minute=0 hour=2"
