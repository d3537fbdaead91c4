"""Processes for scripted labs, the demo, tests and benchmarks: a relay, an agent, Xvfb.

Each helper starts a real process and reads its stdout line by line in a
thread, so a caller can wait for a line (``session code: …``) instead of
sleeping.  :meth:`Proc.stop` ends only that process.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import queue
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Proc:
    """A child process whose output lines can be awaited."""

    def __init__(self, args: Sequence[str], env: dict[str, str] | None = None, name: str = "",
                 own_group: bool = False, cwd: Path | None = None) -> None:
        """Start *args*.  With *own_group* (POSIX) the process gets a session of its own, so a Ctrl-C
        at the terminal reaches only the caller, which then stops its children in order."""
        self.name = name or Path(args[0]).name
        self.args = list(args)
        self.popen = subprocess.Popen(self.args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, text=True, bufsize=1, env=env, cwd=cwd,
                                      start_new_session=own_group and os.name == "posix")
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            self.lines.append(line.rstrip("\n"))
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for(self, pattern: str, timeout: float = 30.0) -> re.Match[str]:
        """Wait for an output line matching *pattern* (after those already consumed).

        Raises TimeoutError, or RuntimeError when the process ended first;
        both carry the output so far.
        """
        deadline = time.monotonic() + timeout
        regex = re.compile(pattern)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"{self.name}: no line matching {pattern!r}; output:\n" + "\n".join(self.lines))
            try:
                line = self._queue.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                self._queue.put(None)
                raise RuntimeError(f"{self.name} ended (status {self.popen.wait()}) before {pattern!r}; output:\n"
                                   + "\n".join(self.lines))
            found = regex.search(line)
            if found:
                return found

    def signal(self, signum: int) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signum)

    def wait(self, timeout: float = 30.0) -> int:
        return self.popen.wait(timeout)

    def stop(self, timeout: float = 10.0) -> int:
        """Terminate (then kill) this process; return its exit status."""
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
        status = self.popen.wait()
        self._reader.join(5)
        return status

    def kill(self) -> None:
        """SIGKILL (TerminateProcess on Windows), as a crash would."""
        if self.popen.poll() is None:
            self.popen.kill()
        self.popen.wait()


def python_env(**extra: str) -> dict[str, str]:
    """This environment, unbuffered, plus *extra*."""
    return {**os.environ, "PYTHONUNBUFFERED": "1", **extra}


def start_relay(data: Path, port: int = 0, *extra: str, own_group: bool = False) -> tuple[Proc, str]:
    """Start ``workbench relay``; return it and its ``ws://`` URL once it listens."""
    proc = Proc([sys.executable, "-m", "workbench.cli", "relay", "--port", str(port), "--data", str(data), *extra],
                env=python_env(), name="relay", own_group=own_group)
    return proc, _ready(proc, r"relay listening on (\S+)")


def start_agent(relay_url: str, data: Path, *extra: str, window: bool = False,
                env: dict[str, str] | None = None, own_group: bool = False) -> tuple[Proc, str]:
    """Start ``workbench-agent --accept-terms``; return it and the session code it printed."""
    args = [sys.executable, "-m", "agent.cli", "--relay", relay_url, "--data", str(data), "--accept-terms",
            "--window" if window else "--no-window", *extra]
    proc = Proc(args, env=env or python_env(), name="agent", own_group=own_group)
    return proc, _ready(proc, r"session code: (\d{3} \d{3} \d{3})")


def _ready(proc: Proc, pattern: str) -> str:
    """Wait for *proc*'s ready line and return its first group; stop the process if it never comes."""
    try:
        return proc.wait_for(pattern).group(1)
    except BaseException:
        proc.stop()
        raise


class Xvfb:
    """A virtual X screen on a free display number."""

    def __init__(self, width: int = 1280, height: int = 800, depth: int = 24, *, reset: bool = True) -> None:
        """Start the screen; without *reset* it keeps its state (the desktop's background) when its
        last client leaves."""
        if shutil.which("Xvfb") is None:
            raise FileNotFoundError("Xvfb is not installed (apt-get install xvfb)")
        read_fd, write_fd = os.pipe()
        # -displayfd: Xvfb picks a free display and writes its number when ready.
        self.popen = subprocess.Popen(["Xvfb", "-displayfd", str(write_fd), "-screen", "0",
                                       f"{width}x{height}x{depth}", "-nolisten", "tcp", "+extension", "DAMAGE",
                                       *([] if reset else ["-noreset"])],
                                      pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                      # its own session: a Ctrl-C at the terminal must not take the screen
                                      # away before the programs on it are stopped
                                      start_new_session=True)
        os.close(write_fd)
        with os.fdopen(read_fd) as ready:
            number = ready.readline().strip()
        if not number:
            self.popen.kill()
            raise RuntimeError("Xvfb did not start")
        self.display = f":{number}"

    def env(self, **extra: str) -> dict[str, str]:
        return python_env(DISPLAY=self.display, **extra)

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(10)
        if self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait()


@contextlib.contextmanager
def serve_page(directory: Path, page: str, name: str) -> Iterator[str]:
    """Serve *directory* over http on a loopback port, with the HTML *page* at ``/name``; yields its URL.

    For the widget's ES modules in a bare page (modules need http; WebCodecs a secure context,
    which loopback is).  The server stops when the block ends.
    """
    class Handler(http.server.SimpleHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.startswith(f"/{name}"):
                body = page.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            super().do_GET()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(directory)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/{name}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
