"""The peer of the click benchmark: x11vnc on the same Xvfb, and a VNC client that clicks.

:func:`x11vnc` starts Debian's x11vnc as a user would for a remote-support session
(``-localhost -nopw -forever -shared``, everything else at its defaults) and stops it
afterwards, by its PID.  :class:`PointerClient` is bench/screen_rfb.py's RFB 3.8
viewer (same handshake, same encodings, one incremental update request always
outstanding, updates decoded in a thread, as a VNC viewer runs) that also asks for the
cursor's shape (the Cursor pseudo-encoding, as common viewers do, so x11vnc does not
paint the cursor into the picture at every move) and sends PointerEvent messages
(RFC 6143, 7.5.5).
"""

from __future__ import annotations

import contextlib
import queue
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Iterator
from typing import Any

import numpy.typing as npt
from screen_observe import Observer
from screen_rfb import COMPRESS_LEVEL_0, COPYRECT, QUALITY_LEVEL_0, RAW, TIGHT, Viewer
from screen_x import XError, stop

POINTER_EVENT = 5
SET_ENCODINGS = 2
RICH_CURSOR = -239  # pseudo-encoding: the server sends the cursor's shape instead of painting it in the picture


class _Quiet(Observer):
    """The viewer's observer, recording nothing (only input latency is measured here)."""

    def __init__(self) -> None:
        super().__init__((0, 0, 0, 0), (0, 0, 0, 0))
        self.updates = 0

    def observe(self, when: float, received: int, pixels: npt.NDArray[Any], drew: bool) -> None:
        self.updates += int(drew)


class PointerClient(Viewer):
    """An RFB viewer on 127.0.0.1:*port* that reads updates in a thread and clicks on request."""

    def __init__(self, port: int, quality: int = 7, compress: int = 2, cursor_shape: bool = True) -> None:
        self._send_lock = threading.Lock()  # the reader thread asks for updates, the caller sends pointer events
        self.quiet = _Quiet()
        super().__init__(port, quality, compress, self.quiet)
        if cursor_shape:  # as common viewers do; else x11vnc paints the cursor into the picture at every move
            encodings = [TIGHT, COPYRECT, RAW, QUALITY_LEVEL_0 + quality, COMPRESS_LEVEL_0 + compress, RICH_CURSOR]
            self.conn.sock.sendall(struct.pack(">BxH", SET_ENCODINGS, len(encodings))
                                   + struct.pack(f">{len(encodings)}i", *encodings))
        self._stop = threading.Event()
        self.error: BaseException | None = None
        self._reader = threading.Thread(target=self._read, name="rfb-reader", daemon=True)
        self._reader.start()

    def request(self, incremental: bool) -> None:
        with self._send_lock:
            super().request(incremental)

    def _rect(self, x: int, y: int, w: int, h: int, encoding: int) -> None:
        if encoding == RICH_CURSOR:  # the shape (32-bit pixels) and its mask: read, not drawn
            self.conn.read(w * h * 4 + (w + 7) // 8 * h)
            return
        super()._rect(x, y, w, h, encoding)

    def _read(self) -> None:
        try:
            self.run(self._stop)
        except (EOFError, OSError):
            pass
        except BaseException as err:  # kept for the report
            self.error = err

    def pointer(self, x: int, y: int, buttons: int) -> None:
        """One PointerEvent: the button mask (bit 0 = left) at desktop (x, y)."""
        message = struct.pack(">BBHH", POINTER_EVENT, buttons, x, y)
        with self._send_lock:
            self.conn.sock.sendall(message)

    def press_release(self, x: int, y: int) -> int:
        """Left press then release at (x, y); returns ``time.time_ns()`` read just before the press is sent."""
        press = struct.pack(">BBHH", POINTER_EVENT, 1, x, y)
        release = struct.pack(">BBHH", POINTER_EVENT, 0, x, y)
        with self._send_lock:
            started = time.time_ns()
            self.conn.sock.sendall(press)
            self.conn.sock.sendall(release)
        return started

    def close(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            self.conn.sock.close()
        self._reader.join(5)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def x11vnc(display: str, timeout: float = 30.0) -> Iterator[tuple[subprocess.Popen[str], int]]:
    """x11vnc on *display*, loopback only, no password; yields (process, port) once it accepts clients."""
    port = free_port()
    server = subprocess.Popen(["x11vnc", "-display", display, "-localhost", "-nopw", "-forever", "-shared",
                               "-rfbport", str(port), "-quiet"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:  # also keeps draining, so that what it prints later never blocks it
        assert server.stdout is not None
        for line in server.stdout:
            lines.put(line)
        lines.put(None)

    reader = threading.Thread(target=read, name="x11vnc-output", daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + timeout
        while True:  # x11vnc prints PORT=N once it accepts connections
            try:
                line = lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                line = None
            if line is None:
                raise XError("x11vnc did not start")
            if line.startswith("PORT="):
                break
        yield server, port
    finally:
        stop(server)
        reader.join(5)
