"""The replay widget: a recorded session's screen, play/pause, speed 0.25–8×, a timeline of marks.

The kernel draws each frame (:meth:`workbench.recordings.Recording.frame_at`, the same steps as the
live widget) and hands it to the browser as a PNG, so the canvas shows exactly the recorded picture;
the browser (``static/replay.js``) asks for the time it wants (:attr:`ReplayWidget.time`) as it
plays, one frame at a time, and draws the timeline's marks (journal calls, annotations, control
bursts, screenshots); clicking a mark jumps there.  Replay needs a live kernel (frames come from it).
"""

from __future__ import annotations

import io
import pathlib
from typing import TYPE_CHECKING, Any

import anywidget
import traitlets

if TYPE_CHECKING:
    from workbench.recordings import Recording

_STATIC = pathlib.Path(__file__).parent / "static"
SPEEDS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0)


class ReplayWidget(anywidget.AnyWidget):
    """Replays *recording*; set :attr:`time` (seconds) from Python to jump, :attr:`playing` to play."""

    _esm = _STATIC / "replay.js"

    duration = traitlets.Float(0.0).tag(sync=True)
    marks = traitlets.List(traitlets.Dict()).tag(sync=True)
    #: the time asked for (set by the browser as it plays, by a mark click, or by Python)
    time = traitlets.Float(0.0).tag(sync=True)
    playing = traitlets.Bool(False).tag(sync=True)
    speed = traitlets.Float(1.0).tag(sync=True)
    #: the PNG drawn on the canvas, and the time it shows (the browser waits for it before asking again)
    frame = traitlets.Bytes(b"").tag(sync=True)
    frame_time = traitlets.Float(-1.0).tag(sync=True)
    #: what the view reports: the time its canvas shows, for tests and the notebook
    shown_time = traitlets.Float(-1.0).tag(sync=True)
    note = traitlets.Unicode("").tag(sync=True)
    title = traitlets.Unicode("").tag(sync=True)

    def __init__(self, recording: Recording, **kwargs: Any) -> None:
        first = recording.frame_times[0] if recording.frames else 0.0
        super().__init__(duration=recording.duration, title=f"Session {recording.session_id}",
                         marks=[{"t": e.t, "kind": e.kind, "name": e.name, "detail": e.detail}
                                for e in recording.events],
                         note=recording.note, time=first, **kwargs)
        self.recording = recording
        self.observe(self._render, names=["time"])
        self._render({"new": first})

    @traitlets.validate("speed")
    def _valid_speed(self, proposal: Any) -> float:
        value = float(proposal["value"])
        if not 0.25 <= value <= 8:
            raise traitlets.TraitError("speed is between 0.25 and 8")
        return value

    def _render(self, change: Any) -> None:
        t = max(0.0, min(float(change["new"]), self.duration))
        if not self.recording.frames or t < self.recording.frame_times[0]:
            return
        out = io.BytesIO()
        self.recording.frame_at(t).save(out, format="PNG", compress_level=1)
        with self.hold_sync():
            self.frame = out.getvalue()
            self.frame_time = t

    def seek(self, t: float) -> None:
        """Show the picture at *t* seconds."""
        self.time = float(t)
