"""Session recordings (R5) in a notebook: list them, replay them, export them.

>>> from workbench import recordings
>>> recordings.list("relay-data")                 # session, technician, start, length, size
>>> r = recordings.open("relay-data", session_id)  # or recordings.open(path)
>>> r                                              # the replay widget
>>> r.frame_at(83.2)                               # PIL image: what the technician's view showed at 83.2 s
>>> r.events; r.screenshots(); r.export("session.mp4", start=60, end=180)

A recording is ``sessions/<id>/recording/screen.wbrec`` in the relay's ``--data`` folder (format:
:mod:`wire.recording`); times are seconds since the session started.  Opening a missing or corrupt
file raises :class:`wire.errors.RecordingError` (a :class:`~wire.errors.WorkbenchError`); a file a
relay stopped writing part-way opens up to its last complete segment and says so in :attr:`Recording.note`.
"""

from __future__ import annotations

import bisect
import builtins
import datetime as dt
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from wire.errors import RecordingError
from wire.recording import FILE_NAME, Scan, check_journal, scan
from workbench.replay_canvas import ReplayCanvas

__all__ = ["RecordedEvent", "Recording", "Screenshot", "list", "open"]

#: Control events closer than this (seconds) make one burst.
BURST_GAP = 1.0


def _epoch(utc: Any) -> float | None:
    try:
        return dt.datetime.fromisoformat(str(utc)).timestamp()
    except ValueError:
        return None


def _tree_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else 0


