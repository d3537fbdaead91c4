"""The compact envelope of a format-2 ``screen.frame`` (wire/protocol.py): what is written reads back as
the same message, other messages keep the ordinary envelope, and a malformed compact frame is refused
with ``bad_message`` (or ``unsupported_version``) before anything acts on it."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

from wire import protocol
from wire.errors import ProtocolError, UnsupportedVersion
from wire.frame_format import pack, pack3

TYPING_RECTS = [{"x": 80, "y": 200, "w": 7, "h": 13, "codec": "pal", "len": 4}]
PAYLOAD = pack(7, False, 1920, 1080, 1733539200123.4, TYPING_RECTS, b"\x01\x00\x00\x00")
#: What tests/widget_src/protocol.test.js decodes: the Python encoder's bytes, read in JS too.
SHARED = Path(__file__).parents[1] / "widget_src" / "compact_frames.json"
#: Format 3 in envelope version 2, a stream's frames in order (a key frame first): read by the JS tests too.
SHARED_3 = Path(__file__).parents[1] / "widget_src" / "compact_frames3.json"
BASE = 1733539200123.4
KEY_3 = pack3(9, True, 1920, 1080, BASE, BASE, [{"x": 0, "y": 0, "w": 1920, "h": 1080, "codec": "fill",
                                                 "rgb": [1, 2, 3], "len": 0}], b"")
TYPING_3 = pack3(10, False, 1920, 1080, BASE + 1234.5, BASE, TYPING_RECTS, b"\x01\x00\x00\x00")


def test_a_format_2_frame_goes_in_5_bytes_of_envelope_and_reads_back_the_same() -> None:
    message = protocol.event("screen.frame", {"fmt": 2}, PAYLOAD)
    frame = protocol.encode(message)
    assert isinstance(frame, bytes) and frame[:5] == b"WF\x01\x00\x00" and frame[5:] == PAYLOAD
    assert protocol.decode(frame) == message
    ordinary = protocol.Message("event", message.fields, PAYLOAD)
    assert len(frame) + 60 < len(b"WB\x01" + b"1234" + json.dumps({"v": 1, "type": "event", **ordinary.fields},
                                                              separators=(",", ":")).encode() + PAYLOAD)


def test_the_bodys_other_fields_travel_as_json_beside_the_payload() -> None:
    body = {"fmt": 2, "monitor": 1, "x": -1920, "y": 40,
            "hidden": [{"x": 1, "y": 2, "w": 3, "h": 4, "label": "Masqué par le client"}]}
    frame = protocol.encode(protocol.event("screen.frame", body, PAYLOAD))
    assert isinstance(frame, bytes) and frame[:2] == b"WF"
    decoded = protocol.decode(frame)
    assert decoded.type == "event" and decoded["name"] == "screen.frame"
    assert decoded["body"] == body and decoded.data == PAYLOAD


@pytest.mark.parametrize("message", [
    protocol.event("screen.frame", {"seq": 1, "rects": []}, b"x"),  # format 1: its JSON body stays
    protocol.event("screen.frame", {"fmt": 2}),  # no payload
    protocol.event("screen.info", {"fmt": 2}, PAYLOAD),
    protocol.Message("event", {"name": "screen.frame", "body": {"fmt": 2}, "extra": 1}, PAYLOAD),
    protocol.event("screen.frame", {"fmt": 2.0}, PAYLOAD),
])
def test_other_messages_keep_the_ordinary_envelope(message: protocol.Message) -> None:
    frame = protocol.encode(message)
    assert frame[:2] != b"WF"
    assert protocol.decode(frame).fields == message.fields


def compact(extra: bytes, payload: bytes = PAYLOAD, version: int = 1, length: int | None = None) -> bytes:
    return b"WF" + struct.pack(">BH", version, len(extra) if length is None else length) + extra + payload


@pytest.mark.parametrize(("frame", "fragment"), [
    (b"WF", "shorter than its prefix"),
    (b"WF\x01\x00", "shorter than its prefix"),
    (compact(b"{}", length=40), "runs past the frame"),
    (compact(b"[1]"), "JSON object"),
    (compact(b'{"fmt":3}'), "without 'fmt'"),
    (compact(b"{nope"), "not a JSON object"),
    (compact(b'{"x":NaN}'), "not a JSON object"),
    (compact(b"\xff\xfe"), "not a JSON object"),
    (compact(b'{"label":"\\ud800"}'), "not valid Unicode"),
    (compact(b'{"a":' + b"[" * 70 + b"]" * 70 + b"}"), "nested deeper"),
    (compact(b"", PAYLOAD[:18]), "shorter than a format-2 header"),
])
def test_a_malformed_compact_frame_is_refused_with_bad_message(frame: bytes, fragment: str) -> None:
    with pytest.raises(ProtocolError, match=fragment) as caught:
        protocol.decode(frame)
    assert caught.value.code == "bad_message"


def test_a_compact_frame_of_another_version_has_its_own_code() -> None:
    with pytest.raises(UnsupportedVersion) as caught:
        protocol.decode(compact(b"", version=3))
    assert caught.value.code == "unsupported_version"


def test_the_frames_the_js_tests_decode_are_what_python_writes_today() -> None:
    """tests/widget_src/protocol.test.js reads these bytes with the widget's decoder (Python → JS)."""
    cases = json.loads(SHARED.read_text(encoding="utf-8"))
    assert cases, "no shared cases"
    for case in cases:
        message = protocol.event("screen.frame", case["body"], bytes.fromhex(case["payload"]))
        assert protocol.encode(message) == bytes.fromhex(case["frame"]), case["body"]


