"""The validation process: `python -m registry.validation_worker <parent pid>`, started by
registry.validation. It reads requests from stdin and writes answers to stdout, each a pickle
preceded by its length (8 bytes, big-endian): a request is `(canonical schema JSON, input)`,
an answer `("ok", [FieldViolation, ...])` or `("invalid_schema", [FieldViolation, ...])`.
It first answers `("ready", [])`, and dies with its parent. Only the registry talks to it."""

from __future__ import annotations

import contextlib
import ctypes
import os
import pickle
import signal
import struct
import sys
from typing import Any, BinaryIO, Final

HEADER: Final = struct.Struct(">Q")
_PR_SET_PDEATHSIG: Final = 1


def read_frame(stream: BinaryIO) -> Any:
    """The next pickled frame from `stream`; EOFError at its end."""
    header = stream.read(HEADER.size)
    if len(header) < HEADER.size:
        raise EOFError
    (length,) = HEADER.unpack(header)
    payload = stream.read(length)
    if len(payload) < length:
        raise EOFError
    return pickle.loads(payload)


def frame(value: Any) -> bytes:
    payload = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    return HEADER.pack(len(payload)) + payload


def _die_with_parent(parent_pid: int) -> None:
    """SIGKILL when the registry goes (Linux); exit at once if it already has."""
    with contextlib.suppress(OSError, AttributeError):  # not Linux: stdin's end stops it
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent_pid:
        os._exit(0)


def main() -> None:
    _die_with_parent(int(sys.argv[1]))
    requests, answers = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing else may write to the answer stream

    import json
    from functools import lru_cache

    from registry.shared.schemas import InputValidator, InvalidSchemaError

    @lru_cache(maxsize=64)
    def validator(canonical: str) -> InputValidator:
        return InputValidator(json.loads(canonical), canonical)  # the registry checked it

    answers.write(frame(("ready", [])))
    answers.flush()
    while True:
        try:
            canonical, instance = read_frame(requests)
        except EOFError:
            return
        try:
            answer = ("ok", validator(canonical).violations(instance))
        except InvalidSchemaError as error:
            answer = ("invalid_schema", error.violations)
        answers.write(frame(answer))
        answers.flush()


if __name__ == "__main__":
    main()
