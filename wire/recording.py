"""The session recording's file format (R5): hash-chained segments of the screen events the relay forwarded.

The relay writes ``sessions/<id>/recording/screen.wbrec`` (:mod:`relay.recording`); the workbench
reads it (:mod:`workbench.recordings`).  Both sides share this module: the standard library, and
the ``blake3`` package for the payload hash where it is installed.

Layout::

    b"WBREC1\\n"
    u32 big endian length | header JSON  {"format": "wbrec", "version": 1, "session_id", "started_at", ...}
    segment*:  b"SG" | u32 header length | u32 payload length | zlib(header JSON) | payload

A segment's header (stored deflated: frame headers repeat, and were most of a typing session's
bytes) is a record of the hash chain of :mod:`wire.chain` (``seq``, ``time``, ``kind: "segment"``,
``prev``, ``hash``) and holds ``t0``/``t1`` (seconds since ``started_at``), ``key`` (its first event
is a key frame), the payload's hash (``payload_blake3``; ``payload_sha256`` where the ``blake3``
package is missing, and in recordings made before it: :func:`payload_hash_name`) and ``events``:
``[t, name, body, offset, length]`` each, the event's body as the agent sent it (``screen.frame``,
``screen.info``, ``screen.state``) and its bytes in the payload.  ``journal`` ties the segment to the
agent's journal: the ``{seq, head}`` the relay's copy held when the segment was written, so a
recording cannot be moved to another session or reordered against the journal without the chain
check seeing it.

A segment is written whole, with one write, when a key frame starts the next one or after
:data:`SEGMENT_SECONDS`; a relay killed mid-recording leaves every earlier segment readable
(:func:`scan` stops at the first incomplete one and says where).  Key frames come at most
:data:`KEY_INTERVAL` seconds of changes apart (the relay asks the agent for one), so the
segment index (t0, key, offset) lets a reader seek by decoding a few seconds at most.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Final

from wire.chain import GENESIS, ChainError, ChainFollower, canonical, record_hash
from wire.errors import RecordingError
from wire.frame_format import index_fields

MAGIC: Final = b"WBREC1\n"
SEGMENT_MAGIC: Final = b"SG"
FILE_NAME: Final = "screen.wbrec"
#: A segment is closed after this many seconds (what a killed relay may lose at most).
SEGMENT_SECONDS: Final = 2.0
#: The relay asks for a key frame once this many seconds of changes followed the last one.
KEY_INTERVAL: Final = 10.0
#: Frames a second the agent streams for the recording alone, while no technician's view is open.
RECORD_ONLY_FPS: Final = 2
#: The recorder's viewer id, in ``relay.viewers`` (``recorder``) and its acks.
RECORDER_ID: Final = "relay-recorder"
#: Largest header a reader accepts (a corrupt length must not allocate gigabytes).
MAX_HEADER: Final = 64 * 1024 * 1024
_SEGMENT_PREFIX = struct.Struct(">2sII")
#: The payload hashes a segment header may name, as its ``payload_<name>`` key; a reader checks the
#: first one the header holds (the header is itself chained, so the key cannot be swapped unseen).
PAYLOAD_HASHES: Final = ("blake3", "sha256")


@functools.cache
def _blake3() -> Any | None:
    """The ``blake3`` package's hasher class, or None where it is not installed (looked for once)."""
    try:
        from blake3 import blake3
    except ImportError:
        return None
    return blake3


def payload_hash_name() -> str:
    """The hash a new segment's payload gets: BLAKE3 where the ``blake3`` package is installed (the
    relay's extra installs it), else SHA-256.

    BLAKE3 because the hash was most of the recorder's own work: per byte the agent sends, SHA-256
    takes 0.57 ns here even with the CPU's SHA instructions, BLAKE3 0.21 ns (its SIMD code), the
    kernel's copy into the page cache 0.4-0.5 ns; a 97 kB frame costs the recorder 0.050 ms instead
    of 0.080 (docs/recordings.md).
    """
    return "blake3" if _blake3() is not None else "sha256"


