"""The dev stack's child processes: they die with `up`, and a stack left running is named.

- Every child gets a parent-death signal (Linux `prctl(PR_SET_PDEATHSIG, SIGTERM)`), so
  when `up` dies without a chance to stop them (SIGKILL, the OOM killer), the kernel stops
  the Temporal dev server and Envoy instead of leaving them holding the stack's ports.
- `up` records its own pid and its children's in `<data dir>/stack.json` while it runs. If a
  later `up` finds that record with live processes in it (a stack from a crashed `up` on a
  system without parent-death signals, or another `up` on the same data dir), it names them
  and says how to stop them instead of failing on the first taken port.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

PR_SET_PDEATHSIG = 1  # from <sys/prctl.h>
RECORD_NAME = "stack.json"


def die_with_parent() -> Callable[[], None] | None:
    """A `preexec_fn` that makes the child receive SIGTERM when this process dies (None where
    the OS has no parent-death signal). Spawn from the thread that lives as long as the
    process: Linux sends the signal when the spawning *thread* exits."""
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(None, use_errno=True)  # loaded here, not in the forked child
    parent = os.getpid()

    def preexec() -> None:
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the parent died before the signal was armed
            os._exit(1)

    return preexec


@dataclass(frozen=True)
class RunningProcess:
    name: str
    pid: int
    argv0: str  # the executable, to tell a reused pid from ours


def this_process(name: str) -> RunningProcess:
    return RunningProcess(name, os.getpid(), _argv0(os.getpid()) or sys.executable)


def write_record(data_dir: Path, processes: list[RunningProcess]) -> None:
    """Record the running stack (replacing any earlier record)."""
    entries = [{"name": p.name, "pid": p.pid, "argv0": p.argv0} for p in processes]
    (data_dir / RECORD_NAME).write_text(json.dumps({"processes": entries}, indent=2) + "\n")


def clear_record(data_dir: Path) -> None:
    (data_dir / RECORD_NAME).unlink(missing_ok=True)


def leftover_processes(data_dir: Path) -> list[RunningProcess]:
    """The processes of a recorded stack that still run (same pid, same executable)."""
    try:
        recorded = json.loads((data_dir / RECORD_NAME).read_text())
        entries = [
            RunningProcess(str(e["name"]), int(e["pid"]), str(e["argv0"]))
            for e in recorded["processes"]
        ]
    except (OSError, ValueError, KeyError, TypeError):
        return []
    return [p for p in entries if p.pid != os.getpid() and _argv0(p.pid) == p.argv0]


def leftover_message(data_dir: Path, processes: list[RunningProcess]) -> str:
    names = ", ".join(f"{p.name} (pid {p.pid})" for p in processes)
    pids = " ".join(str(p.pid) for p in processes)
    return (
        f"a dev stack started from {data_dir} is still running: {names}; "
        f"stop it with `kill {pids}` (or Ctrl-C in the terminal of its `up`), then run again"
    )


def _argv0(pid: int) -> str | None:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return cmdline.split(b"\0", 1)[0].decode(errors="replace") or None
