"""The screen pipeline without a display: tiles, rectangles, masking, encoding, hidden regions."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from agent.screen.decode import Canvas, FrameError, decode_rect
from agent.screen.encode import encode_palette
from agent.screen.hidden import FILL_BGRA, HiddenRegions, Rect, fill_rects, parse_rect
from agent.screen.pipeline import SETTLE_SECONDS, EncodedFrame, FramePipeline
from agent.screen.tiles import TILE, dirty_tiles, find_scroll, flat_tiles, merge_tiles, move_rows
from wire import protocol


def bgra(r: int, g: int, b: int) -> np.uint32:
    value: np.uint32 = np.frombuffer(bytes((b, g, r, 255)), dtype=np.uint32)[0]
    return value


def to_rgb(frame: np.ndarray) -> np.ndarray:
    return frame.view(np.uint8).reshape(*frame.shape, 4)[:, :, 2::-1]


def photo(height: int, width: int, seed: int = 0) -> np.ndarray:
    """Smooth gradients plus noise: many colours, like a photo."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    pixels = np.full((height, width, 4), 255, dtype=np.uint8)
    base = np.stack([x * 0.7, y * 0.9, (x + y) * 0.4], axis=2) % 200
    pixels[:, :, :3] = np.clip(base + rng.normal(0, 10, base.shape) + 20, 0, 255)
    return pixels.view(np.uint32).reshape(height, width)


def test_dirty_tiles_finds_single_pixel_changes_including_partial_edges() -> None:
    previous = np.zeros((150, 200), dtype=np.uint32)
    current = previous.copy()
    current[0, 0] = 1
    current[149, 199] = 1  # in the partial last row and column of tiles
    current[70, 130] = 1
    grid = dirty_tiles(current, previous)
    assert grid.shape == (3, 4)
    assert {tuple(p) for p in np.argwhere(grid)} == {(0, 0), (2, 3), (1, 2)}


def test_merge_tiles_grows_spans_down_and_clips_to_the_frame() -> None:
    grid = np.zeros((3, 4), dtype=np.bool_)
    grid[0:2, 1:3] = True
    grid[2, 3] = True
    rects = merge_tiles(grid, 200, 150)
    assert rects == [Rect(TILE, 0, 2 * TILE, 2 * TILE), Rect(3 * TILE, 2 * TILE, 200 - 3 * TILE, 150 - 2 * TILE)]


def test_merge_tiles_collapses_many_rectangles_into_their_bounding_box() -> None:
    grid = np.zeros((10, 10), dtype=np.bool_)
    grid[::2, ::2] = True
    assert merge_tiles(grid, 640, 640, max_rects=4) == [Rect(0, 0, 9 * TILE, 9 * TILE)]


@pytest.mark.parametrize(("destination", "source"), [(3, 16), (16, 3), (0, 1), (40, 0)])
def test_move_rows_equals_a_copy_through_a_temporary(destination: int, source: int) -> None:
    frame = np.arange(64 * 80, dtype=np.uint32).reshape(80, 64)
    expected = frame.copy()
    height = 80 - max(destination, source)
    expected[destination : destination + height, 8:40] = frame[source : source + height, 8:40].copy()
    move_rows(frame, (8, 40), destination, source, height)
    assert (frame == expected).all()


def test_flat_tiles_tells_text_from_photo() -> None:
    frame = np.full((128, 192), bgra(255, 255, 255), dtype=np.uint32)
    frame[10:20, 5:60] = bgra(0, 0, 0)  # "text" in tile (0, 0)
    frame[:, 128:] = photo(128, 64)
    flat = flat_tiles(frame, Rect(0, 0, 192, 128))
    assert flat.tolist() == [[True, True, False], [True, True, False]]


def test_fill_rects_clips_and_translates() -> None:
    frame = np.zeros((100, 100), dtype=np.uint32)
    filled = fill_rects(frame, [Rect(90, 90, 50, 50), Rect(-500, 0, 10, 10)], origin=(10, 10))
    assert filled == [Rect(80, 80, 20, 20)]
    fill = np.frombuffer(bytes(FILL_BGRA), dtype=np.uint32)[0]
    assert (frame[80:, 80:] == fill).all()
    assert frame[:80].sum() == 0