def payload_hasher(name: str) -> Any:
    """A new hasher (``update``, ``hexdigest``) for a payload hash of :data:`PAYLOAD_HASHES`.

    Raises :class:`RecordingError` for ``blake3`` where the package is not installed (a recording
    made by a relay that has it cannot be checked without it), ValueError for a name not listed.
    """
    if name == "sha256":
        return hashlib.sha256()
    if name != "blake3":
        raise ValueError(f"no payload hash {name!r}")
    blake3 = _blake3()
    if blake3 is None:
        raise RecordingError("this recording's segments are hashed with BLAKE3: install the blake3 package "
                             "(pip install blake3; the relay and technician extras have it) to check them")
    return blake3()


def file_header(session_id: str, started_at: str, started_epoch: float) -> bytes:
    """The bytes that start a recording file."""
    header = canonical({"format": "wbrec", "version": 1, "session_id": session_id, "started_at": started_at,
                        "started_epoch": started_epoch, "segment_seconds": SEGMENT_SECONDS,
                        "key_interval": KEY_INTERVAL})
    return MAGIC + struct.pack(">I", len(header)) + header


@dataclass
class SegmentBuilder:
    """The events of the segment being filled, in memory until :meth:`seal_parts`.

    The events' bytes are kept as the objects the relay received (never copied into one buffer)
    and hashed as each one is added, while it is still in the CPU's cache from the relay's
    receiving it (hashing a whole segment at its end read it back from memory once more);
    :meth:`seal_parts` hands them on for one ``writev``.
    """

    events: list[list[Any]] = field(default_factory=list)
    chunks: list[bytes] = field(default_factory=list)
    size: int = 0
    #: the payload's hash (:func:`payload_hash_name`), kept as ``payload_<name>`` in the segment's header
    hash_name: str = field(default_factory=payload_hash_name)
    #: the running hash of the payload added so far
    digest: Any = None
    t0: float | None = None
    key: bool = False

    def __post_init__(self) -> None:
        if self.digest is None:
            self.digest = payload_hasher(self.hash_name)

    def add(self, t: float, name: str, body: dict[str, Any], data: bytes | None,
            index: dict[str, Any] | None = None) -> None:
        """Keep one event; *index* is the frame's ``seq``/``key`` when the caller has read them already."""
        data = data or b""
        if name == "screen.frame" and "fmt" in body:
            # A format-2 frame keeps seq and key in its binary header: the segment's event list
            # carries them too, as the index a reader seeks by (readers ignore them when drawing).
            body = {**body, **(index if index is not None else index_fields(body, data))}
        if self.t0 is None:
            self.t0 = t
            self.key = name == "screen.frame" and bool(body.get("key"))
        self.events.append([round(t, 4), name, body, self.size, len(data)])
        if data:
            self.chunks.append(data)
            self.digest.update(data)
            self.size += len(data)

    def seal_parts(self, chain: ChainFollower, time: str, journal: dict[str, Any]) -> list[bytes]:
        """The segment's bytes as parts to write in order (prefix and header, then the events' bytes),
        chained after *chain*'s head (advanced); the builder is emptied."""
        assert self.t0 is not None
        record: dict[str, Any] = {
            "seq": chain.seq + 1, "time": time, "kind": "segment", "t0": round(self.t0, 4),
            "t1": self.events[-1][0], "key": self.key, "events": self.events,
            "payload_bytes": self.size, f"payload_{self.hash_name}": self.digest.hexdigest(),
            "journal": journal, "prev": chain.head}
        record["hash"] = record_hash(record)
        chain.advance(record)
        header = zlib.compress(canonical(record), 6)
        parts = [_SEGMENT_PREFIX.pack(SEGMENT_MAGIC, len(header), self.size) + header, *self.chunks]
        self.events, self.chunks, self.size, self.t0, self.key = [], [], 0, None, False
        self.digest = payload_hasher(self.hash_name)
        return parts

    def seal(self, chain: ChainFollower, time: str, journal: dict[str, Any]) -> bytes:
        """:meth:`seal_parts` joined into one bytes object."""
        return b"".join(self.seal_parts(chain, time, journal))


