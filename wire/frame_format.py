"""The compact layout of a ``screen.frame`` (format 2, docs/screen-protocol.md): packing and reading.

A format-2 frame's JSON body is only ``{"fmt": 2}``, plus ``monitor`` when the stream is
one monitor (absent means ``"all"``) and ``hidden`` when something is hidden; everything
else travels in binary at the start of the payload, big endian::

    u32 seq | f64 captured_at | u16 width | u16 height | u8 flags (1 key, 2 paused) | u16 count
    count × (u8 codec | u16 x | u16 y | u16 w | u16 h | what the codec adds)
    the encoded rectangles' bytes, concatenated in order

What a codec adds: ``copy`` u16 sx, u16 sy; ``fill`` u8 r, g, b; ``png``, ``jpeg``,
``raw`` and ``pal`` u32 length (their bytes follow the table).  A typing frame's header is 32 bytes
here against about 240 as JSON, and a solid rectangle costs 12 bytes, pixels included.

:func:`unpack` turns such a frame back into the format-1 body (``rects`` as JSON objects,
``fill`` ones with ``"rgb": [r, g, b]``) and the rectangles' bytes, so a reader handles
both formats the same way; it raises :class:`FrameFormatError` on anything malformed.
"""

from __future__ import annotations

import struct
from typing import Any, Final

#: The value of a format-2 body's ``fmt``.
FORMAT: Final = 2
#: Codec names by their number on the wire.
CODECS: Final = ("copy", "fill", "png", "jpeg", "raw", "pal")
_NUMBERS: Final = {name: number for number, name in enumerate(CODECS)}
_HEAD: Final = struct.Struct(">IdHHBH")
_RECT: Final = struct.Struct(">BHHHH")
_PAIR: Final = struct.Struct(">HH")
_RGB: Final = struct.Struct(">BBB")
_LEN: Final = struct.Struct(">I")
FLAG_KEY: Final = 1
FLAG_PAUSED: Final = 2


class FrameFormatError(ValueError):
    """A format-2 frame whose binary header is cut short, or holds a value the format has no place for."""


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

    A format-1 body holds them; a format-2 frame keeps them in its binary header.
    """
    if body.get("fmt") != FORMAT:
        return {k: body[k] for k in ("seq", "key") if k in body}
    if len(payload) < _HEAD.size:
        return {}
    seq, _captured_at, _width, _height, flags, _count = _HEAD.unpack_from(payload, 0)
    return {"seq": seq, "key": bool(flags & FLAG_KEY)}
