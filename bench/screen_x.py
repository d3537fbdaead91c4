"""Helpers shared by the screen benchmark and the screen tests: a private Xvfb and programs on it.

Everything started here is a child process, stopped by its own PID; nothing
else is touched.  Xvfb is started with ``-displayfd``, so it picks a free
display number itself and says when it is ready (no polling, no sleep).
"""

from __future__ import annotations

import contextlib
import io
import os
import select
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image

HERE = Path(__file__).resolve().parent
PAINTER = HERE / "screen_painter.py"


class XError(RuntimeError):
    """An X program did not start or did not answer in time."""


def stop(process: subprocess.Popen[bytes] | subprocess.Popen[str] | None, timeout: float = 5.0) -> None:
    """Terminate *process* (by its PID) and reap it; kill it if it does not end in *timeout*."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout)


def start_xvfb(width: int = 1920, height: int = 1080, timeout: float = 20.0) -> tuple[subprocess.Popen[bytes], str]:
    """Start Xvfb on a free display; returns the process and the display name (":N").

    Raises :class:`XError` when Xvfb is missing or does not become ready in *timeout*.
    """
    if shutil.which("Xvfb") is None:
        raise XError("Xvfb is not installed")
    reader, writer = os.pipe()
    try:
        process = subprocess.Popen(
            ["Xvfb", "-displayfd", str(writer), "-screen", "0", f"{width}x{height}x24", "-nolisten", "tcp",
             "-noreset", "+extension", "DAMAGE"],
            pass_fds=(writer,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    finally:
        os.close(writer)
    try:
        number = b""
        deadline = time.monotonic() + timeout
        while not number.endswith(b"\n"):
            remaining = deadline - time.monotonic()
            ready, _, _ = select.select([reader], [], [], max(0.0, remaining))
            if not ready:
                stop(process)
                raise XError("Xvfb did not report a display in time")
            chunk = os.read(reader, 64)
            if not chunk:
                stop(process)
                raise XError("Xvfb exited before reporting its display")
            number += chunk
    finally:
        os.close(reader)
    return process, f":{int(number)}"


@contextlib.contextmanager
def xvfb(width: int = 1920, height: int = 1080) -> Iterator[str]:
    """A private Xvfb for the duration of the block; yields its display name."""
    process, display = start_xvfb(width, height)
    try:
        yield display
    finally:
        stop(process)


def x_env(display: str) -> dict[str, str]:
    env = dict(os.environ)
    env["DISPLAY"] = display
    return env


class Painter:
    """A small Tk window (bench/screen_painter.py) that draws what it is told, and says when it did."""

    def __init__(self, display: str, *args: str) -> None:
        self.process = subprocess.Popen([sys.executable, str(PAINTER), *args], env=x_env(display),
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        line = self._read_line(30.0)
        if not line.startswith("ready"):
            self.close()
            raise XError(f"painter did not start: {line!r}")
        self.window_id = int(line.split()[1])

    def _read_line(self, timeout: float) -> str:
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        if not ready:
            raise XError("painter did not answer in time")
        return self.process.stdout.readline().strip()

    def command(self, line: str, timeout: float = 10.0) -> float:
        """Send one command; returns the ``time.monotonic()`` at which the painter started drawing it."""
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()
        answer = self._read_line(timeout)
        if not answer.startswith("drawn"):
            raise XError(f"painter answered {answer!r} to {line!r}")
        return float(answer.split()[1])

    def close(self) -> None:
        if self.process.stdin is not None:
            with contextlib.suppress(OSError):
                self.process.stdin.close()
        stop(self.process)
        if self.process.stdout is not None:
            self.process.stdout.close()


def start_xterm(display: str, geometry: str, command: Sequence[str] | None = None,
                extra: Sequence[str] = ()) -> subprocess.Popen[bytes]:
    """Start an xterm (fixed font, no blinking cursor) running *command* (default: a shell)."""
    args = ["xterm", "-display", display, "-geometry", geometry, "-bg", "white", "-fg", "black",
            "+bc", "-xrm", "XTerm*allowSendEvents: true", *extra]
    if command:
        args += ["-e", *command]
    return subprocess.Popen(args, env=x_env(display), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def wait_for_window(display: str, name: str, timeout: float = 20.0) -> int:
    """The id of a visible window called *name*, waiting for it with ``xdotool search --sync``.

    Raises :class:`XError` when none appears in *timeout*.
    """
    try:
        out = subprocess.run(["xdotool", "search", "--sync", "--onlyvisible", "--name", f"^{name}$"],
                             env=x_env(display), capture_output=True, text=True, timeout=timeout, check=True)
    except (subprocess.TimeoutExpired, subprocess.CalledProcessError) as err:
        raise XError(f"no window {name!r}: {err}") from err
    return int(out.stdout.split()[0])


def xdotool(display: str, *args: str) -> None:
    subprocess.run(["xdotool", *args], env=x_env(display), check=True, timeout=20,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def reference_capture(display: str) -> npt.NDArray[np.uint8]:
    """The whole screen as RGB, read independently of mss (ImageMagick's ``import``)."""
    out = subprocess.run(["import", "-display", display, "-window", "root", "png:-"], capture_output=True,
                         check=True, timeout=60).stdout
    with Image.open(io.BytesIO(out)) as image:
        return np.asarray(image.convert("RGB")).copy()
