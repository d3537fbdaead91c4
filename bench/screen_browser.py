"""The live screen measured where it is seen: into the widget's canvas in JupyterLab, against
noVNC reading x11vnc through websockify, both in the same headless Chromium, in one run.

    python bench/screen_browser.py [--seconds 6] [--rounds 2] [--scenarios typing,scrolling,full,solid] \\
        [--novnc DIR] [--websockify-path DIR] [--json out.json]

- **ours**: a real relay and a real agent process on a 1920×1080 Xvfb; JupyterLab runs a
  notebook that connects and shows ``s.screen()``; the widget draws into its canvas (its own
  websocket to the relay, as a technician's does).
- **noVNC**: ``x11vnc -localhost -nopw -forever -shared`` on the same Xvfb, websockify in
  front of it, and noVNC's ``core/rfb.js`` (npm ``@novnc/novnc``, a devDependency in
  package.json: ``--novnc`` defaults to ``node_modules/@novnc/novnc``) on a page of the same
  browser; JPEG quality level 7 as bench/screen_rfb.py asks.  websockify (the ``bench`` extra)
  runs as ``python -m websockify``; ``--websockify-path`` puts a ``pip install --target``
  folder on its PYTHONPATH instead.

**Each view is measured alone**: while one system is measured the other is disconnected (our
widget is told its page is hidden, so it closes its socket as it does for a hidden tab; noVNC's
RFB is disconnected), and the systems take turns, ``--rounds`` times per scenario, the order
swapped every round.  A page-side loop reads the canvas every animation frame and notes when
the change showed (page clock, converted to ours with :func:`clock_offset`): the marker's
colour for scrolling, full and solid; the typed line's cursor for typing.  Latency is from
the change on the screen (the painter's time just before it draws; the key's injection for
typing) to that moment.  For typing, a key counts as seen once the cursor stands past it (the
rightmost dark pixel of the typed line), so keys drawn together in one frame are each timed.

Scenarios (bench/screen_bench.py's): **typing** (keys into an xterm, 7 a second; here the
xterm's program clears its screen on Return, so every turn types on the first line),
**scrolling** (an xterm scrolling 60 lines a second, a marker changing 4 times a second),
**full** (a full-screen photo-like picture alternating 10 times a second) and **solid** (the
whole screen between two solid colours, 10 times a second).

Figures per system and scenario: latency p50/p90, frames/s (binary websocket messages the page
received per second: one per frame for ours; websockify forwards each of x11vnc's writes),
bytes/s the page's websockets received, and the CPU (% of one core) of every process on the
path while that system alone was live: agent and relay, or x11vnc and websockify (with its
children), and Chromium's renderers and its other processes (browser, GPU, network).  Ratios
are ours / noVNC's.  The machine load is printed (bench/load.py), and a verdict only when it
was quiet.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

import screen_bench  # noqa: E402
import screen_x  # noqa: E402
from control_browser import clock_offset  # noqa: E402
from load import LoadWatch  # noqa: E402

from tests.e2e import lab_browser as lab  # noqa: E402
from workbench.lab import Xvfb, serve_page, start_agent, start_relay  # noqa: E402

WIDTH, HEIGHT = 1920, 1080
NOTEBOOK = "bench.ipynb"
SYSTEMS = ("ours", "noVNC")
#: The typed line as the page watches it: the first text row of the xterm (fixed font, 13 px), inside its
#: 200 columns and below its black X border (both would be the rightmost dark pixel).
TYPED_LINE = (0, 3, 1180, 13)

#: Counts what the page's websockets receive, says which are open, lets the bench hide the page from
#: the widget (the Page Visibility API, as a hidden tab), and watches a canvas every animation frame.
INSTRUMENT = """
(() => {
  window.benchBytes = {};
  window.benchMessages = {};
  window.benchOpen = {};
  const Native = window.WebSocket;
  // A native socket, not a subclass (noVNC checks the socket's own prototype for its methods).
  function Counting(url, protocols) {
    const ws = protocols === undefined ? new Native(url) : new Native(url, protocols);
    const key = String(url).split('?')[0];
    ws.addEventListener('open', () => { window.benchOpen[key] = (window.benchOpen[key] ?? 0) + 1; });
    ws.addEventListener('close', () => { window.benchOpen[key] = (window.benchOpen[key] ?? 1) - 1; });
    ws.addEventListener('message', (event) => {
      const size = typeof event.data === 'string' ? event.data.length : (event.data.byteLength ?? event.data.size);
      window.benchBytes[key] = (window.benchBytes[key] ?? 0) + size;
      if (typeof event.data !== 'string') window.benchMessages[key] = (window.benchMessages[key] ?? 0) + 1;
    });
    return ws;
  }
  Counting.prototype = Native.prototype;
  Object.assign(Counting, { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 });
  window.WebSocket = Counting;
  window.benchHidden = false;
  Object.defineProperty(Document.prototype, 'visibilityState', {
    configurable: true, get() { return window.benchHidden ? 'hidden' : 'visible'; } });
  Object.defineProperty(Document.prototype, 'hidden', { configurable: true, get() { return window.benchHidden; } });
  window.benchSetHidden = (hidden) => {
    window.benchHidden = hidden;
    document.dispatchEvent(new Event('visibilitychange'));
  };
  // mode "pixel": the colour at (x, y) whenever it changes; "cursor": the x of the rightmost dark pixel
  // of the w x h area at (x, y) whenever it changes (one glyph further right for each key typed).
  const now = () => performance.timeOrigin + performance.now();
  window.benchWatch = (selector, mode, x, y, w, h) => {
    window.benchSeen = [];
    const id = (window.benchWatchId ?? 0) + 1;
    window.benchWatchId = id;
    let last = null;
    let canvas = null;
    const tick = () => {
      if (window.benchWatchId !== id) return;
      // Looked up again only when it left the page: a query of JupyterLab's whole DOM every
      // animation frame would be the watcher's CPU counted as the view's.
      if (!canvas || !canvas.isConnected) canvas = document.querySelector(selector);
      if (canvas && canvas.width >= x + w && canvas.height >= y + h) {
        const data = canvas.getContext('2d', { willReadFrequently: true }).getImageData(x, y, w, h).data;
        let key;
        if (mode === 'pixel') {
          key = `${data[0]},${data[1]},${data[2]}`;
          if (key !== last) window.benchSeen.push([now(), data[0], data[1], data[2]]);
        } else {  // "cursor": the rightmost dark pixel of the area (the typed line's cursor block)
          let right = -1;
          for (let row = 0; row < h; row += 1) {
            for (let col = w - 1; col > right; col -= 1) {
              const at = (row * w + col) * 4;
              if (data[at] + data[at + 1] + data[at + 2] < 384) { right = col; break; }
            }
          }
          key = String(right);
          if (key !== last) window.benchSeen.push([now(), right, 0, 0]);
        }
        last = key;
      }
      requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  };
})();
"""

NOVNC_PAGE = """<!doctype html><meta charset="utf-8"><title>noVNC bench</title>
<div id="screen" style="width:1920px;height:1080px"></div>
<script type="module">
import RFB from './core/rfb.js';
window.benchConnect = () => {
  window.novncConnected = false;
  const rfb = new RFB(document.getElementById('screen'), 'ws://127.0.0.1:{port}');
  rfb.viewOnly = true;
  rfb.qualityLevel = 7;
  rfb.addEventListener('connect', () => { window.novncConnected = true; });
  rfb.addEventListener('disconnect', () => { window.novncConnected = false; });
  window.rfb = rfb;
};
window.benchDisconnect = () => { if (window.rfb) window.rfb.disconnect(); window.rfb = null; };
window.benchReady = true;
</script>
"""

#: The typing scenario's xterm program: echoes each key (raw mode), and clears the screen on Return.
TYPIST = ("import os, sys, tty\n"
          "tty.setraw(0)\n"
          "while True:\n"
          "    c = os.read(0, 1)\n"
          "    if not c: break\n"
          "    os.write(1, b'\\033[H\\033[2J' if c in b'\\r\\n' else c)\n")


def start(args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


def typing(display: str) -> screen_bench.Scenario:
    """bench/screen_bench.py's typing, into an xterm that clears its screen on Return (see :data:`TYPIST`)."""
    xterm = screen_x.start_xterm(display, "200x50+0+0", [sys.executable, "-c", TYPIST],
                                 extra=["-T", "bench-typing"])
    screen_x.wait_for_window(display, "bench-typing")
    keyboard = screen_bench.Keyboard(display)
    keyboard.move_pointer(600, 300)  # focus follows the pointer (no window manager)

    def drive(seconds: float) -> list[screen_bench.Event]:
        events = []
        end = time.monotonic() + seconds
        letters = "abcdefghijklmnopqrstuvwxyz"
        i = 0
        while time.monotonic() < end:
            events.append(screen_bench.Event(keyboard.press(letters[i % len(letters)])))
            i += 1
            time.sleep(1 / 7)
        time.sleep(0.5)  # the last key's way to the canvas, before the line is cleared
        keyboard.press("Return")
        return events

    def close() -> None:
        keyboard.close()
        screen_x.stop(xterm)

    return screen_bench.Scenario("typing", marker=TYPED_LINE, region=TYPED_LINE, drive=drive, close=close)


SCENARIOS = {**screen_bench.SCENARIOS, "typing": typing}


def cpu_of(pids: dict[str, list[int]]) -> dict[str, float]:
    """CPU seconds (user + system) so far of each named group of processes, with their children
    (websockify serves each client from a child process); Chromium's processes are split into its
    renderers and the rest (browser, GPU, network) by their ``--type``."""
    totals: dict[str, float] = {}
    for name, group in pids.items():
        total = 0.0
        for pid in group:
            try:
                proc = psutil.Process(pid)
                family = [proc] if name.startswith("chromium") else [proc, *proc.children(recursive=True)]
                total += sum(sum(one.cpu_times()[:2]) for one in family)
            except psutil.Error:
                continue
        totals[name] = total
    return totals


def chromium_pids() -> dict[str, list[int]]:
    """This process's Chromium descendants: renderers, and everything else."""
    groups: dict[str, list[int]] = {"chromium renderers": [], "chromium other": []}
    for proc in psutil.Process().children(recursive=True):
        try:
            if "chrom" not in proc.name().lower() and "headless_shell" not in proc.name().lower():
                continue
            renderer = "--type=renderer" in proc.cmdline()
        except psutil.Error:
            continue
        groups["chromium renderers" if renderer else "chromium other"].append(proc.pid)
    return groups


#: Pixels one typed character moves the cursor (xterm's fixed font, 6×13).
GLYPH_WIDTH = 6


def latencies(events: list[screen_bench.Event], seen: list[list[float]], offset_ms: float) -> list[float]:
    """Ms from each change (monotonic seconds) to the first time it was seen (page ms).

    A change with a colour is seen when the watched pixel takes it.  A key (typing, no colour)
    is seen once the cursor stands past it: the *k*-th key of a turn typed on a cleared line
    when the cursor is ``k + 1`` glyphs right of where it stood on the empty line (its
    leftmost position seen), so keys drawn together in one frame are each timed right.
    """
    wall_minus_mono = time.time() - time.monotonic()
    found = []
    home = min((row[1] for row in seen if row[1] >= 0), default=0.0)
    for index, event in enumerate(events):
        at_ms = (event.at + wall_minus_mono) * 1000
        for when, r, g, b in seen:
            page_ms = when - offset_ms
            if page_ms < at_ms - 1:
                continue
            if event.colour is None:
                if r >= home + (index + 1) * GLYPH_WIDTH:
                    found.append(page_ms - at_ms)
                    break
            elif max(abs(r - event.colour[0]), abs(g - event.colour[1]), abs(b - event.colour[2])) <= 40:
                found.append(page_ms - at_ms)
                break
    return found


class Views:
    """The two pages, each able to go live alone: our widget in JupyterLab, and noVNC."""

    def __init__(self, ours: Any, vnc: Any, relay_url: str) -> None:
        self.pages = {"ours": ours, "noVNC": vnc}
        self.selectors = {"ours": ".wb-screen-canvas", "noVNC": "#screen canvas"}
        self.relay_url = relay_url

    def _open_sockets(self, system: str) -> int:
        opened = self.pages[system].evaluate("() => ({...benchOpen})")
        if system == "ours":
            return sum(v for k, v in opened.items() if k.startswith(self.relay_url))
        return sum(opened.values())

    def live(self, system: str, on: bool) -> None:
        """Connect *system*'s view (and wait for its first picture), or disconnect it and wait until it has."""
        page = self.pages[system]
        if system == "ours":
            page.evaluate(f"() => benchSetHidden({'false' if on else 'true'})")
        elif on:
            page.evaluate("() => benchConnect()")
            lab.wait_until(lambda: page.evaluate("() => window.novncConnected === true"), "noVNC connected")
        else:
            page.evaluate("() => benchDisconnect()")
        lab.wait_until(lambda: (self._open_sockets(system) > 0) == on,
                       f"{system}'s view {'connected' if on else 'disconnected'}")

    def counters(self, system: str) -> tuple[float, float]:
        """Bytes and binary messages *system*'s page received so far on its view's sockets."""
        page = self.pages[system]
        got = page.evaluate("() => [{...benchBytes}, {...benchMessages}]")
        keep = (lambda k: k.startswith(self.relay_url)) if system == "ours" else (lambda k: True)
        return (float(sum(v for k, v in got[0].items() if keep(k))),
                float(sum(v for k, v in got[1].items() if keep(k))))


def measure_turn(views: Views, system: str, scenario: screen_bench.Scenario, seconds: float,
                 pids: dict[str, list[int]]) -> dict[str, Any]:
    """One system's turn at one scenario, the other view disconnected."""
    page = views.pages[system]
    views.live(system, True)
    try:
        x, y, w, h = scenario.marker
        if scenario.name == "typing":
            page.evaluate(f"() => benchWatch('{views.selectors[system]}', 'cursor', {x}, {y}, {w}, {h})")
        else:
            page.evaluate(f"() => benchWatch('{views.selectors[system]}', 'pixel', {x + w // 2}, {y + h // 2}, 1, 1)")
        scenario.drive(1.5)  # warm up: the key frame, the lossless refresh after it
        bytes_before, messages_before = views.counters(system)
        cpu_before = cpu_of(pids)
        started = time.monotonic()
        events = scenario.drive(seconds)
        time.sleep(0.5)  # the last change's way to the canvas
        elapsed = time.monotonic() - started
        cpu = {k: (v - cpu_before[k]) / elapsed * 100 for k, v in cpu_of(pids).items()}
        offset, _error = clock_offset(page)
        seen = page.evaluate("() => benchSeen")
        bytes_after, messages_after = views.counters(system)
    finally:
        views.live(system, False)
    found = latencies(events, seen, offset)
    servers = ("agent", "relay") if system == "ours" else ("x11vnc", "websockify")
    return {"latencies": found, "missed": len(events) - len(found), "seconds": elapsed,
            "bytes": bytes_after - bytes_before, "frames": messages_after - messages_before,
            "cpu_seconds": {k: cpu[k] * elapsed / 100 for k in (*servers, "chromium renderers", "chromium other")}}


def merge(turns: list[dict[str, Any]]) -> dict[str, Any]:
    """One system's turns at one scenario, summed (latencies pooled)."""
    seconds = sum(t["seconds"] for t in turns)
    cpu: dict[str, float] = {}
    for turn in turns:
        for k, v in turn["cpu_seconds"].items():
            cpu[k] = cpu.get(k, 0.0) + v
    return {"latencies": [v for t in turns for v in t["latencies"]], "missed": sum(t["missed"] for t in turns),
            "bytes_per_s": sum(t["bytes"] for t in turns) / seconds,
            "fps": sum(t["frames"] for t in turns) / seconds,
            "cpu": {k: v / seconds * 100 for k, v in cpu.items()}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=6.0, help="measured seconds per turn")
    parser.add_argument("--rounds", type=int, default=2, help="turns per system and scenario, interleaved")
    parser.add_argument("--scenarios", default="typing,scrolling,full,solid")
    parser.add_argument("--novnc", type=Path, default=ROOT / "node_modules" / "@novnc" / "novnc")
    parser.add_argument("--websockify-path", type=Path)
    parser.add_argument("--json", type=Path, help="write the figures here too")
    args = parser.parse_args()
    if not (args.novnc / "core" / "rfb.js").exists():
        raise SystemExit(f"noVNC not found in {args.novnc} (npm ci installs it: package.json; or --novnc DIR)")
    results: dict[str, dict[str, dict[str, Any]]] = {}
    with contextlib.ExitStack() as stack, lab.subreaper():
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        xvfb = Xvfb(WIDTH, HEIGHT)
        stack.callback(xvfb.stop)
        display = xvfb.display
        # --record none: a recorded session streams for the recorder while no view is open, and
        # each view must be measured alone.
        relay, relay_url = start_relay(tmp / "relay", 0, "--record", "none")
        stack.callback(relay.stop)
        agent, code = start_agent(relay_url, tmp / "agent", env=xvfb.env())
        stack.callback(agent.stop)
        vnc_port, ws_port = screen_bench.free_port(), screen_bench.free_port()
        x11vnc = start(["x11vnc", "-display", display, "-localhost", "-nopw", "-forever", "-shared", "-quiet",
                        "-rfbport", str(vnc_port)])
        stack.callback(stop, x11vnc)
        ws_env = dict(os.environ)
        if args.websockify_path:
            ws_env["PYTHONPATH"] = str(args.websockify_path)
        websockify = start([sys.executable, "-m", "websockify", f"127.0.0.1:{ws_port}", f"127.0.0.1:{vnc_port}"],
                           env=ws_env)
        stack.callback(stop, websockify)
        lab_root = tmp / "lab"
        lab_root.mkdir()
        cells = [f"from workbench import connect\ns = connect({code!r}, relay={relay_url!r}, name='bench')\n"
                 "print('connected')", "w = s.screen()\nw"]
        url = stack.enter_context(lab.jupyter_lab(lab_root, NOTEBOOK, cells))
        browser = stack.enter_context(lab.chromium())
        ours_page = browser.new_page(viewport={"width": 1300, "height": 1000})
        ours_page.add_init_script(INSTRUMENT)
        lab.open_notebook(ours_page, url, NOTEBOOK)
        lab.run_cell(ours_page, 0)
        lab.run_cell(ours_page, 1)
        lab.wait_until(lambda: ours_page.evaluate(
            f"() => {{ const c = document.querySelector('.wb-screen-canvas'); return c && c.width === {WIDTH}; }}"),
            "the widget's canvas at screen size")
        novnc_page = NOVNC_PAGE.replace("{port}", str(ws_port))
        novnc_url = stack.enter_context(serve_page(args.novnc, novnc_page, "bench.html"))
        vnc_page = browser.new_page(viewport={"width": 1920, "height": 1080})
        vnc_page.add_init_script(INSTRUMENT)
        console: list[str] = []
        vnc_page.on("console", lambda message: console.append(message.text))
        vnc_page.on("pageerror", lambda error: console.append(str(error)))
        vnc_page.goto(novnc_url)
        lab.wait_until(lambda: vnc_page.evaluate("() => window.benchReady === true"), "the noVNC page")
        views = Views(ours_page, vnc_page, relay_url)
        try:
            views.live("noVNC", True)
        except AssertionError as err:
            raise AssertionError(f"{err}; x11vnc {'running' if x11vnc.poll() is None else 'ended'}, websockify "
                                 f"{'running' if websockify.poll() is None else 'ended'}; page said: {console[-5:]}"
                                 ) from None
        views.live("noVNC", False)
        views.live("ours", False)
        pids = {"agent": [agent.popen.pid], "relay": [relay.popen.pid], "x11vnc": [x11vnc.pid],
                "websockify": [websockify.pid], **chromium_pids()}
        watch = LoadWatch()
        for name in args.scenarios.split(","):
            scenario = SCENARIOS[name](display)
            try:
                turns: dict[str, list[dict[str, Any]]] = {system: [] for system in SYSTEMS}
                for round_ in range(args.rounds):
                    for system in SYSTEMS if round_ % 2 == 0 else SYSTEMS[::-1]:
                        print(f"measuring {name} / {system} (round {round_ + 1}) …", file=sys.stderr, flush=True)
                        turns[system].append(measure_turn(views, system, scenario, args.seconds, pids))
                results[name] = {system: merge(turns[system]) for system in SYSTEMS}
            finally:
                scenario.close()
        watch.stop()
    print(report(results))
    print(watch.describe())
    if args.json:
        args.json.write_text(json.dumps({"results": results, "load": watch.describe(),
                                         "too_loaded": watch.too_loaded}, indent=1))
    if watch.too_loaded:
        print(watch.refusal())
        return 0
    for name, by_system in results.items():
        ours, peer = by_system["ours"], by_system["noVNC"]
        if not (ours["latencies"] and peer["latencies"]):
            print(f"VERDICT {name}: none (a view saw no change)")
            continue
        ratio = statistics.median(ours["latencies"]) / statistics.median(peer["latencies"])
        cpu_ours, cpu_peer = sum(ours["cpu"].values()), sum(peer["cpu"].values())
        print(f"VERDICT {name}: median latency {ratio:.2f}x noVNC's (goal 0.5x): {'PASS' if ratio <= 0.5 else 'FAIL'}; "
              f"bytes/s {'PASS' if ours['bytes_per_s'] <= peer['bytes_per_s'] else 'FAIL'}; "
              f"CPU of the whole path {'PASS' if cpu_ours <= cpu_peer else 'FAIL'}")
    return 0


def _p(values: list[float], q: int) -> float:
    if not values:
        return float("nan")
    return statistics.quantiles(values, n=10)[q - 1] if len(values) >= 2 else values[0]


def report(results: dict[str, dict[str, dict[str, Any]]]) -> str:
    lines = [f"{'scenario':<10}{'system':<8}{'p50 ms':>8}{'p90 ms':>8}{'missed':>7}{'fps':>7}{'kB/s':>9}"
             f"{'CPU %':>7}  CPU % by process"]
    for name, by_system in results.items():
        for system, m in by_system.items():
            lat = m["latencies"]
            p50 = statistics.median(lat) if lat else float("nan")
            cpu = ", ".join(f"{k} {v:.1f}" for k, v in m["cpu"].items())
            lines.append(f"{name:<10}{system:<8}{p50:>8.1f}{_p(lat, 9):>8.1f}{m['missed']:>7}{m['fps']:>7.1f}"
                         f"{m['bytes_per_s'] / 1e3:>9.2f}{sum(m['cpu'].values()):>7.1f}  {cpu}")
        ours, peer = by_system["ours"], by_system["noVNC"]
        if ours["latencies"] and peer["latencies"]:
            servers = sum(ours["cpu"][k] for k in ("agent", "relay"))
            peer_servers = sum(peer["cpu"][k] for k in ("x11vnc", "websockify"))
            lines.append(f"{name:<10}{'ratio':<8}"
                         f"{statistics.median(ours['latencies']) / statistics.median(peer['latencies']):>8.2f}"
                         f"{_p(ours['latencies'], 9) / _p(peer['latencies'], 9):>8.2f}{'':>7}"
                         f"{ours['fps'] / peer['fps'] if peer['fps'] else float('nan'):>7.2f}"
                         f"{ours['bytes_per_s'] / peer['bytes_per_s'] if peer['bytes_per_s'] else float('nan'):>9.2f}"
                         f"{sum(ours['cpu'].values()) / max(sum(peer['cpu'].values()), 1e-9):>7.2f}"
                         f"  servers {servers / max(peer_servers, 1e-9):.2f}x, Chromium renderers "
                         f"{ours['cpu']['chromium renderers'] / max(peer['cpu']['chromium renderers'], 1e-9):.2f}x")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
