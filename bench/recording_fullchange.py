"""What a full-screen change could cost in a recording (issue 8): the options, with figures, in one run.

Run: ``python bench/recording_fullchange.py`` (``--frames`` per option).  Not a timed test.

The recording stores what the technician received, so a smaller recording of a full change means
either the agent sends something else (and the live view changes with it) or the relay re-encodes.
For two pictures alternating at 1920×1080, as ``bench/recording_bench.py``'s ``full`` scenario
shows them (the painter's noisy gradients), and for two desktops of text windows, each option
prints:

- bytes a frame, and the ratio to H.264 of the same decoded frames (libx264 ``veryfast``, ``crf=23``,
  as ``recording_bench.py`` measures it);
- the agent's CPU to encode one frame;
- PSNR against the captured picture: what the technician's live view loses during the motion.

Options: the agent's JPEG now (simplejpeg, quality 60 for large motion, fast DCT, standard Huffman
tables); the same quantisation with optimised Huffman tables (Pillow ``optimize=True``: a second
pass, no pixel lost); lower qualities, optimised; and the relay re-encoding to H.264 (its CPU a
frame, to set against relaying's).
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import numpy.typing as npt
import simplejpeg
from PIL import Image

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from recording_bench import desktop  # noqa: E402

RGB = npt.NDArray[np.uint8]


def painter_photo(width: int, height: int, seed: int) -> RGB:
    """bench/screen_painter.py's picture (without Tk): smooth gradients plus noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([(x * (seed + 1) * 0.13) % 256, (y * 0.21 + seed * 40) % 256, ((x + y) * 0.07) % 256], axis=2)
    return np.clip(base + rng.normal(0, 18, base.shape), 0, 255).astype(np.uint8)


def bgrx(picture: RGB) -> RGB:
    return np.ascontiguousarray(np.dstack([picture[:, :, ::-1], np.full(picture.shape[:2], 255, np.uint8)]))


def agent_jpeg(quality: int) -> Callable[[RGB], bytes]:
    """agent/screen/encode.py's JPEG: simplejpeg, 4:2:0, fast DCT, from the captured BGRX."""
    def encode(frame: RGB) -> bytes:
        data: bytes = simplejpeg.encode_jpeg(frame, quality=quality, colorspace="BGRX", colorsubsampling="420",
                                             fastdct=True)
        return data
    return encode


def optimised_jpeg(quality: int) -> Callable[[RGB], bytes]:
    """Pillow (libjpeg-turbo), 4:2:0, optimised Huffman tables, from the captured BGRX."""
    def encode(frame: RGB) -> bytes:
        image = Image.frombuffer("RGB", (frame.shape[1], frame.shape[0]), frame, "raw", "BGRX", 0, 1)
        out = io.BytesIO()
        image.save(out, format="JPEG", quality=quality, subsampling=2, optimize=True)
        return out.getvalue()
    return encode


def h264(frames: list[RGB]) -> tuple[float, float]:
    """Bytes a frame and CPU seconds a frame of libx264 veryfast crf 23 over *frames* at 10 a second."""
    out = io.BytesIO()
    started = time.process_time()
    with av.open(out, "w", format="mp4") as container:
        stream: Any = container.add_stream("libx264", rate=10)
        stream.width, stream.height = frames[0].shape[1], frames[0].shape[0]
        stream.pix_fmt = "yuv420p"
        stream.options = {"preset": "veryfast", "crf": "23", "threads": "1"}
        stream.codec_context.time_base = Fraction(1, 10)
        video_frame: Any = av.VideoFrame
        for n, picture in enumerate(frames):
            frame = video_frame.from_ndarray(picture, format="rgb24")
            frame.pts = n
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return len(out.getvalue()) / len(frames), (time.process_time() - started) / len(frames)


def psnr(a: RGB, b: RGB) -> float:
    mse = float(((a.astype(np.float64) - b) ** 2).mean())
    return 10 * np.log10(255**2 / max(mse, 1e-9))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=20)
    args = parser.parse_args()
    contents = {
        "painter (recording_bench full)": [painter_photo(1920, 1080, seed) for seed in range(2)],
        "desktop of text windows": [np.asarray(desktop(seed)) for seed in range(2)],
    }
    options: list[tuple[str, Callable[[RGB], bytes]]] = [
        ("agent now: JPEG q60", agent_jpeg(60)),
        ("q60, optimised Huffman", optimised_jpeg(60)),
        ("q50, optimised", optimised_jpeg(50)),
        ("q45, optimised", optimised_jpeg(45)),
        ("q40, optimised", optimised_jpeg(40)),
    ]
    for content, pictures in contents.items():
        print(content)
        sources = [bgrx(picture) for picture in pictures]
        for name, encode in options:
            encoded, cpu = [], 0.0
            for n in range(args.frames):
                started = time.process_time()
                encoded.append(encode(sources[n % 2]))
                cpu += time.process_time() - started
            shown = [simplejpeg.decode_jpeg(data, colorspace="RGB") for data in encoded]
            ours = sum(map(len, encoded)) / len(encoded)
            reference, _ = h264(shown)
            quality = min(psnr(shown[n], pictures[n % 2]) for n in range(2))
            print(f"  {name:24s} {ours / 1e3:7.1f} kB/frame  vs H.264 {ours / reference:4.2f}×  "
                  f"agent encode {1000 * cpu / args.frames:5.1f} ms/frame  PSNR {quality:5.2f} dB")
        now = [simplejpeg.decode_jpeg(agent_jpeg(60)(sources[n % 2]), colorspace="RGB") for n in range(args.frames)]
        size, cpu = h264(now)
        print(f"  relay re-encoding to H.264: {size / 1e3:.1f} kB/frame, {1000 * cpu:.1f} ms CPU a frame (one thread)")


if __name__ == "__main__":
    main()
