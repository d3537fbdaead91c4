"""The fuzz targets: the screen frame decoder and the hive reader, fed arbitrary bytes.

Each target takes one input and returns normally when the code under test either
accepted it or refused it with its documented error; any other exception is a finding.
The coverage-guided run (:mod:`tests.fuzz.run_atheris`, atheris/libFuzzer) and the
replay of kept findings (``tests/data/fuzz/<target>/``, :mod:`tests.fuzz.test_fuzz_replay`)
call the same functions, so a kept case fails exactly as it did when it was found.

``frame``: the first byte chooses how the rest is read —

* even: a whole binary websocket frame (``WB`` prefix, JSON header, payload) given to
  :func:`wire.protocol.decode`; a ``screen.frame`` event is then drawn on a
  :class:`agent.screen.decode.Canvas`, a fresh one and one after a format-3 key frame (so a
  format-3 frame that is not a key frame is drawn too). Documented errors: ``ProtocolError``, ``FrameError``.
* odd: a frame *body* built from the bytes (so mutations reach the rectangle decoding
  without first having to keep JSON valid): width, height, then rectangles of any codec,
  then their payload, drawn on one canvas twice (the second frame meets the first's canvas).

``hive``: the bytes as a hive file for :class:`agent.registry.regf.HiveReader`, walked
key by key (at most :data:`MAX_KEYS`), every value read and decoded as the agent does.
Documented errors: ``HiveFormatError`` (and ``KeyError`` for a missing key).
"""

from __future__ import annotations

import contextlib
import struct
from collections.abc import Callable
from typing import Any, Final

from agent.registry.model import decode_windows
from agent.registry.regf import NO_CELL, HiveFormatError, HiveReader
from agent.screen.decode import Canvas, FrameError
from wire import protocol
from wire.errors import ProtocolError
from wire.frame_format import pack3

#: A fuzzed hive is walked this far at most: a cycle of keys is not the reader's to break.
MAX_KEYS: Final = 300
CODECS: Final = ("raw", "png", "jpeg", "copy", "bmp", "h264")
_RECT: Final = struct.Struct(">BBBBBHBB")  # codec, x, y, w, h, len, sx, sy


def frame(data: bytes) -> None:
    """Decode *data* as described in the module docstring; raises only what is a finding."""
    if not data:
        return
    try:
        if data[0] % 2 == 0:
            message = protocol.decode(data[1:])
            if message.type == "event" and message["name"] == "screen.frame":
                for canvas in (Canvas(), _keyed_canvas()):  # format 3 reads size and time from a key frame
                    with contextlib.suppress(FrameError):
                        canvas.apply(dict(message["body"]), message.data or b"")
            return
        body, payload = _frame_body(data[1:])
        canvas = Canvas()
        for _ in range(2):
            canvas.apply(body, payload)
    except (ProtocolError, FrameError):
        pass


def _keyed_canvas() -> Canvas:
    """A canvas after a 16×16 format-3 key frame: a format-3 frame that is not a key frame draws on it."""
    canvas = Canvas()
    canvas.apply({"fmt": 3}, pack3(1, True, 16, 16, 1.0, 1.0, [
        {"x": 0, "y": 0, "w": 16, "h": 16, "codec": "fill", "rgb": [1, 2, 3], "len": 0}], b""))
    return canvas


def _frame_body(data: bytes) -> tuple[dict[str, Any], bytes]:
    """A ``screen.frame`` body and payload made of *data*: 2 bytes width, 2 height, 1 count, rects, payload."""
    if len(data) < 5:
        return {"seq": 1, "width": 0, "height": 0, "rects": []}, b""
    width, height, count = struct.unpack_from(">HHB", data)
    offset, rects = 5, []
    for _ in range(count % 8):
        if offset + _RECT.size > len(data):
            break
        codec, x, y, w, h, size, sx, sy = _RECT.unpack_from(data, offset)
        offset += _RECT.size
        rect: dict[str, Any] = {"x": x, "y": y, "w": w, "h": h, "codec": CODECS[codec % len(CODECS)], "len": size}
        if rect["codec"] == "copy":
            rect.update(sx=sx, sy=sy)
        rects.append(rect)
    return {"seq": 1, "key": True, "width": width % 512, "height": height % 512, "rects": rects}, data[offset:]


def hive(data: bytes) -> None:
    """Read *data* as a hive, as described in the module docstring; raises only what is a finding."""
    try:
        reader = HiveReader(data)
        seen: set[int] = set()
        todo = [reader.root]
        while todo and len(seen) < MAX_KEYS:
            node = todo.pop()
            if node.offset in seen:
                continue
            seen.add(node.offset)
            reader.class_name(node)
            if node.security != NO_CELL:
                reader.security(node.security)
            for value in reader.values(node):
                decode_windows(value.name, value.type, reader.data(value))
                reader.data_cells(value)
            reader.find_value(node, "x")
            reader.child(node, "x")
            reader.subkey_list_cells(node)
            todo.extend(reader.subkeys(node))
        reader.walk(["a", "b"])
    except (HiveFormatError, KeyError):
        pass


TARGETS: Final[dict[str, Callable[[bytes], None]]] = {"frame": frame, "hive": hive}
