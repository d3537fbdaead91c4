"""The overlay on X11: a click-through window over the whole screen, visible only where marks are.

Availability: X11 (Linux, BSD) with python-xlib and the SHAPE extension 1.1 (input
shapes), on a 24-bit TrueColor screen.  No compositor is needed.

How it is made:

- One override-redirect window covering the root (window managers leave it alone, so it has
  no frame, no taskbar entry, and cannot be focused).  It has no title, so it never shows in the
  customer's "hide a window" picker.
- Its *bounding* shape is the marks' pixels (a one-bit mask from :mod:`agent.annotate.render`),
  so everywhere else the desktop shows as it is; its *input* shape is empty, so every click,
  wheel and hover goes to the window under it.  The customer keeps using their PC.
- Its background is a server-side pixmap holding the marks' picture: the X server repaints any
  exposed part by itself, with no event handling on our side.
- It is raised when marks change, and again whenever another top-level window is mapped or
  restacked above it (at most :data:`MAX_RAISES_PER_SECOND` times a second, so two "always on
  top" programs cannot ping-pong forever).
- It is unmapped while there is no mark.
- It never outlives the agent: the window belongs to this connection, whose close-down mode is
  the default (destroy), so the X server removes it when the connection closes — on
  :meth:`X11Overlay.close`, on exit, and on a crash or a kill.
- Translucency (highlighter, fading laser) is a stipple: see :mod:`agent.annotate.render`.

One thread owns the connection (python-xlib connections are not for sharing): it runs the
callers' :meth:`~X11Overlay.show` and :meth:`~X11Overlay.close` as jobs, and between them sleeps
in ``select()`` on the connection for the stacking events.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import queue
import select
import socket
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any, Final

from PIL import Image

from agent.annotate.base import OverlayError
from agent.annotate.model import Mark
from agent.annotate.render import render
from agent.screen.hidden import Rect

log = logging.getLogger(__name__)

try:
    import Xlib.display
    import Xlib.error
    from Xlib import X
    from Xlib.ext import shape
except ImportError:  # pragma: no cover - exercised only where python-xlib is missing
    Xlib = None  # type: ignore[assignment]

MAX_RAISES_PER_SECOND: Final = 10
#: How long a caller waits for the overlay's thread to draw.
JOB_TIMEOUT_SECONDS: Final = 30.0
#: The window's WM_CLASS, so tools (and tests) can tell it apart; it has no title.
WM_CLASS: Final = ("workbench-marks", "Workbench")
_REQUEST_HEADER_BYTES: Final = 64


class X11Overlay:
    """Marks over the whole X screen, click-through.  Raises :class:`OverlayError` when it cannot be made."""

    name = "x11"

    def __init__(self, display: str | None = None) -> None:
        if Xlib is None:
            raise OverlayError("python-xlib is not installed")
        self._jobs: queue.SimpleQueue[tuple[Callable[[], None], Future[None]]] = queue.SimpleQueue()
        self._wake_reader, self._wake_writer = socket.socketpair()
        self._wake_reader.setblocking(False)
        self._closing = False
        self._failure: BaseException | None = None
        # Thread-owned X state.
        self._display: Any = None
        self._window: Any = None
        self._pixmap: Any = None
        self._gc: Any = None
        self._size = (0, 0)
        self._mapped = False
        self._marks: list[Mark] = []
        self._errors: list[str] = []
        self._raises: collections.deque[float] = collections.deque()
        self._restack_wanted = False
        ready: Future[None] = Future()
        self._thread = threading.Thread(target=self._run, args=(display, ready), name="annotate-overlay",
                                        daemon=True)
        self._thread.start()
        ready.result()

    @property
    def window_id(self) -> int | None:
        """The overlay window's X id (for tests and diagnostics)."""
        return int(self._window.id) if self._window is not None else None

    def show(self, marks: Sequence[Mark]) -> None:
        """Draw exactly *marks* (oldest first) and raise the overlay; blocks until the server has them.

        Raises :class:`OverlayError` when the display is gone or refused a request.
        """
        marks = list(marks)
        self._call(lambda: self._show(marks))

    def close(self) -> None:
        """Remove the overlay window and close the connection; safe to call twice."""
        if self._closing:
            return
        self._closing = True
        if self._thread.is_alive():
            with contextlib.suppress(OverlayError):
                self._call(self._teardown, closing=True)
            self._thread.join(JOB_TIMEOUT_SECONDS)
        self._wake_reader.close()
        self._wake_writer.close()

    # Callers' side.

    def _call(self, job: Callable[[], None], closing: bool = False) -> None:
        if (self._closing and not closing) or not self._thread.is_alive():
            raise OverlayError(f"the overlay is closed{f' ({self._failure})' if self._failure else ''}")
        done: Future[None] = Future()
        self._jobs.put((job, done))
        with contextlib.suppress(OSError):
            self._wake_writer.send(b"\0")
        try:
            done.result(JOB_TIMEOUT_SECONDS)
        except TimeoutError as err:
            raise OverlayError("the overlay did not answer in time") from err

    # The overlay's thread.

    def _run(self, display: str | None, ready: Future[None]) -> None:
        try:
            self._open(display)
        except Exception as err:
            self._close_display()
            ready.set_exception(err if isinstance(err, OverlayError) else OverlayError(str(err)))
            return
        ready.set_result(None)
        try:
            self._loop()
        except Exception as err:  # the display went away: fail what waits, and end
            self._failure = err
            log.warning("the marks overlay lost its display: %s", err)
        finally:
            self._close_display()
            while True:
                try:
                    _, done = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if not done.done():
                    done.set_exception(OverlayError(f"the overlay is closed ({self._failure or 'closing'})"))

    def _loop(self) -> None:
        while True:
            while True:
                try:
                    job, done = self._jobs.get_nowait()
                except queue.Empty:
                    break
                try:
                    job()
                except Exception as err:
                    done.set_exception(err if isinstance(err, OverlayError) else OverlayError(str(err)))
                    if isinstance(err, Xlib.error.ConnectionClosedError):
                        raise
                else:
                    done.set_result(None)
                if job == self._teardown:
                    return
            while self._display.pending_events():
                self._handle(self._display.next_event())
            timeout = self._restack() if self._restack_wanted else None
            readable, _, _ = select.select([self._display.fileno(), self._wake_reader], [], [], timeout)
            if self._wake_reader in readable:
                with contextlib.suppress(BlockingIOError, OSError):
                    while self._wake_reader.recv(4096):
                        pass
            if self._display.fileno() in readable and not self._display.pending_events():
                # select() said readable: reading lets python-xlib see the events or the hang-up.
                self._display.sync()

    def _open(self, display: str | None) -> None:
        try:
            self._display = Xlib.display.Display(display)
        except (Xlib.error.DisplayError, Xlib.error.ConnectionClosedError, OSError) as err:
            raise OverlayError(f"cannot open X display {display!r}: {err}") from err
        d = self._display
        d.set_error_handler(lambda err, *args: self._errors.append(str(err)))
        if not d.has_extension("SHAPE"):
            raise OverlayError("the X server has no SHAPE extension")
        version = d.shape_query_version()
        if (version.major_version, version.minor_version) < (1, 1):
            raise OverlayError("the X server's SHAPE extension has no input shapes (needs 1.1)")
        screen = d.screen()
        info = d.display.info
        self._depth = screen.root_depth
        visual = next((v for depth in screen.allowed_depths if depth.depth == self._depth
                       for v in depth.visuals if v.visual_id == screen.root_visual), None)
        bits = next((f.bits_per_pixel for f in info.pixmap_formats if f.depth == self._depth), None)
        if (visual is None or visual.visual_class != X.TrueColor or bits != 32
                or (visual.red_mask, visual.green_mask, visual.blue_mask) != (0xFF0000, 0xFF00, 0xFF)):
            raise OverlayError(f"unsupported screen format (depth {self._depth}, {bits} bits per pixel)")
        lsb = info.image_byte_order == X.LSBFirst
        if lsb != (info.bitmap_format_bit_order == X.LSBFirst):
            raise OverlayError("unsupported bitmap format (mixed bit and byte order)")
        self._rawmode = "BGRX" if lsb else "XRGB"
        self._bitmap_rawmode = "1;R" if lsb else "1"
        self._max_request = int(info.max_request_length) * 4 - _REQUEST_HEADER_BYTES
        self._root = screen.root
        geometry = self._root.get_geometry()
        self._make_window(geometry.width, geometry.height)
        self._root.change_attributes(event_mask=X.SubstructureNotifyMask | X.StructureNotifyMask)
        d.sync()
        if self._errors:
            raise OverlayError(f"the X server refused the overlay: {self._errors[0]}")

    def _make_window(self, width: int, height: int) -> None:
        self._size = (width, height)
        self._pixmap = self._root.create_pixmap(width, height, self._depth)
        self._gc = self._pixmap.create_gc()
        self._window = self._root.create_window(
            0, 0, width, height, 0, self._depth, X.InputOutput, X.CopyFromParent,
            override_redirect=True, background_pixmap=self._pixmap, border_pixel=0)
        self._window.set_wm_class(*WM_CLASS)
        self._window.shape_rectangles(shape.SO.Set, shape.SK.Input, X.Unsorted, 0, 0, [])
        self._window.shape_rectangles(shape.SO.Set, shape.SK.Bounding, X.Unsorted, 0, 0, [])
        self._mapped = False

    def _free_window(self) -> None:
        if self._window is not None:
            self._window.destroy()
            self._gc.free()
            self._pixmap.free()
            self._window = self._gc = self._pixmap = None
        self._mapped = False

    def _teardown(self) -> None:
        self._free_window()
        self._display.sync()

    def _close_display(self) -> None:
        if self._display is not None:
            with contextlib.suppress(Exception):
                self._display.close()  # the server destroys whatever is left of ours
            self._display = None
            self._window = self._gc = self._pixmap = None

    def _show(self, marks: list[Mark]) -> None:
        self._marks = marks
        self._errors.clear()
        window = self._window
        rendering = render(marks, Rect(0, 0, *self._size))
        if rendering is None:
            window.shape_rectangles(shape.SO.Set, shape.SK.Bounding, X.Unsorted, 0, 0, [])
            if self._mapped:
                window.unmap()
                self._mapped = False
        else:
            area = rendering.area
            self._put(self._pixmap, self._gc, area, self._depth,
                      rendering.image.tobytes("raw", self._rawmode), area.w * 4)
            # A one-bit pixmap of the mask, its rows padded to 32 bits as the server expects.
            padded = (area.w + 31) // 32 * 32
            mask = rendering.mask
            if padded != area.w:
                mask = Image.new("1", (padded, area.h))
                mask.paste(rendering.mask, (0, 0))
            bitmap = window.create_pixmap(padded, area.h, 1)
            bitmap_gc = bitmap.create_gc(foreground=1, background=0)
            self._put(bitmap, bitmap_gc, Rect(0, 0, padded, area.h), 1,
                      mask.tobytes("raw", self._bitmap_rawmode), padded // 8)
            window.shape_mask(shape.SO.Set, shape.SK.Bounding, area.x, area.y, bitmap)
            bitmap_gc.free()
            bitmap.free()
            # Parts that were already visible keep old pixels until repainted from the background.
            window.clear_area(area.x, area.y, area.w, area.h)
            if not self._mapped:
                window.map()
                self._mapped = True
            self._raise()
        self._display.sync()
        if self._errors:
            raise OverlayError(f"the X server refused to draw the marks: {self._errors[0]}")

    def _put(self, drawable: Any, gc: Any, area: Rect, depth: int, data: bytes, row_bytes: int) -> None:
        """PutImage in bands that fit the server's largest request."""
        rows = max(1, self._max_request // row_bytes)
        for top in range(0, area.h, rows):
            count = min(rows, area.h - top)
            drawable.put_image(gc, area.x, area.y + top, area.w, count, X.ZPixmap, depth, 0,
                               data[top * row_bytes:(top + count) * row_bytes])

    def _raise(self) -> None:
        now = time.monotonic()
        while self._raises and now - self._raises[0] > 1.0:
            self._raises.popleft()
        self._raises.append(now)
        self._window.configure(stack_mode=X.Above)
        self._restack_wanted = False

    def _handle(self, event: Any) -> None:
        window = getattr(event, "window", None)
        if window is None or self._window is None:
            return
        if event.type == X.ConfigureNotify and window.id == self._root.id:
            if (event.width, event.height) != self._size:  # the screen was resized (RandR)
                self._free_window()
                self._make_window(event.width, event.height)
                self._show(self._marks)
        elif event.type in (X.MapNotify, X.ConfigureNotify, X.CirculateNotify) and window.id != self._window.id:
            self._restack_wanted = self._mapped

    def _restack(self) -> float | None:
        """Raise the overlay if another window went above it; returns when to try again, if held back."""
        now = time.monotonic()
        while self._raises and now - self._raises[0] > 1.0:
            self._raises.popleft()
        if len(self._raises) >= MAX_RAISES_PER_SECOND:
            return max(0.05, 1.0 - (now - self._raises[0]))
        children = self._root.query_tree().children
        if self._mapped and children and children[-1].id != self._window.id:
            self._raise()
            self._display.sync()
        self._restack_wanted = False
        return None
