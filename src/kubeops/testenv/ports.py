"""Loopback ports for control-plane components."""

from __future__ import annotations

import errno
import socket

from kubeops.testenv.errors import PortInUse

HOST = "127.0.0.1"


def free_port() -> int:
    """A port the kernel just had free on 127.0.0.1 (a race remains; starts retry on it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def ensure_free(port: int, who: str) -> None:
    """Raise :class:`PortInUse` naming ``who`` if ``port`` cannot be bound on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError as err:
            if err.errno != errno.EADDRINUSE:
                raise
            raise PortInUse(
                f"cannot start {who}: port {HOST}:{port} is already in use by another process "
                f"(see `ss -ltnp 'sport = :{port}'`); choose another port or stop that process"
            ) from None
