"""The agent's live H.264 encoder against the recording benchmark's reference, on the same source frames.

    python bench/h264_quality.py [--frames 40]

``bench/recording_bench.py`` compares our recording's size with libx264 ``preset=veryfast``,
``crf=23`` (its default tune: lookahead and B-frames, as an offline encoder may).  The same CRF
does not mean the same picture across presets: ultrafast at CRF 23 keeps more of a noisy picture
than veryfast does, and pays for it in bytes.  This benchmark shows both sides of the trade on
the source pixels themselves, so a size ratio is read with the quality it buys:

- **full change**: the two photo-like pictures of ``bench/screen_painter.py`` (gradients and
  noise, the benchmark's full-screen scenario) alternating, 1920×1080, ten a second;
- **window drag**: a page of text and boxes moving 12 px right and 5 px down a frame.

For each, the agent's encoder (:class:`agent.screen.h264.H264Encoder`, exactly as the live view
runs it: its preset, CRF, zero latency, one thread) and the reference encode the same frames;
each stream is decoded by PyAV and compared with its source in the luma plane (PSNR-Y, the mean
over frames of each frame's PSNR, both from the same BGRA→I420 conversion).  Printed for each
encoder: bytes a frame, over ours; PSNR-Y, minus ours; and CPU a frame, the conversion included
(the streamer's budget counts ours).  The first two frames (an IDR and its first P-frame) are left
out of the PSNR means.  Two more rows show what each of our choices is worth under the live
view's constraints (zero latency, no B-frames, the same set-up): our encoder with x264's default
CRF 23, and with preset veryfast at CRF 23.  Not a timed test; it prints the machine load it saw.
"""

from __future__ import annotations

import argparse
import fractions
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import av
import numpy as np
from PIL import Image, ImageDraw, ImageFont

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from load import LoadWatch  # noqa: E402
from screen_bench import IMAGE_MARKERS  # noqa: E402
from screen_painter import photo_pixels  # noqa: E402

from agent.screen import h264  # noqa: E402

WIDTH, HEIGHT = 1920, 1080
#: The recording benchmark's reference encoder (bench/recording_bench.py's h264_bytes).
REFERENCE_OPTIONS = {"preset": "veryfast", "crf": "23"}
SKIPPED = 2
#: x264's default CRF.
DEFAULT_CRF = 23


def full_change(count: int) -> list[np.ndarray]:
    """The benchmark's two photo-like pictures alternating, as BGRA."""
    pictures = [photo_pixels(WIDTH, HEIGHT, seed, marker) for seed, marker in enumerate(IMAGE_MARKERS)]
    bgra = [np.dstack([p[:, :, ::-1], np.full((HEIGHT, WIDTH, 1), 255, np.uint8)]) for p in pictures]
    return [bgra[i % 2] for i in range(count)]


def window_drag(count: int) -> list[np.ndarray]:
    """A page of text and boxes, moving 12 px right and 5 px down a frame, as BGRA."""
    rng = np.random.default_rng(3)
    extra_x, extra_y = 12 * count, 5 * count
    page = Image.new("RGB", (WIDTH + extra_x, HEIGHT + extra_y), (236, 236, 236))
    draw = ImageDraw.Draw(page)
    font = ImageFont.load_default(size=14)
    words = ["the", "printer", "spooler", "stopped", "after", "an", "update", "check", "proxy", "under", "HKLM"]
    for row in range(0, HEIGHT + extra_y, 18):
        draw.text((10, row), " ".join(rng.choice(words, 24)), fill=(20, 20, 20), font=font)
    for _ in range(16):
        x, y = (int(v) for v in rng.integers(0, WIDTH, 2))
        draw.rectangle((x, y % HEIGHT, x + 220, y % HEIGHT + 130), outline=(40, 90, 200), width=2,
                       fill=(250, 250, 255))
    rgb = np.asarray(page)
    frames = []
    for i in range(count):
        x, y = extra_x - 12 * i, extra_y - 5 * i
        view = rgb[y : y + HEIGHT, x : x + WIDTH]
        frames.append(np.ascontiguousarray(np.dstack([view[:, :, ::-1], np.full((HEIGHT, WIDTH, 1), 255, np.uint8)])))
    return frames


def luma(frame: Any) -> np.ndarray:
    """The Y plane of a decoded or converted I420 frame, cropped to the picture."""
    plane = frame.planes[0]
    return np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)[:HEIGHT, :WIDTH].astype(np.float64)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(((a - b) ** 2).mean())
    return 99.0 if mse == 0 else 10 * float(np.log10(255**2 / mse))


def to_i420(bgra: np.ndarray) -> Any:
    return av.VideoFrame.from_ndarray(bgra, format="bgra").reformat(format="yuv420p")


