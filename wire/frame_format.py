"""The compact layout of a ``screen.frame`` (format 2, docs/screen-protocol.md): packing and reading.

A format-2 frame's JSON body is only ``{"fmt": 2}``, plus ``monitor`` when the stream is
one monitor (absent means ``"all"``) and ``hidden`` when something is hidden; everything
else travels in binary at the start of the payload, big endian::

    u32 seq | f64 captured_at | u16 width | u16 height | u8 flags (1 key, 2 paused) | u16 count
    count × (u8 codec | u16 x | u16 y | u16 w | u16 h | what the codec adds)
    the encoded rectangles' bytes, concatenated in order

What a codec adds: ``copy`` u16 sx, u16 sy; ``fill`` u8 r, g, b; ``png``, ``jpeg``,
``raw``, ``pal`` and ``h264`` u32 length (their bytes follow the table).  A typing frame's header is 32 bytes
here against about 240 as JSON, and a solid rectangle costs 12 bytes, pixels included.

:func:`unpack` turns such a frame back into the format-1 body (``rects`` as JSON objects,
``fill`` ones with ``"rgb": [r, g, b]``) and the rectangles' bytes, so a reader handles
both formats the same way; it raises :class:`FrameFormatError` on anything malformed.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any, Final

from wire.protocol import varint

#: The value of a format-2 body's ``fmt``.
FORMAT: Final = 2
#: Codec names by their number on the wire.
CODECS: Final = ("copy", "fill", "png", "jpeg", "raw", "pal", "h264")
_NUMBERS: Final = {name: number for number, name in enumerate(CODECS)}
_HEAD: Final = struct.Struct(">IdHHBH")
_RECT: Final = struct.Struct(">BHHHH")
_PAIR: Final = struct.Struct(">HH")
_RGB: Final = struct.Struct(">BBB")
_LEN: Final = struct.Struct(">I")
FLAG_KEY: Final = 1
FLAG_PAUSED: Final = 2


class FrameFormatError(ValueError):
    """A format-2 or -3 frame whose binary header is cut short, or holds a value the format has no place for."""

    code = "bad_frame"


class FrameNeedsKey(FrameFormatError):
    """A format-3 frame that is not a key frame, read before any key frame of its stream gave the size and time base.

    A viewer skips it (acks it): the key frame the agent sends every new viewer follows.
    """

    code = "frame_needs_key"


def pack(seq: int, key: bool, width: int, height: int, captured_at: float, rects: list[dict[str, Any]],
         data: bytes, paused: bool = False) -> bytes:
    """The payload of a format-2 frame: its header, its rectangles' table, then *data*.

    *rects* are the rectangles as the JSON format writes them (``fill`` ones with ``"rgb"``);
    raises :class:`FrameFormatError` when a value does not fit its field.
    """
    try:
        parts = [_HEAD.pack(seq & 0xFFFFFFFF, captured_at, width, height,
                            (FLAG_KEY if key else 0) | (FLAG_PAUSED if paused else 0), len(rects))]
        for rect in rects:
            codec = rect["codec"]
            parts.append(_RECT.pack(_NUMBERS[codec], rect["x"], rect["y"], rect["w"], rect["h"]))
            if codec == "copy":
                parts.append(_PAIR.pack(rect["sx"], rect["sy"]))
            elif codec == "fill":
                parts.append(_RGB.pack(*rect["rgb"]))
            else:
                parts.append(_LEN.pack(rect["len"]))
    except (struct.error, KeyError, TypeError) as err:
        raise FrameFormatError(f"a frame that format 2 cannot hold: {err}") from err
    parts.append(data)
    return b"".join(parts)


def header_size(rects: list[dict[str, Any]]) -> int:
    """Bytes of the binary header :func:`pack` writes before the rectangles' data."""
    extra = {"copy": _PAIR.size, "fill": _RGB.size}
    return _HEAD.size + sum(_RECT.size + extra.get(rect["codec"], _LEN.size) for rect in rects)


