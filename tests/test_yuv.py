"""The one YUV→RGB conversion of ``h264`` pictures: screenfmt/yuv.py (numpy) and widget_src/yuv.js agree.

The canvas equals ``frame_at`` only if both give the same RGB from the same decoded planes: the JS
module runs here in Node (V8, Chromium's engine) on planes with strides, odd sides and every sample
value, NV12 too, and must produce the very bytes numpy does.  The formula itself is checked against
BT.601's real-valued definition (within one level: the fixed point's rounding) and its end points.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from screenfmt.yuv import i420_to_rgb
from tests import requires

ROOT = Path(__file__).parents[1]
YUV_JS = ROOT / "workbench" / "widget_src" / "yuv.js"

def _planes(width: int, height: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Random I420 planes for a width x height picture, each wider than it needs (a stride)."""
    rng = np.random.default_rng(seed)
    cw, ch = (width + 1) // 2, (height + 1) // 2
    y = rng.integers(0, 256, (2 * ch, 2 * cw + 6), dtype=np.uint8)
    u = rng.integers(0, 256, (ch, cw + 3), dtype=np.uint8)
    v = rng.integers(0, 256, (ch, cw + 5), dtype=np.uint8)
    return y, u, v


def _js_rgb(y: np.ndarray, u: np.ndarray, v: np.ndarray, width: int, height: int, *, nv12: bool) -> np.ndarray:
    """What yuv.js's i420ToImageData makes of the planes (as NV12: u and v interleaved), as RGB."""
    node = requires.tool("node", "nodejs")
    if nv12:
        chroma = np.empty((u.shape[0], 2 * min(u.shape[1], v.shape[1])), dtype=np.uint8)
        chroma[:, 0::2], chroma[:, 1::2] = u[:, :chroma.shape[1] // 2], v[:, :chroma.shape[1] // 2]
        blob = y.tobytes() + chroma.tobytes()
        planes = [(0, y.shape[1]), (y.size, chroma.shape[1]), (y.size + 1, chroma.shape[1])]
    else:
        blob = y.tobytes() + u.tobytes() + v.tobytes()
        planes = [(0, y.shape[1]), (y.size, u.shape[1]), (y.size + u.size, v.shape[1])]
    script = f"""
globalThis.ImageData = class {{ constructor(w, h) {{ this.width = w; this.height = h;
  this.data = new Uint8ClampedArray(w * h * 4); }} }};
const {{ i420ToImageData }} = await import({json.dumps(YUV_JS.as_uri())});
const {{ readFileSync }} = await import("node:fs");
const data = new Uint8Array(readFileSync(0));
const [y, u, v] = {json.dumps(planes)}.map(([offset, stride]) => ({{ data, offset, stride }}));
const image = i420ToImageData(y, u, v, {width}, {height}, {2 if nv12 else 1});
process.stdout.write(Buffer.from(image.data.buffer));
"""
    done = subprocess.run([node, "--input-type=module", "-e", script], input=blob, capture_output=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr.decode()
    rgba = np.frombuffer(done.stdout, dtype=np.uint8).reshape(height, width, 4)
    assert (rgba[..., 3] == 255).all()
    return rgba[..., :3]


@pytest.mark.parametrize(("width", "height", "nv12"), [(321, 181, False), (64, 48, False), (33, 7, True)])
def test_the_widget_converts_exactly_as_numpy(width: int, height: int, nv12: bool) -> None:
    y, u, v = _planes(width, height, seed=width)
    ours = i420_to_rgb(y, u, v, width, height)
    assert ours.shape == (height, width, 3)
    theirs = _js_rgb(y, u, v, width, height, nv12=nv12)
    difference = np.abs(ours.astype(np.int16) - theirs)
    assert difference.max() == 0, f"{np.count_nonzero(difference.any(axis=2))} pixels differ"


def test_every_sample_value_converts_within_half_a_level_of_bt601() -> None:
    """All 256³ (Y, U, V) triples against the real-valued BT.601 limited-range formula, rounded.

    Pixel (row, column) of each 512 x 512 picture has Y = column >> 1, V = row >> 1 and one U.
    """
    levels = np.arange(256, dtype=np.uint8)
    y = np.ascontiguousarray(np.repeat(levels, 2)[None, :].repeat(512, axis=0))
    v = np.ascontiguousarray(levels[:, None].repeat(256, axis=1))
    luma = (np.repeat(levels, 2)[None, :] - 16.0) * 255 / 219
    cr = (np.repeat(levels, 2)[:, None] - 128.0) * 255 / 224
    for u_level in range(256):
        cb = (u_level - 128.0) * 255 / 224
        exact = np.stack(np.broadcast_arrays(luma + 1.402 * cr, luma - 0.344136 * cb - 0.714136 * cr,
                                             luma + 1.772 * cb), axis=-1)
        rgb = i420_to_rgb(y, np.full((256, 256), u_level, dtype=np.uint8), v, 512, 512)
        # Half a level of rounding, plus what 16-bit fixed-point coefficients lose (< 0.01 level).
        assert np.abs(rgb - np.clip(exact, 0, 255)).max() < 0.51, f"U = {u_level}"
    grey = np.full((1, 1), 128, np.uint8)
    assert (i420_to_rgb(np.full((2, 2), 16, np.uint8), grey, grey, 2, 2) == 0).all()  # black
    assert (i420_to_rgb(np.full((2, 2), 235, np.uint8), grey, grey, 2, 2) == 255).all()  # white


def test_planes_smaller_than_the_picture_are_refused() -> None:
    y, u, v = _planes(10, 10, seed=1)
    with pytest.raises(ValueError, match="smaller"):
        i420_to_rgb(y[:8], u, v, 10, 10)
