"""Marks to pixels, with Pillow: a colour picture and a one-bit mask of where marks are.

Pure (no display).  An overlay backend shows the picture only where the mask is set, so
nothing but the marks covers the customer's screen.  Pixels are drawn without
anti-aliasing, because the mask is one bit: a pixel is a mark's or the desktop's.

Translucency without alpha: the highlighter, and a laser as it fades, are *stippled*: only
one pixel in two (a checkerboard; one in four for the last fade step) belongs to the mask,
and the desktop shows through the others.  The pattern is anchored on desktop coordinates,
so overlapping strokes line up.  An overlay with real alpha (a compositor, a layered window)
could blend instead; the picture would be the same.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from agent.annotate.model import TEXT_SIZE_PER_WIDTH, Mark
from agent.screen.hidden import Rect

#: The highlighter's opacity (shown as a checkerboard stipple).
HIGHLIGHTER_OPACITY: Final = 0.5
TEXT_SIZE_MIN: Final = 12
TEXT_SIZE_MAX: Final = 96
#: Fonts tried in turn for text labels (DejaVu covers Latin, Greek and Cyrillic); Pillow's own last.
FONT_FILES: Final = ("DejaVuSans-Bold.ttf", "DejaVuSans.ttf", "LiberationSans-Bold.ttf", "arialbd.ttf", "Arial.ttf")

FontType = ImageFont.FreeTypeFont | ImageFont.ImageFont


@dataclass(frozen=True)
class Rendering:
    """The marks drawn over *area* (desktop px): ``image`` (RGB) shows where ``mask`` ("1") is set."""

    area: Rect
    image: Image.Image
    mask: Image.Image


@functools.lru_cache(maxsize=16)
def font(size: int) -> FontType:
    for name in FONT_FILES:
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    return ImageFont.load_default(size)


def text_size(mark: Mark) -> int:
    return max(TEXT_SIZE_MIN, min(TEXT_SIZE_MAX, TEXT_SIZE_PER_WIDTH * mark.width))


def _label_box(mark: Mark) -> tuple[int, int, int, int, int]:
    """A text label's (width, height, padding, text dx, text dy) in px; its height is the font's,
    whatever the letters (so labels of one size line up)."""
    face = font(text_size(mark))
    left, _, right, _ = face.getbbox(mark.text)
    ascent, descent = face.getmetrics() if isinstance(face, ImageFont.FreeTypeFont) else (text_size(mark), 0)
    pad = max(3, text_size(mark) // 4)
    return (int(right - left) + 2 * pad, int(ascent + descent) + 2 * pad, pad, pad - int(left), pad)


def mark_box(mark: Mark) -> Rect:
    """Every pixel *mark* may cover, desktop px."""
    if mark.tool == "text":
        width, height, *_ = _label_box(mark)
        x, y = mark.points[0]
        return Rect(x, y, width, height)
    margin = 2 * mark.width + 8
    box = mark.bounds()
    return Rect(box.x - margin, box.y - margin, box.w + 2 * margin, box.h + 2 * margin)


def render(marks: Sequence[Mark], clip: Rect) -> Rendering | None:
    """Draw *marks* (oldest first, later ones on top) within *clip*; None when nothing shows there."""
    boxes = [(mark, mark_box(mark).intersect(clip)) for mark in marks]
    boxes = [(mark, box) for mark, box in boxes if not box.empty]
    if not boxes:
        return None
    area = boxes[0][1]
    for _, box in boxes[1:]:
        area = area.union(box)
    image = Image.new("RGB", (area.w, area.h))
    coverage = Image.new("L", (area.w, area.h))
    for mark, _ in boxes:
        _draw(mark, area, image, coverage)
    mask = coverage.point(lambda v: 255 if v else 0).convert("1")
    if not mask.getbbox():
        return None
    return Rendering(area, image, mask)


def _draw(mark: Mark, area: Rect, image: Image.Image, coverage: Image.Image) -> None:
    """Paint one mark into *image* and *coverage* (both covering *area*)."""
    box = mark_box(mark)
    shape = Image.new("L", (box.w, box.h))
    draw = ImageDraw.Draw(shape)
    points = [(x - box.x, y - box.y) for x, y in mark.points]
    width = mark.width
    opacity = mark.fade
    extra: Image.Image | None = None  # a text label's glyphs, painted over its box
    if mark.tool in ("pen", "highlighter"):
        _stroke(draw, points, width)
        if mark.tool == "highlighter":
            opacity *= HIGHLIGHTER_OPACITY
    elif mark.tool == "laser":
        _stroke(draw, points, max(2, width // 2))
        _dot(draw, points[-1], width + 3)
    elif mark.tool == "arrow":
        _arrow(draw, points[0], points[1], width)
    elif mark.tool in ("rect", "ellipse"):
        (x0, y0), (x1, y1) = points
        corners = (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))
        if mark.tool == "rect":
            draw.rectangle(corners, outline=255, width=width)
        else:
            draw.ellipse(corners, outline=255, width=width)
    elif mark.tool == "text":
        _, _, _, dx, dy = _label_box(mark)
        draw.rectangle((0, 0, box.w - 1, box.h - 1), fill=255)
        extra = Image.new("L", (box.w, box.h))
        ImageDraw.Draw(extra).text((dx, dy), mark.text, fill=255, font=font(text_size(mark)), anchor="la")
    shape = _stipple(shape, box, opacity)
    offset = (box.x - area.x, box.y - area.y)
    image.paste(mark.rgb, (*offset, offset[0] + box.w, offset[1] + box.h), shape)
    coverage.paste(255, (*offset, offset[0] + box.w, offset[1] + box.h), shape)
    if extra is not None:
        red, green, blue = mark.rgb
        ink = (0, 0, 0) if 0.299 * red + 0.587 * green + 0.114 * blue > 150 else (255, 255, 255)
        image.paste(ink, (*offset, offset[0] + box.w, offset[1] + box.h), extra)


def _stroke(draw: ImageDraw.ImageDraw, points: list[tuple[int, int]], width: int) -> None:
    if len(points) > 1:
        draw.line(points, fill=255, width=width, joint="curve")
    for end in {points[0], points[-1]}:  # round caps (and a dot for a single point)
        _dot(draw, end, width / 2)


def _dot(draw: ImageDraw.ImageDraw, centre: tuple[int, int], radius: float) -> None:
    x, y = centre
    draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=255)


def _arrow(draw: ImageDraw.ImageDraw, tail: tuple[int, int], tip: tuple[int, int], width: int) -> None:
    dx, dy = tip[0] - tail[0], tip[1] - tail[1]
    length = math.hypot(dx, dy)
    if length < 1:
        _dot(draw, tip, width)
        return
    ux, uy = dx / length, dy / length
    head = min(length, 3 * width + 10)
    half = 1.5 * width + 5
    base = (tip[0] - ux * head, tip[1] - uy * head)
    draw.line([tail, (round(base[0]), round(base[1]))], fill=255, width=width)
    draw.polygon([tip, (base[0] - uy * half, base[1] + ux * half), (base[0] + uy * half, base[1] - ux * half)],
                 fill=255)


def _stipple(shape: Image.Image, box: Rect, opacity: float) -> Image.Image:
    """Keep one pixel in two (a checkerboard) below full opacity, one in four below half."""
    if opacity >= 0.99:
        return shape
    ys, xs = np.ogrid[box.y:box.y + box.h, box.x:box.x + box.w]
    keep = (xs + ys) % 2 == 0 if opacity >= 0.5 else (xs % 2 == 0) & (ys % 2 == 0)
    pixels = np.asarray(shape)
    return Image.fromarray(np.where(keep, pixels, 0).astype(np.uint8), "L")


def premultiplied_bgra(rendering: Rendering) -> bytes:
    """The picture as premultiplied BGRA rows, top-down (a layered window's ``UpdateLayeredWindow`` form).

    The mark's colour with alpha 255 where the mask is set, all four bytes 0 elsewhere: the
    mask is one bit, so premultiplying is zeroing what is outside it.
    """
    alpha = rendering.mask.convert("L")
    base = Image.new("RGB", rendering.image.size)
    base.paste(rendering.image, (0, 0), alpha)
    red, green, blue = base.split()
    return Image.merge("RGBA", (blue, green, red, alpha)).tobytes("raw", "RGBA")
