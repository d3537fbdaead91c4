"""Many sessions over three relays of a cluster against the same load on one relay, in one run.

    PYTHONPATH=. .venv/bin/python bench/cluster_load.py [--sessions 200] [--calls 200] [--fps 5]
                                                       [--relays 3] [--placement same,cross]
                                                       [--no-kill] [--json out.json]

Loopback only, bounded in count and time; not a timed test.  Phases, each with fresh relays and
agents: (1) one relay (the embedded default, no NATS); (2) ``--relays`` relays joined by a
``nats-server -js`` in a temporary directory, once per ``--placement``: ``same`` puts a session's
agent, technician and view on relay i (sessions spread over the relays, as a load balancer
would); ``cross`` puts its agent on relay i and its technician and view on relay i+1, so every
call and frame crosses NATS twice; (3) right after the first placement's phase, that placement
again with relay 0 killed (SIGKILL) once half the calls are answered.  Each session is a real
agent process (``--no-window``); with ``--fps`` > 0 each streams its synthetic screen
(``--synthetic-screen FPS``: a generated picture changing ``--fps`` times a second, no X server)
and each session has a screen view that asks for ``--fps`` frames a second and acks each.  Each
session makes ``--calls`` ``s.files.stat`` calls, one after the other.  Agents are started
``--start-at-once`` at a time (their start is most of the machine's work at this size).

Printed per phase: how long the agents took to start and pair, calls/s, p50/p99 call latency,
errors, frames viewed, each relay's CPU seconds and peak memory, and the calls lost (made,
answered, but not in the agent's journal) and repeated (one request id run twice) from the
agents' journals.  The machine's other load
is said (bench/load.py): on a loaded 2-core machine 200 agent processes are heavy; ``--sessions 20``
runs smaller.  A run that would not fit in the machine's available memory (about 60 MiB an agent)
is refused before it starts.  ``--profile DIR`` runs the relays under cProfile (written when a
relay is stopped; a killed relay writes nothing) for ``python -m pstats``.  ``--logs DIR`` keeps each
relay's output lines (a killed relay's up to its end).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

import psutil
from websockets.asyncio.client import connect as ws_connect

from bench.load import LoadWatch
from wire import protocol
from wire.chain import read_records
from wire.frame_format import index_fields
from workbench import Session, connect
from workbench.lab import Proc, free_port, python_env, start_agent, start_relay


class RelayWatch:
    """Samples the relays' CPU seconds and peak memory every half second."""

    def __init__(self, relays: list[Proc]) -> None:
        self.procs = {proc.popen.pid: psutil.Process(proc.popen.pid) for proc in relays}
        self.cpu = dict.fromkeys(self.procs, 0.0)
        self.peak = dict.fromkeys(self.procs, 0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            for pid, proc in self.procs.items():
                with contextlib.suppress(psutil.Error):
                    times = proc.cpu_times()
                    self.cpu[pid] = times.user + times.system
                    self.peak[pid] = max(self.peak[pid], proc.memory_info().rss)

    def stop(self) -> list[dict[str, float]]:
        self._stop.set()
        self._thread.join(5)
        return [{"cpu_s": round(self.cpu[pid], 1), "peak_mib": round(self.peak[pid] / 2**20, 1)} for pid in self.procs]


async def _view(url: str, session_id: str, token: str, fps: int, stop: threading.Event, seen: list[int]) -> None:
    """One screen view: asks for *fps*, acks every frame, counts them in *seen*."""
    async with ws_connect(url, max_size=None, compression=None, open_timeout=60) as ws:
        await ws.send(protocol.encode(protocol.Message("hello", {"role": "viewer", "session_id": session_id,
                                                                 "token": token})))
        await ws.recv()
        await ws.send(protocol.encode(protocol.event("screen.configure", {"max_fps": fps, "copy": True})))
        while not stop.is_set():
            try:
                message = protocol.decode(await asyncio.wait_for(ws.recv(), 0.5))
            except TimeoutError:
                continue
            if message.type == "event" and message["name"] == "screen.frame":
                seq = index_fields(message["body"], message.data or b"").get("seq", 0)
                await ws.send(protocol.encode(protocol.event("screen.ack", {"seq": seq})))
                seen[0] += 1


#: Run as ``python -c PROFILED OUT ARGS...``: ``workbench ARGS...`` under cProfile, its statistics written
#: to OUT when the process is asked to stop (SIGTERM).
PROFILED = """
import cProfile, os, runpy, signal, sys, time
out, sys.argv = sys.argv[1], ["workbench", *sys.argv[2:]]
profile = cProfile.Profile(time.process_time)
def dump(*_):
    profile.disable()
    profile.dump_stats(out)
    os._exit(0)
signal.signal(signal.SIGTERM, dump)
profile.enable()
runpy.run_module("workbench.cli", run_name="__main__")
"""
#: Resident memory of one agent streaming a synthetic screen (measured: 58 MiB), with room.
AGENT_MIB = 64


def start_phase_relay(data: Path, extra: list[str], profile: Path | None) -> tuple[Proc, str]:
    """A relay of a phase (under cProfile, its statistics written to *profile*, when given)."""
    if profile is None:
        return start_relay(data, 0, *extra)
    proc = Proc([sys.executable, "-c", PROFILED, str(profile), "relay", "--port", "0", "--data", str(data), *extra],
                env=python_env(), name="relay")
    try:
        return proc, proc.wait_for(r"relay listening on (\S+)", timeout=300).group(1)  # profiled: slower
    except BaseException:
        proc.stop()
        raise


def placed(urls: list[str], i: int, placement: str) -> tuple[list[str], list[str], str]:
    """Session *i*'s relay lists (its agent's, its technician's; each its own relay first, then the
    others to fail over to) and its view's relay.  ``same``: all three on relay i; ``cross``: the
    agent on relay i, the technician and the view on relay i+1."""
    agent = urls[i % len(urls):] + urls[:i % len(urls)]
    technician = agent[1:] + agent[:1] if placement == "cross" and len(agent) > 1 else agent
    return agent, technician, technician[0]


def run_phase(name: str, urls: list[str], relays: list[Proc], work: Path, args: argparse.Namespace,
              kill_midway: bool, placement: str) -> dict[str, Any]:
    n = args.sessions
    agents: list[Proc] = []
    sessions: list[Session] = []
    screen = ["--synthetic-screen", str(args.fps)] if args.fps > 0 else []
    lock = threading.Lock()

    def pair(i: int) -> Session:
        agent_urls, technician_urls, _ = placed(urls, i, placement)
        agent, code = start_agent(",".join(agent_urls), work / f"{name}-agent{i}", *screen)
        with lock:
            agents.append(agent)
        return connect(code, relay=technician_urls, name=f"tech{i}")

    try:
        paired_at = time.perf_counter()
        with ThreadPoolExecutor(args.start_at_once) as pool:
            sessions.extend(pool.map(pair, range(n)))
        paired_s = time.perf_counter() - paired_at
        print(f"  {name}: {n} sessions paired in {paired_s:.0f} s", flush=True)
        stop_views = threading.Event()
        seen = [0]
        views: threading.Thread | None = None
        if screen:
            tokens = [(s.session_id, str(s.call("relay.viewer_token").value["token"])) for s in sessions]

            async def all_views() -> None:
                await asyncio.gather(*(_view(placed(urls, i, placement)[2], sid, tok, args.fps, stop_views, seen)
                                       for i, (sid, tok) in enumerate(tokens)), return_exceptions=True)

            views = threading.Thread(target=lambda: asyncio.run(all_views()), daemon=True)
            views.start()
        watch = RelayWatch(relays)
        latencies: list[float] = []
        errors: Counter[str] = Counter()
        answered = [0]
        half = threading.Event()
        target = work.resolve()

        def drive(s: Session) -> None:
            for _ in range(args.calls):
                began = time.perf_counter()
                try:
                    s.files.stat(str(target))
                except Exception as err:
                    with lock:
                        errors[type(err).__name__] += 1
                    continue
                with lock:
                    latencies.append(time.perf_counter() - began)
                    answered[0] += 1
                    if answered[0] >= n * args.calls // 2:
                        half.set()

        began = time.perf_counter()
        threads = [threading.Thread(target=drive, args=(s,), daemon=True) for s in sessions]
        for thread in threads:
            thread.start()
        if kill_midway:
            half.wait(args.timeout)
            relays[0].kill()
            print(f"  {name}: relay 0 killed after {answered[0]} calls", flush=True)
        deadline = began + args.timeout  # one bound for the phase: a call never answered is reported, not waited for
        for thread in threads:
            thread.join(max(0.0, deadline - time.perf_counter()))
        unfinished = sum(thread.is_alive() for thread in threads)
        elapsed = time.perf_counter() - began
        stop_views.set()
        if views is not None:
            views.join(10)
        usage = watch.stop()
        latencies.sort()
        result: dict[str, Any] = {
            "phase": name, "relays": len(urls), "placement": placement if len(urls) > 1 else None,
            "sessions": n, "paired_s": round(paired_s, 1), "calls": len(latencies),
            "calls_per_s": round(len(latencies) / elapsed, 1),
            "p50_ms": round(1000 * statistics.median(latencies), 2) if latencies else None,
            "p99_ms": round(1000 * latencies[int(0.99 * (len(latencies) - 1))], 2) if latencies else None,
            "errors": dict(errors), "unfinished_sessions": unfinished, "frames_viewed": seen[0],
            "relay_usage": usage}
        print(f"  {name}: calls done: {json.dumps(result)}", flush=True)
        # Closed in parallel, within one bound: a session that cannot close is left to agent.stop().
        with ThreadPoolExecutor(16) as pool:
            closing = [pool.submit(s.close) for s in sessions]
            wait(closing, timeout=60)
        end = time.perf_counter() + 60
        for agent in agents:
            with contextlib.suppress(Exception):
                agent.wait(max(0.1, end - time.perf_counter()))
        result.update(journal_check(work, name, n, args.calls))
        return result
    finally:
        for agent in agents:
            agent.stop()


def journal_check(work: Path, name: str, n: int, calls: int) -> dict[str, int]:
    """Calls lost (fewer ``files.stat`` calls journaled than made) and repeated (a request id run twice)."""
    lost = repeated = 0
    for i in range(n):
        journals = sorted((work / f"{name}-agent{i}" / "journals").glob("*.jsonl"))
        kept = [r for j in journals for r in read_records(j) if r.get("kind") == "call"
                and r.get("method") == "files.stat"]
        counts = Counter(r["request"] for r in kept)
        repeated += sum(c - 1 for c in counts.values() if c > 1)
        lost += max(0, calls - len(counts))
    return {"lost": lost, "repeated": repeated}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--fps", type=int, default=5, help="screen frames a second per session (0: no screen)")
    parser.add_argument("--relays", type=int, default=3)
    parser.add_argument("--placement", default="same,cross",
                        help="comma-separated, one cluster phase each: same (a session's agent, technician and "
                             "view on one relay) or cross (the technician and view on the next relay); the kill "
                             "phase uses the first")
    parser.add_argument("--profile", type=Path, help="run the relays under cProfile, statistics written here")
    parser.add_argument("--no-kill", action="store_true", help="skip the phase with a relay killed midway")
    parser.add_argument("--only-kill", action="store_true", help="run only the phase with a relay killed midway")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds a phase's calls may take")
    parser.add_argument("--start-at-once", type=int, default=4, help="agents started in parallel")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--logs", type=Path, help="write each relay's output here when its phase ends")
    args = parser.parse_args()
    # A SIGTERM (a timeout) unwinds like an error, so the finally blocks stop every process started here.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    placements = [p.strip() for p in args.placement.split(",") if p.strip()]
    if not placements or set(placements) - {"same", "cross"}:
        parser.error("--placement takes same and/or cross, comma-separated")
    available_mib = psutil.virtual_memory().available / 2**20
    if args.sessions * AGENT_MIB > 0.8 * available_mib:
        parser.error(f"{args.sessions} agents need about {args.sessions * AGENT_MIB} MiB; "
                     f"{available_mib:.0f} MiB are available now (other programs run): use fewer --sessions")
    print(f"memory available at start: {available_mib:.0f} MiB; load average {os.getloadavg()[0]:.1f}", flush=True)
    program = shutil.which("nats-server") or "/usr/sbin/nats-server"
    load = LoadWatch()
    results = []
    with tempfile.TemporaryDirectory(prefix="cluster-load-") as tmp:
        work = Path(tmp)
        port = free_port()
        nats = Proc([program, "-js", "-sd", str(work / "js"), "-a", "127.0.0.1", "-p", str(port)], name="nats")
        try:
            nats.wait_for(r"Server is ready")
            phases = [] if args.only_kill else [("one", 1, False, "same")] + [
                (f"cluster-{placement}", args.relays, False, placement) for placement in placements]
            if not args.no_kill:  # right after the first placement's phase, the one it is compared with
                phases.insert(2 if phases else 0, (f"cluster-{placements[0]}-kill", args.relays, True, placements[0]))
            for name, count, kill, placement in phases:
                extra = ["--record", "none"] + (["--nats", f"nats://127.0.0.1:{port}"] if count > 1 else [])
                if args.profile is not None:
                    args.profile.mkdir(parents=True, exist_ok=True)
                started: list[tuple[Proc, str]] = []
                try:
                    for i in range(count):  # one by one: those started are stopped if a later one fails
                        started.append(start_phase_relay(work / f"{name}-data", extra, None if args.profile is None
                                                         else args.profile / f"{name}-relay{i}.prof"))
                    result = run_phase(name, [url for _, url in started], [p for p, _ in started], work, args, kill,
                                       placement)
                finally:
                    for i, (proc, _) in enumerate(started):
                        proc.stop()
                        if args.logs is not None:  # a killed relay's lines too, up to its end
                            args.logs.mkdir(parents=True, exist_ok=True)
                            (args.logs / f"{name}-relay{i}.log").write_text("\n".join(proc.lines) + "\n")
                print(json.dumps(result), flush=True)
                results.append(result)
        finally:
            nats.stop()
    load.stop()
    print(load.describe())
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    one = next((r for r in results if r["relays"] == 1), None)
    for cluster in results:
        if one is not None and cluster["relays"] > 1:
            print(f"{cluster['phase']}: p99 with {args.relays} relays {cluster['p99_ms']} ms vs one relay "
                  f"{one['p99_ms']} ms; calls/s {cluster['calls_per_s']} vs {one['calls_per_s']}")
    print(f"errors {sum(sum(r['errors'].values()) for r in results)}; "
          f"lost {sum(r['lost'] for r in results)}, repeated {sum(r['repeated'] for r in results)}")

if __name__ == "__main__":
    main()
