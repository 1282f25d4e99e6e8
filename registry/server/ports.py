"""Checking that the ports a process is about to listen on are free, so a
clash is reported by name instead of as a bind error deep in a library."""

from __future__ import annotations

import random
import socket
from collections.abc import Iterable
from pathlib import Path


class PortInUseError(RuntimeError):
    pass


def ensure_ports_free(ports: Iterable[tuple[str, str, int]]) -> None:
    """ports: (config key, host, port). Raises PortInUseError naming every taken one."""
    taken = [
        f"port {port} ({name}) on {host} is already in use"
        for name, host, port in ports
        if not _can_bind(host, port)
    ]
    if taken:
        raise PortInUseError("; ".join(taken))


def _can_bind(host: str, port: int) -> bool:
    """Bind as the servers will: with SO_REUSEADDR, which gRPC, aiohttp, Temporal and Envoy
    all set. A connection left in TIME-WAIT (after a crash or a quick restart) then doesn't
    count as taken; a live listener still does (Linux refuses a second bind while one
    listens, SO_REUSEADDR or not)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    """A port free right now (for tests and tools), chosen outside the kernel's ephemeral range:
    a port from that range can be taken, before its server binds it, by any outgoing
    connection the machine opens meanwhile (a test suite opens thousands)."""
    low, high = _ephemeral_range()
    for _ in range(200):
        port = random.randint(_UNPRIVILEGED_FROM, 65535)
        if low <= port <= high:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((host, port))  # no SO_REUSEADDR: a port in TIME-WAIT is not free
            except OSError:
                continue
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:  # a crowded machine
        sock.bind((host, 0))
        found: int = sock.getsockname()[1]
        return found


_UNPRIVILEGED_FROM = 10_000  # clear of well-known and registered low ports


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999  # Linux's default