def unpack(body: dict[str, Any], payload: bytes) -> tuple[dict[str, Any], bytes]:
    """The format-1 body of the format-2 frame (*body*, *payload*), and its rectangles' bytes.

    ``monitor`` (``"all"`` when absent), ``x``, ``y`` (0 when absent) and ``hidden`` come from
    the JSON body; raises
    :class:`FrameFormatError` when the binary header is cut short or names an unknown codec.
    """
    view = memoryview(payload)
    if len(view) < _HEAD.size:
        raise FrameFormatError(f"a format-2 frame of {len(view)} bytes, shorter than its header")
    seq, captured_at, width, height, flags, count = _HEAD.unpack_from(view, 0)
    offset = _HEAD.size
    rects: list[dict[str, Any]] = []
    for _ in range(count):
        if offset + _RECT.size > len(view):
            raise FrameFormatError(f"a format-2 frame announcing {count} rectangles cut after {len(rects)}")
        number, x, y, w, h = _RECT.unpack_from(view, offset)
        offset += _RECT.size
        if number >= len(CODECS):
            raise FrameFormatError(f"a format-2 rectangle with codec number {number}")
        codec = CODECS[number]
        rect: dict[str, Any] = {"x": x, "y": y, "w": w, "h": h, "codec": codec, "len": 0}
        extra = _PAIR if codec == "copy" else _RGB if codec == "fill" else _LEN
        if offset + extra.size > len(view):
            raise FrameFormatError(f"a format-2 {codec} rectangle cut short")
        values = extra.unpack_from(view, offset)
        offset += extra.size
        if codec == "copy":
            rect["sx"], rect["sy"] = values
        elif codec == "fill":
            rect["rgb"] = list(values)
        else:
            rect["len"] = values[0]
        rects.append(rect)
    full: dict[str, Any] = {
        "seq": seq, "key": bool(flags & FLAG_KEY), "width": width, "height": height, "captured_at": captured_at,
        "rects": rects, "hidden": body.get("hidden", []), "paused": bool(flags & FLAG_PAUSED),
    }
    full["monitor"] = body.get("monitor", "all")
    # A format-2 agent always knows where its frame is: absent means the virtual screen's 0, 0.
    full["x"], full["y"] = body.get("x", 0), body.get("y", 0)
    return full, bytes(view[offset:])


def index_fields(body: dict[str, Any], payload: bytes) -> dict[str, Any]:
    """``seq`` and ``key`` of a frame of either format, for indexes (recordings); {} when unreadable.

    A format-1 body holds them; a format-2 or -3 frame keeps them in its binary header (format 3's
    seq and key need no state: they open every frame).
    """
    if body.get("fmt") == FORMAT_3:
        try:
            seq, _offset = _read_varint(payload, 1, "seq")
        except FrameFormatError:
            return {}
        return {"seq": seq, "key": bool(payload[0] & FLAG_KEY)}
    if body.get("fmt") != FORMAT:
        return {k: body[k] for k in ("seq", "key") if k in body}
    if len(payload) < _HEAD.size:
        return {}
    seq, _captured_at, _width, _height, flags, _count = _HEAD.unpack_from(payload, 0)
    return {"seq": seq, "key": bool(flags & FLAG_KEY)}


# Format 3: the lean layout the agent sends (docs/screen-protocol.md, "Format 3").
#
#     u8 flags (1 key, 2 paused, 4 size follows) | varint seq
#     key frames: f64 base (ms since the epoch, the frame's captured_at); other frames: varint ms since base
#     size flag (always in key frames): varint width | varint height
#     varint count | count × (u8 codec | varint x, y, w, h | copy: varint sx, sy; fill: u8 r, g, b; else varint len)
#     the encoded rectangles' bytes, concatenated in order
#
# Varints are unsigned LEB128 (7 bits a byte, low group first), at most 5 bytes and below 2**32.
# Size and time base are the stream's state, kept by the reader (:class:`StreamState`) from the
# last key frame: a viewer always starts with one (the agent sends one to every new viewer, and a
# recording's segments start at key frames).

#: The value of a format-3 body's ``fmt``.
FORMAT_3: Final = 3
FLAG_SIZE: Final = 4
_BASE: Final = struct.Struct(">d")
_VARINT_MAX: Final = 0xFFFFFFFF


@dataclass
class StreamState:
    """What a format-3 reader keeps from the last key frame (and size change) of one stream."""

    width: int = 0
    height: int = 0
    base: float = 0.0
    known: bool = False


def _varint(value: int) -> bytes:
    if not 0 <= value <= _VARINT_MAX:
        raise FrameFormatError(f"a value that format 3 cannot hold: {value}")
    return bytes((value,)) if value < 0x80 else varint(value)


def _read_varint(view: bytes | memoryview, offset: int, what: str) -> tuple[int, int]:
    """The varint at *offset* and the offset after it; raises :class:`FrameFormatError`."""
    value = shift = 0
    for position in range(offset, min(offset + 5, len(view))):
        byte = view[position]
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            if value > _VARINT_MAX:
                break
            return value, position + 1
        shift += 7
    raise FrameFormatError(f"a format-3 frame cut short or out of range in its {what}")


