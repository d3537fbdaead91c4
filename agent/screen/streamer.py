"""The streamer's worker thread: when to capture, masking, and frames in flight.

One thread does all the heavy work (capture, compare, encode) so the event
loop only moves bytes.  Frames are spaced by the viewer's frame-rate cap and
by :data:`CPU_BUDGET`: the worker measures what each frame costs it and, on
average, never spends more than that share of a core.  It sleeps in
``select()`` on two things: a wake-up socket (viewer acks, configuration, the
customer's changes) and, on X11, the X connection, where DAMAGE says that
something was drawn.  So an idle screen costs nothing, and a change is
captured as soon as it is drawn, within the frame-rate cap and the window of
frames in flight.  Without DAMAGE (Windows, macOS) it polls, and the pipeline's
tile comparison keeps an unchanged screen from sending anything.

Each capture is masked before anything else reads it: the hidden rectangles,
monitors and windows are resolved around the capture (see
:class:`agent.screen.backend.ScreenWatcher`), and filled in the captured buffer.
If hidden windows cannot be located (no tracker, X or Win32 errors), the whole view is
filled: the streamer hides too much rather than too little.
"""

from __future__ import annotations

import contextlib
import logging
import select
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from agent.screen.backend import ScreenWatcher, open_watcher
from agent.screen.capture import CaptureError, Capturer, open_capturer
from agent.screen.encode import EncodeError, png_image
from agent.screen.h264 import available as h264_available
from agent.screen.hidden import HIDDEN_LABEL, HiddenRegions, Rect, fill_rects
from agent.screen.pipeline import QUALITY_MAX, QUALITY_MIN, EncodedFrame, FramePipeline
from agent.screen.tiles import Frame
from agent.screen.tracking import WindowTracker, open_window_tracker

log = logging.getLogger(__name__)

#: Frames sent and not yet acknowledged by every viewer, at most.
MAX_IN_FLIGHT: Final = 2
#: A frame not acknowledged after this long is counted as lost (a viewer that stopped acking).
ACK_TIMEOUT_SECONDS: Final = 2.0
DEFAULT_MAX_FPS: Final = 40
MAX_FPS_LIMIT: Final = 60
#: The share of one core the worker may spend on average (a token bucket of CPU time, refilled at
#: this rate, holding at most CPU_BURST seconds): a costly stream slows down rather than eat the
#: customer's machine, while occasional large changes go out at once.
CPU_BUDGET: Final = 0.25
CPU_BURST: Final = 0.1
#: After a failure (display gone, X error), how long before sources are opened again.
RETRY_SECONDS: Final = 1.0
#: Without DAMAGE, how often an otherwise idle screen is polled.
IDLE_POLL_SECONDS: Final = 1 / 15

class PausedError(RuntimeError):
    """The customer paused the view while a picture was being taken: nothing of it may leave."""


#: ``emit(name, body, data)``: hands an event to the event loop; called from the worker thread.
Emit = Callable[[str, dict[str, Any], "bytes | None"], None]


@dataclass(frozen=True)
class StreamArea:
    """What a stream shows: the monitor ("all" or a 0-based index) and its area on the virtual screen."""

    monitor: str | int
    area: Rect


@dataclass
class _Control:
    """What the event loop tells the worker, guarded by :attr:`Streamer._lock`."""

    viewers: int = 0
    viewer_ids: list[str] = field(default_factory=list)
    monitor: str | int = "all"
    max_fps: int = DEFAULT_MAX_FPS
    key_requested: bool = True
    #: bumped by every change of what is streamed (a viewer joins, screen.configure); the worker
    #: reopens the stream when the number it last applied differs, so a change that arrives while
    #: it is opening the stream is never lost (it is not a flag the worker clears after the fact)
    config_gen: int = 1
    hidden_changed: bool = True
    stopping: bool = False
    in_flight: dict[int, float] = field(default_factory=dict)
    #: seq of the last frame handed to the event loop (0: none yet)
    last_sent: int = 0
    last_ack: dict[str, int] = field(default_factory=dict)
    rtt: float | None = None
    copy_viewers: set[str] = field(default_factory=set)
    h264_viewers: set[str] = field(default_factory=set)

    def allow_copy(self) -> bool:
        """Copies only when every live viewer said it draws them (``screen.configure {"copy": true}``)."""
        return self._all_said(self.copy_viewers)

    def allow_h264(self) -> bool:
        """``h264`` only when every live receiver said it decodes it (``screen.configure {"h264": true}``).

        Every receiver gets every frame the agent sends (the relay forwards each to every view and
        to its recorder, in order), so one H.264 stream serves them all; a receiver that joins gets
        a key frame first, which this very rule makes an IDR or no h264 at all.
        """
        return h264_available() and self._all_said(self.h264_viewers)

    def _all_said(self, said: set[str]) -> bool:
        if self.viewer_ids:
            return all(v in said for v in self.viewer_ids)
        return "" in said and self.viewers == 1


