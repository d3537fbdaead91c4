"""A private Xvfb with two side-by-side RandR monitors (finding 9 of issue 14's setup).

Xvfb has one output; ``xrandr --setmonitor`` declares two logical monitors on it, which is
what mss (and so the agent) lists, as a desktop with two screens side by side would show.
``-noreset`` keeps them: without it, Xvfb resets (and forgets the monitors) whenever its last
client disconnects, e.g. between two tests.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from typing import Final

from tests import requires

#: Each monitor's size; the virtual screen is two of them side by side.
MONITOR: Final = (1920, 1080)
#: The monitors' rectangles (x, y, w, h) on the virtual screen, by 0-based index.
MONITORS: Final = ((0, 0, *MONITOR), (MONITOR[0], 0, *MONITOR))


def _x(display: str, *command: str) -> str:
    return subprocess.run(list(command), capture_output=True, text=True, check=True, timeout=30,
                          env={"DISPLAY": display, "PATH": os.environ.get("PATH", "/usr/bin:/bin")}).stdout


@contextlib.contextmanager
def two_monitor_xvfb() -> Iterator[str]:
    """Xvfb 3840×1080 with monitors 0 (left) and 1 (right) for the block; yields the display name.

    Fails the test (never skips) when Xvfb or xrandr is missing.
    """
    requires.tool("Xvfb", "xvfb")
    requires.tool("xrandr", "x11-xserver-utils")
    read_fd, write_fd = os.pipe()
    width, height = 2 * MONITOR[0], MONITOR[1]
    process = subprocess.Popen(["Xvfb", "-displayfd", str(write_fd), "-screen", "0", f"{width}x{height}x24",
                                "-noreset", "-nolisten", "tcp", "+extension", "DAMAGE", "+extension", "RANDR"],
                               pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write_fd)
    try:
        with os.fdopen(read_fd) as ready:
            number = ready.readline().strip()
        if not number:
            raise RuntimeError("Xvfb did not start")
        display = f":{number}"
        w, h = MONITOR
        # Millimetre sizes are required by the syntax; 508x286 mm is a 23" 16:9 screen.
        _x(display, "xrandr", "--setmonitor", "left", f"{w}/508x{h}/286+0+0", "screen")
        _x(display, "xrandr", "--setmonitor", "right", f"{w}/508x{h}/286+{w}+0", "none")
        listed = _x(display, "xrandr", "--listmonitors")
        if not listed.startswith("Monitors: 2"):
            raise RuntimeError(f"Xvfb did not take two monitors: {listed!r}")
        yield display
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
