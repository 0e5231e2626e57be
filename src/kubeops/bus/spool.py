"""The on-disk spool between the event sources and the broker: ordered, bounded, crash-safe.

Every event to publish is appended here first, so a broker outage or a restart
loses nothing: the sender reads from the head, and the head moves only when the
broker has acknowledged.  The layout is Kafka's own idea in small:

* numbered segment files ``<n>.seg`` of length-prefixed records
  (``u32 body length | u32 crc32(body) | body``, body = ``f64 enqueue time |
  u32 key length | key | value``), appended with one ``write`` each;
* a ``head`` file holding where the first unacknowledged record is (segment and
  offset, with a checksum), replaced atomically (write, fsync, rename) on each
  acknowledgement;
* a segment is deleted once every record in it is acknowledged.

Crash safety: a ``write`` reaches the page cache at once, so a killed process
loses nothing; a machine crash may lose what was appended since the last
:meth:`Spool.sync` (the publisher syncs every second, and on close) -- a torn or
corrupt last record is detected by its length and checksum on reopen and cut
off.  A record acknowledged just before a crash whose head was not yet written is
sent again: delivery is at least once, and the consumer's dedup by event id (and
the ledger) absorbs it.

Bounded: past ``max_bytes`` of unacknowledged records :meth:`Spool.append`
refuses (returns False) and counts it; the caller decides what to log.
"""

from __future__ import annotations

import fcntl
import os
import struct
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

from kubeops.errors import KubeopsError

_HEADER = struct.Struct(">II")
_BODY = struct.Struct(">dI")
_HEAD = struct.Struct(">QQI")
SEGMENT_BYTES = 16 * 1024 * 1024
"""A segment is closed (and a new one started) past this size."""


class SpoolError(KubeopsError):
    """The spool directory cannot be used (in use by another process, unwritable)."""


@dataclass(frozen=True, slots=True)
class Record:
    """One spooled message: its place in order, key, value and when it was appended."""

    seq: int
    key: bytes
    value: bytes
    time: float


@dataclass(slots=True)
class _Entry:
    segment: int  # the segment's first seq
    offset: int
    size: int  # header + body
    time: float