@dataclass(frozen=True)
class Segment:
    """One segment as read: its chained header and where its payload lies in the file."""

    header: dict[str, Any]
    payload_offset: int
    end_offset: int

    @property
    def seq(self) -> int:
        return int(self.header["seq"])

    @property
    def t0(self) -> float:
        return float(self.header["t0"])

    @property
    def t1(self) -> float:
        return float(self.header["t1"])

    @property
    def key(self) -> bool:
        return bool(self.header.get("key"))


@dataclass
class Scan:
    """What :func:`scan` found: the file header, the good segments, and why it stopped early if it did."""

    path: Path
    header: dict[str, Any]
    segments: list[Segment]
    #: None when the file ends after a complete segment; else why reading stopped
    stopped: str | None = None
    #: the segment number where it stopped (the first not read), when it stopped early
    stopped_at: int | None = None
    #: the segment's chain broke (tampering) rather than the file being cut short
    broken: bool = False
    end_offset: int = 0

    def describe(self) -> str:
        """One paragraph for ``workbench recording verify``."""
        n = len(self.segments)
        last = self.segments[-1] if self.segments else None
        span = f"{last.t1:.1f} s" if last else "0 s"
        if self.broken:
            return (f"recording does not verify: first bad segment is {self.stopped_at}: {self.stopped} "
                    f"({n} segments before it verify, up to {span})")
        if self.stopped:
            return (f"recording verifies up to segment {n} ({span}); it stops there: {self.stopped} "
                    "(the relay stopped while writing it)")
        head = last.header["hash"] if last else GENESIS
        return f"recording verifies: {n} segments, {span}, head {head}"


def read_file_header(f: BinaryIO, path: Path) -> tuple[dict[str, Any], int]:
    """The file header and the offset of the first segment; raises :class:`RecordingError`."""
    magic = f.read(len(MAGIC))
    if magic != MAGIC:
        raise RecordingError(f"{path} is not a session recording (it does not start with {MAGIC!r})",
                             path=str(path))
    size_bytes = f.read(4)
    if len(size_bytes) < 4:
        raise RecordingError(f"{path}: the recording's header is cut short", path=str(path))
    (size,) = struct.unpack(">I", size_bytes)
    raw = f.read(size) if size <= MAX_HEADER else b""
    try:
        header = json.loads(raw)
    except ValueError as err:
        raise RecordingError(f"{path}: the recording's header is not readable JSON", path=str(path)) from err
    if not isinstance(header, dict) or header.get("format") != "wbrec":
        raise RecordingError(f"{path}: the recording's header is not a wbrec header", path=str(path))
    if header.get("version") != 1:
        raise RecordingError(f"{path}: recording format version {header.get('version')!r} is not known here",
                             path=str(path))
    return header, len(MAGIC) + 4 + size


