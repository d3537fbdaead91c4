"""wire.protocol under random input: every malformed frame gets a ProtocolError with its code, valid ones round-trip.

The property each test holds: :func:`wire.protocol.decode` either returns a
:class:`~wire.protocol.Message` whose fields have the types the schema gives, or
raises a :class:`~wire.errors.ProtocolError` (``bad_message``, ``too_large``,
``unsupported_version``, or a subclass with its own code) — never another
exception, whatever the bytes; and what :func:`~wire.protocol.encode` writes
decodes back to the same message.  Cases the fuzzing found are kept as ``@example``.
"""

from __future__ import annotations

import json
import struct
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from tests.fuzz.bounded import bounded
from wire import protocol
from wire.errors import ProtocolError, WorkbenchError

# JSON values as the standard library reads them (no NaN: JSON has none).
json_scalars = (st.none() | st.booleans() | st.integers(-(2**70), 2**70)
                | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20))
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)
ids = st.text(max_size=protocol.MAX_ID_LENGTH)
names = st.text(max_size=protocol.MAX_NAME_LENGTH)
params = st.dictionaries(st.text(max_size=8), json_values, max_size=4)

#: Field values of the right type for each message type, plus any extra fields.
_REQUIRED: dict[str, dict[str, st.SearchStrategy[Any]]] = {
    "hello": {"role": names},
    "welcome": {},
    "paired": {"session_id": names},
    "request": {"id": ids, "method": names, "params": params},
    "response": {"id": ids},
    "error": {"id": st.none() | ids, "code": st.text(max_size=20), "message": st.text(max_size=40)},
    "event": {"name": names, "body": params},
    "journal": {"records": st.lists(params, max_size=3)},
    "bye": {"reason": st.text(max_size=40)},
}
_RESERVED = {"v", "type", *(name for fields in _REQUIRED.values() for name in fields),
             "session_id", "role", "name", "method", "id"}
extra_fields = st.dictionaries(st.text(max_size=8).filter(lambda k: k not in _RESERVED), json_values, max_size=3)


@st.composite
def messages(draw: st.DrawFn) -> protocol.Message:
    kind = draw(st.sampled_from(sorted(_REQUIRED)))
    fields = {name: draw(strategy) for name, strategy in _REQUIRED[kind].items()}
    fields.update(draw(extra_fields))
    data = draw(st.none() | st.binary(max_size=64))
    return protocol.Message(kind, fields, data)


def decoded_or_refused(frame: str | bytes) -> protocol.Message | None:
    """Decode *frame*; None when it is refused with a protocol error.  Any other exception fails the test."""
    try:
        message = protocol.decode(frame)
    except ProtocolError as err:
        assert isinstance(err, WorkbenchError) and err.code and isinstance(err.message, str)
        assert err.to_wire()["code"] == err.code
        return None
    assert message.type in protocol.MESSAGE_TYPES
    assert "v" not in message.fields and "type" not in message.fields
    return message


def follows_the_schema(message: protocol.Message) -> None:
    """A decoded message has every required field, each of its schema's type, and re-encodes."""
    for name, strategy_types in _schema_types(message.type).items():
        assert name in message.fields
        value = message.fields[name]
        assert isinstance(value, strategy_types) and not (isinstance(value, bool) and bool not in strategy_types)
    # What the relay and the agent accept, they can also pass on: it encodes again, to the same message.
    frame = protocol.encode(message)
    if isinstance(frame, str):
        frame.encode("utf-8")  # a websocket text frame is UTF-8: a lone surrogate could not be sent
    again = protocol.decode(frame)
    assert again == message


def _schema_types(kind: str) -> dict[str, tuple[type, ...]]:
    return {name: types for name, (types, required) in protocol._SCHEMA[kind].items() if required}


@given(messages())
@bounded(300)
def test_what_is_encoded_decodes_to_the_same_message(message: protocol.Message) -> None:
    frame = protocol.encode(message)
    assert isinstance(frame, bytes if message.data is not None else str)
    assert protocol.decode(frame) == message


@given(st.text(max_size=200))
@example('{"v":1,"type":"bye","reason":NaN}')
@example('{"v":1,"type":"request","id":"r","method":"m","params":{"x":Infinity}}')
@example('{"v":true,"type":"bye","reason":""}')
@example('{"v":1.0,"type":"bye","reason":""}')
@example('{"v":1,"type":"bye","reason":"x","n":1e400}')
@example('{"v":1,"type":"bye","reason":"\\ud800"}')
@example('{"v":1,"type":"bye","reason":"\\\\ud800 \\ud83d\\ude00"}')
@example("[" * 5000)
@example('{"v":1,"type":"bye","reason":"x","reason":5}')
@bounded(300)
def test_any_text_is_decoded_or_refused_with_a_code(frame: str) -> None:
    message = decoded_or_refused(frame)
    if message is not None:
        follows_the_schema(message)


