"""Reading only what was drawn (DAMAGE's bounding box): FramePipeline.patch gives the very frames a whole capture gives.

Two pipelines see the same screen history: one is handed every capture whole, the other only
the box that changed (as the streamer does when DAMAGE says where drawing happened).  Their
frames must be identical, byte for byte, and a viewer drawing them must hold the screen.
"""

from __future__ import annotations

import numpy as np
import pytest

from agent.screen.decode import Canvas
from agent.screen.hidden import Rect
from agent.screen.pipeline import FramePipeline, outside
from agent.screen.tiles import dirty_tiles, flat_tiles, flat_tiles_of

WIDTH, HEIGHT = 640, 400
WHITE, BLACK = np.uint32(0xFFFFFFFF), np.uint32(0xFF000000)


def to_rgb(frame: np.ndarray) -> np.ndarray:
    return frame.view(np.uint8).reshape(*frame.shape, 4)[:, :, 2::-1]


def random_colour(rng: np.random.Generator) -> int:
    return int(rng.integers(0, 1 << 24))


def step(screen: np.ndarray, rng: np.random.Generator, kind: str) -> Rect:
    """Change *screen* in place the way *kind* does; returns the bounding box of the drawing."""
    if kind == "glyph":
        x, y = int(rng.integers(0, WIDTH - 6)), int(rng.integers(0, HEIGHT - 13))
        screen[y : y + 13, x : x + 6] = np.where(rng.integers(0, 2, (13, 6)) == 1, BLACK, WHITE)
        return Rect(x, y, 6, 13)
    if kind == "scroll":  # the text area moves up 12 pixels, a new line appears at its bottom
        top, bottom = 40, 340
        screen[top : bottom - 12] = screen[top + 12 : bottom].copy()
        screen[bottom - 12 : bottom] = np.where(rng.integers(0, 2, (12, WIDTH)) == 1, BLACK, WHITE)
        return Rect(0, top, WIDTH, bottom - top)
    if kind == "fill":
        x, y = int(rng.integers(0, WIDTH - 130)), int(rng.integers(0, HEIGHT - 130))
        screen[y : y + 130, x : x + 130] = np.uint32(0xFF000000 | int(rng.integers(0, 1 << 24)))
        return Rect(x, y, 130, 130)
    if kind == "full":  # drawn all over: the patch becomes the frame (no copy into the buffer)
        colour = np.uint32(0xFF000000 | random_colour(rng))
        screen[:] = np.where(rng.integers(0, 2, (HEIGHT, WIDTH)) == 1, BLACK, colour)
        return Rect(0, 0, WIDTH, HEIGHT)
    return Rect(0, 0, 0, 0)  # "none": nothing drawn (a lossless refresh may still fall due)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("allow_copy", [False, True])
def test_patches_of_the_drawn_box_give_the_frames_of_whole_captures(seed: int, allow_copy: bool) -> None:
    rng = np.random.default_rng(seed)
    screen = np.where(rng.integers(0, 2, (HEIGHT, WIDTH)) == 1, BLACK, WHITE).astype(np.uint32)
    whole, patched = FramePipeline(WIDTH, HEIGHT), FramePipeline(WIDTH, HEIGHT)
    whole.allow_copy = patched.allow_copy = allow_copy
    canvas = Canvas()
    now = 0.0
    for i in range(40):
        if i == 0:
            patched.current = screen.copy()
        else:
            drawn = step(screen, rng, str(rng.choice(["glyph", "glyph", "scroll", "fill", "full", "none"])))
            patched.patch(drawn, None if drawn.empty else screen[drawn.y : drawn.bottom, drawn.x : drawn.right].copy())
        whole.current = screen.copy()
        now += 0.1
        expected, got = whole.produce(now, 1.0), patched.produce(now, 1.0)
        assert (expected is None) == (got is None), i
        if expected is None or got is None:
            continue
        assert got.rects == expected.rects and got.data == expected.data, i
        canvas.apply(got.body("all"), got.payload)
        assert (canvas.pixels == to_rgb(screen)).all(), i  # two colours: every codec is exact here


def test_outside_is_what_the_capture_leaves_for_the_copy_from_the_last_frame() -> None:
    whole = Rect(0, 0, 100, 60)
    assert outside(whole, Rect(0, 0, 100, 60)) == []  # a scroll: the capture covers what may differ
    assert outside(whole, Rect(0, 0, 0, 0)) == [whole]
    assert outside(Rect(0, 0, 0, 5), whole) == []
    assert outside(whole, Rect(200, 0, 10, 10)) == [whole]
    parts = outside(whole, Rect(10, 20, 30, 15))
    assert parts == [Rect(0, 0, 100, 20), Rect(0, 35, 100, 25), Rect(0, 20, 10, 15), Rect(40, 20, 60, 15)]
    covered = np.zeros((60, 100), dtype=np.int8)
    for part in [*parts, Rect(10, 20, 30, 15)]:
        covered[part.y : part.bottom, part.x : part.right] += 1
    assert (covered == 1).all()  # every pixel once: the bands and the capture tile the rectangle


def test_a_patch_before_the_first_frame_or_of_the_wrong_size_is_refused() -> None:
    pipeline = FramePipeline(64, 64)
    with pytest.raises(ValueError, match="whole frame first"):
        pipeline.patch(Rect(0, 0, 2, 2), np.zeros((2, 2), dtype=np.uint32))
    pipeline.produce(0.0, 0.0)
    with pytest.raises(ValueError, match="patch of"):
        pipeline.patch(Rect(0, 0, 2, 2), np.zeros((3, 2), dtype=np.uint32))
    with pytest.raises(ValueError, match="patch of"):
        pipeline.patch(Rect(60, 60, 8, 8), np.zeros((8, 8), dtype=np.uint32))  # past the stream's edge


def test_dirty_tiles_in_an_area_compares_only_the_tiles_it_overlaps() -> None:
    previous = np.zeros((150, 200), dtype=np.uint32)
    current = previous.copy()
    current[10, 10] = 1
    current[140, 190] = 1
    assert {tuple(p) for p in np.argwhere(dirty_tiles(current, previous, Rect(130, 100, 500, 500)))} == {(2, 2)}
    assert not dirty_tiles(current, previous, Rect(-50, -50, 10, 10)).any()
    assert (dirty_tiles(current, previous, Rect(0, 0, 200, 150)) == dirty_tiles(current, previous)).all()


def test_flat_tiles_of_a_grid_agrees_with_the_whole_screens_over_its_bounding_box() -> None:
    rng = np.random.default_rng(5)
    frame = np.where(rng.integers(0, 2, (HEIGHT, WIDTH)) == 1, BLACK, WHITE).astype(np.uint32)
    frame[100:300, 200:500] = rng.integers(0, 1 << 32, (200, 300), dtype=np.uint32)  # photo-like: not flat
    whole = flat_tiles(frame, Rect(0, 0, WIDTH, HEIGHT))
    grid = np.zeros(whole.shape, dtype=np.bool_)
    assert not flat_tiles_of(frame, grid).any()
    grid[1, 2] = grid[6, 9] = True  # the last tile row is cut short (400 is not a multiple of 64)
    got = flat_tiles_of(frame, grid)
    assert (got[1:7, 2:10] == whole[1:7, 2:10]).all() and not got[:1].any() and not got[:, :2].any()
    assert got.any() and not got.all()
