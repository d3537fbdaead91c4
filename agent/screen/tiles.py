"""Which parts of the screen changed: dirty 64×64 tiles, merged into rectangles. Pure numpy.

Frames are ``(height, width)`` arrays of BGRA pixels as ``uint32``, so one
comparison covers a whole pixel (two, where rows allow comparing as ``uint64``).
A band of tile rows that did not change costs one comparison pass and is
skipped, so an almost static screen costs little more than that.
"""

from __future__ import annotations

from typing import Any, Final, NamedTuple

import numpy as np
import numpy.typing as npt

from agent.screen.hidden import Rect

TILE: Final = 64

Frame = npt.NDArray[np.uint32]
Grid = npt.NDArray[np.bool_]


def grid_shape(width: int, height: int) -> tuple[int, int]:
    """Tile rows and columns covering a *width* × *height* frame."""
    return -(-height // TILE), -(-width // TILE)


def dirty_tiles(current: Frame, previous: Frame, area: Rect | None = None) -> Grid:
    """The tiles where *current* differs from *previous* (same shape), as a bool grid.

    With *area*, only the tiles it overlaps are compared (the others are reported clean): the
    caller knows nothing changed elsewhere (DAMAGE said where drawing happened).
    """
    if area is not None:
        height, width = current.shape
        shape = grid_shape(width, height)
        grid = np.zeros(shape, dtype=np.bool_)
        area = area.intersect(Rect(0, 0, width, height))
        if area.empty:
            return grid
        row_span, column_span = tiles_of(area, shape)
        top, left = row_span.start * TILE, column_span.start * TILE
        bottom, right = min(height, row_span.stop * TILE), min(width, column_span.stop * TILE)
        grid[row_span, column_span] = dirty_tiles(current[top:bottom, left:right], previous[top:bottom, left:right])
        return grid
    height, width = current.shape
    rows, columns = grid_shape(width, height)
    grid = np.zeros((rows, columns), dtype=np.bool_)
    # Two pixels per comparison where the rows allow it: half the work.
    wide = width % 2 == 0 and current.flags.c_contiguous and previous.flags.c_contiguous
    now: npt.NDArray[np.unsignedinteger[Any]] = current.view(np.uint64) if wide else current
    before: npt.NDArray[np.unsignedinteger[Any]] = previous.view(np.uint64) if wide else previous
    per_tile = TILE // 2 if wide else TILE
    whole = width // TILE
    split = whole * per_tile
    for row in range(rows):
        top, bottom = row * TILE, min(height, (row + 1) * TILE)
        diff = now[top:bottom] != before[top:bottom]
        if not diff.any():
            continue
        if whole:  # down the band's rows first, then per tile (see solid_tiles)
            grid[row, :whole] = diff[:, :split].any(axis=0).reshape(whole, per_tile).any(axis=1)
        if split < now.shape[1]:
            grid[row, whole] = bool(diff[:, split:].any())
    return grid


def merge_tiles(grid: Grid, width: int, height: int, max_rects: int = 48, bridge: int = 0) -> list[Rect]:
    """Merge dirty tiles into few rectangles, in pixels, clipped to the frame.

    Runs of dirty tiles in a row (with gaps of up to *bridge* clean tiles
    bridged) become spans; a span that repeats on the next rows grows
    downwards.  More than *max_rects* rectangles collapse into their bounding
    box (one encode beats many tiny ones).
    """
    rows, _columns = grid.shape
    spans_open: dict[tuple[int, int], int] = {}
    tile_rects: list[tuple[int, int, int, int]] = []  # row0, col0, row1, col1 (exclusive)
    dirty_rows = [bool(v) for v in np.asarray(grid.any(axis=1))]
    for row in range(rows + 1):
        if row < rows and not spans_open and not dirty_rows[row]:
            continue  # nothing open, nothing starts: the usual row of a typing frame
        spans: set[tuple[int, int]] = set()
        if row < rows:
            line = grid[row]
            if dirty_rows[row]:
                padded = np.concatenate(([False], line, [False]))
                edges = np.flatnonzero(padded[1:] != padded[:-1])
                starts, ends = edges[::2], edges[1::2]
                # Bridge gaps of up to `bridge` clean tiles: one rectangle beats several tiny ones.
                keep = np.concatenate(([True], starts[1:] - ends[:-1] > bridge))
                spans = {(int(a), int(b)) for a, b in zip(starts[keep], np.append(ends[:-1][keep[1:]], ends[-1]),
                                                          strict=True)}
        for span in [s for s in spans_open if s not in spans]:
            tile_rects.append((spans_open.pop(span), span[0], row, span[1]))
        for span in spans:
            spans_open.setdefault(span, row)
    tile_rects.sort()
    rects = [_pixels(r0, c0, r1, c1, width, height) for r0, c0, r1, c1 in tile_rects]
    if len(rects) > max_rects:
        box = rects[0]
        for rect in rects[1:]:
            box = box.union(rect)
        return [box]
    return rects


def _pixels(row0: int, col0: int, row1: int, col1: int, width: int, height: int) -> Rect:
    x, y = col0 * TILE, row0 * TILE
    return Rect(x, y, min(width, col1 * TILE) - x, min(height, row1 * TILE) - y)


def tiles_of(rect: Rect, shape: tuple[int, int]) -> tuple[slice, slice]:
    """The grid slices covering pixel rectangle *rect* (grid of *shape*)."""
    rows, columns = shape
    return (slice(rect.y // TILE, min(rows, -(-rect.bottom // TILE))),
            slice(rect.x // TILE, min(columns, -(-rect.right // TILE))))


def tiles_inside(rect: Rect, width: int, height: int) -> tuple[slice, slice]:
    """The grid slices of the tiles wholly inside pixel rectangle *rect* (frame edges count as inside)."""
    def span(start: int, end: int, size: int) -> slice:
        first = -(-start // TILE)
        last = size if end >= size else end
        return slice(first, -(-last // TILE) if last == size else last // TILE)

    rows = span(rect.y, rect.bottom, height)
    columns = span(rect.x, rect.right, width)
    return slice(rows.start, max(rows.start, rows.stop)), slice(columns.start, max(columns.start, columns.stop))


def flat_tiles(frame: Frame, rect: Rect, samples: int = 8, max_colours: int = 16) -> Grid:
    """For each tile of *rect* (tile-aligned), whether it looks like text or flat UI.

    Samples a *samples* × *samples* lattice of pixels in each tile and counts
    distinct colours; few colours mean text or flat areas, which compress well
    and exactly as PNG, many mean a photo or video, which JPEG serves better.
    """
    rows, columns = -(-rect.h // TILE), -(-rect.w // TILE)
    step = TILE // samples
    region = frame[rect.y : rect.bottom, rect.x : rect.right]
    lattice = region[step // 2 :: step, step // 2 :: step]
    lattice_rows, lattice_cols = lattice.shape
    padded = np.zeros((rows * samples, columns * samples), dtype=np.uint32)
    padded[:lattice_rows, :lattice_cols] = lattice
    # Pad by repeating a real sample so that the padding adds no colour.
    if lattice_rows < rows * samples:
        padded[lattice_rows:, :lattice_cols] = lattice[-1:, :]
    if lattice_cols < columns * samples:
        padded[:, lattice_cols:] = padded[:, lattice_cols - 1 : lattice_cols]
    per_tile = padded.reshape(rows, samples, columns, samples).transpose(0, 2, 1, 3).reshape(rows, columns, -1)
    ordered = np.sort(per_tile, axis=2)
    distinct = 1 + np.count_nonzero(ordered[:, :, 1:] != ordered[:, :, :-1], axis=2)
    result: Grid = distinct <= max_colours
    return result


def flat_tiles_of(frame: Frame, grid: Grid) -> Grid:
    """:func:`flat_tiles` of the whole *frame*, computed only over the bounding box of *grid*'s tiles.

    The same answer for every tile of that box (it is tile-aligned, so the same pixels are
    sampled); tiles outside it are reported False.  A typed glyph's frame samples one tile,
    not the screen's 510.
    """
    height, width = frame.shape
    result: Grid = np.zeros(grid.shape, dtype=np.bool_)
    rows, columns = np.flatnonzero(grid.any(axis=1)), np.flatnonzero(grid.any(axis=0))
    if not rows.size:
        return result
    r0, r1, c0, c1 = int(rows[0]), int(rows[-1]) + 1, int(columns[0]), int(columns[-1]) + 1
    x, y = c0 * TILE, r0 * TILE
    result[r0:r1, c0:c1] = flat_tiles(frame, Rect(x, y, min(width, c1 * TILE) - x, min(height, r1 * TILE) - y))
    return result


#: A scroll is looked for in dirty rectangles at least this large, and kept when this many rows moved.
SCROLL_MIN_PIXELS: Final = TILE * TILE * 8
SCROLL_MIN_ROWS: Final = 32
_SCROLL_SAMPLES: Final = 64
_SCROLL_PROBES: Final = 24
_HASH_WEIGHTS: Final = (np.random.default_rng(20240611).integers(1, 2**63, _SCROLL_SAMPLES // 2, dtype=np.uint64)
                        | np.uint64(1))


class RowSample(NamedTuple):
    """Rows of a frame inside an area, summarised for scroll detection: a hash and "not one colour"."""

    area: Rect
    hashes: npt.NDArray[np.uint64]
    varied: npt.NDArray[np.bool_]


def sample_rows(frame: Frame, area: Rect) -> RowSample:
    """Hash each row of *area* over :data:`_SCROLL_SAMPLES` evenly spread columns."""
    columns = np.linspace(area.x, area.right - 1, num=_SCROLL_SAMPLES).astype(np.intp)
    sample = np.ascontiguousarray(frame[area.y : area.bottom, columns])
    with np.errstate(over="ignore"):
        hashes: npt.NDArray[np.uint64] = (sample.view(np.uint64) * _HASH_WEIGHTS).sum(axis=1, dtype=np.uint64)
    varied: npt.NDArray[np.bool_] = sample.min(axis=1) != sample.max(axis=1)
    return RowSample(area, hashes, varied)


def find_scroll(current: Frame, previous: Frame, area: Rect, now: RowSample | None = None,
                before: RowSample | None = None) -> tuple[Rect, int] | None:
    """A vertical scroll inside *area*: ``(destination, source_y)`` or None.

    The destination rectangle of *current* is the rectangle of *previous* at
    ``source_y``, same x and size, so a viewer can copy it from its own
    picture instead of receiving it.  Rows are compared by a hash of sampled
    columns (*now* and *before*: :func:`sample_rows` of each frame, computed
    here when not given): a few distinctive rows propose shifts, the shift
    that matches most rows wins, the longest run of matching rows is the
    copy, and its ends are trimmed to rows that match exactly.  Rows inside
    the run that only look equal are possible: the caller sends whatever
    still differs after the copy.
    """
    if area.w * area.h < SCROLL_MIN_PIXELS or area.h < 2 * SCROLL_MIN_ROWS:
        return None
    now = now if now is not None and now.area == area else sample_rows(current, area)
    before = before if before is not None and before.area == area else sample_rows(previous, area)
    # Rows of one colour (blank lines) match anything: they propose nothing.
    varied = np.flatnonzero(now.varied)
    hashes_now, hashes_before = now.hashes, before.hashes
    if len(varied) < 4:
        return None
    probes = varied[np.linspace(0, len(varied) - 1, num=min(_SCROLL_PROBES, len(varied))).astype(np.intp)]
    proposals: dict[int, int] = {}
    for row in probes:
        for source in np.flatnonzero(hashes_before == hashes_now[row])[:8]:
            shift = int(source) - int(row)
            if shift and abs(shift) < area.h - SCROLL_MIN_ROWS:
                proposals[shift] = proposals.get(shift, 0) + 1
    best_shift, best_count = 0, 0
    for shift, _votes in sorted(proposals.items(), key=lambda item: -item[1])[:8]:
        rows = varied[(varied + shift >= 0) & (varied + shift < area.h)]
        count = int(np.count_nonzero(hashes_now[rows] == hashes_before[rows + shift]))
        if count > best_count:
            best_shift, best_count = shift, count
    # Rows that did not move at all beat any shift: then this is no scroll (repeated text fools the vote).
    unmoved = int(np.count_nonzero(hashes_now[varied] == hashes_before[varied]))
    if best_count < max(4, len(varied) // 4) or best_count <= unmoved:
        return None
    shift = best_shift
    top, bottom = (0, area.h - shift) if shift > 0 else (-shift, area.h)
    equal = hashes_now[top:bottom] == hashes_before[top + shift : bottom + shift]
    padded = np.concatenate(([False], equal, [False]))
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    starts, ends = edges[::2], edges[1::2]
    best = int(np.argmax(ends - starts))
    start, length = int(starts[best]), int(ends[best] - starts[best])
    # The sample can call rows equal that are not: trim the run's ends to rows that really are.
    first, last = area.y + top + start, area.y + top + start + length - 1
    x0, x1 = area.x, area.right
    while first <= last and not np.array_equal(current[first, x0:x1], previous[first + shift, x0:x1]):
        first += 1
    while last >= first and not np.array_equal(current[last, x0:x1], previous[last + shift, x0:x1]):
        last -= 1
    if last - first + 1 < SCROLL_MIN_ROWS:
        return None
    destination = Rect(area.x, first, area.w, last - first + 1)
    return destination, destination.y + shift


def move_rows(frame: Frame, columns: tuple[int, int], destination_y: int, source_y: int, height: int) -> None:
    """Move *height* rows (between x *columns*) from *source_y* to *destination_y*, in place.

    In blocks no taller than the shift, in the safe order, so no block
    overlaps its source: one pass, no temporary copy of the frame.
    """
    x0, x1 = columns
    shift = source_y - destination_y
    if shift == 0 or height <= 0:
        return
    step = abs(shift)
    starts = range(0, height, step) if shift > 0 else reversed(range(0, height, step))
    for start in starts:
        rows = min(step, height - start)
        frame[destination_y + start : destination_y + start + rows, x0:x1] = (
            frame[source_y + start : source_y + start + rows, x0:x1])


def changed_bounds(current: Frame, previous: Frame, rect: Rect) -> Rect | None:
    """The exact bounding box of the pixels that differ inside *rect*, or None when none do."""
    diff = current[rect.y : rect.bottom, rect.x : rect.right] != previous[rect.y : rect.bottom, rect.x : rect.right]
    rows = np.flatnonzero(diff.any(axis=1))
    if not len(rows):
        return None
    columns = np.flatnonzero(diff.any(axis=0))
    return Rect(rect.x + int(columns[0]), rect.y + int(rows[0]), int(columns[-1] - columns[0]) + 1,
                int(rows[-1] - rows[0]) + 1)


#: Up to this many dirty tiles in a tile row are checked one by one; more, the row at once.
_SOLID_ONE_BY_ONE: Final = 6


def solid_tiles(frame: Frame, grid: Grid) -> tuple[Grid, Frame]:
    """Which tiles of *grid* (True: look at it) hold a single colour, and that colour (BGRA).

    A solid tile travels as a ``fill`` (a dozen bytes) instead of pixels: a full-screen
    change to one colour, a cleared terminal, the desktop around a small window.
    """
    height, width = frame.shape
    solid = np.zeros_like(grid)
    colours: Frame = np.zeros(grid.shape, dtype=np.uint32)
    whole = width // TILE
    for row in np.flatnonzero(grid.any(axis=1)):
        top, bottom = int(row) * TILE, min(height, (int(row) + 1) * TILE)
        band = frame[top:bottom]
        columns = np.flatnonzero(grid[row])
        if len(columns) > _SOLID_ONE_BY_ONE and whole:
            firsts = band[0, : whole * TILE : TILE]
            # Each pixel against its tile's first, OR-ed down the band's rows, then per tile: reducing
            # one axis at a time is several times faster than numpy's reduce over axes (0, 2).
            differs = (band[:, : whole * TILE] != np.repeat(firsts, TILE)).any(axis=0)
            same = ~differs.reshape(whole, TILE).any(axis=1)
            solid[row, :whole] = same & grid[row, :whole]
            colours[row, :whole] = firsts
            columns = columns[columns >= whole]
        for column in columns:
            tile = band[:, int(column) * TILE : (int(column) + 1) * TILE]
            first = tile[0, 0]
            if (tile == first).all():
                solid[row, column] = True
                colours[row, column] = first
    return solid, colours