def test_a_format_3_frame_goes_in_4_bytes_of_envelope_and_a_typing_frame_in_under_40() -> None:
    message = protocol.event("screen.frame", {"fmt": 3}, TYPING_3)
    frame = protocol.encode(message)
    assert isinstance(frame, bytes) and frame[:4] == b"WF\x02\x00" and frame[4:] == TYPING_3
    assert protocol.decode(frame) == message
    # flags, seq, ms since base (2 bytes), count, rect (codec, x 1, y 2, w, h, len): a 12-byte header, was 32
    assert len(frame) == 4 + 12 + 4 and len(frame) < 40
    body = {"fmt": 3, "monitor": 1, "x": -1920, "y": 40}
    decoded = protocol.decode(protocol.encode(protocol.event("screen.frame", body, TYPING_3)))
    assert decoded["body"] == body and decoded.data == TYPING_3


@pytest.mark.parametrize(("frame", "fragment"), [
    (b"WF\x02", "shorter than its prefix"),
    (b"WF\x02\x80\x80\x80\x01" + TYPING_3, "extra length is cut short or out of range"),
    (b"WF\x02\xff\xff\x04" + TYPING_3, "extra length is cut short or out of range"),
    (b"WF\x02\x28{}" + TYPING_3, "runs past the frame"),
    (b"WF\x02\x09{\"fmt\":2}" + TYPING_3, "without 'fmt'"),
    (b"WF\x02\x00\x01", "shorter than a format-3 header"),
])
def test_a_malformed_format_3_envelope_is_refused_with_bad_message(frame: bytes, fragment: str) -> None:
    with pytest.raises(ProtocolError, match=fragment) as caught:
        protocol.decode(frame)
    assert caught.value.code == "bad_message"


def shared_3_cases() -> list[dict[str, object]]:
    cases = []
    for payload, body in ((KEY_3, {"fmt": 3}), (TYPING_3, {"fmt": 3}), (TYPING_3, {"fmt": 3, "monitor": 1})):
        frame = protocol.encode(protocol.event("screen.frame", body, payload))
        assert isinstance(frame, bytes)
        cases.append({"body": body, "payload": payload.hex(), "frame": frame.hex()})
    return cases


def test_the_format_3_frames_the_js_tests_decode_are_what_python_writes_today() -> None:
    """tests/widget_src/protocol.test.js reads these bytes with the widget's decoder, in order (Python → JS)."""
    assert json.loads(SHARED_3.read_text(encoding="utf-8")) == shared_3_cases()
