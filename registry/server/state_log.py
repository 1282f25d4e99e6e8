"""Logging a condition that repeats (Temporal unreachable, a background step failing every
two seconds) once when it starts, once when it changes and once when it ends, rather than a
traceback on every repetition."""

from __future__ import annotations

import logging

from temporalio.service import RPCError

from registry.server.errors import RegistryError


def summary(error: BaseException) -> str:
    """One line saying what went wrong, without a traceback."""
    if isinstance(error, RegistryError):
        return f"{error.reason}: {error.message}"
    if isinstance(error, RPCError):
        return f"{error.status.name}: {error.message}"
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


class StateLog:
    """One line per change of a condition; the traceback of each failure only at DEBUG."""

    def __init__(self, logger: logging.Logger, what: str) -> None:
        self._logger = logger
        self._what = what
        self.failing: str | None = None  # the summary of the current failure, if any

    def failed(self, error: BaseException) -> None:
        line = summary(error)
        if line != self.failing:
            self._logger.warning("%s: %s", self._what, line)
            self.failing = line
        self._logger.debug("%s failed", self._what, exc_info=error)

    def ok(self) -> None:
        if self.failing is not None:
            self._logger.info("%s: recovered", self._what)
            self.failing = None
