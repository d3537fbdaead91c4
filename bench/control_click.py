"""Click latency: from a click in the browser widget to the ButtonPress at a program on Xvfb,
ours against a VNC client's pointer event through x11vnc, measured in the same run.

    python bench/control_click.py [--clicks N] [--systems ours,x11vnc] [--size 1920x1080] [--trace]

One Xvfb; on it one program (bench/control_receiver.py, python-xlib) whose window
covers the screen and prints the time (``time.time_ns()``) at which it reads each
ButtonPress.  Both systems run for the whole run, on the same display:

- **ours**: ``workbench relay`` and ``workbench-agent --allow-control`` on the display; a
  technician session in this process mints a viewing token; the live-screen widget
  (workbench/static/screen.js, in a bare page on 127.0.0.1, bench/control_browser.py)
  in Debian's headless Chromium connects to the relay, and its Control toggle is
  switched on.  A click: Playwright moves the mouse over the canvas, waits 20 ms (the
  pointer is already there, as in a real click), then presses and releases.  The
  widget sends ``control.pointer`` down/up in desktop px; relay → agent → XTEST.
- **x11vnc**: ``x11vnc -localhost -nopw -forever -shared`` on the display (its defaults
  otherwise), and an RFB 3.8 client (bench/control_vnc.py, bench/screen_rfb.py's
  viewer, reading screen updates and taking the cursor's shape as viewers do) that
  moves the pointer there, waits 20 ms, then sends PointerEvent press and release.

Start of the measure: **ours**, the time the ``pointerdown`` reaches the page (a capture
listener on ``window``, ``performance.timeOrigin + performance.now()``), i.e. when the
browser hands the click to the page, before any of our code runs; **x11vnc**, just
before the client sends the press, i.e. when a VNC viewer would hand it to its socket.
End: the receiver reads the ButtonPress.  Same machine, same wall clock; the page's
clock is checked against this process's (printed; subtracted only when measurable).
A second row for ours starts just before Playwright's ``mouse.down()`` (this
process's clock only), which adds Playwright's and Chromium's input path.

The clicks alternate in blocks of five between the systems, so both see the same
machine load.  x11vnc's clicks are, for our agent, the customer's own input (C1): it
suspends the technician's input until the customer has been idle for 2 s; each block
of ours starts once the widget says the customer is no longer active.

Breakdown (the X server's time stamp of each event, ms of CLOCK_MONOTONIC on Xvfb,
whole ms): until the server processed the press, and from there until the program
read it.  For ours, also the time from ``pointerdown`` until the widget's ``ws.send``
returned.  Prints median and p90 of each, and the ratio ours / x11vnc (goal ≤ 1).
With ``--trace``, the relay and the agent run under bench/control_trace.py, which
time-stamps the press at each hop (relay in/out, agent in, control service, injection
thread, XTEST written), and the report splits our latency hop by hop.

Loopback only; bounded waits; only processes started here are stopped (by PID), and
Chromium's helpers are reaped.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import math
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(1, str(ROOT))
import control_browser  # noqa: E402
import control_vnc  # noqa: E402
import screen_x  # noqa: E402
from playwright.sync_api import Page  # noqa: E402

from tests.e2e import lab_browser  # noqa: E402
from workbench import connect  # noqa: E402
from workbench.lab import Proc, python_env, start_agent, start_relay  # noqa: E402

STAGES = ("relay.decoded", "relay.sent", "agent.decoded", "agent.on_event", "agent.inject", "agent.injected")
BLOCK = 5
WARMUP = 3
SETTLE_S = 0.02  # between moving to the point and pressing, both systems
PRESS_TIMEOUT_S = 5.0
WIDGET_CSS_WIDTH = 1280


@dataclass
class Press:
    """One ButtonPress as the receiver read it."""

    x: int
    y: int
    wall_ns: int
    server_to_read_ms: int  # the receiver's reading minus the X server's time stamp (whole ms)


@dataclass
class Sample:
    """One measured click: latency from the system's start of measure, and its parts (ms)."""

    total_ms: float
    to_server_ms: float
    server_to_read_ms: float
    harness_ms: float | None = None  # ours: from just before Playwright's mouse.down()
    to_send_ms: float | None = None  # ours: pointerdown → the widget's ws.send returned
    start_ms: float = 0.0  # the start of the measure, ms since the epoch on this process's clock
    stages_ms: dict[str, float] = field(default_factory=dict)  # ours with --trace: stage → ms since the start


