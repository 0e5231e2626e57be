"""Two questions testenv asks a starting Kafka broker over a plain socket.

Cheap enough to poll every 100 ms while the JVM starts, and each proves the broker
answers requests, not merely that its port is open: whether it lists itself as a
live broker (Metadata v4), and whether its group coordinator has loaded the
consumer offsets (FindCoordinator v1, then OffsetFetch v3 for a probe group).
Only non-flexible request versions Kafka 4.x still accepts are used, so the
encoding is a few ``struct`` calls.
"""

from __future__ import annotations

import socket
import struct

CLIENT_ID = b"kubeops-testenv"
PROBE_GROUP = b"kubeops-testenv-probe"
_METADATA, _FIND_COORDINATOR, _OFFSET_FETCH = 3, 10, 9


def _string(value: bytes) -> bytes:
    return struct.pack(">h", len(value)) + value


def request(host: str, port: int, api_key: int, version: int, body: bytes, timeout: float) -> bytes:
    """Send one request (header v1) and return the response body after the correlation id."""
    header = struct.pack(">hhi", api_key, version, 1) + _string(CLIENT_ID)
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(struct.pack(">i", len(header) + len(body)) + header + body)
        (size,) = struct.unpack(">i", _read(sock, 4))
        data = _read(sock, size)
    (correlation,) = struct.unpack_from(">i", data, 0)
    if correlation != 1:
        raise ValueError(f"unexpected correlation id {correlation}")
    return data[4:]


def metadata_brokers(host: str, port: int, timeout: float = 1.0) -> list[int]:
    """The node ids of the live brokers the broker at ``host:port`` reports."""
    # Body: an empty topic array (no topics), allow_auto_topic_creation false.
    data = request(host, port, _METADATA, 4, struct.pack(">ib", 0, 0), timeout)
    _throttle, count = struct.unpack_from(">ii", data, 0)
    offset, nodes = 8, []
    for _ in range(count):
        (node,) = struct.unpack_from(">i", data, offset)
        (host_len,) = struct.unpack_from(">h", data, offset + 4)
        offset += 6 + host_len + 4  # node id, host, port
        (rack_len,) = struct.unpack_from(">h", data, offset)
        offset += 2 + max(rack_len, 0)
        nodes.append(node)
    return nodes


def groups_ready(host: str, port: int, timeout: float = 1.0) -> bool:
    """Whether consumer groups work: the coordinator is known and has loaded its offsets.

    The first call makes the broker create its offsets topic; until that is loaded
    a group's committed offsets would read as absent."""
    found = request(
        host, port, _FIND_COORDINATOR, 1, _string(PROBE_GROUP) + struct.pack(">b", 0), timeout
    )
    _throttle, error = struct.unpack_from(">ih", found, 0)
    if error != 0:
        return False
    # OffsetFetch v3: the group, null topics (all); the answer ends with its error code.
    fetched = request(
        host, port, _OFFSET_FETCH, 3, _string(PROBE_GROUP) + struct.pack(">i", -1), timeout
    )
    (error,) = struct.unpack_from(">h", fetched, len(fetched) - 2)
    return bool(error == 0)


def _read(sock: socket.socket, size: int) -> bytes:
    buffer = bytearray()
    while len(buffer) < size:
        chunk = sock.recv(size - len(buffer))
        if not chunk:
            raise ConnectionError("Kafka closed the connection")
        buffer += chunk
    return bytes(buffer)
