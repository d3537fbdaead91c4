"""The agent's screen service: viewer events in, ``screen.*`` events out, two methods.

:class:`ScreenService` is what the agent's link talks to.  It streams only
while the relay counts at least one viewer (``relay.viewers``), tells the
customer in plain words when their screen starts and stops being viewed, and
answers ``screen.screenshot`` (a PNG with hidden areas filled, journaled by the
dispatcher like every call) and ``screen.monitors``.  The frames themselves
are made by :class:`agent.screen.streamer.Streamer` on its worker thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Callable
from typing import Any

from agent.dispatch import CallContext, Method, Reply, SendEvent
from agent.panel.catalogue import say
from agent.screen.capture import CaptureError, open_capturer
from agent.screen.encode import EncodeError
from agent.screen.hidden import HiddenRegions
from agent.screen.streamer import MAX_FPS_LIMIT, PausedError, Streamer, take_screenshot
from agent.screen.tracking import list_windows
from wire.errors import BadParams, Forbidden, Unavailable

log = logging.getLogger(__name__)

VIEWED = say("screen.viewed")
NOT_VIEWED = say("screen.not_viewed")


def _monitor_param(value: Any) -> str | int:
    """Raises :class:`BadParams` unless *value* is "all" or a monitor index."""
    if value == "all":
        return "all"
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 64:
        return value
    raise BadParams("'monitor' must be \"all\" or a monitor index", param="monitor")


def list_monitors(display: str | None) -> list[dict[str, Any]]:
    """The monitors (0-based ``index``, ``x``, ``y``, ``width``, ``height``, ``primary``), for the
    customer's "hide a monitor" picker and ``screen.monitors``.

    Blocking.  Raises :class:`Unavailable` when there is no screen to read.
    """
    try:
        capturer = open_capturer(display)
    except CaptureError as err:
        raise Unavailable(str(err)) from err
    try:
        return [m.to_dict() for m in capturer.monitors()]
    finally:
        capturer.close()


class ScreenService:
    """Live screen for viewers, screenshots and the monitor list, within what the customer hides."""

    def __init__(self, hidden: HiddenRegions, send_event: SendEvent, tell_customer: Callable[[str], None],
                 display: str | None = None) -> None:
        self.hidden = hidden
        self._send_event = send_event
        self._tell_customer = tell_customer
        self._display = display
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue[tuple[str, dict[str, Any], bytes | None]] | None = None
        self._sender: asyncio.Task[None] | None = None
        self._streamer: Streamer | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._viewers = 0
        #: viewers the stream is for: the technicians' views, plus the relay's recorder when it records
        self._streaming = 0
        self.METHODS: list[Method] = [
            Method("screen.screenshot", self._screenshot, "screen",
                   lambda params: say("screen.screenshot")),
            Method("screen.monitors", self._monitors, "screen",
                   lambda params: say("screen.monitors")),
        ]

    # Life cycle.

    async def start(self) -> None:
        """Start the worker thread and the sender task; idle until a viewer is counted."""
        if self._sender is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._queue = asyncio.Queue()
        self._sender = asyncio.create_task(self._send_loop(), name="screen-sender")
        self._streamer = Streamer(self.hidden, self._emit, self._display)
        self._streamer.start()
        self._unsubscribe = self.hidden.on_change(self._hidden_changed)

    async def stop(self) -> None:
        """Stop streaming, join the worker thread, end the sender task; safe to call twice."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._streamer is not None:
            self._streamer.stop()
            self._streamer = None
        self._streaming = 0
        if self._viewers > 0:
            self._viewers = 0
            self._tell_customer(NOT_VIEWED)
        if self._sender is not None:
            self._sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sender
            self._sender = None
        self._queue = None

    # Viewer events (forwarded by the relay, with body.viewer_id).

    async def on_event(self, name: str, body: dict[str, Any]) -> None:
        """Handle ``relay.viewers``, ``screen.ack``, ``screen.configure``, ``screen.key_request``.

        Never raises: a malformed body from a viewer is logged and ignored, so
        one bad viewer cannot stop the stream for the others.
        """
        streamer = self._streamer
        if streamer is None:
            return
        viewer_id = body.get("viewer_id")
        viewer_id = viewer_id if isinstance(viewer_id, str) else None
        if name == "relay.viewers":
            count = body.get("count")
            ids = body.get("viewers", [])
            if not isinstance(count, int) or isinstance(count, bool) or count < 0:
                log.info("relay.viewers without a count: %r", body)
                return
            ids = [v for v in ids if isinstance(v, str)] if isinstance(ids, list) else []
            # The relay's recorder (R5) is not a person looking: the customer's window says the session
            # is recorded, not that the screen is viewed.  While a view is open the recorder keeps the
            # frames the views get (paced by their acks); with none, it is the one viewer, and acks.
            recorder = body.get("recorder")
            if count == 0 and isinstance(recorder, str) and recorder:
                streaming, ids = 1, [recorder]
            else:
                streaming = count
            before, self._viewers, self._streaming = self._viewers, count, streaming
            last_frame_seq = body.get("last_frame_seq")
            if not isinstance(last_frame_seq, int) or isinstance(last_frame_seq, bool) or last_frame_seq < 0:
                last_frame_seq = None
            streamer.set_viewers(streaming, ids, last_frame_seq)
            if count > 0 and before == 0:
                self._tell_customer(VIEWED)
            elif count == 0 and before > 0:
                self._tell_customer(NOT_VIEWED)
            if streaming > 0:
                self._queue_state()
        elif name == "screen.ack":
            seq = body.get("seq")
            if isinstance(seq, int) and not isinstance(seq, bool):
                streamer.ack(seq, viewer_id)
        elif name == "screen.configure":
            try:
                monitor = _monitor_param(body["monitor"]) if "monitor" in body else None
            except BadParams:
                log.info("screen.configure with a bad monitor: %r", body.get("monitor"))
                return
            max_fps = body.get("max_fps")
            if not isinstance(max_fps, (int, float)) or isinstance(max_fps, bool) or not max_fps >= 1:
                max_fps = None
            copy, h264 = body.get("copy"), body.get("h264")
            streamer.configure(monitor, int(min(max_fps, MAX_FPS_LIMIT)) if max_fps is not None else None,
                               copy if isinstance(copy, bool) else None, viewer_id,
                               h264 if isinstance(h264, bool) else None)
        elif name == "screen.key_request":
            streamer.request_key_frame()
        else:
            log.debug("screen service ignores event %s", name)

    # Methods (run by the dispatcher in its worker threads).

    def _screenshot(self, context: CallContext) -> Reply:
        """``screen.screenshot {monitor?}``: PNG bytes; raises Forbidden (paused), BadParams, Unavailable."""
        monitor = _monitor_param(context.params.get("monitor", "all"))
        if self.hidden.paused:
            raise Forbidden("the customer paused the view of their screen")
        try:
            data, description = take_screenshot(self.hidden, self._display, monitor)
        except IndexError as err:
            raise BadParams(f"no monitor {monitor!r}", param="monitor") from err
        except PausedError as err:
            raise Forbidden(str(err)) from err
        except (CaptureError, EncodeError) as err:
            raise Unavailable(f"the screen cannot be read: {err}") from err
        context.journal_details.update(sha256=hashlib.sha256(data).hexdigest(), bytes=len(data),
                                       width=description["width"], height=description["height"],
                                       hidden_areas=len(description["hidden"]))
        return Reply(description, data)

    def _monitors(self, context: CallContext) -> dict[str, Any]:
        """``screen.monitors``: the monitor list; raises Unavailable when there is no screen."""
        try:
            capturer = open_capturer(self._display)
        except CaptureError as err:
            raise Unavailable(str(err)) from err
        try:
            whole = capturer.virtual_screen()
            return {"monitors": [m.to_dict() for m in capturer.monitors()],
                    "virtual": {"x": whole.x, "y": whole.y, "width": whole.w, "height": whole.h}}
        finally:
            capturer.close()

    def list_windows(self) -> list[dict[str, Any]]:
        """The visible windows (title, x, y, w, h), for the customer's "hide a window" picker.

        Blocking (call it off the event loop).  Raises :class:`Unsupported`
        on a system without window tracking, :class:`Unavailable` where the
        windows cannot be listed (no display, python-xlib missing).

        Availability: X11 and Windows (see :mod:`agent.screen.tracking`).
        """
        return list_windows(self._display)

    # Plumbing between the worker thread and the event loop.

    def _emit(self, name: str, body: dict[str, Any], data: bytes | None) -> None:
        """Called from the worker thread: queue an event for the sender task."""
        loop, queue = self._loop, self._queue
        if loop is None or queue is None:
            return
        with contextlib.suppress(RuntimeError):  # loop closed while stopping
            loop.call_soon_threadsafe(queue.put_nowait, (name, body, data))

    def _hidden_changed(self) -> None:
        """Called from whichever thread changed the hidden regions."""
        if self._streaming > 0 and self._loop is not None:
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._queue_state)

    def _queue_state(self) -> None:
        paused, items = self.hidden.snapshot()
        if paused:
            reason = "The customer paused the view of their screen"
        elif items:
            reason = "The customer hid part of their screen"
        else:
            reason = ""
        if self._queue is not None:
            self._queue.put_nowait(("screen.state", {"paused": paused, "hidden_count": len(items),
                                                     "reason": reason}, None))

    async def _send_loop(self) -> None:
        assert self._queue is not None
        queue = self._queue
        while True:
            name, body, data = await queue.get()
            try:
                await self._send_event(name, body, data)
            except asyncio.CancelledError:
                raise
            except Exception:  # a lost link drops frames; acks time out and streaming goes on
                log.warning("sending %s failed", name, exc_info=True)
