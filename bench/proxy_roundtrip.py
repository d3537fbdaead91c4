"""Round trip of a no-op proxy call through the relay, against a bare websocket echo
through the same relay hop, measured in one run.

    python bench/proxy_roundtrip.py [--calls N]

Ours: ``Session.ping()`` from the technician's plain (blocking) API: the
workbench's client thread, the relay, the agent's dispatcher, two fsynced
journal records, the reply.  Peer: a raw websocket client paired through the
same relay with a bare echo peer (bench/echo_peer.py) that answers each
request at once.  Prints median and p99 of each and their ratio (goal ≤ 1.5).

A third row runs ours with the agent's journal on tmpfs (/dev/shm), where
fsync costs next to nothing: the gap between the two rows of ours is the
price of the journal's durability (two fsyncs a call: the call record before
it runs, the outcome before the answer), the rest is software.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from websockets.asyncio.client import connect as ws_connect

from wire import protocol
from workbench import connect
from workbench.lab import Proc, python_env, start_agent, start_relay


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def fsync_cost(directory: Path, count: int = 400) -> float:
    """Median seconds of one small append + fsync in *directory* (the disk's share of a journal record)."""
    path = directory / "fsync.probe"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    samples = []
    try:
        for _ in range(count):
            started = time.perf_counter()
            os.write(fd, b"x" * 300 + b"\n")
            os.fsync(fd)
            samples.append(time.perf_counter() - started)
    finally:
        os.close(fd)
        path.unlink()
    return statistics.median(samples)


def measure_ours(url: str, data: Path, calls: int) -> list[float]:
    agent, code = start_agent(url, data / "agent")
    try:
        session = connect(code, relay=url, name="bench")
        for _ in range(50):  # warm up
            session.ping()
        samples = [session.ping() for _ in range(calls)]
        session.close()
        agent.wait(30)
        return samples
    finally:
        agent.stop()


async def bare_echo(url: str, code: str, calls: int) -> list[float]:
    async with ws_connect(url, compression=None, max_size=None) as ws:
        await ws.send(protocol.encode(protocol.Message("hello", {"role": "technician", "code": code, "name": "bench"})))
        assert protocol.decode(await ws.recv()).type == "paired"
        samples = []
        for i in range(calls + 50):
            started = time.perf_counter()
            await ws.send(protocol.encode(protocol.request(f"e{i}", "session.ping", {})))
            reply = protocol.decode(await ws.recv())
            if i >= 50:
                samples.append(time.perf_counter() - started)
            assert reply.type == "response", reply
        await ws.send(protocol.encode(protocol.bye("bench over")))
        return samples


def measure_peer(url: str, calls: int) -> list[float]:
    peer = Proc([sys.executable, str(Path(__file__).with_name("echo_peer.py")), url], env=python_env(), name="echo")
    try:
        code = peer.wait_for(r"session code: (\d{3} \d{3} \d{3})").group(1)
        return asyncio.run(bare_echo(url, code, calls))
    finally:
        peer.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        relay, url = start_relay(Path(tmp) / "relay")
        try:
            peer = measure_peer(url, args.calls)
            ours = measure_ours(url, Path(tmp), args.calls)
            shm = Path("/dev/shm")
            ours_tmpfs: list[float] = []
            if shm.is_dir():
                with tempfile.TemporaryDirectory(dir=shm) as fast:
                    ours_tmpfs = measure_ours(url, Path(fast), args.calls)
            peer_again = measure_peer(url, args.calls)  # the peer before and after, to see drift
            disk_fsync = fsync_cost(Path(tmp))
        finally:
            relay.stop()
    peer_all = peer + peer_again
    rows = [("bare websocket echo via relay", peer_all), ("no-op proxy call (Session.ping)", ours)]
    if ours_tmpfs:
        rows.append(("  same, journal on tmpfs", ours_tmpfs))
    print(f"{'round trip, ms':<36}{'median':>10}{'p99':>10}{'mean':>10}")
    for name, samples in rows:
        print(f"{name:<36}{statistics.median(samples) * 1e3:>10.3f}{percentile(samples, 0.99) * 1e3:>10.3f}"
              f"{statistics.fmean(samples) * 1e3:>10.3f}")
    ratio_median = statistics.median(ours) / statistics.median(peer_all)
    ratio_p99 = percentile(ours, 0.99) / percentile(peer_all, 0.99)
    print(f"ratio ours/echo: median {ratio_median:.2f}x, p99 {ratio_p99:.2f}x (goal: at most 1.5x)")
    if ours_tmpfs:
        tmpfs_ratio = statistics.median(ours_tmpfs) / statistics.median(peer_all)
        print(f"ratio ours (journal on tmpfs)/echo: median {tmpfs_ratio:.2f}x")
    print(f"one append+fsync on this disk: {disk_fsync * 1e3:.3f} ms (a call makes two)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