class Streamer:
    """Produces ``screen.frame`` and ``screen.info`` events on a worker thread.

    Thread-safe setters (:meth:`set_viewers`, :meth:`ack`, :meth:`configure`,
    :meth:`request_key_frame`, :meth:`wake`) may be called from any thread.
    """

    def __init__(self, hidden: HiddenRegions, emit: Emit, display: str | None = None) -> None:
        self._hidden = hidden
        self._emit = emit
        self._display = display
        self._lock = threading.Lock()
        self._control = _Control()
        self._wake_reader, self._wake_writer = socket.socketpair()
        self._wake_reader.setblocking(False)
        self._wake_writer.setblocking(False)
        self._thread: threading.Thread | None = None
        self._unsubscribe = hidden.on_change(self._on_hidden_change)
        # Worker-thread state.
        self._capturer: Capturer | None = None
        self._watcher: ScreenWatcher | None = None
        self._pipeline: FramePipeline | None = None
        self._area: Rect | None = None
        #: what the frames show: the monitor and area the stream was last opened for
        self._stream: StreamArea | None = None
        self._applied_gen = 0
        self._last_frame_at = 0.0
        self._poll_at = 0.0
        self._cpu_credit = CPU_BURST  # worker CPU seconds it may spend now
        self._credit_at = time.monotonic()

    # Event-loop side.

    def start(self) -> None:
        """Start the worker thread (idle until a viewer is counted)."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="screen-streamer", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop and join the worker thread; releases the X connections."""
        with self._lock:
            self._control.stopping = True
        self.wake()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("screen streamer did not stop within %.1f s", timeout)
            self._thread = None
        self._unsubscribe()
        self._wake_reader.close()
        self._wake_writer.close()

    def wake(self) -> None:
        with contextlib.suppress(OSError):
            self._wake_writer.send(b"\0")

    def set_viewers(self, count: int, viewer_ids: list[str], last_frame_seq: int | None = None) -> None:
        """The relay's live viewers; a new viewer gets a key frame and ``screen.info``.

        *last_frame_seq*: the last frame the relay had passed on when it sent the list (``relay.viewers``'s
        ``last_frame_seq``).  Frames in flight after it reach a joining viewer, which owes acks for them;
        frames up to it never reach it and count as acked by it.  So the credits are kept across a join:
        the joiner's key frame takes the next free credit, and no viewer ever holds more than
        :data:`MAX_IN_FLIGHT` unacked frames, counted from its first.  Without it (no frame passed on
        yet, an older relay) every frame sent before the join counts as acked by the joiner.
        """
        with self._lock:
            control = self._control
            new_ids = set(viewer_ids) - set(control.viewer_ids)
            joined = count > control.viewers or bool(new_ids)
            control.viewers = max(0, count)
            control.viewer_ids = list(viewer_ids)
            control.last_ack = {v: s for v, s in control.last_ack.items() if v in viewer_ids or v == ""}
            if joined:
                control.key_requested = True
                control.config_gen += 1
                control.hidden_changed = True
                if viewer_ids:
                    passed_on = control.last_sent if last_frame_seq is None else min(last_frame_seq,
                                                                                      control.last_sent)
                    for viewer in new_ids:
                        control.last_ack[viewer] = max(passed_on, control.last_ack.get(viewer, 0))
                    # A viewer that left may have held the others' credits: what the viewers live now
                    # acked is done.
                    self._release(min(control.last_ack.get(v, 0) for v in viewer_ids))
                else:
                    control.in_flight.clear()  # a relay naming no viewers cannot say whose acks are owed
        self.wake()

    def ack(self, seq: int, viewer_id: str | None) -> None:
        """A viewer drew frame *seq* (and, implicitly, every frame before it)."""
        now = time.monotonic()
        with self._lock:
            control = self._control
            key = viewer_id or ""
            control.last_ack[key] = max(seq, control.last_ack.get(key, 0))
            live = [control.last_ack.get(v, 0) for v in control.viewer_ids] if viewer_id else []
            done = min(live) if live else control.last_ack[key]
            # Only a loop held back by frames in flight waits for an ack; waking it for every ack
            # costs a pass (and an X poll) per frame for nothing.
            blocked = len(control.in_flight) >= MAX_IN_FLIGHT
            sent_at = self._release(done).get(seq)
            if sent_at is not None:
                sample = now - sent_at
                control.rtt = sample if control.rtt is None else 0.8 * control.rtt + 0.2 * sample
            freed = blocked and len(control.in_flight) < MAX_IN_FLIGHT
        if freed:
            self.wake()

    def _release(self, done: int) -> dict[int, float]:
        """Forget the frames in flight up to *done* (acked by every viewer); returns them (seq → sent at).

        Called with :attr:`_lock` held.
        """
        in_flight = self._control.in_flight
        return {seq: in_flight.pop(seq) for seq in [s for s in in_flight if s <= done]}

    def configure(self, monitor: str | int | None, max_fps: int | None, copy: bool | None = None,
                  viewer_id: str | None = None, h264: bool | None = None) -> None:
        """Select the streamed monitor ("all" or a 0-based index), the frame-rate cap, copy and h264 support."""
        with self._lock:
            control = self._control
            for said, viewers in ((copy, control.copy_viewers), (h264, control.h264_viewers)):
                if said is True:
                    viewers.add(viewer_id or "")
                elif said is False:
                    viewers.discard(viewer_id or "")
            if monitor is not None and monitor != control.monitor:
                control.monitor = monitor
                control.key_requested = True
            if max_fps is not None:
                control.max_fps = max(1, min(MAX_FPS_LIMIT, max_fps))
            control.config_gen += 1
        self.wake()

    def request_key_frame(self) -> None:
        with self._lock:
            self._control.key_requested = True
        self.wake()

    @property
    def streaming(self) -> bool:
        with self._lock:
            return self._control.viewers > 0 and not self._control.stopping

    def _on_hidden_change(self) -> None:
        with self._lock:
            self._control.hidden_changed = True
        self.wake()

    # Worker thread.

    def _run(self) -> None:
        try:
            while True:
                try:
                    timeout = self._step()
                except Exception:  # e.g. the X server went away: start over, do not freeze the view for good
                    log.exception("screen streamer step failed; retrying in %.0f s", RETRY_SECONDS)
                    self._close_sources()
                    timeout = RETRY_SECONDS
                if timeout is False:
                    break
                self._wait(timeout)
        finally:
            self._close_sources()

    def _wait(self, timeout: float | None) -> None:
        readers: list[Any] = [self._wake_reader]
        if self._watcher is not None:
            readers.append(self._watcher)
        with contextlib.suppress(InterruptedError):
            _ready, _, _ = select.select(readers, [], [], timeout)
        with contextlib.suppress(BlockingIOError, OSError):
            while self._wake_reader.recv(4096):
                pass

    def _step(self) -> float | bool | None:
        """One pass of the loop; returns how long to sleep (None: until woken), or False to end."""
        now = time.monotonic()
        with self._lock:
            control = self._control
            if control.stopping:
                return False
            streaming = control.viewers > 0
            for seq, sent_at in list(control.in_flight.items()):
                if now - sent_at > ACK_TIMEOUT_SECONDS:
                    del control.in_flight[seq]
            in_flight = len(control.in_flight)
            oldest = min(control.in_flight.values(), default=now)
            monitor, max_fps, rtt = control.monitor, control.max_fps, control.rtt
            allow_copy, allow_h264 = control.allow_copy(), control.allow_h264()
            key, config_gen, hidden_changed = control.key_requested, control.config_gen, control.hidden_changed
        if not streaming:
            self._close_sources()
            return None
        if self._hidden.paused:
            return None
        try:
            if self._open_sources(monitor, config_gen):
                key = True  # a stream that shows something else starts with a key frame of it
                with self._lock:
                    self._control.key_requested = True  # kept if this pass sends nothing
        except CaptureError as err:
            log.warning("screen capture unavailable: %s", err)
            return RETRY_SECONDS
        assert self._pipeline is not None and self._stream is not None
        if self._watcher is not None:
            self._watcher.poll()
        if in_flight >= MAX_IN_FLIGHT:
            return max(0.0, oldest + ACK_TIMEOUT_SECONDS - now)
        interval = 1.0 / max_fps
        refresh_at = self._pipeline.next_refresh_at()
        polling = self._watcher is None or not self._watcher.has_damage
        if polling:
            changed = now >= self._poll_at
        else:
            assert self._watcher is not None
            changed = self._watcher.damaged
        wanted = key or hidden_changed or changed or (refresh_at is not None and refresh_at <= now)
        if not wanted:
            deadlines = [t for t in (refresh_at, self._poll_at if polling else None) if t is not None]
            return max(0.0, min(deadlines) - now) if deadlines else None
        wait_rate = self._last_frame_at + interval - now
        if wait_rate > 0:
            return wait_rate
        self._cpu_credit = min(CPU_BURST, self._cpu_credit + (now - self._credit_at) * CPU_BUDGET)
        self._credit_at = now
        if self._cpu_credit < 0:
            return -self._cpu_credit / CPU_BUDGET
        self._adapt_quality(rtt, interval)
        self._pipeline.allow_copy = allow_copy
        self._pipeline.allow_h264 = allow_h264
        with self._lock:  # a request that came after they were read stays for the next frame
            if key:
                self._control.key_requested = False
            if hidden_changed:
                self._control.hidden_changed = False
        cpu_before = time.thread_time()
        try:
            # Of self._stream's area, whatever was asked since.
            frame = self._capture_frame(now, key, whole=hidden_changed)
        except CaptureError as err:
            log.warning("screen capture failed: %s", err)
            self._close_sources()
            return RETRY_SECONDS
        self._last_frame_at = now
        # Without DAMAGE, an unchanged screen is polled less often.
        self._poll_at = now + (interval if frame is not None else max(interval, IDLE_POLL_SECONDS))
        if frame is not None:
            sent, stream = frame, self._stream

            def hand_over() -> None:
                with self._lock:
                    self._control.in_flight[sent.seq] = time.monotonic()
                    self._control.last_sent = sent.seq
                # The monitor and origin of the pixels captured, never of a request not applied yet.
                self._emit("screen.frame", sent.body(stream.monitor, stream.area), sent.payload)

            if not self._hidden.unless_paused(hand_over):  # paused while encoding: drop it, start afresh later
                self._pipeline.reset()
        self._cpu_credit -= time.thread_time() - cpu_before
        return 0.0

    def _capture_drawn(self, drawn: Rect) -> bool:
        """Read only *drawn* (virtual-screen coordinates) into the pipeline; False when it must not.

        Only while nothing is hidden and the view is not paused, before and after the read: a
        partial read has no masking of its own (capture_masked then reads everything).  Typing
        costs the read and compare of its glyph instead of a whole screen's.
        """
        assert self._capturer is not None and self._pipeline is not None and self._area is not None
        before = self._hidden.snapshot()
        if before[0] or before[1]:
            return False
        area = self._area
        box = drawn.translate(-area.x, -area.y).intersect(Rect(0, 0, area.w, area.h))
        pixels = None if box.empty else self._capturer.grab(box.translate(area.x, area.y))
        if self._hidden.snapshot() != before:
            return False
        self._pipeline.patch(box, pixels)
        return True

    def _adapt_quality(self, rtt: float | None, interval: float) -> None:
        """Lower JPEG quality when acks come back slowly (a slow link), raise it when they are quick."""
        assert self._pipeline is not None
        if rtt is None:
            return
        if rtt > max(0.25, 4 * interval):
            self._pipeline.quality = max(QUALITY_MIN, self._pipeline.quality - 5)
        elif rtt < max(0.05, interval):
            self._pipeline.quality = min(QUALITY_MAX, self._pipeline.quality + 1)

    def _capture_frame(self, now: float, key: bool, whole: bool = False) -> EncodedFrame | None:
        """Capture, mask, encode; None when nothing changed or the view was paused meanwhile.

        Reads only what DAMAGE says was drawn (see :meth:`_capture_drawn`) unless *key*, *whole*
        (what is hidden changed: pixels may show that nothing drew), or the pipeline has no
        frame yet.  Raises :class:`CaptureError` (the caller closes the sources and retries later).
        """
        assert self._capturer is not None and self._pipeline is not None and self._area is not None
        drawn = None
        if self._watcher is not None and self._watcher.has_damage:
            drawn = self._watcher.rearm()
        hidden: list[Rect] = []
        if drawn is None or key or whole or not self._pipeline.can_patch or not self._capture_drawn(drawn):
            frame, hidden, paused = capture_masked(self._capturer, self._watcher, self._hidden, self._area)
            if paused:
                return None
            self._pipeline.current = frame
        wall_ms = time.time() * 1000.0
        try:
            return self._pipeline.produce(now, wall_ms, key=key, hidden=hidden)
        except EncodeError:
            log.exception("screen frame encoding failed")
            self._pipeline.reset()
            return None

    def _open_sources(self, monitor: str | int, config_gen: int) -> bool:
        """Open the capture and (re)open the stream for *monitor* unless generation *config_gen* is applied.

        ``screen.info`` is sent whenever the stream is (re)opened.  Returns True when what it
        shows changed (another monitor or area): the next frame must be a key frame.  Raises
        :class:`CaptureError`.
        """
        reopen = config_gen != self._applied_gen or self._pipeline is None
        if self._capturer is None:
            self._capturer = open_capturer(self._display)
            self._watcher = open_watcher(self._display)
            reopen = True
        if not reopen:
            return False
        try:
            area = self._capturer.area(monitor)
        except IndexError:
            area = self._capturer.virtual_screen()
            monitor = "all"
        if self._pipeline is None or area != self._area:
            self._area = area
            with self._lock:
                last_sent = self._control.last_sent
            self._pipeline = FramePipeline(area.w, area.h, last_sent)
        previous, self._stream = self._stream, StreamArea(monitor, area)
        self._applied_gen = config_gen
        monitors = [m.to_dict() for m in self._capturer.monitors()]
        with self._lock:
            stream = {"monitor": monitor, "x": area.x, "y": area.y, "width": area.w, "height": area.h,
                      "max_fps": self._control.max_fps}
        self._emit("screen.info", {"monitors": monitors, "stream": stream}, None)
        return self._stream != previous

    def _close_sources(self) -> None:
        if self._watcher is not None:
            self._watcher.close()
            self._watcher = None
        if self._capturer is not None:
            self._capturer.close()
            self._capturer = None
        self._pipeline = None
        self._area = None
        self._stream = None