def _segments(f: BinaryIO, offset: int, result: Scan, check_payload: bool) -> Iterator[Segment]:
    chain = ChainFollower()
    f.seek(offset)
    while True:
        prefix = f.read(_SEGMENT_PREFIX.size)
        number = chain.seq + 1
        if not prefix:
            return
        if len(prefix) < _SEGMENT_PREFIX.size:
            result.stopped, result.stopped_at = f"segment {number} is incomplete (its first bytes only)", number
            return
        magic, header_size, payload_size = _SEGMENT_PREFIX.unpack(prefix)
        if magic != SEGMENT_MAGIC or header_size > MAX_HEADER:
            result.stopped, result.stopped_at, result.broken = (
                f"segment {number} does not start with a segment marker", number, True)
            return
        raw = f.read(header_size)
        if len(raw) < header_size:
            result.stopped, result.stopped_at = f"segment {number} is incomplete (header cut short)", number
            return
        payload_offset = offset + _SEGMENT_PREFIX.size + header_size
        try:
            inflater = zlib.decompressobj()
            header = json.loads(inflater.decompress(raw, MAX_HEADER))
            if inflater.unconsumed_tail:
                raise ValueError("header too large")
        except (ValueError, zlib.error):
            result.stopped, result.stopped_at, result.broken = (
                f"segment {number}'s header is not readable (deflated JSON)", number, True)
            return
        if check_payload:
            payload = f.read(payload_size)
            if len(payload) < payload_size:
                result.stopped, result.stopped_at = f"segment {number} is incomplete (payload cut short)", number
                return
        else:
            if payload_offset + payload_size > os.fstat(f.fileno()).st_size:
                result.stopped, result.stopped_at = f"segment {number} is incomplete (payload cut short)", number
                return
            f.seek(payload_size, 1)
            payload = b""
        try:
            chain.check(header)
            if header.get("payload_bytes") != payload_size:
                raise ChainError(number, "its payload length differs from its header's")
            if check_payload:
                _check_payload(number, header, payload)
        except ChainError as err:
            result.stopped, result.stopped_at, result.broken = err.reason, number, True
            return
        offset = payload_offset + payload_size
        result.end_offset = offset
        yield Segment(header, payload_offset, offset)


def _check_payload(number: int, header: dict[str, Any], payload: bytes) -> None:
    """Raise :class:`ChainError` unless *payload* has the hash segment *number*'s header names
    (:class:`RecordingError` when that hash is BLAKE3 and the package is missing)."""
    for name in PAYLOAD_HASHES:
        expected = header.get(f"payload_{name}")
        if expected is not None:
            break
    else:
        raise ChainError(number, "its header names no payload hash")
    hasher = payload_hasher(name)
    hasher.update(payload)
    if hasher.hexdigest() != expected:
        raise ChainError(number, "its payload does not match its hash (the pixels were altered)")


def scan(path: Path, *, check_payload: bool = True) -> Scan:
    """Read *path*'s header and every good segment (payloads hashed unless *check_payload* is False).

    Raises :class:`RecordingError` when the file is missing or is not a recording at all, or when
    its payloads are hashed with BLAKE3 and the ``blake3`` package is missing (*check_payload*); a
    file cut short or altered part-way is read up to the last good segment (:attr:`Scan.stopped`).
    """
    try:
        f = open(path, "rb")  # noqa: SIM115
    except FileNotFoundError as err:
        raise RecordingError(f"no recording at {path}", path=str(path)) from err
    except OSError as err:
        raise RecordingError(f"the recording {path} cannot be read: {err.strerror}", path=str(path)) from err
    with f:
        header, offset = read_file_header(f, path)
        result = Scan(path, header, [], end_offset=offset)
        result.segments = list(_segments(f, offset, result, check_payload))
    return result


def check_journal(result: Scan, journal_path: Path) -> str | None:
    """Whether each segment's journal tie names a record of *journal_path* (the relay's copy).

    Returns None when they all do, else the first segment that does not, in words.
    """
    hashes: dict[int, str] = {0: GENESIS}
    if journal_path.exists():
        for line in journal_path.read_bytes().splitlines():
            try:
                record = json.loads(line)
                hashes[int(record["seq"])] = str(record["hash"])
            except (ValueError, KeyError, TypeError):
                break
    last = 0
    for segment in result.segments:
        tie = segment.header.get("journal") or {}
        seq, head = tie.get("seq"), tie.get("head")
        if not isinstance(seq, int) or hashes.get(seq) != head:
            return f"segment {segment.seq} names journal record {seq!r}, which the journal does not hold with that hash"
        if seq < last:
            return f"segment {segment.seq} names journal record {seq}, older than the segment before it"
        last = seq
    return None
