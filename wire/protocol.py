"""The wire format shared by the agent, the relay and the workbench. Pure: no I/O.

A message is a JSON object ``{"v": 1, "type": ..., ...fields}`` sent as a
websocket text frame, or, when it carries bytes (a file chunk, a screen frame),
a binary frame::

    b"WB" | version (1 byte) | header length (4 bytes, big endian) | JSON header | payload

A ``screen.frame`` event in frame format 2 (:mod:`wire.frame_format`), the most frequent
message of all, travels in a compact binary frame instead, whose envelope is 5 bytes
rather than about 68 (a typing frame's whole format-2 content is about 60)::

    b"WF" | version (1 byte) | extra length (2 bytes, big endian) | extra JSON | format-2 payload

*extra* is the frame body's fields besides ``fmt`` (``monitor``, ``x``, ``y``, ``hidden``) as a
JSON object, or nothing at all when there are none (the common case).  A format-3 frame (what
the agent sends now) goes in envelope version 2, 4 bytes when there is no extra JSON::

    b"WF" | 2 | extra length (varint: LEB128, at most 3 bytes) | extra JSON | format-3 payload
  :func:`encode` writes
it for every such event and :func:`decode` gives back the very same :class:`Message`
(``event``, ``name`` ``screen.frame``, ``body`` ``{"fmt": 2, ...extra}``, the payload as data),
so the relay, the recorder and every reader handle both envelopes alike, and the relay
forwards the frame as it came.

:func:`decode` checks the version, the size, the type and each field's type
before anything acts on a message, and raises :class:`~wire.errors.ProtocolError`
(or a subclass) with a stable code when a frame is malformed.  Nothing else
in this module raises.  A message nested deeper than :data:`MAX_DEPTH` levels is
refused with :class:`~wire.errors.TooDeep`, which carries the message's top-level
plain fields so a request can still be answered by its id: nothing that reads,
describes or stores a decoded value ever meets a nesting Python cannot walk.

Message types (fields besides ``v`` and ``type``):

==========  ======================  ==============================================
type        sent by                 fields
==========  ======================  ==============================================
hello       agent, technician       role, and role-specific fields (see relay)
welcome     relay                   role-specific fields (code, session, resume)
paired      relay                   session_id, started_at, technician, machine
request     technician              id, method, params, preview? (bool: plan, change nothing)
response    agent (or relay)        id, result
error       anyone                  id (or null), code, message, details?
event       agent, relay            name, body
journal     agent                   records (hash-chained journal records, in order)
bye         anyone                  reason
==========  ======================  ==============================================
"""

from __future__ import annotations

import json
import re
import struct
from dataclasses import dataclass, field
from typing import Any, Final

from wire.errors import MessageTooLarge, ProtocolError, TooDeep, UnsupportedVersion

PROTOCOL_VERSION: Final = 1
#: Largest frame either side accepts; the websocket layer is set to the same.
MAX_MESSAGE_BYTES: Final = 16 * 1024 * 1024
#: Largest JSON part of a frame (the rest of a binary frame is payload).
MAX_HEADER_BYTES: Final = 4 * 1024 * 1024
MAX_ID_LENGTH: Final = 64
MAX_NAME_LENGTH: Final = 128
#: Deepest nesting of a message: the message object is level 1, its ``params`` level 2, and so on.
#: Far beyond what any method needs, and far below where Python's recursion gives out (~1000).
MAX_DEPTH: Final = 64

#: The plain fields of a message's envelope, and how one reads at the start of a frame that
#: JSON could not even parse (too deep for it): ``{"v":1,"type":"request","id":"…",…``.
_ENVELOPE_FIELDS: Final = ("type", "id", "method", "name")
_LEADING_FIELD: Final = re.compile(r'\s*"(v|type|id|method|name)"\s*:\s*("(?:[^"\\]|\\.){0,256}"|\d{1,9})\s*,')