@dataclass
class Results:
    samples: list[Sample] = field(default_factory=list)
    missed: int = 0


class Receiver:
    """bench/control_receiver.py on the display; :meth:`press` waits for the next ButtonPress at a point."""

    def __init__(self, display: str) -> None:
        self.proc = Proc([sys.executable, str(HERE / "control_receiver.py"), "--display", display],
                         env=python_env(), name="receiver")
        self.proc.wait_for(r"^ready ", timeout=30)

    def press(self, x: int, y: int, timeout: float = PRESS_TIMEOUT_S) -> Press | None:
        """The next press at (x, y) ±1 px, or None after *timeout* (presses elsewhere are skipped)."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            try:
                found = self.proc.wait_for(r"^press 1 (\d+) (\d+) (\d+) (\d+) (\d+)$", timeout=remaining)
            except TimeoutError:
                return None
            px, py, wall, mono, xtime = (int(v) for v in found.groups())
            if abs(px - x) <= 1 and abs(py - y) <= 1:
                return Press(px, py, wall, (mono // 1_000_000 - xtime) % (1 << 32))
            print(f"  (a press at ({px}, {py}) while waiting for ({x}, {y}): skipped)", file=sys.stderr)

    def stop(self) -> None:
        self.proc.stop()


def targets(count: int, width: int, height: int, seed: int = 5) -> list[tuple[int, int]]:
    """*count* distinct points well inside the screen, in random order."""
    rng = random.Random(seed)
    points: set[tuple[int, int]] = set()
    while len(points) < count:
        points.add((rng.randrange(width // 10, width * 9 // 10), rng.randrange(height // 10, height * 9 // 10)))
    return list(points)


def pause(rng: random.Random) -> None:
    time.sleep(rng.uniform(0.12, 0.28))  # not in step with either system's polling


class Ours:
    """The widget in the page, with control on; clicks at desktop points through Playwright."""

    def __init__(self, page: Page, width: int, height: int, offset_ms: float) -> None:
        self.page = page
        self.offset_ms = offset_ms
        left, top, css_w, css_h = control_browser.canvas_box(page)
        self.box = (left, top, css_w / width, css_h / height)
        self.pending: list[tuple[int, Press | None]] = []  # (just before mouse.down, the press)

    def page_point(self, x: int, y: int) -> tuple[float, float]:
        left, top, sx, sy = self.box
        return left + (x + 0.5) * sx, top + (y + 0.5) * sy

    def click(self, receiver: Receiver, x: int, y: int) -> None:
        px, py = self.page_point(x, y)
        mouse = self.page.mouse
        mouse.move(px, py)
        time.sleep(SETTLE_S)
        started = time.time_ns()
        mouse.down()
        mouse.up()
        press = receiver.press(x, y)
        self.pending.append((started, press))

    def collect(self, results: Results) -> None:
        """Match the page's log with the presses (one pointerdown and one send per click)."""
        down, sent = control_browser.log(self.page)
        if len(down) != len(self.pending) or len(sent) != len(self.pending):
            raise RuntimeError(f"{len(self.pending)} clicks, but the page saw {len(down)} pointerdown "
                               f"and sent {len(sent)} presses")
        for (started, press), page_down, (_, sent_after) in zip(self.pending, down, sent, strict=True):
            if press is None:
                results.missed += 1
                continue
            start_ms = page_down - self.offset_ms  # on this process's clock
            total = press.wall_ns / 1e6 - start_ms
            results.samples.append(Sample(total_ms=total, to_server_ms=total - press.server_to_read_ms,
                                          server_to_read_ms=press.server_to_read_ms,
                                          harness_ms=(press.wall_ns - started) / 1e6,
                                          to_send_ms=sent_after - page_down, start_ms=start_ms))


