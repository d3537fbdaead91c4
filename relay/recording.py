"""The relay's recorder (R5): every ``screen.*`` event the agent sends, kept in the session's folder.

Writes ``sessions/<id>/recording/screen.wbrec`` in the format of :mod:`wire.recording` (hash-chained
segments tied to the journal's head) and ``sessions/<id>/screenshots/`` (each screenshot the
technician took, as PNG, with ``screenshots.jsonl``: time, file, size, sha256).  Those two folders are
what retention's ``recordings`` class removes (:mod:`relay.retention`) and what the index's
``recording_bytes`` counts (:mod:`relay.index.summary`).  Segments are written whole, each with
one ``writev`` straight to the OS, so a relay killed with ``kill -9`` loses at most the segment
being filled (≤ 2 s).

What recording costs the relay, per byte the agent sends, is one hash pass (BLAKE3:
:func:`wire.recording.payload_hash_name`) and the kernel's copy into the page cache
(``bench/recording_bench.py``): the recorder keeps the very bytes
objects it forwards (no copy into a buffer), reads a format-2 frame's seq and key from its
19-byte header once, decodes no pixels, and writes unbuffered (no second copy in a Python buffer).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from wire.chain import ChainFollower, utc_now
from wire.frame_format import index_fields
from wire.recording import FILE_NAME, SEGMENT_SECONDS, SegmentBuilder, file_header, scan

RECORDING_DIR = "recording"
SCREENSHOTS_DIR = "screenshots"


def _epoch(utc: str) -> float:
    import datetime as dt

    try:
        return dt.datetime.fromisoformat(utc).timestamp()
    except ValueError:
        return time.time()


class ScreenRecorder:
    """Appends one session's screen events to its recording; not thread-safe (the relay's loop owns it)."""

    def __init__(self, session_dir: Path, session_id: str, started_at: str) -> None:
        self.dir = session_dir / RECORDING_DIR
        self.dir.mkdir(parents=True, exist_ok=True)
        self.path = self.dir / FILE_NAME
        self._chain = ChainFollower()
        self._segment = SegmentBuilder()
        if self.path.exists() and self.path.stat().st_size > 0:
            # A restarted relay goes on after the last complete segment; a torn one is cut off.
            found = scan(self.path, check_payload=False)
            self.started_epoch = float(found.header.get("started_epoch", _epoch(started_at)))
            if found.segments:
                last = found.segments[-1].header
                self._chain.advance(last)
            with open(self.path, "r+b") as f:
                f.truncate(found.end_offset)
            self._file = open(self.path, "ab", buffering=0)  # noqa: SIM115
        else:
            self.started_epoch = _epoch(started_at)
            self._file = open(self.path, "wb", buffering=0)  # noqa: SIM115
            _write_all(self._file.fileno(), [file_header(session_id, started_at, self.started_epoch)])
        self.journal: dict[str, Any] = {"seq": 0, "head": "0" * 64}

    def add(self, name: str, body: dict[str, Any], data: bytes | None) -> None:
        """Keep one screen event; a key frame starts a new segment."""
        if self._file.closed:
            return
        t = time.time() - self.started_epoch
        index = index_fields(body, data or b"") if name == "screen.frame" else None
        if index and index.get("key") and self._segment.events:
            self._write_segment()
        self._segment.add(t, name, body, data, index)

    def tick(self) -> None:
        """Write the segment being filled once it is :data:`SEGMENT_SECONDS` old (the relay calls it every second)."""
        if self._segment.t0 is not None and time.time() - self.started_epoch - self._segment.t0 >= SEGMENT_SECONDS:
            self._write_segment()

    def _write_segment(self) -> None:
        if self._segment.t0 is None or self._file.closed:
            return
        _write_all(self._file.fileno(), self._segment.seal_parts(self._chain, utc_now(), dict(self.journal)))

    def close(self) -> None:
        """Write what is left and fsync: the recording is complete."""
        if self._file.closed:
            return
        self._write_segment()
        os.fsync(self._file.fileno())
        self._file.close()


#: Buffers one ``writev`` takes at most (POSIX's IOV_MAX is at least 16; Linux's is 1024).
_IOV_MAX = 1024


def _write_all(fd: int, parts: list[bytes]) -> None:
    """Append *parts* to the unbuffered file *fd*: one ``writev`` a segment (Windows has none: one joined write).

    A regular file takes the whole write at once; a short write still goes on where it stopped.
    Raises OSError (a full disk, say) as the write does.
    """
    views = [memoryview(part) for part in parts if part]
    while views:
        if sys.platform == "win32":
            written = os.write(fd, b"".join(views))
        else:
            written = os.writev(fd, views[:_IOV_MAX])
        if written <= 0:
            raise OSError(f"the recording's write stopped after {written} bytes")
        while views and written >= len(views[0]):
            written -= len(views[0])
            views.pop(0)
        if written:
            views[0] = views[0][written:]


class Screenshots:
    """The screenshots the technician took, as the agent sent them (hidden areas already filled)."""

    def __init__(self, session_dir: Path, started_epoch: float) -> None:
        self.dir = session_dir / SCREENSHOTS_DIR
        self.started_epoch = started_epoch

    def save(self, request_id: str, description: dict[str, Any], png: bytes) -> Path:
        self.dir.mkdir(parents=True, exist_ok=True)
        t = time.time() - self.started_epoch
        digest = hashlib.sha256(png).hexdigest()
        path = self.dir / f"{int(t * 1000):010d}-{digest[:12]}.png"
        path.write_bytes(png)
        entry = {"t": round(t, 4), "time": utc_now(), "file": path.name, "bytes": len(png), "sha256": digest,
                 "request_id": request_id, "width": description.get("width"), "height": description.get("height"),
                 "hidden": description.get("hidden", [])}
        with open(self.dir / "screenshots.jsonl", "a", encoding="utf-8") as f:
            f.write(json.dumps(entry, ensure_ascii=False) + "\n")
        return path
