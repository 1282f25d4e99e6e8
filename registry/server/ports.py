"""Checking that the ports a process is about to listen on are free, so a
clash is reported by name instead of as a bind error deep in a library."""

from __future__ import annotations

import socket
from collections.abc import Iterable


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
    """A port the OS considers free right now (for tests and tools)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port