class Peer:
    """The VNC client clicking through x11vnc."""

    def __init__(self, client: control_vnc.PointerClient) -> None:
        self.client = client

    def click(self, receiver: Receiver, x: int, y: int, results: Results) -> None:
        self.client.pointer(x, y, 0)
        time.sleep(SETTLE_S)
        started = self.client.press_release(x, y)
        press = receiver.press(x, y)
        if press is None:
            results.missed += 1
            return
        total = (press.wall_ns - started) / 1e6
        results.samples.append(Sample(total_ms=total, to_server_ms=total - press.server_to_read_ms,
                                      server_to_read_ms=press.server_to_read_ms))


def wait_customer_idle(page: Page) -> None:
    """After the peer's clicks: until our agent lets the technician's input through again.

    The agent says the customer is active (x11vnc's clicks are input it did not inject),
    then, after the grace period, that they are not.
    """
    with contextlib.suppress(AssertionError):  # said and unsaid before we looked: fine too
        lab_browser.wait_until(lambda: control_browser.customer_active(page), "the agent to see the customer",
                               timeout=3.0, interval=0.05)
    lab_browser.wait_until(lambda: not control_browser.customer_active(page),
                           "the agent to resume the technician's input", timeout=20.0, interval=0.05)
    time.sleep(0.1)


# Profiling (--trace).


def start_traced(which: str, args: list[str], trace: Path, pattern: str, env: dict[str, str]) -> tuple[Proc, str]:
    """The relay or the agent through bench/control_trace.py; returns it and its ready line's first group."""
    proc = Proc([sys.executable, str(HERE / "control_trace.py"), which, *args],
                env={**env, "CONTROL_TRACE": str(trace)}, name=f"{which} (traced)")
    try:
        return proc, proc.wait_for(pattern).group(1)
    except BaseException:
        proc.stop()
        raise


def attach_trace(results: Results, trace: Path, skip: int) -> str | None:
    """Give each of our samples its stages from the trace file; None, or why it could not."""
    times: dict[str, list[int]] = {stage: [] for stage in STAGES}
    for line in trace.read_text().splitlines():
        stage, _, value = line.partition(" ")
        if stage in times:
            times[stage].append(int(value))
    counts = {stage: len(values) - skip for stage, values in times.items()}
    if results.missed or any(count != len(results.samples) for count in counts.values()):
        return f"the trace does not match the clicks ({len(results.samples)} measured, trace {counts})"
    for index, sample in enumerate(results.samples):
        sample.stages_ms = {stage: times[stage][skip + index] / 1e6 - sample.start_ms for stage in STAGES}
    return None


# Report.


