"""Download and upload of a big file through the relay, against a raw websocket copy of the
same bytes through the same relay, and against ``cp``, measured in one run.

    python bench/files_download.py [--size-mib 512] [--rounds 2] [--dir DIR]

Ours: ``s.files.download(remote, local, progress=False)`` and ``s.files.upload(...)``
from the technician's plain API: the agent reads (or writes), hashes and journals
each 4 MiB chunk, through a real relay process on 127.0.0.1; the workbench writes
(or reads) its side, hashes it, and the sha256 is checked end to end.
Raw: bench/files_raw_peer.py paired through the same relay as an agent would be,
moving the same file in 4 MiB binary messages to (or from) a websocket client in
this process that writes (or reads) it: the wire's binary frames, no journal, no
hashing, no acknowledgement per chunk, compression off.  And ``cp``.  Every copy
ends with an fsync of its output, as ours does.

Issue 15's goals: ours at least 0.8x the raw copy's rate and at most 1.3x its CPU
per GiB (every process of each path: agent or raw peer, relay, technician), both
ways.  The copies are measured in interleaved rounds, so drift on a shared machine
hits them alike; the ratios use each one's best run.  Each copy starts from the same memory: just
before its clock starts, a scratch file of the copy's size is written and deleted (see
:func:`even_start`: on this virtual machine a page freed seconds ago costs several times more to
use again than one freed just now, which made the order of the copies decide their CPU).
The RSS of the agent, the relay and this process (the technician) is sampled during our
transfers with psutil: the peak in the first half of a transfer against the peak in the second
half shows that memory stays flat whatever the file size.  It prints the machine
load it saw (bench/load.py) and a verdict only when the machine was quiet enough.
Everything runs in a temporary folder (under --dir) that is removed at the end;
only processes started here are stopped, by their own PIDs.
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
from collections import deque
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import psutil
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect

sys.path.insert(0, str(Path(__file__).resolve().parent))

from load import LoadWatch

from wire import protocol
from workbench import connect
from workbench.files import Transfer
from workbench.lab import Proc, python_env, start_agent, start_relay

MIB = 1024 * 1024
#: The chunk both copies move per message (the agent's largest).
CHUNK = 4 * MIB
#: Chunks the raw download's receiver may be ahead of its disk writes (ours holds 4 in flight).
WRITES_BEHIND = 4
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


def even_start(folder: Path, size: int) -> None:
    """Give every copy the same memory to start from: *size* bytes of page cache written and freed just now.

    On this machine (a virtual machine whose host takes back guest memory that stays free) a
    page freed a few seconds ago costs far more to use again than one freed just now: writing
    512 MiB into the page cache took 0.10 s of system time right after a file of that size was
    deleted, 0.6 s one to two seconds later and 1.3-1.6 s after four seconds or more
    (measured with a loop of pwrite, unlink and pause).  Without this, the copy that happens to
    start soon after the one before freed its file writes cheaply and the other pays several
    times over, whatever its code.  Called before each copy's clock and CPU count start.
    """
    scratch = folder / "even-start.bin"
    block = bytes(BLOCK)
    fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for offset in range(0, size, BLOCK):
            write_at(fd, memoryview(block)[:min(BLOCK, size - offset)], offset)
    finally:
        os.close(fd)
        scratch.unlink()  # an unlinked file's dirty pages are dropped, not written


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

    even_start(folder, source.stat().st_size)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    seconds = timed(copy)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    target.unlink()
    used = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return Run(seconds, {"cp": used})


class RawPeer:
    """bench/files_raw_peer.py paired through the relay, and this process as its technician (raw websocket)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.proc = Proc([sys.executable, str(Path(__file__).with_name("files_raw_peer.py")), url],
                         env=python_env(), name="raw-peer")
        self.code = self.proc.wait_for(r"session code: (\d{3} \d{3} \d{3})").group(1)

    async def _session(self, work: Callable[[ClientConnection], Awaitable[int]]) -> int:
        async with ws_connect(self.url, compression=None, max_size=None) as ws:
            await ws.send(protocol.encode(protocol.Message("hello", {"role": "technician", "code": self.code,
                                                                     "name": "bench"})))
            while protocol.decode(await ws.recv()).type != "paired":
                pass
            return await work(ws)

    def _run(self, work: Callable[[ClientConnection], Awaitable[int]], relay: Proc,
             source: Path) -> tuple[float, dict[str, float], int]:
        even_start(source.parent, source.stat().st_size)
        watched = {"peer": psutil.Process(self.proc.popen.pid), "relay": psutil.Process(relay.popen.pid),
                   "technician": psutil.Process(os.getpid())}
        moved: list[int] = []
        with Usage(watched) as usage:
            seconds = timed(lambda: moved.append(asyncio.run(self._session(work))))
        return seconds, usage.cpu, moved[0]

    def download(self, source: Path, target: Path, relay: Proc) -> Run:
        async def work(ws: ClientConnection) -> int:
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            # The disk writes go to a thread, a few chunks behind, as ours do: receiving never waits on them.
            writer = ThreadPoolExecutor(1)
            loop = asyncio.get_running_loop()
            writing: deque[asyncio.Future[None]] = deque()
            try:
                await ws.send(protocol.encode(protocol.request("d", "raw.download", {"path": str(source),
                                                                                     "chunk": CHUNK})))
                received = 0
                async for frame in ws:
                    message = protocol.decode(frame)
                    if message.type == "event" and message.data is not None:
                        offset = int(message["body"]["offset"])
                        writing.append(loop.run_in_executor(writer, write_at, fd, message.data, offset))
                        if len(writing) > WRITES_BEHIND:
                            await writing.popleft()
                        received += len(message.data)
                    elif message.type == "response":
                        if int(message["result"]["size"]) != received:
                            raise RuntimeError(f"raw peer sent {message['result']} bytes, {received} arrived")
                        break
                while writing:
                    await writing.popleft()
                os.fsync(fd)
                return received
            finally:
                writer.shutdown()
                os.close(fd)

        seconds, cpu, moved = self._run(work, relay, source)
        target.unlink()
        if moved != source.stat().st_size:
            raise RuntimeError(f"raw download: {moved} of {source.stat().st_size} bytes")
        return Run(seconds, cpu)

    def upload(self, source: Path, target: Path, relay: Proc) -> Run:
        async def work(ws: ClientConnection) -> int:
            fd = os.open(source, os.O_RDONLY)
            try:
                size = os.fstat(fd).st_size
                for offset in range(0, size, CHUNK):
                    data = os.pread(fd, min(CHUNK, size - offset), offset)
                    await ws.send(protocol.encode(protocol.request(f"u{offset}", "raw.upload",
                                                                   {"path": str(target), "offset": offset}, data)))
                await ws.send(protocol.encode(protocol.request("end", "raw.upload_end", {"path": str(target)})))
                async for frame in ws:
                    message = protocol.decode(frame)
                    if message.type == "response" and message["id"] == "end":
                        return int(message["result"]["size"])
                raise RuntimeError("the raw peer never answered the upload's end")
            finally:
                os.close(fd)

        seconds, cpu, moved = self._run(work, relay, source)
        target.unlink()
        if moved != source.stat().st_size:
            raise RuntimeError(f"raw upload: {moved} of {source.stat().st_size} bytes")
        return Run(seconds, cpu)

    def close(self) -> None:
        self.proc.stop()