def hidden_rects(capturer: Capturer, items: list[Any]) -> tuple[list[Rect], frozenset[str]]:
    """The fixed hidden rectangles (rectangles, monitors) and the hidden window titles."""
    rects: list[Rect] = []
    titles: set[str] = set()
    monitors = capturer.monitors() if any(item.kind == "monitor" for item in items) else []
    for item in items:
        if item.kind == "rect" and item.rect is not None:
            rects.append(item.rect)
        elif item.kind == "monitor" and item.monitor is not None and item.monitor < len(monitors):
            rects.append(monitors[item.monitor].rect)
        elif item.kind == "window" and item.title:
            titles.add(item.title)
    return rects, frozenset(titles)


def capture_masked(capturer: Capturer, watcher: WindowTracker | None, hidden: HiddenRegions,
                   area: Rect) -> tuple[Frame, list[Rect], bool]:
    """Capture *area* and fill every hidden pixel; returns the frame, the filled rectangles, and
    whether the customer paused meanwhile (then the caller must drop the frame).

    What the customer hides is read before and again after the capture, and
    both are applied: something hidden while the screen was being read is
    masked too.  Hidden windows are located around the capture (every position
    they held during it is filled); when they cannot be located, the whole
    area is filled.  Raises :class:`CaptureError`.
    """
    _paused, before = hidden.snapshot()
    rects, titles = hidden_rects(capturer, before)
    located = True
    if titles and watcher is not None:
        try:
            watcher.begin(titles)
        except Exception:  # an X failure must not leak a window: hide everything
            log.exception("hidden windows cannot be located")
            located = False
    frame = capturer.grab(area)
    paused, after = hidden.snapshot()
    if after != before:
        more_rects, more_titles = hidden_rects(capturer, [item for item in after if item not in before])
        rects += more_rects
        titles |= more_titles
    if titles:
        if watcher is None:
            located = False
        elif located:
            try:
                rects.extend(watcher.end(titles))
            except Exception:
                log.exception("hidden windows cannot be located")
                located = False
    if not located or paused:
        rects = [area]
    return frame, fill_rects(frame, rects, origin=(area.x, area.y)), paused


def take_screenshot(hidden: HiddenRegions, display: str | None, monitor: str | int) -> tuple[bytes, dict[str, Any]]:
    """A PNG of *monitor* with the hidden areas filled, and its description.

    Raises :class:`CaptureError` when the screen cannot be read, IndexError
    for an unknown monitor, :class:`EncodeError` when PNG fails,
    :class:`PausedError` when the customer paused the view meanwhile.
    """
    capturer = open_capturer(display)
    watcher = open_window_tracker(display) if any(
        item.kind == "window" for item in hidden.snapshot()[1]) else None
    try:
        area = capturer.area(monitor)
        frame, filled, paused = capture_masked(capturer, watcher, hidden, area)
        if paused:
            raise PausedError("the customer paused the view of their screen")
        data = png_image(frame)
    finally:
        if watcher is not None:
            watcher.close()
        capturer.close()
    description = {"width": area.w, "height": area.h, "format": "png", "monitor": monitor,
                   "hidden": [{**rect.to_dict(), "label": HIDDEN_LABEL} for rect in filled]}
    return data, description