def test_hidden_regions_items_remove_pause_and_callbacks_across_threads() -> None:
    hidden = HiddenRegions()
    changes: list[int] = []
    unsubscribe = hidden.on_change(lambda: changes.append(1))
    rect_id = hidden.add_rect(1, 2, 3, 4)
    thread = threading.Thread(target=hidden.add_window, args=("Secret",))
    thread.start()
    thread.join()
    monitor_id = hidden.add_monitor(0)
    hidden.pause()
    hidden.pause()  # no change, no callback
    assert hidden.paused
    hidden.resume()
    kinds = {item["kind"]: item for item in hidden.items()}
    assert kinds["rect"] == {"id": rect_id, "kind": "rect", "x": 1, "y": 2, "w": 3, "h": 4}
    assert kinds["window"]["title"] == "Secret"
    assert kinds["monitor"]["monitor"] == 0
    hidden.remove(monitor_id)
    with pytest.raises(KeyError):
        hidden.remove(monitor_id)
    with pytest.raises(ValueError):
        hidden.add_rect(0, 0, 0, 5)
    assert len(changes) == 6
    unsubscribe()
    hidden.remove(rect_id)
    assert len(changes) == 6 and len(hidden) == 1


def test_parse_rect_reads_the_command_line_form() -> None:
    assert parse_rect("10, 20,300,40") == Rect(10, 20, 300, 40)
    for bad in ("1,2,3", "a,b,c,d", "0,0,0,10"):
        with pytest.raises(ValueError):
            parse_rect(bad)


def test_key_frame_then_deltas_rebuild_the_picture() -> None:
    pipeline = FramePipeline(300, 200)
    canvas = Canvas()
    pipeline.current[:] = photo(200, 300)
    frame = pipeline.produce(0.0, 0.0)
    assert frame is not None and frame.key and "jpeg" in {r["codec"] for r in frame.rects}
    canvas.apply(frame.body("all"), frame.payload)
    source = to_rgb(pipeline.previous)
    assert np.abs(canvas.pixels.astype(int) - source).mean() < 12  # JPEG of noise
    # An unchanged capture yields nothing.
    pipeline.current[:] = pipeline.previous
    assert pipeline.produce(0.01, 0.0) is None
    # A small text-like change goes out losslessly, alone.
    pipeline.current[:] = pipeline.previous
    pipeline.current[100:120, 10:50] = bgra(255, 255, 255)
    frame = pipeline.produce(0.02, 0.0)
    assert frame is not None and not frame.key
    assert [r["codec"] for r in frame.rects] == ["jpeg"]  # the tile around it is noise: not text-like
    canvas.apply(frame.body("all"), frame.payload)


def test_text_changes_are_png_and_jpeg_motion_is_refreshed_losslessly_once_settled() -> None:
    white, black = bgra(255, 255, 255), bgra(0, 0, 0)
    pipeline = FramePipeline(1024, 768)
    canvas = Canvas()
    pipeline.current[:] = white
    pipeline.current[40:52, 20:300] = black
    first = pipeline.produce(0.0, 0.0)
    # A key frame of text is PNG, its blank tiles fills: exact at once.
    assert first is not None and first.key and {r["codec"] for r in first.rects} == {"png", "fill"}
    canvas.apply(first.body("all"), first.payload)
    assert (canvas.pixels == to_rgb(pipeline.previous)).all()
    assert pipeline.next_refresh_at() is None
    # Much text changing at once (a page of text redrawn) goes out as JPEG, fast...
    pipeline.current[:] = pipeline.previous
    pipeline.current[::3, :] = black
    frame = pipeline.produce(1.0, 0.0)
    assert frame is not None and {r["codec"] for r in frame.rects} == {"jpeg"}
    canvas.apply(frame.body("all"), frame.payload)
    assert pipeline.next_refresh_at() == pytest.approx(1.0 + SETTLE_SECONDS)
    # ... nothing while it has not settled ...
    pipeline.current[:] = pipeline.previous
    assert pipeline.produce(1.0 + SETTLE_SECONDS / 2, 0.0) is None
    # ... then PNG refreshes, until the canvas is exact.
    now = 1.0 + SETTLE_SECONDS
    while pipeline.next_refresh_at() is not None:
        pipeline.current[:] = pipeline.previous
        frame = pipeline.produce(now, 0.0)
        assert frame is not None and {r["codec"] for r in frame.rects} == {"png"}
        canvas.apply(frame.body("all"), frame.payload)
        now += 0.01
    assert (canvas.pixels == to_rgb(pipeline.previous)).all()
    # Typing: a small change is sent at once, exact (a few colours: "pal"), and only as large as the glyph.
    pipeline.current[:] = pipeline.previous
    pipeline.current[200:212, 100:108] = white  # over black rows 201, 204, 207, 210
    frame = pipeline.produce(now, 0.0)
    assert frame is not None and [(r["codec"], r["x"], r["y"], r["w"], r["h"]) for r in frame.rects] == [
        ("pal", 100, 201, 8, 10)]
    canvas.apply(frame.body("all"), frame.payload)
    assert (canvas.pixels == to_rgb(pipeline.previous)).all()


