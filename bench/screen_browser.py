"""The live screen measured where it is seen: into the widget's canvas in JupyterLab, against
noVNC reading x11vnc through websockify, both in the same headless Chromium, in one run.

    python bench/screen_browser.py [--seconds 8] [--scenarios solid,full] \\
        [--novnc DIR] [--websockify-path DIR]

- **ours**: a real relay and a real agent process on a 1920×1080 Xvfb; JupyterLab runs a
  notebook that connects and shows ``s.screen()``; the widget draws into its canvas.
- **noVNC**: ``x11vnc -localhost -nopw -forever -shared`` on the same Xvfb, websockify in
  front of it, and noVNC's ``core/rfb.js`` (npm ``@novnc/novnc``: ``--novnc`` is the package's
  folder, default ``node_modules/@novnc/novnc``) on a page of the same browser; JPEG quality
  level 7 as bench/screen_rfb.py asks.  websockify is run as ``python -m websockify`` with
  ``--websockify-path`` (a ``pip install --target`` folder) on its PYTHONPATH, if given.

Both views are live at once and see every change together: a page-side loop reads the
marker pixel of each canvas every animation frame and notes when it took the change's
colour (page clock, converted to ours with :func:`clock_offset`).  Latency is from the change
on the screen (the painter's time just before it draws) to that moment.  Bytes are what
each page's websockets received (the widget's relay socket; noVNC's socket), and CPU is
psutil's per process (agent, relay, x11vnc, websockify, Chromium and its helpers) over
the measured seconds.  Scenarios: **solid** (the whole screen between two solid colours,
10 times a second) and **full** (a full-screen photo-like picture alternating); typing
and scrolling are measured by bench/screen_bench.py so far (not here yet).

The load the machine saw is printed (bench/load.py), and a verdict only when it was quiet.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import http.server
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

import screen_bench  # noqa: E402
from control_browser import clock_offset  # noqa: E402
from load import LoadWatch  # noqa: E402

from tests.e2e import lab_browser as lab  # noqa: E402
from workbench.lab import Xvfb, start_agent, start_relay  # noqa: E402

WIDTH, HEIGHT = 1920, 1080
NOTEBOOK = "bench.ipynb"

#: Counts what the page's websockets receive, and watches one pixel of a canvas every animation frame.
INSTRUMENT = """
(() => {
  window.benchBytes = {};
  const Native = window.WebSocket;
  // A native socket, not a subclass (noVNC checks the socket's own prototype for its methods).
  function Counting(url, protocols) {
    const ws = protocols === undefined ? new Native(url) : new Native(url, protocols);
    const key = String(url).split('?')[0];
    ws.addEventListener('message', (event) => {
      const size = typeof event.data === 'string' ? event.data.length : (event.data.byteLength ?? event.data.size);
      window.benchBytes[key] = (window.benchBytes[key] ?? 0) + size;
    });
    return ws;
  }
  Counting.prototype = Native.prototype;
  Object.assign(Counting, { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 });
  window.WebSocket = Counting;
  window.benchWatch = (selector, x, y) => {
    window.benchSeen = [];
    let last = null;
    const tick = () => {
      const canvas = document.querySelector(selector);
      if (canvas && canvas.width > x && canvas.height > y) {
        const p = canvas.getContext('2d').getImageData(x, y, 1, 1).data;
        const key = `${p[0]},${p[1]},${p[2]}`;
        if (key !== last) {
          last = key;
          window.benchSeen.push([performance.timeOrigin + performance.now(), p[0], p[1], p[2]]);
        }
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
const rfb = new RFB(document.getElementById('screen'), 'ws://127.0.0.1:{port}');
rfb.viewOnly = true;
rfb.qualityLevel = 7;
rfb.addEventListener('connect', () => { window.novncConnected = true; });
window.rfb = rfb;
</script>
"""


@contextlib.contextmanager
def serve(directory: Path, page: str) -> Iterator[str]:
    """Serve *directory* on a loopback port with *page* at /bench.html; yields its URL."""
    class Handler(http.server.SimpleHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.startswith("/bench.html"):
                body = page.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            super().do_GET()

        def log_message(self, *_args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(directory)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/bench.html"
    finally:
        server.shutdown()


def start(args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


def cpu_of(pids: dict[str, list[int]]) -> dict[str, float]:
    """CPU seconds (user + system) so far of each named group of processes, with their children
    (websockify serves each client from a child process); Chromium's group lists all of its own."""
    totals: dict[str, float] = {}
    for name, group in pids.items():
        total = 0.0
        for pid in group:
            try:
                proc = psutil.Process(pid)
                family = [proc] if name == "chromium" else [proc, *proc.children(recursive=True)]
                total += sum(sum(one.cpu_times()[:2]) for one in family)
            except psutil.Error:
                continue
        totals[name] = total
    return totals


def latencies(events: list[screen_bench.Event], seen: list[list[float]], offset_ms: float) -> list[float]:
    """Ms from each change (monotonic seconds) to the first time its colour was seen (page ms)."""
    wall_minus_mono = time.time() - time.monotonic()
    found = []
    for event in events:
        at_ms = (event.at + wall_minus_mono) * 1000
        for when, r, g, b in seen:
            page_ms = when - offset_ms
            if page_ms >= at_ms - 1 and event.colour is not None and max(
                    abs(r - event.colour[0]), abs(g - event.colour[1]), abs(b - event.colour[2])) <= 40:
                found.append(page_ms - at_ms)
                break
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--scenarios", default="solid,full")
    parser.add_argument("--novnc", type=Path, default=ROOT / "node_modules" / "@novnc" / "novnc")
    parser.add_argument("--websockify-path", type=Path)
    args = parser.parse_args()
    if not (args.novnc / "core" / "rfb.js").exists():
        raise SystemExit(f"noVNC not found in {args.novnc} (npm install @novnc/novnc, or --novnc DIR)")
    results: dict[str, dict[str, dict[str, Any]]] = {}
    with contextlib.ExitStack() as stack, lab.subreaper():
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        xvfb = Xvfb(WIDTH, HEIGHT)
        stack.callback(xvfb.stop)
        display = xvfb.display
        relay, relay_url = start_relay(tmp / "relay")
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
        selector = ".wb-screen-canvas"
        lab.wait_until(lambda: ours_page.evaluate(
            f"() => {{ const c = document.querySelector('{selector}'); return c && c.width === {WIDTH}; }}"),
            "the widget's canvas at screen size")
        novnc_url = stack.enter_context(serve(args.novnc, NOVNC_PAGE.replace("{port}", str(ws_port))))
        vnc_page = browser.new_page(viewport={"width": 1920, "height": 1080})
        vnc_page.add_init_script(INSTRUMENT)
        console: list[str] = []
        vnc_page.on("console", lambda message: console.append(message.text))
        vnc_page.on("pageerror", lambda error: console.append(str(error)))
        vnc_page.goto(novnc_url)
        try:
            lab.wait_until(lambda: vnc_page.evaluate("() => window.novncConnected === true"), "noVNC connected")
        except AssertionError as err:
            raise AssertionError(f"{err}; x11vnc {'running' if x11vnc.poll() is None else 'ended'}, websockify "
                                 f"{'running' if websockify.poll() is None else 'ended'}; page said: {console[-5:]}"
                                 ) from None
        pids = {"agent": [agent.popen.pid], "relay": [relay.popen.pid], "x11vnc": [x11vnc.pid],
                "websockify": [websockify.pid],
                "chromium": [p.pid for p in psutil.Process().children(recursive=True) if "chrom" in p.name().lower()]}
        watch = LoadWatch()
        for name in args.scenarios.split(","):
            scenario = screen_bench.SCENARIOS[name](display)
            try:
                x, y, w, h = scenario.marker
                px, py = x + w // 2, y + h // 2
                for page, canvas in ((ours_page, selector), (vnc_page, "#screen canvas")):
                    page.evaluate(f"() => benchWatch('{canvas}', {px}, {py})")
                scenario.drive(1.5)  # warm up
                bytes_before = [page.evaluate("() => ({...benchBytes})") for page in (ours_page, vnc_page)]
                cpu_before = cpu_of(pids)
                started = time.monotonic()
                events = scenario.drive(args.seconds)
                time.sleep(1.0)  # the last change's way to both canvases
                elapsed = time.monotonic() - started
                cpu = {k: (v - cpu_before[k]) / elapsed * 100 for k, v in cpu_of(pids).items()}
                by_system: dict[str, dict[str, Any]] = {}
                pages = (("ours", ours_page, bytes_before[0]), ("noVNC", vnc_page, bytes_before[1]))
                for system, page, before in pages:
                    offset, _error = clock_offset(page)
                    seen = page.evaluate("() => benchSeen")
                    after = page.evaluate("() => ({...benchBytes})")
                    if system == "ours":
                        received = sum(v - before.get(k, 0) for k, v in after.items() if k.startswith(relay_url))
                    else:
                        received = sum(v - before.get(k, 0) for k, v in after.items())
                    found = latencies(events, seen, offset)
                    by_system[system] = {"latencies": found, "missed": len(events) - len(found),
                                         "bytes_per_s": received / elapsed}
                by_system["ours"]["cpu"] = {k: cpu[k] for k in ("agent", "relay")}
                by_system["noVNC"]["cpu"] = {k: cpu[k] for k in ("x11vnc", "websockify")}
                by_system["ours"]["browser_cpu"] = by_system["noVNC"]["browser_cpu"] = cpu["chromium"]
                results[name] = by_system
            finally:
                scenario.close()
        watch.stop()
    print(report(results))
    print(watch.describe())
    if watch.too_loaded:
        print(watch.refusal())
    else:
        for name, by_system in results.items():
            ours, peer = by_system["ours"], by_system["noVNC"]
            if ours["latencies"] and peer["latencies"]:
                ratio = statistics.median(ours["latencies"]) / statistics.median(peer["latencies"])
                print(f"VERDICT {name}: median latency {ratio:.2f}x noVNC's (goal 0.5x): "
                      f"{'PASS' if ratio <= 0.5 else 'FAIL'}; bytes/s "
                      f"{'PASS' if ours['bytes_per_s'] <= peer['bytes_per_s'] else 'FAIL'}")
    return 0


def report(results: dict[str, dict[str, dict[str, Any]]]) -> str:
    lines = [f"{'scenario':<9}{'system':<8}{'p50 ms':>9}{'p90 ms':>9}{'missed':>8}{'kB/s':>10}  server CPU %"]
    for name, by_system in results.items():
        for system, m in by_system.items():
            lat = m["latencies"]
            p50 = statistics.median(lat) if lat else float("nan")
            p90 = statistics.quantiles(lat, n=10)[-1] if len(lat) >= 2 else p50
            cpu = ", ".join(f"{k} {v:.1f}" for k, v in m["cpu"].items())
            lines.append(f"{name:<9}{system:<8}{p50:>9.1f}{p90:>9.1f}{m['missed']:>8}"
                         f"{m['bytes_per_s'] / 1e3:>10.2f}  {cpu}")
        ours, peer = by_system["ours"], by_system["noVNC"]
        if ours["latencies"] and peer["latencies"] and peer["bytes_per_s"]:
            lines.append(f"{name:<9}{'ratio':<8}"
                         f"{statistics.median(ours['latencies']) / statistics.median(peer['latencies']):>9.2f}"
                         f"{'':>17}{ours['bytes_per_s'] / peer['bytes_per_s']:>10.2f}"
                         f"  (Chromium, both pages: {ours['browser_cpu']:.1f} %)")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