def write_at(fd: int, data: bytes | memoryview, offset: int) -> None:
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        view, offset = view[written:], offset + written


class Ours:
    """A relay and an agent on 127.0.0.1, and a technician paired with it, for several transfers."""

    def __init__(self, folder: Path, relay: Proc, url: str, warm: Path) -> None:
        self.folder = folder
        self.relay = relay
        self.agent: Proc | None = None
        self.agent, code = start_agent(url, folder / "agent-data")
        self.session = connect(code, relay=url, name="bench")
        self.session.files.download(str(warm), folder / "warm.bin", progress=False)  # warm-up, not counted

    def _watched(self) -> dict[str, psutil.Process]:
        assert self.agent is not None
        return {"agent": psutil.Process(self.agent.popen.pid), "relay": psutil.Process(self.relay.popen.pid),
                "technician": psutil.Process(os.getpid())}

    def download(self, source: Path, expected_sha: str) -> Run:
        target = self.folder / "ours.bin"
        done: list[Transfer] = []
        even_start(self.folder, source.stat().st_size)
        with Usage(self._watched()) as usage:
            seconds = timed(lambda: done.append(self.session.files.download(str(source), target, progress=False)))
        ok = done[0].sha256 == expected_sha == sha256_of(target)
        target.unlink()
        return Run(seconds, usage.cpu, usage, ok)

    def upload(self, source: Path, expected_sha: str) -> Run:
        target = self.folder / "ours-uploaded.bin"
        done: list[Transfer] = []
        even_start(self.folder, source.stat().st_size)
        with Usage(self._watched()) as usage:
            seconds = timed(lambda: done.append(self.session.files.upload(source, str(target), progress=False,
                                                                          overwrite=True)))
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


def raw_download(url: str, relay: Proc, source: Path, folder: Path) -> Run:
    peer = RawPeer(url)
    try:
        return peer.download(source, folder / "raw.bin", relay)
    finally:
        peer.close()


