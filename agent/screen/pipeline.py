"""From a captured (already masked) frame to an encoded ``screen.frame``: pure, no I/O, no threads.

:class:`FramePipeline` keeps two reused frame buffers (the one being
captured into, and the last one sent) and, per 64×64 tile, whether the viewer
holds it only as lossy JPEG and when it last changed.  Each call of
:meth:`FramePipeline.produce`:

1. finds the dirty tiles (all of them for a key frame) and merges them into rectangles;
   tiles of a single colour go out as ``fill`` rectangles (a dozen bytes each, no pixels);
2. encodes the other tiles that look like text or flat UI as PNG (typing stays crisp;
   a key frame of text is small) unless much of it moves at once, and the
   rest as JPEG at the current quality (motion, photos), each rectangle shrunk
   to the pixels that changed;
3. re-sends tiles sent as JPEG once they have not changed for
   :data:`SETTLE_SECONDS`, within a pixel budget per frame: losslessly (PNG)
   where they look like text or flat UI, as a fine JPEG where they look like a
   photo (PNG of a photo is large for no visible gain);
4. swaps the buffers.

Large motion (most of the screen changing, frame after frame) goes out instead as one ``h264``
rectangle over the whole frame (:mod:`agent.screen.h264`) when every receiver said it decodes
it (:attr:`FramePipeline.allow_h264`): each run starts with an IDR sent as a key frame, and has
another every :data:`H264_KEY_SECONDS`; the tiles are refreshed losslessly once it stops.

Frames go out in the lean format 3 (:mod:`wire.frame_format`): a small JSON
body (nothing at all for the whole screen) and the rectangles' table in binary ahead of their
bytes; size and time base only in key frames.

The caller has already overwritten the hidden pixels in :attr:`FramePipeline.current`
(a frame it captured into, or assigned).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np

from agent.screen.encode import encode_jpeg, encode_palette, encode_png
from agent.screen.h264 import H264Encoder
from agent.screen.hidden import HIDDEN_LABEL, Rect
from agent.screen.tiles import (
    TILE,
    Frame,
    Grid,
    RowSample,
    changed_bounds,
    dirty_tiles,
    find_scroll,
    flat_tiles_of,
    grid_shape,
    merge_tiles,
    move_rows,
    sample_rows,
    solid_tiles,
    tiles_inside,
    tiles_of,
)
from wire.frame_format import FORMAT_3, pack3

#: A tile sent as JPEG is refreshed losslessly once it has not changed for this long.
SETTLE_SECONDS: Final = 0.25
#: Rectangles up to this many pixels that look like text go out as PNG at once (a palette PNG of
#: text costs about 15 ns a pixel here: this bounds it to a few ms; larger motion goes out as JPEG).
PNG_DIRECT_PIXELS: Final = TILE * TILE * 128
#: Pixels refreshed losslessly per frame at most (bounds the time one frame takes).
REFRESH_BUDGET_PIXELS: Final = TILE * TILE * 96
QUALITY_DEFAULT: Final = 70
QUALITY_MIN: Final = 30
QUALITY_MAX: Final = 80
#: Large areas in motion (a video, a full-screen change) go out coarser: they are gone in a moment.
QUALITY_LARGE_MOTION: Final = 60
LARGE_MOTION_PIXELS: Final = TILE * TILE * 128
#: Settled photo-like tiles are sent once more at this quality (PNG would be large for no visible gain).
QUALITY_STILL: Final = 90
#: Changes up to this many pixels with few colours (a typed glyph) go out as ``pal``, not PNG.
PALETTE_PIXELS: Final = 64 * 64
#: Solid tiles of at most this many colours a frame go out as fills (the most common colours first)...
FILL_COLOURS: Final = 16
#: ...and of a colour whose tiles merge into at most this many rectangles (else pixels are cheaper to describe).
FILL_RECTS_PER_COLOUR: Final = 64
#: Large motion goes out as one ``h264`` rectangle (when every receiver decodes it): from the second
#: frame in a row in which at least this share of the tiles changed to something not solid, in that
#: frame or within the last :data:`H264_WINDOW_SECONDS` (a picture captured in strips while it was
#: drawn is one change)...
H264_START_SHARE: Final = 0.5
#: ...for as long as at least this share keeps changing within the window (a run; each starts with
#: an IDR key frame): a frame of smaller change within a run (the rest of a half-drawn picture, a
#: video's quiet shot) stays a P-frame of a few bytes rather than end it.
H264_KEEP_SHARE: Final = 0.25
H264_WINDOW_SECONDS: Final = 0.5
#: Within a run, an IDR (sent as a key frame) at least this often, so a recording's seek decodes little.
H264_KEY_SECONDS: Final = 2.0


def outside(rect: Rect, cover: Rect) -> list[Rect]:
    """The parts of *rect* that *cover* leaves out, as at most four rectangles (bands above and
    below *cover*, then beside it)."""
    if rect.empty:
        return []
    inner = rect.intersect(cover)
    if inner.empty:
        return [rect]
    parts = [Rect(rect.x, rect.y, rect.w, inner.y - rect.y),
             Rect(rect.x, inner.bottom, rect.w, rect.bottom - inner.bottom),
             Rect(rect.x, inner.y, inner.x - rect.x, inner.h),
             Rect(inner.right, inner.y, rect.right - inner.right, inner.h)]
    return [part for part in parts if not part.empty]


@dataclass
class EncodedFrame:
    """One frame ready for the wire: its header fields and its rectangles' bytes (*data*)."""

    seq: int
    key: bool
    width: int
    height: int
    captured_at: float
    rects: list[dict[str, Any]]
    data: bytes
    hidden: list[Rect] = field(default_factory=list)
    #: the stream's time base: the last key frame's captured_at (format 3 sends ms since it)
    base: float = 0.0

    def body(self, monitor: str | int, area: Rect | None = None) -> dict[str, Any]:
        """The ``screen.frame`` event body, format 2 (docs/screen-protocol.md): the rest is in :attr:`payload`.

        *area* is where the captured pixels are on the virtual screen: its corner goes out as
        ``x``, ``y`` (absent when it is 0, 0: readers take 0), so a viewer maps a pointer on this
        very frame to the desktop.
        """
        body: dict[str, Any] = {"fmt": FORMAT_3}
        if monitor != "all":  # absent means "all": the common case costs no bytes
            body["monitor"] = monitor
        if area is not None and (area.x or area.y):
            body["x"], body["y"] = area.x, area.y
        if self.hidden:
            body["hidden"] = [{**rect.to_dict(), "label": HIDDEN_LABEL} for rect in self.hidden]
        return body

    @property
    def payload(self) -> bytes:
        """The event's bytes: the binary header and rectangles' table, then :attr:`data`."""
        return pack3(self.seq, self.key, self.width, self.height, self.captured_at, self.base, self.rects, self.data)


