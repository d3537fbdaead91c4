"""YUV 4:2:0 → RGB in integers, the one conversion every reader of ``h264`` rectangles uses.

H.264 decoding is bit-exact: every decoder gives the same Y, U and V samples.  The RGB drawn from
them is not, unless the conversion is spelled out, so the Python readers (this module, numpy) and
the widget (``workbench/widget_src/yuv.js``, the same formula on typed arrays) both convert with:

- BT.601, limited range (what the agent's encoder says in the stream: Y 16–235, U and V 16–240);
- chroma upsampled by repetition: pixel (x, y) takes the U and V sample (x >> 1, y >> 1);
- coefficients scaled by 2**16 and rounded to integers (:data:`Y_GAIN` ... :data:`U_TO_B`), in
  32-bit signed arithmetic:
  ``R = clamp((Y_GAIN*(Y-16) + V_TO_R*(V-128) + 32768) >> 16)``,
  ``G = clamp((Y_GAIN*(Y-16) - U_TO_G*(U-128) - V_TO_G*(V-128) + 32768) >> 16)``,
  ``B = clamp((Y_GAIN*(Y-16) + U_TO_B*(U-128) + 32768) >> 16)``,
  where ``>>`` is the arithmetic shift (floor) and clamp limits to 0–255.

Change a constant here and in yuv.js together: the e2e test compares the canvas with ``frame_at``.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

Plane = npt.NDArray[np.uint8]

#: 255/219 (limited-range luma to full), × 2**16
Y_GAIN: Final = 76309
#: 1.402 × 255/224 (Cr to red), × 2**16
V_TO_R: Final = 104597
#: 0.344136 × 255/224 (Cb to green, subtracted), × 2**16
U_TO_G: Final = 25675
#: 0.714136 × 255/224 (Cr to green, subtracted), × 2**16
V_TO_G: Final = 53279
#: 1.772 × 255/224 (Cb to blue), × 2**16
U_TO_B: Final = 132201
#: half of 2**16: the shift rounds to nearest
ROUND: Final = 32768

_LEVELS = np.arange(256, dtype=np.int32)
# Each sample's share of a channel, looked up by its value: the sums below are the formula's terms.
_Y_TERM = Y_GAIN * (_LEVELS - 16) + ROUND
_R_FROM_V = V_TO_R * (_LEVELS - 128)
_G_FROM_U = -U_TO_G * (_LEVELS - 128)
_G_FROM_V = -V_TO_G * (_LEVELS - 128)
_B_FROM_U = U_TO_B * (_LEVELS - 128)


def i420_to_rgb(y: Plane, u: Plane, v: Plane, width: int, height: int) -> Plane:
    """The ``(height, width, 3)`` RGB pixels of the I420 planes *y*, *u* and *v* (chroma halved).

    *y* must cover *width* × *height* rounded up to even sides (a decoded H.264 picture does: it is
    padded to them), *u* and *v* half that; larger planes (padding, strides as views) are cropped.
    Raises ValueError when a plane is smaller.
    """
    cw, ch = (width + 1) >> 1, (height + 1) >> 1
    if y.shape[0] < 2 * ch or y.shape[1] < 2 * cw or u.shape[0] < ch or u.shape[1] < cw or v.shape[0] < ch \
            or v.shape[1] < cw:
        raise ValueError(f"I420 planes {y.shape}, {u.shape}, {v.shape} smaller than {width}x{height} needs")
    # Pixels as (chroma row, 2, chroma column, 2): each chroma term broadcasts over its 2x2 pixels.
    luma = _Y_TERM[y[:2 * ch, :2 * cw]].reshape(ch, 2, cw, 2)
    u_half, v_half = u[:ch, :cw], v[:ch, :cw]
    rgb = np.empty((ch, 2, cw, 2, 3), dtype=np.uint8)
    total = np.empty_like(luma)
    for channel, chroma in enumerate((_R_FROM_V[v_half], _G_FROM_U[u_half] + _G_FROM_V[v_half], _B_FROM_U[u_half])):
        np.add(luma, chroma[:, None, :, None], out=total)
        np.right_shift(total, 16, out=total)
        np.clip(total, 0, 255, out=total)
        rgb[..., channel] = total
    pixels: Plane = rgb.reshape(2 * ch, 2 * cw, 3)[:height, :width]
    return pixels