def raw_upload(url: str, relay: Proc, source: Path, folder: Path) -> Run:
    peer = RawPeer(url)
    try:
        return peer.upload(source, folder / "raw-uploaded.bin", relay)
    finally:
        peer.close()


# ------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mib", type=int, default=512, help="size of the file copied (default 512)")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds of every copy (default 2)")
    parser.add_argument("--dir", type=Path, default=None, help="where the temporary folder goes (default: $TMPDIR)")
    args = parser.parse_args()
    size = int(args.size_mib) * MIB
    rounds = int(args.rounds)
    if size <= 0 or rounds <= 0:
        parser.error("--size-mib and --rounds must be positive")
    runs: dict[str, list[Run]] = {label: [] for label in LABELS}
    watch = LoadWatch()
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
        relay, url = start_relay(folder / "relay-data")
        try:
            ours = Ours(folder, relay, url, warm)
            try:
                measures: dict[str, Callable[[], Run]] = {
                    "cp": lambda: measure_cp(source, folder),
                    "raw download": lambda: raw_download(url, relay, source, folder),
                    "ours download": lambda: ours.download(source, expected),
                    "raw upload": lambda: raw_upload(url, relay, source, folder),
                    "ours upload": lambda: ours.upload(source, expected),
                }
                for _ in range(rounds):  # interleaved, so drift on a shared machine hits all alike
                    for label, measure in measures.items():
                        os.sync()  # start each copy with no dirty pages left by the one before
                        runs[label].append(measure())
                watch.stop()
            finally:
                ours.close()
        finally:
            relay.stop()
    return report(runs, size, rounds, watch)


LABELS = ("ours download", "raw download", "ours upload", "raw upload", "cp")
DESCRIPTIONS = {
    "ours download": "ours: s.files.download via relay + agent",
    "raw download": "raw websocket via the same relay",
    "ours upload": "ours: s.files.upload via relay + agent",
    "raw upload": "raw websocket via the same relay",
    "cp": "cp (the disk alone)",
}
#: The goals of issue 15: at least this fraction of the raw copy's rate, at most this multiple of its CPU.
RATE_GOAL = 0.8
CPU_GOAL = 1.3


def report(runs: dict[str, list[Run]], size: int, rounds: int, watch: LoadWatch) -> int:
    mib = size / MIB
    print(f"{mib:.0f} MiB on 127.0.0.1 in {CHUNK // MIB} MiB chunks, {rounds} rounds interleaved "
          "(every copy ends with an fsync of its output)")
    print(f"{'copy':<46}{'MiB/s':>9}{'seconds':>9}{'CPU s/GiB':>11}   CPU seconds by process")
    for label in LABELS:
        for number, run in enumerate(runs[label], 1):
            sha = "" if run.usage is None else f"; sha256 {'ok' if run.sha_ok else 'MISMATCH'}"
            used = ", ".join(f"{name} {value:.2f}" for name, value in run.cpu.items())
            print(f"{f'{DESCRIPTIONS[label]} ({number})':<46}{mib / run.seconds:>9.1f}{run.seconds:>9.2f}"
                  f"{sum(run.cpu.values()) * 1024 / mib:>11.2f}   {used}{sha}")
    met = True
    for way in ("download", "upload"):
        ours, raw = runs[f"ours {way}"], runs[f"raw {way}"]
        rate = min(run.seconds for run in raw) / min(run.seconds for run in ours)
        cpu = min(sum(run.cpu.values()) for run in ours) / min(sum(run.cpu.values()) for run in raw)
        met = met and rate >= RATE_GOAL and cpu <= CPU_GOAL
        print(f"{way}: ours/raw websocket via the relay: rate {rate:.2f}x (goal at least {RATE_GOAL}x), "
              f"CPU per GiB {cpu:.2f}x (goal at most {CPU_GOAL}x); best runs")
    print("RSS during our transfers: before → peak in the first half / in the second half of the transfer")
    for label in ("ours download", "ours upload"):
        for number, run in enumerate(runs[label], 1):
            assert run.usage is not None
            for name in ("agent", "relay", "technician"):
                before = run.usage.before.get(name, 0) / MIB
                first, second = (value / MIB for value in run.usage.peak_halves(name))
                print(f"  {label} ({number}) {name:<12}{before:>7.1f} MiB → {first:>7.1f} MiB / {second:>7.1f} MiB")
    print(watch.describe())
    if watch.too_loaded:
        print(watch.refusal())
    else:
        print(f"VERDICT: {'PASS' if met else 'FAIL'}")
    return 0 if all(run.sha_ok for label in ("ours download", "ours upload") for run in runs[label]) else 1


if __name__ == "__main__":
    sys.exit(main())