_MAGIC: Final = b"WB"
_PREFIX: Final = struct.Struct(">2sBI")
#: The compact envelope of a format-2 ``screen.frame`` (see the module docstring).
_FRAME_MAGIC: Final = b"WF"
_FRAME_PREFIX: Final = struct.Struct(">2sBH")
SCREEN_FRAME: Final = "screen.frame"
#: ``fmt`` of the frames the compact envelope carries (wire.frame_format.FORMAT; wire stays import-light).
_COMPACT_FORMAT: Final = 2
#: The shortest format-2 payload: its fixed header (wire.frame_format's, 19 bytes).
_FORMAT_2_HEAD: Final = 19
#: Format 3 (wire.frame_format.FORMAT_3) travels in envelope version 2; its shortest payload is flags and seq.
_LEAN_FORMAT: Final = 3
_LEAN_VERSION: Final = 2
_FORMAT_3_HEAD: Final = 2
#: The largest extra JSON of a compact frame (its length fits u16 in version 1, 3 varint bytes in 2).
_MAX_EXTRA: Final = 0xFFFF

# type -> {field: (accepted python types, required)}
_FieldSpec = dict[str, tuple[tuple[type, ...], bool]]
_SCHEMA: Final[dict[str, _FieldSpec]] = {
    "hello": {"role": ((str,), True)},
    "welcome": {},
    "paired": {"session_id": ((str,), True)},
    "request": {"id": ((str,), True), "method": ((str,), True), "params": ((dict,), True),
                "preview": ((bool,), False)},
    "response": {"id": ((str,), True)},
    "error": {"id": ((str, type(None)), True), "code": ((str,), True), "message": ((str,), True)},
    "event": {"name": ((str,), True), "body": ((dict,), True)},
    "journal": {"records": ((list,), True)},
    "bye": {"reason": ((str,), True)},
}
MESSAGE_TYPES: Final = frozenset(_SCHEMA)