def percentile(values: list[float], fraction: float) -> float:
    """Nearest rank."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def row(name: str, values: list[float], missed: int | None = None) -> str:
    if not values:
        return f"{name:<52}{'-':>8}{'-':>8}{'-':>8}" + (f"{missed:>8}" if missed is not None else "")
    text = (f"{name:<52}{statistics.median(values):>8.2f}{percentile(values, 0.9):>8.2f}"
            f"{statistics.fmean(values):>8.2f}")
    return text + (f"{missed:>8}" if missed is not None else "")


def report(ours: Results | None, peer: Results | None, offset: tuple[float, float], size: str,
           load: tuple[float, float]) -> str:
    lines = [f"Xvfb {size}; {os.cpu_count()} CPUs, load average {load[0]:.1f} at the start, {load[1]:.1f} at the end "
             "(other programs' load lengthens both tails)",
             "click → ButtonPress read by the program, ms",
             f"{'':<52}{'median':>8}{'p90':>8}{'mean':>8}{'missed':>8}"]

    def part(results: Results, get: Callable[[Sample], float | None]) -> list[float]:
        return [v for v in (get(s) for s in results.samples) if v is not None]

    if ours is not None:
        lines.append(row(f"ours (widget → relay → agent → XTEST), n={len(ours.samples)}",
                         part(ours, lambda s: s.total_ms), ours.missed))
    if peer is not None:
        lines.append(row(f"x11vnc (RFB PointerEvent → x11vnc), n={len(peer.samples)}",
                         part(peer, lambda s: s.total_ms), peer.missed))
    if ours is not None and peer is not None and ours.samples and peer.samples:
        a, b = part(ours, lambda s: s.total_ms), part(peer, lambda s: s.total_ms)
        lines.append(f"ratio ours/x11vnc: median {statistics.median(a) / statistics.median(b):.2f}x, "
                     f"p90 {percentile(a, 0.9) / percentile(b, 0.9):.2f}x (goal: at most 1.0x)")
    lines.append("")
    lines.append("breakdown, ms")
    if ours is not None:
        lines.append(row("ours: pointerdown → ws.send returned (page)", part(ours, lambda s: s.to_send_ms)))
        lines.append(row("ours: pointerdown → X server stamp (whole ms)", part(ours, lambda s: s.to_server_ms)))
        lines.append(row("ours: X server stamp → program read (whole ms)", part(ours, lambda s: s.server_to_read_ms)))
        lines.append(row("ours from just before Playwright mouse.down()", part(ours, lambda s: s.harness_ms)))
    if peer is not None:
        lines.append(row("x11vnc: send → X server stamp (whole ms)", part(peer, lambda s: s.to_server_ms)))
        lines.append(row("x11vnc: X server stamp → program read (whole ms)",
                         part(peer, lambda s: s.server_to_read_ms)))
    if ours is not None and ours.samples and ours.samples[0].stages_ms:
        lines.append("")
        lines.append("ours, where the time goes (--trace: time stamps in the relay and the agent), ms")
        marks: list[tuple[str, Callable[[Sample], float | None]]] = [
            ("pointerdown in the page", lambda s: 0.0),
            ("the page's ws.send returned", lambda s: s.to_send_ms),
            ("relay read and decoded it", lambda s: s.stages_ms["relay.decoded"]),
            ("relay sent it on", lambda s: s.stages_ms["relay.sent"]),
            ("agent read and decoded it", lambda s: s.stages_ms["agent.decoded"]),
            ("ControlService.on_event", lambda s: s.stages_ms["agent.on_event"]),
            ("injection thread took it", lambda s: s.stages_ms["agent.inject"]),
            ("XTEST requests written", lambda s: s.stages_ms["agent.injected"]),
            ("the program read the press", lambda s: s.total_ms),
        ]
        for (_, start), (after, end) in itertools.pairwise(marks):
            values = [b - a for a, b in ((start(s), end(s)) for s in ours.samples) if a is not None and b is not None]
            lines.append(row(f"  → {after}", values))
        slowest = sorted(ours.samples, key=lambda s: s.total_ms)[-5:]
        lines.append("  slowest clicks, ms at each stage from pointerdown (send, relay in/out, agent in/event/"
                     "inject/injected, read):")
        for sample in reversed(slowest):
            stages = [sample.to_send_ms or 0.0, *(sample.stages_ms[stage] for stage in STAGES), sample.total_ms]
            lines.append("    " + " ".join(f"{v:6.2f}" for v in stages))
    if ours is not None:
        applied = "subtracted" if abs(offset[0]) > offset[1] else "not measurable: not applied"
        lines.append(f"page clock − this process's clock: {offset[0]:+.3f} ms ± {offset[1]:.3f} ms ({applied})")
    return "\n".join(lines)


# The run.


def run(clicks: int, systems: set[str], width: int, height: int, trace: bool = False) -> str:
    rng = random.Random(11)
    load_before = os.getloadavg()[0]
    points = targets(2 * (clicks + WARMUP), width, height)
    ours_results = Results() if "ours" in systems else None
    peer_results = Results() if "x11vnc" in systems else None
    offset = (0.0, 0.0)
    with contextlib.ExitStack() as stack:
        stack.enter_context(lab_browser.subreaper())
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="control-click-")))
        display = stack.enter_context(screen_x.xvfb(width, height))
        receiver = Receiver(display)
        stack.callback(receiver.stop)
        peer: Peer | None = None
        client: control_vnc.PointerClient | None = None
        if peer_results is not None:
            _, port = stack.enter_context(control_vnc.x11vnc(display))
            client = control_vnc.PointerClient(port)
            stack.callback(client.close)
            peer = Peer(client)
        ours: Ours | None = None
        page: Page | None = None
        if ours_results is not None:
            if trace:
                relay, url = start_traced("relay", ["--port", "0", "--data", str(tmp / "relay")], tmp / "trace",
                                          r"relay listening on (\S+)", python_env())
                stack.callback(relay.stop)
                agent, code = start_traced("agent", ["--relay", url, "--data", str(tmp / "agent"), "--accept-terms",
                                                     "--no-window", "--allow-control"], tmp / "trace",
                                           r"session code: (\d{3} \d{3} \d{3})", python_env(DISPLAY=display))
            else:
                relay, url = start_relay(tmp / "relay")
                stack.callback(relay.stop)
                agent, code = start_agent(url, tmp / "agent", "--allow-control", env=python_env(DISPLAY=display))
            stack.callback(agent.stop)
            session = connect(code, relay=url, name="click bench")
            stack.callback(session.close)
            token = str(session.call("relay.viewer_token").value["token"])
            page_url = stack.enter_context(control_browser.blank_page())
            browser = stack.enter_context(lab_browser.chromium())
            page = browser.new_page(viewport={"width": WIDGET_CSS_WIDTH + 40, "height": 1000})
            stack.callback(page.close)
            control_browser.open_widget(page, page_url, url, session.session_id, token, WIDGET_CSS_WIDTH)
            control_browser.wait_for_picture(page, width, height)
            try:
                control_browser.control_on(page, timeout_ms=30_000)
            except Exception as err:
                raise SystemExit("the agent never granted control to the widget (screen.control): is the "
                                 "ControlService wired into agent/app.py?") from err
            offset = control_browser.clock_offset(page)
            # Both clocks are the system's wall clock: an offset is applied only when one is measurable.
            ours = Ours(page, width, height, offset[0] if abs(offset[0]) > offset[1] else 0.0)
        # Warm up both paths, then alternate blocks.
        warm = Results()
        for _ in range(WARMUP):
            if peer is not None:
                peer.click(receiver, *points.pop(), warm)
                pause(rng)
        if ours is not None and page is not None:
            if peer is not None:
                wait_customer_idle(page)
            for _ in range(WARMUP):
                ours.click(receiver, *points.pop())
                pause(rng)
            ours.collect(Results())
            ours.pending.clear()
            control_browser.reset_log(page)
        done = {"ours": 0, "x11vnc": 0}
        while done["ours"] < (clicks if ours else 0) or done["x11vnc"] < (clicks if peer else 0):
            if peer is not None and peer_results is not None:
                for _ in range(min(BLOCK, clicks - done["x11vnc"])):
                    peer.click(receiver, *points.pop(), peer_results)
                    done["x11vnc"] += 1
                    pause(rng)
            if ours is not None and page is not None:
                if peer is not None:
                    wait_customer_idle(page)
                for _ in range(min(BLOCK, clicks - done["ours"])):
                    ours.click(receiver, *points.pop())
                    done["ours"] += 1
                    pause(rng)
        if ours is not None and ours_results is not None:
            ours.collect(ours_results)
            if trace:
                problem = attach_trace(ours_results, tmp / "trace", skip=WARMUP)
                if problem:
                    print(f"--trace: {problem}", file=sys.stderr)
        if client is not None and client.error is not None:
            print(f"the VNC client stopped reading updates: {client.error!r}", file=sys.stderr)
    return report(ours_results, peer_results, offset, f"{width}x{height}", (load_before, os.getloadavg()[0]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clicks", type=int, default=50, help="measured clicks per system (default 50)")
    parser.add_argument("--systems", default="ours,x11vnc", help="ours, x11vnc, or both (default)")
    parser.add_argument("--size", default="1920x1080", help="the Xvfb screen, WxH (default 1920x1080)")
    parser.add_argument("--trace", action="store_true",
                        help="profile ours: time stamps in the relay and the agent (bench/control_trace.py)")
    args = parser.parse_args()
    systems = {s.strip() for s in args.systems.split(",") if s.strip()}
    if not systems or not systems <= {"ours", "x11vnc"}:
        parser.error("--systems: ours, x11vnc, or both")
    if args.clicks < 1:
        parser.error("--clicks must be at least 1")
    width, height = (int(v) for v in args.size.lower().split("x"))
    print(run(args.clicks, systems, width, height, trace=args.trace))
    return 0


if __name__ == "__main__":
    sys.exit(main())
