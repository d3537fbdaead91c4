"""Live-screen benchmark: our streamer against x11vnc, side by side, on one 1920×1080 Xvfb.

Run: ``python bench/screen_bench.py`` (about a minute and a half; ``--seconds``
per scenario, ``--scenarios typing,scrolling``, ``--systems ours``,
``--max-fps N`` for our viewer's cap, ``--json out.json``; with
``SCREEN_BENCH_LOG=/tmp/frames`` our viewer logs each frame's rectangles to
``/tmp/frames.<scenario>``).

For each scenario, the same programs run on the same Xvfb, and each system is
measured in turn:

- **ours**: bench/screen_agent.py (ScreenService behind a websocket on
  127.0.0.1) read by bench/screen_client.py in another process, which decodes
  every frame like the widget and acks it;
- **x11vnc** (Debian's, ``-localhost -nopw -forever -shared``, XDamage on by
  default) read by bench/screen_rfb.py, a minimal RFB 3.8 viewer (Tight with
  JPEG quality level 7, CopyRect, Raw; one incremental request outstanding).

Scenarios: **typing** (keys into an xterm running ``cat``, injected with XTEST
as xdotool does, 7 a second), **scrolling** (an xterm filling the screen,
60 lines a second), **static** (nothing changes: the idle cost), **full** (a
full-screen photo-like picture alternating 10 times a second), **solid** (the whole
screen turning from one solid colour to another, 10 times a second: x11vnc sends a
fill, and so do we).

Figures per system: latency from the change on screen (just before the
program draws it; for typing, just before the key is injected) to the pixels
drawn in the client (detected in the decoded pixels: the marker's colour, or
the typed line's checksum), frames/s received, bytes/s received, and CPU of
the capturing process (psutil, user+system, % of one core).  Ratios are
ours / x11vnc: below 1 is better for every figure except frames/s.

Everything runs on loopback, for a bounded time; only processes started here
are stopped, by PID.  The machine load it saw is printed (bench/load.py), and the
verdicts only when other programs left the machine quiet enough for them to mean anything.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import screen_x  # noqa: E402
from load import LoadWatch  # noqa: E402

ROOT = HERE.parent
MARKER_COLOURS = ["#ff0000", "#0000ff", "#00ff00", "#ffff00", "#ff00ff", "#00ffff"]
IMAGE_MARKERS = ["#ff0000", "#0000ff"]  # the block each full-screen picture carries at (64, 64)


def rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


@dataclass
class Event:
    """One change on screen: when it was made, and how a client recognises it."""

    at: float
    colour: tuple[int, int, int] | None = None  # the marker's new colour; None: the region changes


@dataclass
class Scenario:
    name: str
    marker: tuple[int, int, int, int]
    region: tuple[int, int, int, int]
    drive: Callable[[float], list[Event]]
    close: Callable[[], None]
    notes: str = ""


@dataclass
class Measure:
    latencies_ms: list[float] = field(default_factory=list)
    missed: int = 0
    fps: float = 0.0
    bytes_per_s: float = 0.0
    cpu_percent: float = 0.0
    errors: list[str] = field(default_factory=list)

    @property
    def median_ms(self) -> float | None:
        return statistics.median(self.latencies_ms) if self.latencies_ms else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# Scenarios.


class Keyboard:
    """XTEST key presses on the display (what ``xdotool key`` does), timed just before sending."""

    def __init__(self, display: str) -> None:
        import Xlib.display
        from Xlib.ext import xtest

        self._xtest = xtest
        self._display = Xlib.display.Display(display)

    def move_pointer(self, x: int, y: int) -> None:
        from Xlib import X

        self._xtest.fake_input(self._display, X.MotionNotify, x=x, y=y)
        self._display.sync()

    def press(self, character: str) -> float:
        from Xlib import XK, X

        keycode = self._display.keysym_to_keycode(XK.string_to_keysym(character))
        started = time.monotonic()
        self._xtest.fake_input(self._display, X.KeyPress, keycode)
        self._xtest.fake_input(self._display, X.KeyRelease, keycode)
        self._display.sync()
        return started

    def close(self) -> None:
        self._display.close()


def typing(display: str) -> Scenario:
    xterm = screen_x.start_xterm(display, "200x50+0+0", ["cat"], extra=["-T", "bench-typing"])
    screen_x.wait_for_window(display, "bench-typing")
    keyboard = Keyboard(display)
    keyboard.move_pointer(600, 300)  # focus follows the pointer (no window manager)

    def drive(seconds: float) -> list[Event]:
        events = []
        end = time.monotonic() + seconds
        letters = "abcdefghijklmnopqrstuvwxyz"
        i = 0
        while time.monotonic() < end:
            events.append(Event(keyboard.press(letters[i % len(letters)])))
            i += 1
            time.sleep(1 / 7)
        keyboard.press("Return")
        return events

    def close() -> None:
        keyboard.close()
        screen_x.stop(xterm)

    # The typed line: the first text row of the xterm.
    return Scenario("typing", marker=(0, 0, 1, 1), region=(0, 0, 1210, 140), drive=drive, close=close)


def marker_driver(painter: screen_x.Painter, period: float) -> Callable[[float], list[Event]]:
    def drive(seconds: float) -> list[Event]:
        events = []
        end = time.monotonic() + seconds
        i = 0
        while time.monotonic() < end:
            colour = MARKER_COLOURS[i % len(MARKER_COLOURS)]
            events.append(Event(painter.command(f"marker {colour}"), rgb(colour)))
            i += 1
            time.sleep(period)
        return events

    return drive


def scrolling(display: str) -> Scenario:
    loop = ("import itertools, random, time\n"
            "words = 'scroll frame pixel agent relay widget viewer capture damage window tile copy'.split()\n"
            "rng = random.Random(7)\n"
            "for i in itertools.count():\n"
            "    print(f'{i:9d} ' + ' '.join(rng.choice(words) for _ in range(rng.randint(5, 45))), flush=True)\n"
            "    time.sleep(1 / 60)\n")
    xterm = screen_x.start_xterm(display, "318x80+0+0", [sys.executable, "-c", loop], extra=["-T", "bench-scroll"])
    screen_x.wait_for_window(display, "bench-scroll")
    painter = screen_x.Painter(display, "--title", "bench-marker", "--geometry", "48x48+1860+1020", "--fill", "#808080")

    def close() -> None:
        painter.close()
        screen_x.stop(xterm)

    return Scenario("scrolling", marker=(1864, 1024, 24, 24), region=(0, 0, 1, 1),
                    drive=marker_driver(painter, 0.25), close=close)


def static(display: str) -> Scenario:
    xterm = screen_x.start_xterm(display, "200x50+0+0", ["sh", "-c", "ls -l /usr/bin | head -45; exec sleep 3600"],
                                 extra=["-T", "bench-static"])
    screen_x.wait_for_window(display, "bench-static")
    painter = screen_x.Painter(display, "--title", "bench-marker", "--geometry", "48x48+1860+1020", "--fill", "#808080")

    def close() -> None:
        painter.close()
        screen_x.stop(xterm)

    def drive(seconds: float) -> list[Event]:
        time.sleep(seconds)
        return []

    return Scenario("static", marker=(1864, 1024, 24, 24), region=(0, 0, 1, 1), drive=drive, close=close,
                    notes="nothing changes: the idle cost")


def full(display: str) -> Scenario:
    painter = screen_x.Painter(display, "--title", "bench-full", "--geometry", "1920x1080+0+0", "--images", "2",
                               "--markers", ",".join(IMAGE_MARKERS))

    def drive(seconds: float) -> list[Event]:
        events = []
        end = time.monotonic() + seconds
        i = 1
        while time.monotonic() < end:
            events.append(Event(painter.command(f"image {i % 2}"), rgb(IMAGE_MARKERS[i % 2])))
            i += 1
            time.sleep(0.1)
        return events

    return Scenario("full", marker=(80, 80, 32, 32), region=(0, 0, 1, 1), drive=drive, close=painter.close)


SOLID_COLOURS = ["#2060c0", "#f0f0f0"]


def solid(display: str) -> Scenario:
    painter = screen_x.Painter(display, "--title", "bench-solid", "--geometry", "1920x1080+0+0", "--fill",
                               SOLID_COLOURS[0])

    def drive(seconds: float) -> list[Event]:
        events = []
        end = time.monotonic() + seconds
        i = 1
        while time.monotonic() < end:
            colour = SOLID_COLOURS[i % 2]
            events.append(Event(painter.command(f"fill {colour}"), rgb(colour)))
            i += 1
            time.sleep(0.1)
        return events

    return Scenario("solid", marker=(80, 80, 32, 32), region=(0, 0, 1, 1), drive=drive, close=painter.close,
                    notes="the whole screen turns from one solid colour to another, 10 times a second")


SCENARIOS: dict[str, Callable[[str], Scenario]] = {"typing": typing, "scrolling": scrolling, "static": static,
                                                    "full": full, "solid": solid}


# Systems.


@contextlib.contextmanager
def ours(display: str, scenario: Scenario) -> Iterator[tuple[subprocess.Popen[str], int]]:
    """Our agent process and our viewer process; yields (viewer, pid of the capturing process)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(HERE)]))
    agent = subprocess.Popen([sys.executable, str(HERE / "screen_agent.py"), "--display", display, "--port", "0"],
                             env=env, stdout=subprocess.PIPE, text=True)
    viewer = None
    try:
        assert agent.stdout is not None
        line = agent.stdout.readline().split()
        if not line or line[0] != "listening":
            raise screen_x.XError("our agent did not start")
        viewer = subprocess.Popen([sys.executable, str(HERE / "screen_client.py"), "--url", f"ws://127.0.0.1:{line[1]}",
                                   "--marker", ",".join(map(str, scenario.marker)),
                                   "--region", ",".join(map(str, scenario.region)),
                                   *(["--log", os.environ["SCREEN_BENCH_LOG"] + f".{scenario.name}"]
                                     if os.environ.get("SCREEN_BENCH_LOG") else []),
                                   *(["--max-fps", os.environ["SCREEN_BENCH_MAX_FPS"]]
                                     if os.environ.get("SCREEN_BENCH_MAX_FPS") else [])],
                                  env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        yield viewer, agent.pid
    finally:
        screen_x.stop(viewer)
        screen_x.stop(agent)


@contextlib.contextmanager
def x11vnc(display: str, scenario: Scenario) -> Iterator[tuple[subprocess.Popen[str], int]]:
    """x11vnc and the minimal RFB viewer; yields (viewer, pid of x11vnc)."""
    port = free_port()
    server = subprocess.Popen(["x11vnc", "-display", display, "-localhost", "-nopw", "-forever", "-shared",
                               "-rfbport", str(port), "-quiet"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    viewer = None
    try:
        assert server.stdout is not None
        while True:  # x11vnc prints PORT=N once it accepts connections
            line = server.stdout.readline()
            if not line:
                raise screen_x.XError("x11vnc did not start")
            if line.startswith("PORT="):
                break
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(HERE)]))
        viewer = subprocess.Popen([sys.executable, str(HERE / "screen_rfb.py"), "--port", str(port),
                                   "--marker", ",".join(map(str, scenario.marker)),
                                   "--region", ",".join(map(str, scenario.region))],
                                  env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        yield viewer, server.pid
    finally:
        screen_x.stop(viewer)
        screen_x.stop(server)


SYSTEMS = {"ours": ours, "x11vnc": x11vnc}


def cpu_seconds(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


def measure(display: str, scenario: Scenario, system: str, seconds: float, warmup: float) -> Measure:
    with SYSTEMS[system](display, scenario) as (viewer, pid):
        time.sleep(warmup)  # first frame, and the lossless refresh after it
        started, cpu_before = time.monotonic(), cpu_seconds(pid)
        events = scenario.drive(seconds)
        time.sleep(0.3)  # let the last change arrive
        ended, cpu_after = time.monotonic(), cpu_seconds(pid)
        out, _ = viewer.communicate("", timeout=30)  # closing its stdin tells the viewer to report
    result = json.loads(out)
    return analyse(result, events, started, ended, cpu_after - cpu_before)


def close(mean: list[float], colour: tuple[int, int, int]) -> bool:
    """The marker's mean colour is the expected one, give or take JPEG."""
    return all(abs(a - b) <= 60 for a, b in zip(mean, colour, strict=True))


def analyse(result: dict[str, Any], events: list[Event], started: float, ended: float, cpu: float) -> Measure:
    rows = result["observations"]
    measure = Measure(errors=result.get("errors", []))
    span = ended - started
    inside = [r for r in rows if started <= r[0] <= ended]
    measure.fps = sum(1 for r in inside if r[4]) / span
    before = [r[1] for r in rows if r[0] < started]
    upto = [r[1] for r in rows if r[0] <= ended]
    measure.bytes_per_s = ((upto[-1] if upto else 0) - (before[-1] if before else 0)) / span
    measure.cpu_percent = 100.0 * cpu / span
    for index, event in enumerate(events):
        previous = [r for r in rows if r[0] < event.at]
        later = [r for r in rows if r[0] >= event.at]
        newer_colours = [e.colour for e in events[index:] if e.colour is not None]
        found = None
        for row in later:
            if event.colour is None:
                if previous and row[3] != previous[-1][3]:
                    found = row
                    break
            elif any(close(row[2], colour) for colour in newer_colours[:3]):
                found = row
                break
        if found is None:
            measure.missed += 1
        else:
            measure.latencies_ms.append(1000.0 * (found[0] - event.at))
    return measure


# Report.


def fmt(value: float | None, unit: str = "") -> str:
    if value is None:
        return "-"
    if unit == "MB":
        return f"{value / 1e6:.2f}"
    return f"{value:.1f}"


def ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None or b == 0:
        return "-"
    return f"{a / b:.2f}"


def report(results: dict[str, dict[str, Measure]]) -> str:
    lines = []
    header = (f"{'scenario':<10} {'system':<7} {'lat p50 ms':>10} {'lat p90 ms':>10} {'missed':>6} {'frames/s':>8} "
              f"{'MB/s':>7} {'Mbit/s':>7} {'CPU %':>6}")
    lines.append(header)
    lines.append("-" * len(header))
    for name, by_system in results.items():
        for system, m in by_system.items():
            p90 = statistics.quantiles(m.latencies_ms, n=10)[-1] if len(m.latencies_ms) >= 2 else m.median_ms
            lines.append(f"{name:<10} {system:<7} {fmt(m.median_ms):>10} {fmt(p90):>10} {m.missed:>6} {m.fps:>8.1f} "
                         f"{m.bytes_per_s / 1e6:>7.2f} {m.bytes_per_s * 8 / 1e6:>7.1f} {m.cpu_percent:>6.1f}")
            for error in m.errors:
                lines.append(f"    error from the {system} viewer: {error}")
        if {"ours", "x11vnc"} <= set(by_system):
            a, b = by_system["ours"], by_system["x11vnc"]
            lines.append(f"{name:<10} {'ratio':<7} {ratio(a.median_ms, b.median_ms):>10} {'':>10} {'':>6} "
                         f"{ratio(a.fps, b.fps):>8} {ratio(a.bytes_per_s, b.bytes_per_s):>7} {'':>7} "
                         f"{ratio(a.cpu_percent, b.cpu_percent):>6}")
        lines.append("")
    return "\n".join(lines)


def goals(results: dict[str, dict[str, Measure]]) -> list[str]:
    verdicts = []
    for name, by_system in results.items():
        if {"ours", "x11vnc"} <= set(by_system):
            a, b = by_system["ours"], by_system["x11vnc"]
            if a.median_ms is not None and b.median_ms is not None:
                verdicts.append(f"{name}: median latency ours <= x11vnc: {a.median_ms <= b.median_ms}")
            verdicts.append(f"{name}: bytes/s ours <= x11vnc: {a.bytes_per_s <= b.bytes_per_s}")
    if "ours" in results.get("scrolling", {}):
        scroll = results["scrolling"]["ours"]
        verdicts.append(f"scrolling: ours >= 30 frames/s: {scroll.fps >= 30} ({scroll.fps:.1f})")
        verdicts.append(f"scrolling: ours < 30% of a core: {scroll.cpu_percent < 30} ({scroll.cpu_percent:.1f}%)")
    return verdicts


def main() -> None:
    parser = argparse.ArgumentParser(description="Live-screen benchmark: our streamer vs x11vnc.")
    parser.add_argument("--seconds", type=float, default=5.0, help="measured seconds per scenario and system")
    parser.add_argument("--warmup", type=float, default=1.5)
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--systems", default="ours,x11vnc")
    parser.add_argument("--json", type=Path, help="also write the raw figures here")
    parser.add_argument("--max-fps", type=int, default=0, help="our viewer asks for this cap (default: the agent's)")
    args = parser.parse_args()
    if args.max_fps:
        os.environ["SCREEN_BENCH_MAX_FPS"] = str(args.max_fps)
    results: dict[str, dict[str, Measure]] = {}
    watch = LoadWatch()
    with screen_x.xvfb(1920, 1080) as display:
        for name in args.scenarios.split(","):
            scenario = SCENARIOS[name](display)
            try:
                for system in args.systems.split(","):
                    print(f"measuring {name} / {system} …", file=sys.stderr, flush=True)
                    results.setdefault(name, {})[system] = measure(display, scenario, system, args.seconds,
                                                                   args.warmup)
            finally:
                scenario.close()
        watch.stop()
    print(report(results))
    print(watch.describe())
    if watch.too_loaded:
        print(watch.refusal())
    else:
        for verdict in goals(results):
            print(verdict)
    if args.json:
        args.json.write_text(json.dumps({n: {s: vars(m) for s, m in r.items()} for n, r in results.items()}, indent=1))


if __name__ == "__main__":
    main()
