"""Recording benchmark (issue 8): size against H.264, seek time, and the relay's CPU while recording.

Run: ``python bench/recording_bench.py`` (``--seconds`` per scenario, ``--scenarios typing,scrolling,full``,
``--rounds`` of the two relay modes, ``--minutes`` of the synthetic recording, ``--json out.json``).  Not a
timed test: figures and ratios, all measured in the same run, with the machine load it saw
(bench/load.py: no pass/fail verdict when other programs took more than a quarter of the cores).

1. **Bytes per minute against H.264.**  The scenarios of ``bench/screen_bench.py`` (typing into an
   xterm, an xterm scrolling, a full-screen picture alternating) on a 1920×1080 Xvfb, streamed by a
   real agent through a real relay (``workbench relay --record all``) to a technician's view (a raw
   viewer drawing every frame at full rate).  Our figure is the recording file's growth per minute;
   H.264's is the same frames (each recorded frame decoded, at its recorded time) encoded by PyAV
   (libx264, ``preset=veryfast``, ``crf=23``, variable frame rate).  Goal ≤ 1× typing and
   scrolling, ≤ 1.5× full change.
2. **Seek.**  A synthetic recording of ``--minutes`` (60) of 1080p activity written with the relay's
   own segment writer (a key frame of a real desktop picture every :data:`wire.recording.KEY_INTERVAL`
   seconds, typing-sized PNG changes at 5 frames a second in between); 100 random times, each
   opened cold (a new reader's cache) and drawn with ``frame_at``: p50/p99 (goal p99 ≤ 150 ms).  Also
   40 random times of each scenario's own recording (for full change, runs of ``h264`` frames decoded
   from their IDR).
3. **Relay CPU.**  The relay process's CPU seconds (the scheduler's nanoseconds on Linux) over the same
   scenario with ``--record all`` against ``--record none`` (the view open in both).  The two relays run
   at the same time, each with its own agent and raw view of the same screen, so the machine's
   changing speed weighs on both alike: run one after the other, the same relay's CPU on this virtual
   machine varied by a fifth from run to run, more than recording costs.  ``--rounds`` (2) runs with
   fresh processes, the ratio of the sums, with the frames each view drew.  Goal ≤ 1.15×.

Only processes started here are stopped, by PID.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import statistics
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import psutil
from PIL import Image, ImageDraw

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import screen_bench  # noqa: E402
from load import LoadWatch  # noqa: E402
from training_session import RawViewer  # noqa: E402

from wire.chain import ChainFollower, utc_now  # noqa: E402
from wire.recording import FILE_NAME, KEY_INTERVAL, SegmentBuilder, file_header  # noqa: E402
from workbench import connect, recordings  # noqa: E402
from workbench.lab import Proc, Xvfb, start_agent, start_relay  # noqa: E402


def h264_bytes(recording: recordings.Recording) -> int:
    """The recorded frames, decoded, encoded with libx264 veryfast crf 23 at their own times."""
    out = io.BytesIO()
    times = recording.frame_times
    with av.open(out, "w", format="mp4") as container:
        stream: Any = container.add_stream("libx264", rate=30)
        first = recording.frame_at(times[0])
        stream.width, stream.height = first.size
        stream.pix_fmt = "yuv420p"
        stream.options = {"preset": "veryfast", "crf": "23"}
        stream.codec_context.time_base = Fraction(1, 1000)
        last_pts = -1
        video_frame: Any = av.VideoFrame
        for t in times:
            pts = max(last_pts + 1, int((t - times[0]) * 1000))
            last_pts = pts
            frame = video_frame.from_image(recording.frame_at(t))
            frame.pts, frame.time_base = pts, Fraction(1, 1000)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return len(out.getvalue())


def cpu_seconds(pid: int) -> float:
    """CPU seconds of *pid*'s threads: from the scheduler's nanoseconds where Linux gives them
    (/proc/PID/task/*/schedstat; psutil's clock ticks are 10 ms, a tenth of a typing run's relay CPU),
    else psutil's."""
    tasks = Path(f"/proc/{pid}/task")
    try:
        return sum(int((task / "schedstat").read_text().split()[0]) for task in tasks.iterdir()) / 1e9
    except (OSError, ValueError, IndexError):
        return float(sum(psutil.Process(pid).cpu_times()[:2]))


class _Pipeline:
    """One relay (``--record`` *mode*) with its agent on the shared screen, a session and a raw view."""

    def __init__(self, mode: str, data: Path, xvfb: Xvfb) -> None:
        self.mode, self.data, self.frames = mode, data, 0
        self.procs: list[Proc] = []
        try:
            relay, self.url = start_relay(data, 0, "--record", mode)
            self.procs.append(relay)
            self.relay_pid = relay.popen.pid
            agent, code = start_agent(self.url, data.with_name(data.name + "-agent"), env=xvfb.env())
            self.procs.append(agent)
            self.session = connect(code, relay=self.url, name="bench")
            self.viewer = RawViewer(self.url, self.session.session_id, self.session._viewer_token(),
                                    keep=self._count)
        except BaseException:
            self.stop()  # what started before the failure: the caller never holds this pipeline
            raise

    def _count(self, _seq: int) -> bool:
        self.frames += 1
        return False

    def recording_path(self) -> Path:
        return self.data / "sessions" / self.session.session_id / "recording" / FILE_NAME

    def stop_view(self) -> None:
        self.viewer.stop()
        self.session.close()

    def stop(self) -> None:
        for proc in reversed(self.procs):
            proc.stop()


def drive_pair(name: str, run: int, scenario: screen_bench.Scenario, xvfb: Xvfb, seconds: float,
               work: Path) -> tuple[dict[str, float], dict[str, int], float, Path]:
    """Both relay modes at once, each with its own agent and view of the same screen, over one drive of
    the scenario: each relay's CPU seconds and frames its view drew, the seconds driven, and where
    the recording is.  The two start in turn, ``none`` first in even runs, ``all`` first in odd ones."""
    pipelines: list[_Pipeline] = []
    try:
        for mode in ("none", "all") if run % 2 == 0 else ("all", "none"):
            pipelines.append(_Pipeline(mode, work / f"{name}-{mode}-{run}", xvfb))
        for pipeline in pipelines:
            pipeline.viewer.welcomed.wait(20)
        time.sleep(1.0)
        cpu0 = {p.mode: cpu_seconds(p.relay_pid) for p in pipelines}
        frames0 = {p.mode: p.frames for p in pipelines}
        started = time.monotonic()
        scenario.drive(seconds)
        elapsed = time.monotonic() - started
        cpu = {p.mode: cpu_seconds(p.relay_pid) - cpu0[p.mode] for p in pipelines}
        frames = {p.mode: p.frames - frames0[p.mode] for p in pipelines}
        for pipeline in pipelines:
            pipeline.stop_view()
        time.sleep(2.5)
        path = next(p.recording_path() for p in pipelines if p.mode == "all")
    finally:
        for pipeline in reversed(pipelines):
            pipeline.stop()
    return cpu, frames, elapsed, path


def run_scenario(name: str, seconds: float, work: Path, rounds: int) -> dict[str, Any]:
    """Both relay modes on one Xvfb and one scenario: recording size, H.264 size, relay CPU.

    The two relays run at the same time, each with its own agent and view of the same screen, so a
    change in the machine's speed during the run (this virtual machine's varies by a fifth from
    minute to minute) weighs on both alike; *rounds* runs with fresh processes, the CPU ratio of the
    sums.
    """
    xvfb = Xvfb(1920, 1080)
    scenario = screen_bench.SCENARIOS[name](xvfb.display)
    result: dict[str, Any] = {"scenario": name, "rounds": rounds}
    cpu = {"none": 0.0, "all": 0.0}
    driven = 0.0
    runs: dict[str, list[float]] = {"none": [], "all": []}
    drawn: dict[str, list[int]] = {"none": [], "all": []}
    path: Path | None = None
    try:
        for run in range(rounds):
            run_cpu, frames, elapsed, recorded = drive_pair(name, run, scenario, xvfb, seconds, work)
            driven += elapsed
            for mode in ("none", "all"):
                cpu[mode] += run_cpu[mode]
                runs[mode].append(run_cpu[mode])
                drawn[mode].append(frames[mode])
            if path is None:
                path = recorded
        assert path is not None
        recording = recordings.open(path)
        minutes = recording.duration / 60
        result["duration_s"] = recording.duration
        result["frames"] = recording.frames
        keys = [seq for _t, seq, key in recording.frame_log if key]
        result["key_frames"] = len(keys)
        payload = sum(int(seg.header["payload_bytes"]) for seg in recording._scan.segments)
        result["header_bytes_share"] = 1 - payload / path.stat().st_size
        result["key_bytes_share"] = sum(
            len(recording._event(ref)[1]) for ref in recording._frames if ref.key) / path.stat().st_size
        result["ours_bytes_per_min"] = path.stat().st_size / minutes
        result["h264_bytes_per_min"] = h264_bytes(recording) / minutes
        result.update(scenario_seek(recording))
        recording.close()
    finally:
        scenario.close()
        xvfb.stop()
    for mode in ("none", "all"):
        result[f"relay_cpu_s_{mode}"] = cpu[mode]
        result[f"relay_cpu_runs_{mode}"] = runs[mode]
        result[f"frames_drawn_{mode}"] = drawn[mode]
        result[f"relay_cpu_percent_{mode}"] = 100 * cpu[mode] / driven
    result["size_ratio"] = result["ours_bytes_per_min"] / result["h264_bytes_per_min"]
    result["cpu_ratio"] = cpu["all"] / max(1e-9, cpu["none"])
    return result


def scenario_seek(recording: recordings.Recording, count: int = 40) -> dict[str, float]:
    """``frame_at`` at *count* random times of the scenario's own recording, each cold (the reader's
    cache dropped: it decodes from the key frame before, an h264 run from its IDR): p50/p99 in ms."""
    rng = random.Random(8)
    times_ms = []
    for _ in range(count):
        t = rng.uniform(0, recording.duration)
        recording._cache = None
        started = time.perf_counter()
        recording.frame_at(t)
        times_ms.append(1000 * (time.perf_counter() - started))
    times_ms.sort()
    return {"own_seek_p50_ms": statistics.median(times_ms), "own_seek_p99_ms": times_ms[int(0.99 * (count - 1))]}


def desktop(seed: int) -> Image.Image:
    """A 1080p picture like a desktop with text: windows, lines of words."""
    rng = random.Random(seed)
    image = Image.new("RGB", (1920, 1080), (40, 60, 90))
    draw = ImageDraw.Draw(image)
    for _window in range(4):
        x, y = rng.randrange(0, 1200), rng.randrange(0, 600)
        draw.rectangle((x, y, x + 700, y + 450), fill=(245, 245, 245), outline=(20, 20, 20))
        for line in range(25):
            words = " ".join(rng.choice(["relay", "agent", "frame", "journal", "widget", "window"]) for _ in range(9))
            draw.text((x + 10, y + 10 + 17 * line), words, fill=(0, 0, 0))
    return image


def synthetic_recording(path: Path, minutes: float) -> None:
    """*minutes* of 1080p typing at 5 frames a second, a key frame every KEY_INTERVAL seconds."""
    keys = []
    for seed in range(4):
        out = io.BytesIO()
        desktop(seed).save(out, format="JPEG", quality=80)
        keys.append(out.getvalue())
    tiles = []
    for n in range(20):
        tile = Image.new("RGB", (64, 64), (245, 245, 245))
        ImageDraw.Draw(tile).text((4, 20), "abcdefghij"[n % 10] * 6, fill=(0, 0, 0))
        out = io.BytesIO()
        tile.save(out, format="PNG")
        tiles.append(out.getvalue())
    chain, builder = ChainFollower(), SegmentBuilder()
    journal = {"seq": 0, "head": "0" * 64}
    with open(path, "wb") as f:
        f.write(file_header("synthetic", utc_now(), time.time()))
        t, seq, last_key = 0.0, 0, -KEY_INTERVAL
        while t < minutes * 60:
            seq += 1
            if t - last_key >= KEY_INTERVAL:
                if builder.events:
                    f.write(builder.seal(chain, utc_now(), journal))
                data = keys[seq % len(keys)]
                body = {"seq": seq, "key": True, "width": 1920, "height": 1080, "captured_at": t * 1000,
                        "rects": [{"x": 0, "y": 0, "w": 1920, "h": 1080, "codec": "jpeg", "len": len(data)}],
                        "hidden": []}
                last_key = t
            else:
                data = tiles[seq % len(tiles)]
                x, y = 64 * (seq % 25), 64 * ((seq // 25) % 16)
                body = {"seq": seq, "key": False, "width": 1920, "height": 1080, "captured_at": t * 1000,
                        "rects": [{"x": x, "y": y, "w": 64, "h": 64, "codec": "png", "len": len(data)}],
                        "hidden": []}
            builder.add(t, "screen.frame", body, data)
            if builder.t0 is not None and t - builder.t0 >= 2.0:
                f.write(builder.seal(chain, utc_now(), journal))
            t += 0.2
        if builder.events:
            f.write(builder.seal(chain, utc_now(), journal))


def seek_bench(minutes: float, work: Path, count: int = 100) -> dict[str, Any]:
    path = work / "synthetic.wbrec"
    made = time.monotonic()
    synthetic_recording(path, minutes)
    made = time.monotonic() - made
    opened = time.monotonic()
    recording = recordings.open(path)
    opened = time.monotonic() - opened
    rng = random.Random(8)
    times_ms = []
    for _ in range(count):
        t = rng.uniform(0, recording.duration)
        recording._cache = None  # every seek cold: no help from the previous one
        started = time.perf_counter()
        image = recording.frame_at(t)
        image.tobytes()  # the picture in memory, ready to display
        times_ms.append((time.perf_counter() - started) * 1000)
    recording.close()
    times_ms.sort()
    return {"minutes": minutes, "file_bytes": path.stat().st_size, "write_s": made, "open_s": opened,
            "seek_p50_ms": statistics.median(times_ms), "seek_p99_ms": times_ms[int(0.99 * (len(times_ms) - 1))],
            "seek_max_ms": times_ms[-1]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--scenarios", default="typing,scrolling,full")
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--rounds", type=int, default=2,
                        help="runs of the two relay modes side by side, for the CPU ratio (default 2)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    results: dict[str, Any] = {"scenarios": []}
    watch = LoadWatch()
    with tempfile.TemporaryDirectory(prefix="recording-bench-") as tmp:
        work = Path(tmp)
        for name in [n for n in args.scenarios.split(",") if n]:
            row = run_scenario(name, args.seconds, work, max(1, args.rounds))
            results["scenarios"].append(row)
            print(f"{name:10s} ours {row['ours_bytes_per_min'] / 1e6:7.2f} MB/min  H.264 "
                  f"{row['h264_bytes_per_min'] / 1e6:7.2f} MB/min  ratio {row['size_ratio']:.2f}×  "
                  f"({row['frames']} frames, {row['key_frames']} key frames = "
                  f"{100 * row['key_bytes_share']:.0f}% of bytes, "
                  f"headers {100 * row['header_bytes_share']:.0f}%, "
                  f"in {row['duration_s']:.0f} s; seek in it p50 {row['own_seek_p50_ms']:.0f} ms, "
                  f"p99 {row['own_seek_p99_ms']:.0f} ms)   relay CPU recording "
                  f"{row['relay_cpu_percent_all']:.2f}% vs relaying {row['relay_cpu_percent_none']:.2f}% "
                  f"= {row['cpu_ratio']:.2f}× (CPU s per run: recording "
                  f"{', '.join(f'{c:.2f}' for c in row['relay_cpu_runs_all'])}; relaying "
                  f"{', '.join(f'{c:.2f}' for c in row['relay_cpu_runs_none'])}; frames drawn per run: "
                  f"recording {', '.join(map(str, row['frames_drawn_all']))}; relaying "
                  f"{', '.join(map(str, row['frames_drawn_none']))})", flush=True)
        seek = seek_bench(args.minutes, work)
        results["seek"] = seek
        print(f"seek in a {seek['minutes']:.0f}-minute recording ({seek['file_bytes'] / 1e6:.0f} MB, opened in "
              f"{seek['open_s'] * 1000:.0f} ms): p50 {seek['seek_p50_ms']:.0f} ms, p99 {seek['seek_p99_ms']:.0f} ms, "
              f"max {seek['seek_max_ms']:.0f} ms (goal p99 ≤ 150 ms)")
    watch.stop()
    results["load"] = {"cores": watch.cores, "others_cores": watch.others_cores, "own_cores": watch.own_cores,
                       "load_start": watch.load_start, "load_end": watch.load_end}
    print(watch.describe())
    if watch.too_loaded:
        print(watch.refusal())
    else:
        for row in results["scenarios"]:
            size_goal = 1.5 if row["scenario"] == "full" else 1.0
            print(f"{row['scenario']}: size {row['size_ratio']:.2f}× (goal ≤ {size_goal}×) "
                  f"{'met' if row['size_ratio'] <= size_goal else 'NOT met'}; relay CPU {row['cpu_ratio']:.2f}× "
                  f"(goal ≤ 1.15×) {'met' if row['cpu_ratio'] <= 1.15 else 'NOT met'}")
        print(f"seek p99 {seek['seek_p99_ms']:.0f} ms (goal ≤ 150 ms) "
              f"{'met' if seek['seek_p99_ms'] <= 150 else 'NOT met'}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