def ours(frames: list[np.ndarray], preset: str = h264.PRESET, crf: float = h264.CRF) -> tuple[list[bytes], float]:
    """Our live encoder (or its set-up with another preset and CRF): one access unit a frame (an IDR
    first), and its CPU seconds over the run."""
    encoder = h264.H264Encoder(WIDTH, HEIGHT, preset=preset, crf=crf)
    units = []
    started = time.thread_time()
    for number, frame in enumerate(frames):
        units.append(encoder.encode(frame.view(np.uint32).reshape(HEIGHT, WIDTH), idr=number == 0))
    return units, time.thread_time() - started


def libx264(frames: list[np.ndarray], options: dict[str, str]) -> tuple[list[bytes], float]:
    """libx264 with *options* and one thread, flushed: its packets in order (B-frames, where the
    options allow them, reorder the pictures: sizes are compared as totals, pictures in display
    order), and its CPU seconds over the run (the BGRA->I420 conversion included, as in ours)."""
    context: Any = av.CodecContext.create("libx264", "w")
    context.width, context.height, context.pix_fmt = WIDTH, HEIGHT, "yuv420p"
    context.time_base = fractions.Fraction(1, 10)
    context.thread_count = 1
    context.options = dict(options)
    context.open()
    packets: list[bytes] = []
    started = time.thread_time()
    for number, frame in enumerate(frames):
        picture = to_i420(frame)
        picture.pts = number
        packets.extend(bytes(packet) for packet in context.encode(picture))
    packets.extend(bytes(packet) for packet in context.encode(None))
    return packets, time.thread_time() - started


def decoded_quality(units: list[bytes], frames: list[np.ndarray]) -> list[float]:
    """PSNR-Y of each decoded picture (display order) against its source frame."""
    decoder: Any = av.CodecContext.create("h264", "r")
    pictures = []
    for unit in units:
        pictures.extend(decoder.decode(av.Packet(unit)))
    pictures.extend(decoder.decode(None))
    if len(pictures) != len(frames):
        raise RuntimeError(f"{len(pictures)} pictures decoded from {len(frames)} frames")
    return [psnr(luma(picture), luma(to_i420(frame))) for picture, frame in zip(pictures, frames, strict=True)]


#: The encoders compared: ours; our set-up with x264's default CRF and with preset veryfast (what
#: each choice is worth under the live view's constraints); the recording benchmark's reference (an
#: offline encoder: lookahead, B-frames).
ENCODERS: dict[str, tuple[str, float] | dict[str, str]] = {
    "ours": (h264.PRESET, h264.CRF),
    f"ours with crf {DEFAULT_CRF}": (h264.PRESET, DEFAULT_CRF),
    f"ours with veryfast, crf {DEFAULT_CRF}": ("veryfast", DEFAULT_CRF),
    "recording reference": REFERENCE_OPTIONS,
}


def measure(make: Callable[[int], list[np.ndarray]], count: int) -> dict[str, dict[str, float]]:
    """Bytes a frame, PSNR-Y and CPU ms a frame of each encoder over the same *count* frames."""
    frames = make(count)
    figures = {}
    for name, options in ENCODERS.items():
        units, cpu = ours(frames, *options) if isinstance(options, tuple) else libx264(frames, options)
        quality = decoded_quality(units, frames)[SKIPPED:]
        figures[name] = {"kb": sum(len(unit) for unit in units) / count / 1000,
                         "psnr": statistics.fmean(quality), "cpu_ms": 1000 * cpu / count}
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=40, help="frames per scenario (default 40)")
    args = parser.parse_args()
    if args.frames <= SKIPPED + 1:
        parser.error(f"--frames must be more than {SKIPPED + 1}")
    if not h264.available():
        print("PyAV with libx264 is not installed: the agent sends no h264 here")
        return 1
    watch = LoadWatch()
    results = {"full change": measure(full_change, args.frames), "window drag": measure(window_drag, args.frames)}
    watch.stop()
    print(f"ours: libx264 preset {h264.PRESET}, crf {h264.CRF}, zero latency, no B-frames (agent/screen/h264.py); "
          f"recording reference: libx264 {REFERENCE_OPTIONS} (bench/recording_bench.py); one thread each; "
          f"{WIDTH}x{HEIGHT}, {args.frames} frames")
    print(f"{'scenario':<14}{'encoder':<32}{'kB/frame':>10}{'vs ours':>9}{'PSNR-Y':>10}{'vs ours':>10}"
          f"{'CPU ms/frame':>14}")
    for scenario, figures in results.items():
        mine = figures["ours"]
        for name, f in figures.items():
            size = "" if name == "ours" else f"{f['kb'] / mine['kb']:.2f}x"
            quality = "" if name == "ours" else f"{f['psnr'] - mine['psnr']:+.2f} dB"
            print(f"{scenario:<14}{name:<32}{f['kb']:>10.1f}{size:>9}{f['psnr']:>7.2f} dB{quality:>10}"
                  f"{f['cpu_ms']:>14.1f}")
    print("kB/frame over every frame (the first is an IDR); PSNR-Y of the decoded pictures against the source, "
          f"the first {SKIPPED} left out; vs ours: the encoder's size over ours, its PSNR-Y minus ours")
    print(watch.describe())
    return 0


if __name__ == "__main__":
    sys.exit(main())