def test_photo_tiles_are_refreshed_once_as_fine_jpeg_not_png() -> None:
    pipeline = FramePipeline(256, 128)
    pipeline.current[:] = photo(128, 256)
    first = pipeline.produce(0.0, 0.0)
    assert first is not None and "jpeg" in {r["codec"] for r in first.rects}
    pipeline.current[:] = pipeline.previous
    refresh = pipeline.produce(SETTLE_SECONDS, 0.0)
    assert refresh is not None and {r["codec"] for r in refresh.rects} == {"jpeg"}
    assert sum(r["len"] for r in refresh.rects) > sum(r["len"] for r in first.rects if r["codec"] == "jpeg")
    assert pipeline.next_refresh_at() is None
    pipeline.current[:] = pipeline.previous
    assert pipeline.produce(SETTLE_SECONDS * 2, 0.0) is None


def test_canvas_rejects_a_frame_whose_rectangles_do_not_match_the_payload() -> None:
    pipeline = FramePipeline(64, 64)
    frame = pipeline.produce(0.0, 0.0)
    assert frame is not None
    with pytest.raises(FrameError):
        Canvas().apply(frame.body("all"), frame.payload + b"x")


def test_a_scroll_is_sent_as_a_copy_plus_the_new_lines() -> None:
    rng = np.random.default_rng(3)
    lines = rng.integers(0, 2, (60, 640), dtype=np.uint8)  # 60 "text lines" of 1-pixel glyph rows
    def text(first: int) -> np.ndarray:
        rows = np.repeat(lines[first : first + 40], 12, axis=0)  # 40 lines of 12 pixels: 480 rows
        return np.where(rows == 1, bgra(0, 0, 0), bgra(255, 255, 255)).astype(np.uint32)
    pipeline = FramePipeline(640, 480)
    pipeline.allow_copy = True
    canvas = Canvas()
    pipeline.current[:] = text(0)
    first = pipeline.produce(0.0, 0.0)
    assert first is not None
    canvas.apply(first.body("all"), first.payload)
    pipeline.current[:] = text(3)  # scrolled by three lines
    frame = pipeline.produce(0.01, 0.0)
    assert frame is not None
    copy = frame.rects[0]
    assert copy["codec"] == "copy" and copy["len"] == 0 and copy["sy"] - copy["y"] == 36
    assert sum(r["w"] * r["h"] for r in frame.rects[1:]) <= 640 * 36
    canvas.apply(frame.body("all"), frame.payload)
    assert (canvas.pixels == to_rgb(pipeline.previous)).all()
    # The scroll stopped: a repeated capture of text made of repeated lines is no scroll.
    pipeline.current[:] = text(3)
    assert find_scroll(pipeline.current, pipeline.previous, Rect(0, 0, 640, 480)) is None
    assert pipeline.produce(0.02, 0.0) is None
    # Without the viewer's consent to copies, the same scroll is sent as pixels.
    plain = FramePipeline(640, 480)
    plain.current[:] = text(0)
    plain.produce(0.0, 0.0)
    plain.current[:] = text(3)
    frame = plain.produce(0.01, 0.0)
    assert frame is not None and "copy" not in {r["codec"] for r in frame.rects}


def wire_bytes(frame: EncodedFrame) -> int:
    """What the frame costs on the websocket: the whole binary message (prefix, JSON header, payload)."""
    return len(protocol.encode(protocol.event("screen.frame", frame.body("all"), frame.payload)))


def test_a_full_screen_change_between_two_solid_colours_is_one_fill() -> None:
    pipeline = FramePipeline(1920, 1080)  # 1080 is not a multiple of 64: the last tile row is cut
    canvas = Canvas()
    pipeline.current[:] = bgra(10, 120, 200)
    first = pipeline.produce(0.0, 0.0)
    assert first is not None
    canvas.apply(first.body("all"), first.payload)
    pipeline.current[:] = bgra(250, 250, 250)
    frame = pipeline.produce(0.1, 0.0)
    assert frame is not None and [(r["codec"], r["w"], r["h"], r["rgb"]) for r in frame.rects] == [
        ("fill", 1920, 1080, [250, 250, 250])]
    assert wire_bytes(frame) <= 100  # x11vnc sends such a change as a 32-byte fill
    canvas.apply(frame.body("all"), frame.payload)
    assert (canvas.pixels == to_rgb(pipeline.previous)).all()
    assert pipeline.next_refresh_at() is None  # a fill is exact: nothing to refresh