def list(data: str | Path) -> Any:
    """A table (pandas DataFrame) of the recorded sessions under the relay's *data* folder, newest first.

    Columns: session, technician, start (UTC), length (seconds recorded), size (bytes of
    recording and screenshots), screenshots, complete (False while recording or if cut short).
    Raises :class:`RecordingError` when *data* is not a relay's data folder.
    """
    import pandas as pd

    root = Path(data) / "sessions"
    if not root.is_dir():
        raise RecordingError(f"{data} holds no sessions/ folder: is it the relay's --data folder?", path=str(data))
    rows = []
    for session_dir in sorted(root.iterdir()):
        path = session_dir / "recording" / FILE_NAME
        if not path.is_file():
            continue
        try:
            meta = json.loads((session_dir / "session.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            meta = {}
        try:
            found = scan(path, check_payload=False)
            length = found.segments[-1].t1 if found.segments else 0.0
            complete = found.stopped is None and bool(meta.get("ended_at"))
        except RecordingError:
            length, complete = 0.0, False
        rows.append({"session": session_dir.name, "technician": meta.get("technician"),
                     "start": meta.get("started_at"), "length": round(length, 1),
                     "size": _tree_bytes(session_dir / "recording") + _tree_bytes(session_dir / "screenshots"),
                     "screenshots": len(builtins.list((session_dir / "screenshots").glob("*.png"))),
                     "complete": complete})
    table = pd.DataFrame(rows, columns=["session", "technician", "start", "length", "size", "screenshots",
                                        "complete"])
    return table.sort_values("start", ascending=False, ignore_index=True)


def open(where: str | Path, session_id: str | None = None) -> Recording:
    """The recording of *session_id* in the relay's data folder *where*, or the recording file *where*.

    *where* may also be a session's folder.  Raises :class:`RecordingError` when there is no
    recording there or the file is not one.
    """
    path = Path(where)
    if session_id is not None:
        path = path / "sessions" / session_id / "recording" / FILE_NAME
    elif path.is_dir():
        path = path / "recording" / FILE_NAME if (path / "recording").is_dir() else path / FILE_NAME
    return Recording(path)


@dataclass(frozen=True)
class RecordedEvent:
    """A moment of the session: a journal call (``call``), an annotation, a control burst, a screenshot."""

    t: float
    kind: str
    name: str
    detail: str = ""


@dataclass(frozen=True)
class Screenshot:
    t: float
    image: Image.Image
    file: Path


@dataclass(frozen=True)
class _FrameRef:
    t: float
    segment: int
    event: int
    key: bool


class Recording:
    """One session's recording, opened; see the module docstring.  Raises :class:`RecordingError`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._scan: Scan = scan(path, check_payload=False)
        if not self._scan.segments and self._scan.stopped is None:
            raise RecordingError(f"the recording {path} holds no segment yet", path=str(path))
        self.session_id = str(self._scan.header.get("session_id", ""))
        self.started_at = str(self._scan.header.get("started_at", ""))
        self._started_epoch = float(self._scan.header.get("started_epoch") or _epoch(self.started_at) or 0.0)
        #: why the recording stops early (a relay stopped mid-segment, or an altered segment), else ""
        self.note = ""
        if self._scan.stopped:
            last = self._scan.segments[-1].t1 if self._scan.segments else 0.0
            self.note = (f"the recording stops at {last:.1f} s, after segment {len(self._scan.segments)}: "
                         f"{self._scan.stopped}")
        self._frames: builtins.list[_FrameRef] = []
        for index, segment in enumerate(self._scan.segments):
            for number, event in enumerate(segment.header["events"]):
                if event[1] == "screen.frame":
                    self._frames.append(_FrameRef(float(event[0]), index, number, bool(event[2].get("key"))))
        self._times = [f.t for f in self._frames]
        self._last_key: builtins.list[int] = []
        key = -1
        for i, frame in enumerate(self._frames):
            key = i if frame.key else key
            self._last_key.append(key)
        self._cache: tuple[int, ReplayCanvas] | None = None
        self._file = builtins.open(path, "rb")  # noqa: SIM115
        self.session_dir = path.parent.parent if path.parent.name == "recording" else None

    def close(self) -> None:
        self._file.close()

    # -- what it holds ---------------------------------------------------

    @property
    def duration(self) -> float:
        """Seconds recorded (to the last complete segment)."""
        return self._scan.segments[-1].t1 if self._scan.segments else 0.0

    @property
    def frames(self) -> int:
        return len(self._frames)

    @property
    def frame_times(self) -> builtins.list[float]:
        return builtins.list(self._times)

    @property
    def frame_log(self) -> builtins.list[tuple[float, int, bool]]:
        """Every recorded frame: (time, the agent's frame number ``seq``, key frame)."""
        out = []
        for ref in self._frames:
            body = self._scan.segments[ref.segment].header["events"][ref.event][2]
            out.append((ref.t, int(body.get("seq", -1)), ref.key))
        return out

    @property
    def key_frame_times(self) -> builtins.list[float]:
        return [f.t for f in self._frames if f.key]

    def _event(self, ref: _FrameRef) -> tuple[dict[str, Any], bytes]:
        segment = self._scan.segments[ref.segment]
        _t, _name, body, offset, length = segment.header["events"][ref.event]
        self._file.seek(segment.payload_offset + offset)
        data = self._file.read(length)
        if len(data) != length:
            raise RecordingError(f"{self.path}: segment {segment.seq}'s payload is cut short", path=str(self.path))
        return body, data

    def frame_index(self, t: float) -> int:
        """The index of the frame on screen at *t* (the last received at or before it), -1 before the first."""
        return bisect.bisect_right(self._times, t) - 1

    def canvas_at(self, t: float) -> ReplayCanvas:
        """The picture at *t* as a canvas (decodes from the key frame before it, or on from the last seek)."""
        target = self.frame_index(t)
        if target < 0:
            raise RecordingError(f"no frame was received before {t} s (the first came at "
                                 f"{self._times[0] if self._times else 0:.2f} s)")
        key = self._last_key[target]
        if key < 0:
            raise RecordingError("the recording has no key frame before that time")
        start, canvas = key, ReplayCanvas()
        if self._cache is not None and key <= self._cache[0] <= target:
            start, canvas = self._cache[0] + 1, self._cache[1]
        for index in range(start, target + 1):
            body, data = self._event(self._frames[index])
            canvas.apply(body, data)
        self._cache = (target, canvas)
        return canvas

    def frame_at(self, t: float) -> Image.Image:
        """What the technician's view showed at *t* seconds: a PIL image (RGB), hidden areas as the fill.

        Raises :class:`RecordingError` before the first frame or on a corrupt frame.
        """
        return self.canvas_at(t).image()

    @property
    def events(self) -> builtins.list[RecordedEvent]:
        """The journal's calls, annotations, control bursts and screenshots, in time order."""
        found: builtins.list[RecordedEvent] = []
        if self.session_dir is None:
            return found
        journal = self.session_dir / "journal.jsonl"
        if journal.exists():
            for line in journal.read_bytes().splitlines():
                try:
                    record = json.loads(line)
                except ValueError:
                    break
                when = _epoch(record.get("time"))
                if when is None:
                    continue
                kind = record.get("kind")
                if kind == "call":
                    method = str(record.get("method"))
                    found.append(RecordedEvent(round(when - self._started_epoch, 3),
                                               "annotation" if method.startswith("annotate.") else "call",
                                               method, str(record.get("words", ""))))
                elif kind in ("session_end", "journal_alert", "note"):
                    found.append(RecordedEvent(round(when - self._started_epoch, 3), str(kind), str(kind),
                                               str(record.get("reason", ""))))
        messages = self.session_dir / "messages.jsonl"
        burst: builtins.list[float] = []

        def end_burst() -> None:
            if burst:
                found.append(RecordedEvent(round(burst[0], 3), "control", "control burst",
                                           f"{len(burst)} inputs over {burst[-1] - burst[0]:.1f} s"))
                burst.clear()

        if messages.exists():
            for line in messages.read_bytes().splitlines():
                try:
                    entry = json.loads(line)
                except ValueError:
                    break
                name, when = str(entry.get("name", "")), _epoch(entry.get("time"))
                if entry.get("dir") != "viewer>" or when is None:
                    continue
                t = when - self._started_epoch
                if name.startswith("annotate."):
                    found.append(RecordedEvent(round(t, 3), "annotation", name))
                elif name.startswith("control.") and name not in ("control.request", "control.release"):
                    if burst and t - burst[-1] > BURST_GAP:
                        end_burst()
                    burst.append(t)
            end_burst()
        for shot in self._screenshot_entries():
            found.append(RecordedEvent(round(float(shot["t"]), 3), "screenshot", "screenshot", str(shot["file"])))
        return sorted(found, key=lambda e: e.t)

    def _screenshot_entries(self) -> builtins.list[dict[str, Any]]:
        index = self.session_dir / "screenshots" / "screenshots.jsonl" if self.session_dir else None
        if index is None or not index.exists():
            return []
        return [json.loads(line) for line in index.read_text(encoding="utf-8").splitlines() if line.strip()]

    def screenshots(self) -> builtins.list[Screenshot]:
        """The screenshots the technician took (hidden areas filled by the agent), with their times."""
        assert self.session_dir is not None or not self._screenshot_entries()
        shots = []
        for entry in self._screenshot_entries():
            assert self.session_dir is not None
            path = self.session_dir / "screenshots" / str(entry["file"])
            with Image.open(path) as image:
                shots.append(Screenshot(float(entry["t"]), image.convert("RGB"), path))
        return shots

    def verify(self) -> str:
        """Check every segment's payload and chain, and the ties to the journal; the finding in words.

        Raises :class:`RecordingError` when a segment was altered.
        """
        found = scan(self.path)
        if found.broken:
            raise RecordingError(found.describe(), path=str(self.path), segment=found.stopped_at)
        text = found.describe()
        if self.session_dir is not None:
            problem = check_journal(found, self.session_dir / "journal.jsonl")
            if problem:
                raise RecordingError(f"the recording does not match the journal: {problem}", path=str(self.path))
            text += "; tied to the journal's chain"
        return text

    # -- export and replay -------------------------------------------------

    def export(self, path: str | Path, start: float = 0.0, end: float | None = None, fps: int = 10,
               progress: Callable[[int, int], None] | None = None) -> Path:
        """Write the part [*start*, *end*] to *path*: ``.mp4`` (H.264) or ``.webm`` (VP9), with PyAV.

        A progress bar shows in a notebook (or pass *progress(done, total)*).  Raises
        :class:`RecordingError` for another suffix or an empty range.
        """
        import av

        out = Path(path)
        codec = {".mp4": "libx264", ".webm": "libvpx-vp9"}.get(out.suffix.lower())
        if codec is None:
            raise RecordingError(f"export writes .mp4 or .webm, not {out.suffix!r}")
        first = self._times[0] if self._times else self.duration
        end = self.duration if end is None else min(end, self.duration)
        start = max(start, first)
        if end <= start:
            raise RecordingError(f"nothing recorded between {start:.1f} s and {end:.1f} s")
        total = max(1, int((end - start) * fps))
        bar = progress or _progress_bar(total)
        width, height = self.frame_at(start).size
        with av.open(str(out), "w") as container:
            # PyAV's stubs type add_stream as any stream kind; this one is video.
            stream: Any = container.add_stream(codec, rate=fps)
            video_frame: Any = av.VideoFrame
            stream.width, stream.height = width - width % 2, height - height % 2
            stream.pix_fmt = "yuv420p"
            if codec == "libx264":
                stream.options = {"preset": "veryfast", "crf": "23"}
            for n in range(total):
                image = self.frame_at(start + n / fps)
                if image.size != (stream.width, stream.height):
                    image = image.crop((0, 0, stream.width, stream.height))
                for packet in stream.encode(video_frame.from_image(image)):
                    container.mux(packet)
                bar(n + 1, total)
            for packet in stream.encode():
                container.mux(packet)
        return out

    def widget(self) -> Any:
        """The replay widget (:class:`workbench.replay_widget.ReplayWidget`) for this recording."""
        from workbench.replay_widget import ReplayWidget

        return ReplayWidget(self)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> Any:
        return self.widget()._repr_mimebundle_(include=include, exclude=exclude)

    def __repr__(self) -> str:
        note = f"; {self.note}" if self.note else ""
        return f"<Recording {self.session_id} {self.duration:.1f} s, {self.frames} frames{note}>"


def _progress_bar(total: int) -> Callable[[int, int], None]:
    """An ipywidgets progress bar in a kernel, a line on stderr elsewhere."""
    try:
        from IPython import get_ipython

        in_kernel = get_ipython() is not None and hasattr(get_ipython(), "kernel")
    except ImportError:
        in_kernel = False
    if in_kernel:
        import ipywidgets
        from IPython.display import display

        bar = ipywidgets.IntProgress(min=0, max=total, description="Export")
        show: Any = display
        show(bar)

        def update(done: int, _total: int) -> None:
            bar.value = done
        return update

    def line(done: int, whole: int) -> None:
        if done == whole or done % 50 == 0:
            print(f"\rexport: {done}/{whole} frames", end="\n" if done == whole else "", file=sys.stderr)
    return line