class Spool:
    """An ordered, bounded, crash-safe queue of records on disk; see the module doc."""

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        max_bytes: int,
        segment_bytes: int = SEGMENT_BYTES,
    ) -> None:
        self.dir = Path(directory)
        self.max_bytes = max_bytes
        self.segment_bytes = segment_bytes
        self.refused = 0
        """How many appends were refused because the spool was full."""
        self.truncated = 0
        """How many torn or corrupt records were cut off when the spool was opened."""
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            self._lock = os.open(self.dir / "lock", os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as err:
            raise SpoolError(f"spool {self.dir}: cannot open: {err.strerror or err}") from None
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(self._lock)
            raise SpoolError(f"spool {self.dir}: in use by another process") from None
        self._readers: dict[int, int] = {}
        self._entries: list[_Entry] = []
        self._first = 0  # index in _entries of the head record
        self._head = 0  # seq of the head record (seqs count from 0 at each open)
        self._size = 0
        self._writer = -1
        self._writer_segment = 0
        self._writer_size = 0
        self._dirty = False
        self._recover()

    # --- reading the state --------------------------------------------------------------------

    def __len__(self) -> int:
        """Records not yet acknowledged."""
        return len(self._entries) - self._first

    @property
    def size(self) -> int:
        """The unacknowledged records' size on disk (what ``max_bytes`` bounds)."""
        return self._size

    @property
    def head(self) -> int:
        """The sequence number of the first unacknowledged record (numbered from 0 when
        the spool is opened; the order on disk is what lasts)."""
        return self._head

    @property
    def tail(self) -> int:
        """The sequence number the next appended record gets."""
        return self._head + len(self)

    def oldest(self) -> float | None:
        """When the oldest unacknowledged record was appended (``time.time()``), or None."""
        return self._entries[self._first].time if len(self) else None

    # --- writing ---------------------------------------------------------------------------

    def append(self, key: bytes, value: bytes) -> bool:
        """Add a record at the tail; False (and counted) when it would pass ``max_bytes``."""
        body = _BODY.pack(time.time(), len(key)) + key + value
        size = _HEADER.size + len(body)
        if self._size + size > self.max_bytes:
            self.refused += 1
            return False
        if self._writer < 0 or self._writer_size >= self.segment_bytes:
            self._roll()
        record = _HEADER.pack(len(body), zlib.crc32(body)) + body
        written = os.write(self._writer, record)
        if written != size:  # a short write (disk full): cut it off, as recovery would
            os.ftruncate(self._writer, self._writer_size)
            raise SpoolError(f"spool {self.dir}: short write ({written} of {size} bytes)")
        self._entries.append(_Entry(self._writer_segment, self._writer_size, size, _when(body)))
        self._writer_size += size
        self._size += size
        self._dirty = True
        return True

    def peek(self, start: int, limit: int) -> list[Record]:
        """Up to ``limit`` records from sequence number ``start`` (at least the head) on."""
        first = max(start, self._head) - self._head + self._first
        out = []
        for index in range(first, min(first + limit, len(self._entries))):
            entry = self._entries[index]
            raw = os.pread(self._reader(entry.segment), entry.size, entry.offset)
            body = raw[_HEADER.size :]
            stamp, key_length = _BODY.unpack_from(body)
            key = body[_BODY.size : _BODY.size + key_length]
            value = body[_BODY.size + key_length :]
            out.append(Record(self._head + index - self._first, key, value, stamp))
        return out

    def ack(self, upto: int) -> None:
        """Every record before sequence number ``upto`` reached the broker: drop them."""
        count = min(upto, self.tail) - self._head
        if count <= 0:
            return
        for entry in self._entries[self._first : self._first + count]:
            self._size -= entry.size
        self._first += count
        self._head += count
        self._write_head()
        if self._first > 4096 and self._first * 2 > len(self._entries):
            del self._entries[: self._first]
            self._first = 0
        self._drop_acked_segments()

    def sync(self) -> None:
        """Make what was appended survive a machine crash (fsync the current segment)."""
        if self._dirty and self._writer >= 0:
            os.fsync(self._writer)
            self._dirty = False

    def close(self) -> None:
        """Sync and release the directory."""
        self.sync()
        for fd in self._readers.values():
            os.close(fd)
        self._readers.clear()
        if self._writer >= 0:
            os.close(self._writer)
            self._writer = -1
        os.close(self._lock)

    # --- files -----------------------------------------------------------------------------

    def _segments(self) -> list[int]:
        return sorted(int(p.stem) for p in self.dir.glob("*.seg") if p.stem.isdigit())

    def _path(self, segment: int) -> Path:
        return self.dir / f"{segment:020d}.seg"

    def _reader(self, segment: int) -> int:
        fd = self._readers.get(segment)
        if fd is None:
            fd = self._readers[segment] = os.open(self._path(segment), os.O_RDONLY)
        return fd

    def _roll(self) -> None:
        if self._writer >= 0:
            self.sync()
            os.close(self._writer)
        segments = self._segments()
        self._writer_segment = (segments[-1] + 1) if segments else 0
        path = self._path(self._writer_segment)
        self._writer = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._writer_size = os.fstat(self._writer).st_size
        _fsync_dir(self.dir)
        self._drop_acked_segments()

    def _position(self) -> tuple[int, int]:
        """Where the head record is on disk (the end of the written segment when none)."""
        if len(self):
            entry = self._entries[self._first]
            return entry.segment, entry.offset
        return self._writer_segment, self._writer_size

    def _write_head(self) -> None:
        segment, offset = self._position()
        check = zlib.crc32(struct.pack(">QQ", segment, offset))
        temp = self.dir / "head.tmp"
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, _HEAD.pack(segment, offset, check))
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, self.dir / "head")

    def _read_head(self) -> tuple[int, int]:
        try:
            data = (self.dir / "head").read_bytes()
        except FileNotFoundError:
            return (0, 0)
        if len(data) != _HEAD.size:
            return (0, 0)
        segment, offset, check = _HEAD.unpack(data)
        if check != zlib.crc32(struct.pack(">QQ", segment, offset)):
            return (0, 0)  # a torn head: send again from the oldest segment (at least once)
        return (segment, offset)

    def _drop_acked_segments(self) -> None:
        """Delete the segments before the head's (never the one being written)."""
        head_segment = self._position()[0]
        for segment in self._segments():
            if segment < head_segment and segment != self._writer_segment:
                fd = self._readers.pop(segment, None)
                if fd is not None:
                    os.close(fd)
                self._path(segment).unlink(missing_ok=True)

    def _recover(self) -> None:
        """Rebuild the index from the segments after the head; cut off torn or corrupt
        records (a torn tail after a crash; the rest of a segment after corruption)."""
        head_segment, head_offset = self._read_head()
        entries: list[_Entry] = []
        segments = self._segments()
        for segment in segments:
            if segment < head_segment:
                continue
            data = self._path(segment).read_bytes()
            offset = head_offset if segment == head_segment else 0
            while offset + _HEADER.size <= len(data):
                length, crc = _HEADER.unpack_from(data, offset)
                body = data[offset + _HEADER.size : offset + _HEADER.size + length]
                if len(body) != length or length < _BODY.size or zlib.crc32(body) != crc:
                    break
                entries.append(_Entry(segment, offset, _HEADER.size + length, _when(body)))
                offset += _HEADER.size + length
            if offset < len(data):
                self.truncated += 1
                with open(self._path(segment), "r+b") as stream:
                    stream.truncate(max(offset, 0))
                    os.fsync(stream.fileno())
        self._entries = entries
        self._size = sum(entry.size for entry in entries)
        if segments:
            self._writer_segment = segments[-1]
            self._writer = os.open(self._path(self._writer_segment), os.O_WRONLY | os.O_APPEND)
            self._writer_size = os.fstat(self._writer).st_size
        self._drop_acked_segments()


def _when(body: bytes) -> float:
    return float(_BODY.unpack_from(body)[0])


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