def test_a_near_solid_change_costs_fills_plus_the_few_tiles_that_are_not() -> None:
    pipeline = FramePipeline(1920, 1080)
    canvas = Canvas()
    pipeline.current[:] = bgra(0, 0, 0)
    canvas.apply(*(lambda f: (f.body(2), f.payload))(pipeline.produce(0.0, 0.0)))
    pipeline.current[:] = bgra(30, 60, 90)
    pipeline.current[500:540, 900:1000] = photo(40, 100)  # a small picture on a new solid background
    pipeline.current[1070:1080, 0:5] = bgra(255, 0, 0)  # and a few pixels in the cut last tile row
    frame = pipeline.produce(0.1, 0.0)
    assert frame is not None
    codecs = [r["codec"] for r in frame.rects]
    assert codecs.count("fill") >= 1 and set(codecs) <= {"fill", "png", "pal", "jpeg"}
    assert wire_bytes(frame) < 12_000  # the picture's tiles, not the screen's 2 million pixels
    canvas.apply(frame.body(2), frame.payload)
    assert canvas.pixels[520, 950].tolist() != [30, 60, 90]
    assert (canvas.pixels[:400] == to_rgb(pipeline.previous)[:400]).all()  # fills are exact
    assert canvas.pixels[1075, 2].tolist() == [255, 0, 0] and canvas.pixels[1075, 100].tolist() == [30, 60, 90]


def test_typing_frames_carry_a_compact_header() -> None:
    white, black = bgra(255, 255, 255), bgra(0, 0, 0)
    pipeline = FramePipeline(1920, 1080)
    pipeline.current[:] = white
    pipeline.produce(0.0, 0.0)
    pipeline.current[:] = pipeline.previous
    pipeline.current[100:113, 40:46] = black  # a glyph
    frame = pipeline.produce(0.1, 0.0)
    assert frame is not None and [r["codec"] for r in frame.rects] == ["pal"]
    overhead = wire_bytes(frame) - len(frame.data)
    assert overhead <= 40  # 5 bytes of envelope, 19 of header, 13 of rectangle (format 1's JSON: about 300)
    assert len(frame.data) <= 40  # a two-colour glyph as PNG took about 110 bytes


@pytest.mark.parametrize("colours", [1, 2, 3, 4, 5, 16])
def test_a_palette_rectangle_is_exact_whatever_its_colour_count(colours: int) -> None:
    rng = np.random.default_rng(colours)
    palette = [bgra(int(r), int(g), int(b)) for r, g, b in rng.integers(0, 256, (colours, 3))]
    for height, width in ((13, 7), (64, 64), (1, 1)):
        frame = np.array(palette, dtype=np.uint32)[rng.integers(0, colours, (height, width))]
        frame[0, 0] = palette[-1]
        data = encode_palette(frame, Rect(0, 0, width, height))
        assert data is not None and data[0] == len(set(frame.ravel().tolist())) - 1
        assert (decode_rect("pal", data, width, height) == to_rgb(frame)).all()
    smooth = np.repeat(np.array(palette, dtype=np.uint32)[None, :], 64, axis=0)  # runs: deflated (mode 1)
    data = encode_palette(smooth, Rect(0, 0, colours, 64))
    assert data is not None and (decode_rect("pal", data, colours, 64) == to_rgb(smooth)).all()


def test_more_than_sixteen_colours_are_not_a_palette_rectangle() -> None:
    frame = photo(8, 8)
    assert encode_palette(frame, Rect(0, 0, 8, 8)) is None


@pytest.mark.parametrize("data", [
    b"", b"\x00", b"\x01\x00\x00\x00\xff\xff\xff\x02\x00", b"\x01\x00\x00\x00\xff\xff\xff\x01zz",
    b"\x00\x00\x00\x00\x00\x80", b"\x20" + bytes(200)])
def test_a_bad_palette_rectangle_is_refused(data: bytes) -> None:
    with pytest.raises(FrameError):
        decode_rect("pal", data, 1, 1)
