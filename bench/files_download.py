"""Download throughput of a big file through the relay, against a raw websocket copy
of the same bytes on loopback and against ``cp``, measured in one run.

    python bench/files_download.py [--size-mib 1024] [--rounds 2] [--dir DIR]

Ours: ``s.files.download(remote, local, progress=False)`` from the technician's
plain API: the agent reads, hashes and journals each 4 MiB chunk (two fsynced
records a chunk), sends it through a real relay process on 127.0.0.1, the
workbench writes it to a ``.part``, hashes it, fsyncs and renames.
Peer: a bare websocket server process (bench/files_raw_peer.py) sending the
same file in 4 MiB binary messages, straight to a client in this process that
writes them to disk (no relay, no JSON, no hashing, compression off).  And ``cp``.
Every copy ends with an fsync of its output, as ours does.

The three are measured in interleaved rounds (cp, raw, ours; again), so drift
on a shared machine hits them alike; the ratios use each one's best run.  The
CPU time of every process involved is printed (on a small shared machine the
copies are CPU-bound), and the RSS of the agent, the relay and this process
(the technician) is sampled during our downloads with psutil: the peak in the
first half of a transfer against the peak in the second half shows that
memory stays flat whatever the file size.  Everything runs in a temporary
folder (under --dir) that is removed at the end; only processes started here
are stopped, by their own PIDs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psutil
from websockets.asyncio.client import connect as ws_connect

from workbench import connect
from workbench.files import Transfer
from workbench.lab import Proc, python_env, start_agent, start_relay

MIB = 1024 * 1024
BLOCK = 64 * MIB


def make_file(path: Path, size: int) -> None:
    """*size* bytes of random-looking data: one random block, each copy varied at its start."""
    block = bytearray(os.urandom(min(BLOCK, size)))
    with open(path, "wb") as out:
        written = 0
        while written < size:
            block[:8] = written.to_bytes(8, "little")  # no two blocks alike
            piece = memoryview(block)[:min(len(block), size - written)]
            out.write(piece)
            written += len(piece)
        out.flush()
        os.fsync(out.fileno())
    del block


def sha256_of(path: Path) -> str:
    hasher = hashlib.sha256()
    with open(path, "rb") as stream:
        while block := stream.read(4 * MIB):
            hasher.update(block)
    return hasher.hexdigest()


def fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass
class Usage:
    """Samples the RSS of some processes in a thread (peak, and peak per half of the run) and their CPU time."""

    processes: dict[str, psutil.Process]
    interval: float = 0.02
    before: dict[str, int] = field(default_factory=dict)
    samples: dict[str, list[tuple[float, int]]] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)
    _cpu_before: dict[str, float] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def _sample(self) -> None:
        now = time.monotonic()
        for name, process in self.processes.items():
            try:
                rss = int(process.memory_info().rss)
            except psutil.Error:
                continue
            self.samples.setdefault(name, []).append((now, rss))

    def _cpu(self) -> dict[str, float]:
        used = {}
        for name, process in self.processes.items():
            with contextlib.suppress(psutil.Error):
                times = process.cpu_times()
                used[name] = float(times.user + times.system)
        return used

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def __enter__(self) -> Usage:
        self._sample()
        self.before = {name: taken[-1][1] for name, taken in self.samples.items()}
        self._cpu_before = self._cpu()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._sample()
        after = self._cpu()
        self.cpu = {name: after[name] - self._cpu_before.get(name, 0.0) for name in after}

    def peak(self, name: str) -> int:
        return max((rss for _, rss in self.samples.get(name, [])), default=0)

    def peak_halves(self, name: str) -> tuple[int, int]:
        """The peak RSS in the first and in the second half of the run: equal when memory stays flat."""
        taken = self.samples.get(name, [])
        if not taken:
            return 0, 0
        middle = (taken[0][0] + taken[-1][0]) / 2
        first = max((rss for at, rss in taken if at <= middle), default=0)
        second = max((rss for at, rss in taken if at > middle), default=0)
        return first, second


def timed(work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


# --------------------------------------------------------------- the copies


@dataclass
class Run:
    """One timed copy: seconds, CPU seconds by process, and (ours) the RSS samples."""

    seconds: float
    cpu: dict[str, float]
    usage: Usage | None = None
    sha_ok: bool = True


def measure_cp(source: Path, folder: Path) -> Run:
    target = folder / "cp.bin"

    def copy() -> None:
        subprocess.run(["cp", str(source), str(target)], check=True)
        fsync_path(target)

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    seconds = timed(copy)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    target.unlink()
    used = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return Run(seconds, {"cp": used})


async def _raw_receive(url: str, target: Path) -> int:
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        async with ws_connect(url, compression=None, max_size=None) as ws:
            received = 0
            async for message in ws:
                if isinstance(message, str):
                    if int(message) != received:
                        raise RuntimeError(f"raw peer sent {message} bytes, {received} arrived")
                    break
                view = memoryview(message)
                while view:
                    written = os.write(fd, view)
                    view = view[written:]
                received += len(message)
        os.fsync(fd)
        return received
    finally:
        os.close(fd)


def measure_raw(source: Path, folder: Path) -> Run:
    peer = Proc([sys.executable, str(Path(__file__).with_name("files_raw_peer.py")), str(source)],
                env=python_env(), name="raw-peer")
    target = folder / "raw.bin"
    try:
        url = peer.wait_for(r"listening on (\S+)").group(1)
        received = 0

        def receive() -> None:
            nonlocal received
            received = asyncio.run(_raw_receive(url, target))

        watched = {"server": psutil.Process(peer.popen.pid), "client": psutil.Process(os.getpid())}
        with Usage(watched) as usage:
            seconds = timed(receive)
        if received != source.stat().st_size:
            raise RuntimeError(f"raw websocket copy: {received} of {source.stat().st_size} bytes")
        return Run(seconds, usage.cpu)
    finally:
        peer.stop()
        target.unlink(missing_ok=True)


class Ours:
    """A relay and an agent on 127.0.0.1, and a technician paired with it, for several downloads."""

    def __init__(self, folder: Path, warm: Path) -> None:
        self.folder = folder
        self.relay, url = start_relay(folder / "relay-data")
        self.agent: Proc | None = None
        self.agent, code = start_agent(url, folder / "agent-data")
        self.session = connect(code, relay=url, name="bench")
        self.session.files.download(str(warm), folder / "warm.bin", progress=False)  # warm-up, not counted

    def measure(self, source: Path, expected_sha: str) -> Run:
        assert self.agent is not None
        target = self.folder / "ours.bin"
        watched = {"agent": psutil.Process(self.agent.popen.pid), "relay": psutil.Process(self.relay.popen.pid),
                   "technician": psutil.Process(os.getpid())}
        done: list[Transfer] = []
        with Usage(watched) as usage:
            seconds = timed(lambda: done.append(self.session.files.download(str(source), target, progress=False)))
        ok = done[0].sha256 == expected_sha == sha256_of(target)
        target.unlink()
        return Run(seconds, usage.cpu, usage, ok)

    def close(self) -> None:
        try:
            self.session.close()
            if self.agent is not None:
                self.agent.wait(60)
        finally:
            if self.agent is not None:
                self.agent.stop()
            self.relay.stop()


# ------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mib", type=int, default=1024, help="size of the file copied (default 1024)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of cp, raw websocket, ours (default 2)")
    parser.add_argument("--dir", type=Path, default=None, help="where the temporary folder goes (default: $TMPDIR)")
    args = parser.parse_args()
    size = int(args.size_mib) * MIB
    rounds = int(args.rounds)
    if size <= 0 or rounds <= 0:
        parser.error("--size-mib and --rounds must be positive")
    cp_runs: list[Run] = []
    raw_runs: list[Run] = []
    our_runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="files-bench-", dir=args.dir) as tmp:
        folder = Path(tmp)
        free = shutil.disk_usage(folder).free
        if free < 3 * size:
            parser.error(f"{folder}: {free // MIB} MiB free, {3 * size // MIB} MiB needed")
        source = folder / "source.bin"
        make_file(source, size)
        warm = folder / "warm-source.bin"  # the warm-up download: a few MiB, not counted
        make_file(warm, 8 * MIB)
        expected = sha256_of(source)  # also puts the source in the page cache for every copy
        ours = Ours(folder, warm)
        try:
            measures: list[tuple[list[Run], Callable[[], Run]]] = [
                (cp_runs, lambda: measure_cp(source, folder)),
                (raw_runs, lambda: measure_raw(source, folder)),
                (our_runs, lambda: ours.measure(source, expected)),
            ]
            for _ in range(rounds):  # interleaved, so drift on a shared machine hits all three alike
                for runs, measure in measures:
                    os.sync()  # start each copy with no dirty pages left by the one before
                    runs.append(measure())
        finally:
            ours.close()

    mib = size / MIB

    def rate(seconds: float) -> float:
        return mib / seconds

    def cpu(run: Run) -> str:
        return ", ".join(f"{name} {used:.2f}" for name, used in run.cpu.items())

    print(f"download of {mib:.0f} MiB on 127.0.0.1, {rounds} rounds (every copy ends with an fsync of its output)")
    print(f"{'copy':<44}{'MiB/s':>9}{'seconds':>9}   CPU seconds by process")
    labels = (("ours: s.files.download via relay + agent", our_runs), ("raw websocket, 4 MiB messages", raw_runs),
              ("cp", cp_runs))
    for label, runs in labels:
        for number, run in enumerate(runs, 1):
            sha = "" if run.usage is None else f"; sha256 {'ok' if run.sha_ok else 'MISMATCH'}"
            print(f"{f'{label} ({number})':<44}{rate(run.seconds):>9.1f}{run.seconds:>9.2f}   {cpu(run)}{sha}")
    best = {label: min(runs, key=lambda run: run.seconds) for label, runs in labels}
    ours_best, raw_best, cp_best = (best[label] for label, _ in labels)
    ratio_raw = rate(ours_best.seconds) / rate(raw_best.seconds)
    ratio_cp = rate(ours_best.seconds) / rate(cp_best.seconds)
    verdict = "met" if ratio_raw >= 0.5 else "NOT met"
    print(f"ratio ours/raw websocket (best runs): {ratio_raw:.2f}x (goal: at least 0.5x, {verdict})")
    print(f"ratio ours/cp (best runs): {ratio_cp:.2f}x")
    ours_cpu = min(sum(run.cpu.values()) for run in our_runs)
    raw_cpu = min(sum(run.cpu.values()) for run in raw_runs)
    print(f"CPU seconds per GiB (least of the runs): ours {ours_cpu * 1024 / mib:.2f}, raw websocket "
          f"{raw_cpu * 1024 / mib:.2f} ({os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at the end)")
    print("RSS during our downloads: before → peak in the first half / in the second half of the transfer")
    for number, run in enumerate(our_runs, 1):
        assert run.usage is not None
        for name in ("agent", "relay", "technician"):
            before = run.usage.before.get(name, 0) / MIB
            first, second = (value / MIB for value in run.usage.peak_halves(name))
            print(f"  ({number}) {name:<12}{before:>7.1f} MiB → {first:>7.1f} MiB / {second:>7.1f} MiB")
    return 0 if all(run.sha_ok for run in our_runs) else 1


if __name__ == "__main__":
    sys.exit(main())
