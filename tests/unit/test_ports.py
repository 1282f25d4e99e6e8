"""The startup port check: a port a live socket listens on is taken; a port that only has
connections in TIME-WAIT (a server that closed first, e.g. after a crash or Ctrl-C) is free,
as it is for the real servers, which bind with SO_REUSEADDR."""

from __future__ import annotations

import socket

import pytest

from registry.server.ports import PortInUseError, _ephemeral_range, ensure_ports_free, free_port


def _leave_time_wait(host: str) -> int:
    """A port whose listener (with SO_REUSEADDR, as every real server here sets) is gone but
    whose server side of a connection sits in TIME-WAIT."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, 0))
        listener.listen()
        port: int = listener.getsockname()[1]
        client = socket.create_connection((host, port))
        accepted, _ = listener.accept()
        accepted.close()  # the server closes first: its side goes to TIME-WAIT
        client.recv(1)  # the FIN
        client.close()
    return port


def test_a_port_in_time_wait_counts_as_free() -> None:
    port = _leave_time_wait("127.0.0.1")
    # The old check's plain bind fails there...
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as plain, pytest.raises(OSError):
        plain.bind(("127.0.0.1", port))
    # ...but the servers' bind works, so the check must not refuse it.
    ensure_ports_free([("server.grpc_port", "127.0.0.1", port)])


def test_a_listening_port_is_named_as_taken() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        with pytest.raises(PortInUseError, match=rf"port {port} \(server.grpc_port\)"):
            ensure_ports_free(
                [
                    ("server.grpc_port", "127.0.0.1", port),
                    ("server.http_port", "127.0.0.1", free_port()),
                ]
            )


def test_free_ports_stay_clear_of_the_ephemeral_range() -> None:
    low, high = _ephemeral_range()
    ports = {free_port() for _ in range(50)}
    assert not [p for p in ports if low <= p <= high]
    assert len(ports) > 40  # spread, not one port over and over