@dataclass(frozen=True)
class Message:
    """One decoded message: its type, its fields, and optional binary payload."""

    type: str
    fields: dict[str, Any] = field(default_factory=dict)
    data: bytes | None = None

    def __getitem__(self, key: str) -> Any:
        return self.fields[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.fields.get(key, default)


def encode(message: Message) -> str | bytes:
    """Encode *message* as a text frame, or a binary frame when it has data.

    Raises :class:`MessageTooLarge` when the result would exceed
    :data:`MAX_MESSAGE_BYTES`, :class:`TooDeep` when it is nested too deep for
    JSON to write at all, and :class:`ProtocolError` when a field is not
    JSON-serialisable (NaN and infinities included) or is called ``v`` or ``type``
    (it would replace the envelope's own).  Nesting beyond :data:`MAX_DEPTH` is the
    receiver's to refuse: it answers a request by its id, and the agent journals the refusal.
    """
    if "v" in message.fields or "type" in message.fields:
        raise ProtocolError(f"cannot encode {message.type}: a field may not be called 'v' or 'type'")
    compact = _compact_frame(message)
    if compact is not None:
        return compact
    body = {"v": PROTOCOL_VERSION, "type": message.type, **message.fields}
    try:
        text = json.dumps(body, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except RecursionError as err:
        raise TooDeep(f"cannot encode {message.type}: nested deeper than JSON can be written") from err
    except (TypeError, ValueError) as err:
        raise ProtocolError(f"cannot encode {message.type}: {err}") from err
    if message.data is None:
        if len(text) * 4 > MAX_MESSAGE_BYTES and len(text.encode()) > MAX_MESSAGE_BYTES:
            raise MessageTooLarge(f"{message.type} message over {MAX_MESSAGE_BYTES} bytes")
        return text
    header = text.encode()
    if len(header) > MAX_HEADER_BYTES:
        raise MessageTooLarge(f"{message.type} header over {MAX_HEADER_BYTES} bytes")
    size = _PREFIX.size + len(header) + len(message.data)
    if size > MAX_MESSAGE_BYTES:
        raise MessageTooLarge(f"{message.type} message of {size} bytes over {MAX_MESSAGE_BYTES}")
    return b"".join((_PREFIX.pack(_MAGIC, PROTOCOL_VERSION, len(header)), header, message.data))


def _compact_frame(message: Message) -> bytes | None:
    """*message* in the compact envelope when it is a format-2 ``screen.frame``, else None.

    Raises :class:`ProtocolError` when its extra fields cannot be written as JSON and
    :class:`MessageTooLarge` when the frame would exceed :data:`MAX_MESSAGE_BYTES`.
    """
    fields, data = message.fields, message.data
    if message.type != "event" or data is None or fields.get("name") != SCREEN_FRAME or len(fields) != 2:
        return None
    body = fields.get("body")
    if not isinstance(body, dict) or body.get("fmt") not in (_COMPACT_FORMAT, _LEAN_FORMAT) \
            or type(body["fmt"]) is not int:
        return None
    extra = b""
    if len(body) > 1:
        try:
            extra = json.dumps({k: v for k, v in body.items() if k != "fmt"}, separators=(",", ":"),
                               ensure_ascii=False, allow_nan=False).encode()
        except (TypeError, ValueError, RecursionError) as err:
            raise ProtocolError(f"cannot encode {SCREEN_FRAME}: {err}") from err
        if len(extra) > _MAX_EXTRA:
            return None  # a body this large (thousands of hidden areas) goes in the ordinary envelope
    if body["fmt"] == _LEAN_FORMAT:
        prefix = _FRAME_MAGIC + bytes((_LEAN_VERSION,)) + varint(len(extra))
    else:
        prefix = _FRAME_PREFIX.pack(_FRAME_MAGIC, PROTOCOL_VERSION, len(extra))
    size = len(prefix) + len(extra) + len(data)
    if size > MAX_MESSAGE_BYTES:
        raise MessageTooLarge(f"{SCREEN_FRAME} of {size} bytes over {MAX_MESSAGE_BYTES}")
    return b"".join((prefix, extra, data))


def varint(value: int) -> bytes:
    """*value* (a whole number from 0) as an unsigned LEB128 varint: 7 bits a byte, low group first.

    Frame format 3 (:mod:`wire.frame_format`) writes its fields with it, and envelope version 2 its extra length.
    """
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _lean_extra_length(frame: bytes) -> tuple[int, int]:
    """The extra length of a version-2 compact frame and where its extra JSON starts; raises ProtocolError."""
    value = shift = 0
    for position in range(3, min(6, len(frame))):
        value |= (frame[position] & 0x7F) << shift
        if not frame[position] & 0x80:
            if value > _MAX_EXTRA:
                break
            return value, position + 1
        shift += 7
    raise ProtocolError("compact screen frame: its extra length is cut short or out of range")


def _decode_compact_frame(frame: bytes) -> Message:
    """The ``screen.frame`` event a compact frame (``b"WF"``) holds.

    Raises :class:`UnsupportedVersion` and :class:`ProtocolError` (``bad_message``) when the
    prefix is cut short, the extra JSON is out of range, not an object, names ``fmt`` or
    is nested, or the payload is shorter than a format-2 header.
    """
    if len(frame) < 4:
        raise ProtocolError("compact screen frame shorter than its prefix")
    version = frame[2]
    if version == _LEAN_VERSION:
        extra_length, start = _lean_extra_length(frame)
        fmt, shortest = _LEAN_FORMAT, _FORMAT_3_HEAD
    elif version == PROTOCOL_VERSION:
        if len(frame) < _FRAME_PREFIX.size:
            raise ProtocolError("compact screen frame shorter than its prefix")
        _magic, _version, extra_length = _FRAME_PREFIX.unpack_from(frame)
        start, fmt, shortest = _FRAME_PREFIX.size, _COMPACT_FORMAT, _FORMAT_2_HEAD
    else:
        raise UnsupportedVersion(f"compact screen frame version {version}; this side reads 1 and {_LEAN_VERSION}")
    end = start + extra_length
    if end > len(frame):
        raise ProtocolError("compact screen frame: its extra fields' length runs past the frame")
    body: dict[str, Any] = {"fmt": fmt}
    if extra_length:
        text = frame[start:end]
        try:
            extra = json.loads(text.decode("utf-8"), parse_constant=_not_json, parse_float=_finite)
        except (UnicodeDecodeError, ValueError, RecursionError) as err:
            raise ProtocolError(f"compact screen frame: its extra fields are not a JSON object: {err}") from err
        if not isinstance(extra, dict) or "fmt" in extra:
            raise ProtocolError("compact screen frame: its extra fields must be a JSON object without 'fmt'")
        if nested_deeper_than(extra, MAX_DEPTH - 2):
            raise ProtocolError(f"compact screen frame: its extra fields are nested deeper than {MAX_DEPTH - 2}")
        if b"\\u" in text:
            _check_unicode(extra)
        body.update(extra)
    data = frame[end:]
    if len(data) < shortest:
        raise ProtocolError(f"compact screen frame of {len(data)} payload bytes, shorter than a format-{fmt} header")
    return Message("event", {"name": SCREEN_FRAME, "body": body}, data)


def decode(frame: str | bytes) -> Message:
    """Decode and validate one websocket frame.

    Raises :class:`MessageTooLarge` (``too_large``), :class:`UnsupportedVersion`
    (``unsupported_version``, also for a version that is not the integer 1),
    :class:`TooDeep` (``too_deep``, with the envelope of the message when it could
    be read) or :class:`ProtocolError` (``bad_message``: also for NaN, infinities and
    strings that are not Unicode, which JSON cannot carry on); the caller replies
    with the error and keeps the connection.  A compact ``screen.frame`` (``b"WF"``) decodes to
    the same message as its ordinary form; see :func:`_decode_compact_frame` for its errors.
    """
    if len(frame) > MAX_MESSAGE_BYTES:
        raise MessageTooLarge(f"frame of {len(frame)} bytes over {MAX_MESSAGE_BYTES}")
    data: bytes | None = None
    if isinstance(frame, bytes) and frame[:2] == _FRAME_MAGIC:
        return _decode_compact_frame(frame)
    if isinstance(frame, bytes):
        if len(frame) < _PREFIX.size:
            raise ProtocolError("binary frame shorter than its prefix")
        magic, version, header_length = _PREFIX.unpack_from(frame)
        if magic != _MAGIC:
            raise ProtocolError("binary frame without the WB prefix")
        if version != PROTOCOL_VERSION:
            raise UnsupportedVersion(f"protocol version {version}; this side speaks {PROTOCOL_VERSION}")
        end = _PREFIX.size + header_length
        if header_length > MAX_HEADER_BYTES or end > len(frame):
            raise ProtocolError("binary frame header length out of range")
        header_bytes = frame[_PREFIX.size : end]
        data = frame[end:]
        try:
            header_text = header_bytes.decode("utf-8")
        except UnicodeDecodeError as err:
            raise ProtocolError("binary frame header is not UTF-8") from err
    elif isinstance(frame, str):
        header_text = frame
    else:
        raise ProtocolError(f"frame of type {type(frame).__name__}")
    try:
        body = json.loads(header_text, parse_constant=_not_json, parse_float=_finite)
    except RecursionError as err:
        raise TooDeep(f"a message is nested at most {MAX_DEPTH} levels deep",
                      envelope=_leading_envelope(header_text)) from err
    except ValueError as err:
        raise ProtocolError(f"not JSON: {err}") from err
    if not isinstance(body, dict):
        raise ProtocolError("a message is a JSON object")
    version = body.pop("v", None)
    if type(version) is not int or version != PROTOCOL_VERSION:
        raise UnsupportedVersion(f"protocol version {version!r}; this side speaks {PROTOCOL_VERSION}")
    kind = body.pop("type", None)
    if not isinstance(kind, str) or kind not in _SCHEMA:
        raise ProtocolError(f"unknown message type {kind!r}")
    for name, (types, required) in _SCHEMA[kind].items():
        if name not in body:
            if required:
                raise ProtocolError(f"{kind} without {name!r}")
            continue
        value = body[name]
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            raise ProtocolError(f"{kind}.{name} has type {type(value).__name__}")
    for name in ("id", "method", "name", "role", "session_id"):
        value = body.get(name)
        if isinstance(value, str) and len(value) > (MAX_ID_LENGTH if name == "id" else MAX_NAME_LENGTH):
            raise ProtocolError(f"{kind}.{name} too long")
    if nested_deeper_than(body, MAX_DEPTH, header_text):
        envelope = {"type": kind, **{k: body[k] for k in _ENVELOPE_FIELDS[1:] if isinstance(body.get(k), str)}}
        raise TooDeep(f"a message is nested at most {MAX_DEPTH} levels deep", envelope=envelope)
    if "\\u" in header_text:  # after the depth check: a shallow body is safe to re-encode
        _check_unicode(body)
    return Message(kind, body, data)


def nested_deeper_than(value: Any, limit: int, text: str | None = None) -> bool:
    """True when *value* has more than *limit* levels of lists and objects (a scalar has none).

    Walks without recursion, so any depth is safe to ask about.  *text*, the JSON
    *value* was read from, lets a value with few brackets skip the walk.
    """
    if text is not None and text.count("[") + text.count("{") <= limit:
        return False
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def _leading_envelope(text: str) -> dict[str, Any] | None:
    """The envelope fields that open *text*, before any nested value; None when it is not a request or answer.

    Used only for a frame too deep for :func:`json.loads`: what precedes the first
    nested value is certainly top-level, so an id read there is the message's own.
    """
    if not text.startswith("{"):
        return None
    fields: dict[str, Any] = {}
    position = 1
    while (match := _LEADING_FIELD.match(text, position)) is not None:
        try:
            fields[match.group(1)] = json.loads(match.group(2))
        except ValueError:
            break
        position = match.end()
    if fields.get("v") != PROTOCOL_VERSION or fields.get("type") not in _SCHEMA:
        return None
    envelope = {k: fields[k] for k in _ENVELOPE_FIELDS if isinstance(fields.get(k), str)}
    if len(envelope.get("id", "")) > MAX_ID_LENGTH or len(envelope.get("method", "")) > MAX_NAME_LENGTH:
        envelope.pop("id", None)
    return envelope


def _not_json(name: str) -> Any:
    # Python's json reads NaN and Infinity, which JSON has not: a message holding one could be
    # decoded but never encoded again (the relay and the agent pass messages on).
    raise ValueError(f"{name} is not a JSON value")


def _check_unicode(body: dict[str, Any]) -> None:
    # A \uD800-style escape alone is valid JSON but no Unicode text: such a string could be
    # decoded, but neither journaled (UTF-8) nor sent on (a text frame is UTF-8).
    try:
        json.dumps(body, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as err:
        raise ProtocolError("a string in the message is not valid Unicode (a lone surrogate escape)") from err
    except RecursionError as err:
        raise ProtocolError("a message nested too deep to be read") from err


def _finite(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):  # 1e400 reads as an infinity
        raise ValueError(f"number {text[:40]} is out of range")
    return value


# Constructors: one per message type the code sends often.


def request(request_id: str, method: str, params: dict[str, Any], data: bytes | None = None,
            preview: bool = False) -> Message:
    """A ``request``; with *preview* the agent plans the call instead of changing anything (a dry run)."""
    fields: dict[str, Any] = {"id": request_id, "method": method, "params": params}
    if preview:
        fields["preview"] = True
    return Message("request", fields, data)


def is_preview(message: Message) -> bool:
    """Whether a decoded ``request`` asks for a dry run (absent means no)."""
    return message.get("preview") is True


def response(request_id: str, result: Any, data: bytes | None = None) -> Message:
    return Message("response", {"id": request_id, "result": result}, data)


def error(request_id: str | None, body: dict[str, Any]) -> Message:
    """Build an ``error`` message from a :meth:`WorkbenchError.to_wire` body."""
    return Message("error", {"id": request_id, **body})


def event(name: str, body: dict[str, Any], data: bytes | None = None) -> Message:
    return Message("event", {"name": name, "body": body}, data)


def bye(reason: str) -> Message:
    return Message("bye", {"reason": reason})