class FramePipeline:
    """Change detection and encoding for one stream area of *width* × *height* pixels."""

    def __init__(self, width: int, height: int, last_seq: int = 0) -> None:
        """A stream of *width* × *height*; its first frame's seq follows *last_seq* (a stream opened
        again goes on from the last one's seq: acks name a frame and every frame before it).

        Raises :class:`ValueError` for an empty area.
        """
        if width <= 0 or height <= 0:
            raise ValueError(f"empty stream area {width}x{height}")
        self.width, self.height = width, height
        self._buffers = [np.zeros((height, width), dtype=np.uint32), np.zeros((height, width), dtype=np.uint32)]
        self._index = 0
        self._has_previous = False
        self._shape = grid_shape(width, height)
        self._lossy: Grid = np.zeros(self._shape, dtype=np.bool_)
        self._changed_at = np.zeros(self._shape, dtype=np.float64)
        #: when each tile last changed to something not solid, outside key frames (time.monotonic())
        self._moved_at = np.full(self._shape, -np.inf)
        self._seq = last_seq
        self._base = 0.0
        self.quality = QUALITY_DEFAULT
        #: whether every viewer draws ``copy`` rectangles (scrolls moved on the viewer's side)
        self.allow_copy = False
        #: whether every receiver decodes ``h264`` rectangles (and this agent encodes them)
        self.allow_h264 = False
        self._h264: H264Encoder | None = None
        #: whether the last frame sent was an ``h264`` one (the run goes on without an IDR)
        self._h264_run = False
        self._idr_at = 0.0
        #: whether the last frame produced was large motion (two in a row start a run)
        self._moving = False
        #: when at least H264_KEEP_SHARE of the tiles last changed (time.monotonic())
        self._motion_at = 0.0
        self._scroll_area: Rect | None = None
        # Row samples of the previous frame, kept from when it was current (spares sampling it again).
        self._rows: RowSample | None = None
        self._rows_next: RowSample | None = None
        #: where :attr:`current` may differ from :attr:`previous` after a capture: the area :meth:`patch`
        #: read (DAMAGE said nothing else was drawn), or None (a whole capture: anywhere)
        self._hint: Rect | None = None
        #: where the buffer :meth:`patch` fills next may differ from :attr:`previous`; None: anywhere
        self._stale: Rect | None = None

    @property
    def current(self) -> Frame:
        """The frame :meth:`produce` encodes next: capture into it, or replace it with a captured one."""
        return self._buffers[self._index]

    @current.setter
    def current(self, frame: Frame) -> None:
        if frame.shape != (self.height, self.width) or frame.dtype != np.uint32:
            raise ValueError(f"a {frame.shape} {frame.dtype} frame for a {self.width}x{self.height} stream")
        self._buffers[self._index] = frame
        self._hint = None

    @property
    def can_patch(self) -> bool:
        """Whether :meth:`patch` may be used: a frame was sent since the last :meth:`reset`."""
        return self._has_previous

    def patch(self, area: Rect, pixels: Frame | None) -> None:
        """Make :attr:`current` the screen from a capture of *area* alone (stream coordinates).

        For when the system said nothing was drawn outside *area* since the last capture
        (DAMAGE's bounding box): the rest is :attr:`previous`, copied only where the buffer
        may differ from it, and the next :meth:`produce` compares only *area*'s tiles.  A
        capture of 20×13 pixels then costs that, not a whole screen's read and compare.
        *pixels* is *area*'s ``(h, w)`` capture (None when *area* is empty).  Raises
        ValueError before the first frame (see :attr:`can_patch`) or when the sizes disagree.
        """
        if not self._has_previous:
            raise ValueError("patch needs a whole frame first")
        if not area.empty and (pixels is None or pixels.shape != (area.h, area.w) or area != area.intersect(
                Rect(0, 0, self.width, self.height))):
            raise ValueError(f"a patch of {None if pixels is None else pixels.shape} pixels for {area}")
        if (pixels is not None and area == Rect(0, 0, self.width, self.height) and pixels.dtype == np.uint32
                and pixels.flags.c_contiguous and pixels.flags.writeable):
            # Drawn all over (a full-screen change): the capture becomes the buffer, as a whole frame
            # assigned to :attr:`current` does, instead of two copies of the screen into it.
            self._buffers[self._index] = pixels
            self._hint = area
            return
        current, previous = self._buffers[self._index], self._buffers[1 - self._index]
        stale = Rect(0, 0, self.width, self.height) if self._stale is None else self._stale
        # Only what the capture does not overwrite: in a scroll the stale area is the capture's own,
        # and copying it first would be a whole screen's copy for nothing.
        for part in outside(stale, area):
            current[part.y : part.bottom, part.x : part.right] = previous[part.y : part.bottom, part.x : part.right]
        if pixels is not None and not area.empty:
            current[area.y : area.bottom, area.x : area.right] = pixels
        self._hint = area

    @property
    def previous(self) -> Frame:
        """The pixels the viewer was last sent (up to JPEG's losses)."""
        return self._buffers[1 - self._index]

    def next_refresh_at(self) -> float | None:
        """When (``time.monotonic()``) a lossless refresh falls due, or None."""
        if not self._lossy.any():
            return None
        due_at = float(self._changed_at[self._lossy].min()) + SETTLE_SECONDS
        if self._h264_run:  # not while the motion goes on: a frame of tiles would end the run
            due_at = max(due_at, self._motion_at + H264_WINDOW_SECONDS)
        return due_at

    def produce(self, now: float, captured_at: float, *, key: bool = False,
                hidden: list[Rect] | None = None) -> EncodedFrame | None:
        """Encode what changed in :attr:`current` since the last frame; None when nothing is to send.

        *now* is ``time.monotonic()``, *captured_at* the capture's wall-clock
        time in ms.  Raises :class:`~agent.screen.encode.EncodeError` when a
        codec fails.
        """
        current = self.current
        key = key or not self._has_previous
        rects: list[dict[str, Any]] = []
        chunks: list[bytes] = []
        dirty: Grid | None = None
        tried = self._scroll_area
        self._rows_next = None
        if key:
            dirty = np.ones(self._shape, dtype=np.bool_)
            self._scroll_area = None
        elif self.allow_copy and tried is not None:
            # Scrolling goes on for several frames: look where it was first, which spares a compare.
            dirty = self._copy_scroll(current, tried, rects)
        if dirty is None:
            dirty = dirty_tiles(current, self.previous, None if key else self._hint)
            if dirty.any() and self.allow_copy and not key:
                spans = merge_tiles(dirty, self.width, self.height)
                box = spans[0]
                for span in spans[1:]:
                    box = box.union(span)
                after = self._copy_scroll(current, box, rects) if box != tried else None
                if after is not None:
                    dirty = after
        # Which changed tiles are solid: what decides h264 (they do not count as motion) and, for tiles,
        # what goes as fills; found once.
        solid_found = solid_tiles(current, dirty) if dirty.any() else None
        if self._wants_h264(dirty, None if solid_found is None else solid_found[0], bool(rects), now, key):
            return self._produce_h264(current, dirty, now, captured_at, key, hidden)
        due = self._lossy & ~dirty & (now - self._changed_at >= SETTLE_SECONDS)
        if self._h264_run and now - self._motion_at < H264_WINDOW_SECONDS:
            due[:] = False  # the still parts of a moving picture (a hidden area, a frame) wait for its end
        if solid_found is not None:
            self._changed_at[dirty] = now
            solid, colours = solid_found
            if solid.any():
                dirty = dirty & ~self._fill(solid, colours, rects)
            as_png = dirty & flat_tiles_of(current, dirty)
            if not key and int(np.count_nonzero(as_png)) * TILE * TILE > PNG_DIRECT_PIXELS:
                as_png[:] = False  # much text in motion: JPEG now (fast), PNG once it settles
            self._encode(current, as_png, "png", key, rects, chunks)
            self._encode(current, dirty & ~as_png, "jpeg", key, rects, chunks)
        if due.any():
            self._refresh(current, due, rects, chunks)
        self._has_previous = True
        # Where the buffers may differ: what this capture read, and where a copy moved pixels in previous.
        touched = self._hint
        for rect in rects:
            if rect["codec"] == "copy" and touched is not None:
                touched = touched.union(Rect(rect["x"], rect["y"], rect["w"], rect["h"]))
        self._stale = touched
        if not rects:
            # Nothing changed: the previous frame's samples still describe it (and a run goes on).
            return None
        self._h264_run = False  # a frame of tiles ends the run: the next h264 frame is an IDR
        return self._next_frame(key, captured_at, rects, b"".join(chunks), hidden)

    def _next_frame(self, key: bool, captured_at: float, rects: list[dict[str, Any]], data: bytes,
                    hidden: list[Rect] | None) -> EncodedFrame:
        """Number the frame going out (tiles or ``h264``) and swap the buffers; a key frame is the new base."""
        self._rows = self._rows_next
        self._index = 1 - self._index
        self._seq += 1
        captured_at = round(captured_at, 1)
        if key:
            self._base = captured_at
        return EncodedFrame(self._seq, key, self.width, self.height, captured_at, rects, data,
                            list(hidden or ()), self._base)

    def _wants_h264(self, dirty: Grid, solid: Grid | None, copied: bool, now: float, key: bool) -> bool:
        """Whether this frame goes out as ``h264``: large motion, in a run or for the second frame in a row.

        Solid tiles do not count (fills describe them in a few bytes), nor does a frame with a
        scroll found (a copy moves it for nothing); a key frame's tiles count for itself only (they
        are all sent, changed or not).  *solid*: which of *dirty*'s tiles are solid (None when none changed).
        """
        if not self.allow_h264:
            self._moving = False
            return False
        share = window = 0.0
        if not copied and solid is not None:
            changed = dirty & ~solid
            share = int(np.count_nonzero(changed)) / dirty.size
            if not key:
                self._moved_at[changed] = now
            window = int(np.count_nonzero(now - self._moved_at < H264_WINDOW_SECONDS)) / dirty.size
        moving_before, self._moving = self._moving, max(share, window) >= H264_START_SHARE
        if max(share, window) >= H264_KEEP_SHARE:
            self._motion_at = now
        if self._h264_run:
            return max(share, window) >= H264_KEEP_SHARE
        return self._moving and moving_before

    def _produce_h264(self, current: Frame, dirty: Grid, now: float, captured_at: float, key: bool,
                      hidden: list[Rect] | None) -> EncodedFrame:
        """The whole frame as one ``h264`` rectangle; an IDR (and a key frame) to start a run, when asked,
        and every :data:`H264_KEY_SECONDS`.  Raises :class:`~agent.screen.encode.EncodeError`."""
        if self._h264 is None:
            self._h264 = H264Encoder(self.width, self.height)
        idr = key or not self._h264_run or now - self._idr_at >= H264_KEY_SECONDS
        data = self._h264.encode(current, idr)
        if idr:
            self._idr_at = now
        self._h264_run = True
        # The viewer's whole picture is now H.264's: every tile is refreshed once it settles.
        self._changed_at[dirty] = now
        self._lossy[:] = True
        self._has_previous = True
        self._stale = self._hint
        rect = {"x": 0, "y": 0, "w": self.width, "h": self.height, "codec": "h264", "len": len(data)}
        return self._next_frame(idr, captured_at, [rect], data, hidden)

    def _fill(self, solid: Grid, colours: Frame, rects: list[dict[str, Any]]) -> Grid:
        """Send solid tiles as ``fill`` rectangles, colour by colour; returns the tiles filled."""
        filled = np.zeros_like(solid)
        values, counts = np.unique(colours[solid], return_counts=True)
        for value in values[np.argsort(-counts, kind="stable")][:FILL_COLOURS]:
            grid = solid & (colours == value)
            spans = merge_tiles(grid, self.width, self.height, max_rects=1 << 30)
            if len(spans) > FILL_RECTS_PER_COLOUR:
                continue
            pixel = int(value)
            rgb = [(pixel >> 16) & 0xFF, (pixel >> 8) & 0xFF, pixel & 0xFF]  # BGRA in memory: B is the low byte
            rects.extend({**span.to_dict(), "codec": "fill", "rgb": rgb, "len": 0} for span in spans)
            filled |= grid
        self._lossy[filled] = False
        return filled

    def _encode(self, current: Frame, grid: Grid, codec: str, key: bool, rects: list[dict[str, Any]],
                chunks: list[bytes]) -> None:
        """Encode the tiles of *grid* with *codec*, as few rectangles, each shrunk to what changed."""
        previous = self.previous
        for merged in merge_tiles(grid, self.width, self.height, bridge=2 if codec == "png" else 0):
            rect = merged
            if not key and merged.w * merged.h <= PNG_DIRECT_PIXELS:
                bounds = changed_bounds(current, previous, merged)  # typing: the glyph, not its tile
                if bounds is None:
                    continue
                rect = bounds
            name = codec
            if codec == "png":
                small = encode_palette(current, rect) if rect.w * rect.h <= PALETTE_PIXELS else None
                data, name = (small, "pal") if small is not None else (encode_png(current, rect), "png")
                self._lossy[tiles_inside(rect, self.width, self.height)] = False
            else:
                quality = self.quality
                if rect.w * rect.h > LARGE_MOTION_PIXELS and not key:
                    quality = min(quality, QUALITY_LARGE_MOTION)
                data = encode_jpeg(current, rect, quality)
                self._lossy[tiles_of(rect, self._shape)] = True
            rects.append({**rect.to_dict(), "codec": name, "len": len(data)})
            chunks.append(data)

    def _copy_scroll(self, current: Frame, area: Rect, rects: list[dict[str, Any]]) -> Grid | None:
        """Find a scroll inside *area*; if found, add a ``copy`` and return what is left dirty, else None.

        The copy is applied to :attr:`previous` (the viewer's picture, as this
        side knows it), so the dirty tiles left are only what the scroll did
        not bring: the new lines.
        """
        now = sample_rows(current, area)
        before = self._rows if self._rows is not None and self._rows.area == area else None
        self._rows_next = now  # next frame's "before", if this frame is sent
        found = find_scroll(current, self.previous, area, now, before)
        if found is None:
            self._scroll_area = None
            return None
        self._scroll_area = area
        destination, source_y = found
        previous = self.previous
        move_rows(previous, (destination.x, destination.right), destination.y, source_y, destination.h)
        self._shift_tiles(destination, source_y)
        rects.append({**destination.to_dict(), "codec": "copy", "sx": destination.x, "sy": source_y, "len": 0})
        left = dirty_tiles(current, previous)
        outside = left.copy()
        outside[tiles_of(area, self._shape)] = False
        if outside.any():  # the scrolling area grew (or something else moved): look again next time
            self._scroll_area = None
        return left

    def _shift_tiles(self, destination: Rect, source_y: int) -> None:
        """Carry the tiles' lossy marks and change times along with a copied rectangle."""
        rows, columns = tiles_of(destination, self._shape)
        lossy, changed = self._lossy.copy(), self._changed_at.copy()
        shift = source_y - destination.y
        for row in range(rows.start, rows.stop):
            top = max(destination.y, row * TILE) + shift
            bottom = min(destination.bottom, (row + 1) * TILE) - 1 + shift
            sources = slice(top // TILE, bottom // TILE + 1)
            moved_lossy = lossy[sources, columns].any(axis=0)
            moved_changed = changed[sources, columns].max(axis=0)
            if destination.y <= row * TILE and (row + 1) * TILE <= destination.bottom:
                self._lossy[row, columns] = moved_lossy  # the whole tile row was replaced
                self._changed_at[row, columns] = moved_changed
            else:
                self._lossy[row, columns] |= moved_lossy
                self._changed_at[row, columns] = np.maximum(changed[row, columns], moved_changed)

    def _refresh(self, current: Frame, due: Grid, rects: list[dict[str, Any]], chunks: list[bytes]) -> None:
        """Re-send settled lossy tiles well, within the per-frame budget: text as PNG, photos as fine JPEG."""
        budget = REFRESH_BUDGET_PIXELS // (TILE * TILE)
        chosen = np.zeros_like(due)
        for row in range(due.shape[0]):
            if budget <= 0:
                break
            columns = np.flatnonzero(due[row])[:budget]
            chosen[row, columns] = True
            budget -= len(columns)
        flat = flat_tiles_of(current, chosen)
        for grid, codec in ((chosen & flat, "png"), (chosen & ~flat, "jpeg")):
            for rect in merge_tiles(grid, self.width, self.height):
                data = encode_png(current, rect) if codec == "png" else encode_jpeg(current, rect, QUALITY_STILL)
                rects.append({**rect.to_dict(), "codec": codec, "len": len(data)})
                chunks.append(data)
        self._lossy &= ~chosen

    def reset(self) -> None:
        """Forget what the viewer holds: the next frame is a key frame."""
        self._has_previous = False
        self._rows = None
        self._lossy[:] = False
        self._stale = None
        self._h264_run = False  # the next h264 frame is an IDR
