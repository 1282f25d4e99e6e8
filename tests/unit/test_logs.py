"""Log records: JSON lines with RFC 3339 UTC timestamps and the request id; text for a
terminal with the same timestamps; `up` also writes JSON to a file."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from registry.server.logs import (
    JsonFormatter,
    TextFormatter,
    configure_logging,
    request_id_var,
    rfc3339,
)


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    for handler in root.handlers:
        if handler not in handlers:
            handler.close()
    root.handlers[:] = handlers
    root.setLevel(level)


def record(message: str = "hello %s", *args: object) -> logging.LogRecord:
    made = logging.LogRecord("registry.test", logging.INFO, __file__, 1, message, args, None)
    made.created = 1764750180.1234  # 2025-12-03T08:23:00.123Z
    return made


def test_timestamps_are_rfc3339_utc_to_the_millisecond() -> None:
    assert rfc3339(1764750180.1234) == "2025-12-03T08:23:00.123Z"
    assert rfc3339(0) == "1970-01-01T00:00:00.000Z"


def test_json_lines_carry_the_time_level_logger_message_request_id_and_extras() -> None:
    token = request_id_var.set("req-1")
    try:
        entry = record("hello %s", "world")
        entry.rpc = "/x.Y/Z"
        line = json.loads(JsonFormatter().format(entry))
    finally:
        request_id_var.reset(token)
    assert line == {
        "ts": "2025-12-03T08:23:00.123Z",
        "level": "info",
        "logger": "registry.test",
        "msg": "hello world",
        "request_id": "req-1",
        "rpc": "/x.Y/Z",
    }


def test_text_lines_start_with_the_same_timestamp() -> None:
    assert TextFormatter().format(record("hi")) == "2025-12-03T08:23:00.123Z INFO registry.test hi"


@pytest.mark.usefixtures("restore_logging")
def test_a_log_file_gets_json_lines_beside_the_terminal_output(tmp_path: Path) -> None:
    log_file = tmp_path / "data" / "registry.log"
    configure_logging("INFO", json_format=False, log_file=log_file)
    logging.getLogger("registry.test").info("ready on %d", 50051)
    for handler in logging.getLogger().handlers:
        handler.flush()
    [line] = log_file.read_text().splitlines()
    entry = json.loads(line)
    assert entry["msg"] == "ready on 50051"
    assert entry["ts"].endswith("Z")