def pack3(seq: int, key: bool, width: int, height: int, captured_at: float, base: float,
          rects: list[dict[str, Any]], data: bytes, paused: bool = False, size: bool = False) -> bytes:
    """The payload of a format-3 frame: its header, its rectangles' table, then *data*.

    *base* is the stream's time base (the last key frame's *captured_at*; a key frame's own
    is its *captured_at*); *size* sends the width and height in a frame that is not a key frame
    (the stream's size changed).  Raises :class:`FrameFormatError` when a value does not fit.
    """
    flags = (FLAG_KEY if key else 0) | (FLAG_PAUSED if paused else 0) | (FLAG_SIZE if key or size else 0)
    parts = [bytes((flags,)), _varint(seq & 0xFFFFFFFF)]
    try:
        if key:
            parts.append(_BASE.pack(captured_at))
        else:
            parts.append(_varint(max(0, round(captured_at - base))))
        if flags & FLAG_SIZE:
            parts += (_varint(width), _varint(height))
        parts.append(_varint(len(rects)))
        for rect in rects:
            codec = rect["codec"]
            parts += (bytes((_NUMBERS[codec],)), _varint(rect["x"]), _varint(rect["y"]),
                      _varint(rect["w"]), _varint(rect["h"]))
            if codec == "copy":
                parts += (_varint(rect["sx"]), _varint(rect["sy"]))
            elif codec == "fill":
                parts.append(_RGB.pack(*rect["rgb"]))
            else:
                parts.append(_varint(rect["len"]))
    except (struct.error, KeyError, TypeError) as err:
        raise FrameFormatError(f"a frame that format 3 cannot hold: {err}") from err
    parts.append(data)
    return b"".join(parts)


def unpack3(body: dict[str, Any], payload: bytes, state: StreamState) -> tuple[dict[str, Any], bytes]:
    """The format-1 body of the format-3 frame (*body*, *payload*) and its rectangles' bytes; updates *state*.

    Raises :class:`FrameNeedsKey` for a frame that is not a key frame while *state* knows no
    key frame yet, and :class:`FrameFormatError` when the header is cut short, a varint is out
    of range or a codec number is unknown (*state* is then left as it was).
    """
    view = memoryview(payload)
    if not view:
        raise FrameFormatError("a format-3 frame without its flags")
    flags = view[0]
    key = bool(flags & FLAG_KEY)
    seq, offset = _read_varint(view, 1, "seq")
    if key:
        if offset + _BASE.size > len(view):
            raise FrameFormatError("a format-3 key frame cut short in its time base")
        (base,) = _BASE.unpack_from(view, offset)
        offset += _BASE.size
        if base != base or base in (float("inf"), float("-inf")):
            raise FrameFormatError("a format-3 key frame whose time base is not a number")
        captured_at = base
    else:
        if not state.known:
            raise FrameNeedsKey(f"format-3 frame {seq} before any key frame of its stream")
        delta, offset = _read_varint(view, offset, "capture time")
        base = state.base
        captured_at = base + delta
    width, height = state.width, state.height
    if flags & FLAG_SIZE:
        width, offset = _read_varint(view, offset, "width")
        height, offset = _read_varint(view, offset, "height")
    elif key:
        raise FrameFormatError("a format-3 key frame without its size")
    count, offset = _read_varint(view, offset, "count")
    rects: list[dict[str, Any]] = []
    for _ in range(count):
        if offset >= len(view):
            raise FrameFormatError(f"a format-3 frame announcing {count} rectangles cut after {len(rects)}")
        number = view[offset]
        if number >= len(CODECS):
            raise FrameFormatError(f"a format-3 rectangle with codec number {number}")
        codec = CODECS[number]
        rect: dict[str, Any] = {"codec": codec, "len": 0}
        offset += 1
        for name in ("x", "y", "w", "h"):
            rect[name], offset = _read_varint(view, offset, f"{codec} rectangle's {name}")
        if codec == "copy":
            rect["sx"], offset = _read_varint(view, offset, "copy rectangle's sx")
            rect["sy"], offset = _read_varint(view, offset, "copy rectangle's sy")
        elif codec == "fill":
            if offset + _RGB.size > len(view):
                raise FrameFormatError("a format-3 fill rectangle cut short")
            rect["rgb"] = list(_RGB.unpack_from(view, offset))
            offset += _RGB.size
        else:
            rect["len"], offset = _read_varint(view, offset, f"{codec} rectangle's length")
        rects.append(rect)
    state.width, state.height, state.base, state.known = width, height, base, True
    full: dict[str, Any] = {
        "seq": seq, "key": key, "width": width, "height": height, "captured_at": captured_at,
        "rects": rects, "hidden": body.get("hidden", []), "paused": bool(flags & FLAG_PAUSED),
        "monitor": body.get("monitor", "all"), "x": body.get("x", 0), "y": body.get("y", 0),
    }
    return full, bytes(view[offset:])