@given(st.binary(max_size=200))
@example(b"WB\x01\xff\xff\xff\xff{}")
@example(b"WB\x01\x00\x00\x00\x00")
@bounded(300)
def test_any_bytes_are_decoded_or_refused_with_a_code(frame: bytes) -> None:
    message = decoded_or_refused(frame)
    if message is not None:
        follows_the_schema(message)


@given(st.dictionaries(st.text(max_size=10).filter(lambda k: k not in ("v", "type")), json_values, max_size=6),
       st.sampled_from([*sorted(_REQUIRED), "nope", ""]) | json_values,
       st.sampled_from([1, 1.0, True, 0, 2, "1", None]), st.none() | st.binary(max_size=16))
@bounded(400)
def test_any_json_object_is_decoded_or_refused_with_a_code(fields: dict[str, Any], kind: Any, version: Any,
                                                         data: bytes | None) -> None:
    header = json.dumps({"v": version, "type": kind, **fields})
    frame: str | bytes = header
    if data is not None:
        raw = header.encode()
        frame = struct.pack(">2sBI", b"WB", 1, len(raw)) + raw + data
    message = decoded_or_refused(frame)
    if message is not None:
        assert version == 1 and type(version) is int, f"accepted version {version!r}"
        assert message.data == data
        follows_the_schema(message)


@given(messages(), st.data())
@bounded(400)
def test_a_valid_message_with_one_field_replaced_is_decoded_or_refused(message: protocol.Message,
                                                                         data: st.DataObject) -> None:
    body = {"v": 1, "type": message.type, **message.fields}
    name = data.draw(st.sampled_from(sorted(body)))
    body[name] = data.draw(json_values)
    message_or_none = decoded_or_refused(json.dumps(body))
    if message_or_none is not None:
        follows_the_schema(message_or_none)


@given(messages(), st.data())
@bounded(300)
def test_a_valid_frame_cut_or_with_a_byte_changed_is_decoded_or_refused(message: protocol.Message,
                                                                       data: st.DataObject) -> None:
    frame = protocol.encode(message)
    raw = frame.encode() if isinstance(frame, str) else frame
    position = data.draw(st.integers(0, max(0, len(raw) - 1)))
    if data.draw(st.booleans()):
        mutated = raw[:position]
    else:
        mutated = raw[:position] + bytes([data.draw(st.integers(0, 255))]) + raw[position + 1:]
    if isinstance(frame, str):
        text = mutated.decode("utf-8", errors="replace")
        decoded_text = decoded_or_refused(text)
        if decoded_text is not None:
            follows_the_schema(decoded_text)
    decoded = decoded_or_refused(mutated)
    if decoded is not None:
        follows_the_schema(decoded)


@given(st.sampled_from(["v", "type"]), json_values)
@bounded(50)
def test_a_field_named_like_the_envelope_is_refused_when_encoding(name: str, value: Any) -> None:
    # Found by the round trip: a field called "type" or "v" silently replaced the envelope's own.
    try:
        protocol.encode(protocol.Message("bye", {"reason": "x", name: value}))
    except ProtocolError as err:
        assert err.code == "bad_message"
    else:
        raise AssertionError(f"a field named {name!r} was encoded over the envelope")


@given(st.binary(max_size=40), json_values, st.binary(max_size=40), st.integers(0, 0xFFFF) | st.none())
@example(b"\x01\x00\x02", None, b"", None)
@bounded(400)
def test_any_compact_screen_frame_is_decoded_or_refused_with_a_code(raw: bytes, extra: Any, payload: bytes,
                                                                    length: int | None) -> None:
    """b"WF" frames: random bytes, and random JSON in a well-formed prefix, never raise anything else."""
    decoded_or_refused(b"WF" + raw)
    text = json.dumps(extra).encode()
    frame = b"WF" + struct.pack(">BH", 1, len(text) if length is None else length) + text + payload
    message = decoded_or_refused(frame)
    if message is not None:
        assert message.type == "event" and message["name"] == "screen.frame" and message["body"]["fmt"] == 2
        assert protocol.decode(protocol.encode(message)) == message
    message = decoded_or_refused(b"WF\x02" + protocol.varint(min(len(text), 0xFFFF)) + text + payload)
    if message is not None:
        assert message.type == "event" and message["name"] == "screen.frame" and message["body"]["fmt"] == 3
        assert protocol.decode(protocol.encode(message)) == message
