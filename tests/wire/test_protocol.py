"""The wire format, without a loop or a socket."""

from __future__ import annotations

import json

import pytest

from wire import protocol
from wire.errors import (
    MessageTooLarge,
    NotFound,
    ProtocolError,
    TooDeep,
    UnsupportedVersion,
    WorkbenchError,
    error_from_wire,
)


def test_text_round_trip() -> None:
    message = protocol.request("r1", "files.read", {"path": "/tmp/é"})
    frame = protocol.encode(message)
    assert isinstance(frame, str)
    assert protocol.decode(frame) == message


def test_binary_round_trip_keeps_payload() -> None:
    payload = bytes(range(256)) * 10
    frame = protocol.encode(protocol.response("r2", {"size": 2560}, payload))
    assert isinstance(frame, bytes) and frame.startswith(b"WB")
    decoded = protocol.decode(frame)
    assert decoded.data == payload and decoded["result"] == {"size": 2560}


@pytest.mark.parametrize("frame, fragment", [
    ("not json", "not JSON"),
    ("[1, 2]", "JSON object"),
    (json.dumps({"v": 1, "type": "launch_missiles"}), "unknown message type"),
    (json.dumps({"v": 1, "type": "request", "id": "x", "params": {}}), "without 'method'"),
    (json.dumps({"v": 1, "type": "request", "id": 5, "method": "m", "params": {}}), "request.id"),
    (json.dumps({"v": 1, "type": "request", "id": "x", "method": "m", "params": []}), "request.params"),
    (json.dumps({"v": 1, "type": "request", "id": "x" * 65, "method": "m", "params": {}}), "too long"),
    (b"WB", "shorter than its prefix"),
    (b"XX\x01\x00\x00\x00\x02{}", "without the WB prefix"),
    (b"WB\x01\x00\x00\xff\xff{}", "header length"),
    (b"WB\x01\x00\x00\x00\x02\xff\xfe", "not UTF-8"),
])
def test_malformed_frames_are_refused_with_bad_message(frame: str | bytes, fragment: str) -> None:
    with pytest.raises(ProtocolError) as caught:
        protocol.decode(frame)
    assert caught.value.code == "bad_message"
    assert fragment in str(caught.value)


def test_wrong_version_has_its_own_code() -> None:
    with pytest.raises(UnsupportedVersion) as caught:
        protocol.decode(json.dumps({"v": 99, "type": "bye", "reason": "x"}))
    assert caught.value.code == "unsupported_version"


def test_oversized_frames_are_refused_before_parsing() -> None:
    with pytest.raises(MessageTooLarge) as caught:
        protocol.decode(b"WB" + b"\x00" * protocol.MAX_MESSAGE_BYTES)
    assert caught.value.code == "too_large"
    with pytest.raises(MessageTooLarge):
        protocol.encode(protocol.response("r", None, b"\x00" * protocol.MAX_MESSAGE_BYTES))


def test_deeply_nested_json_is_a_clean_error() -> None:
    with pytest.raises(ProtocolError):
        protocol.decode('{"v":1,"type":"event","name":"x","body":' + "[" * 100_000 + "]" * 100_000 + "}")


def test_unencodable_values_are_a_protocol_error() -> None:
    with pytest.raises(ProtocolError):
        protocol.encode(protocol.request("r", "m", {"x": object()}))
    with pytest.raises(ProtocolError):
        protocol.encode(protocol.request("r", "m", {"x": float("nan")}))


def test_errors_cross_the_wire_as_the_same_class() -> None:
    err = error_from_wire(NotFound("no such file", path="/x").to_wire())
    assert isinstance(err, NotFound) and err.code == "not_found" and err.details == {"path": "/x"}
    unknown = error_from_wire({"code": "brand_new", "message": "from a newer agent"})
    assert type(unknown) is WorkbenchError and unknown.code == "brand_new"


def nested(levels: int) -> dict[str, object]:
    value: dict[str, object] = {}
    for _ in range(levels):
        value = {"a": value}
    return value


@pytest.mark.parametrize("levels", [63, 500, 900])
def test_a_request_nested_too_deep_is_refused_with_its_envelope(levels: int) -> None:
    frame = protocol.encode(protocol.request("r1", "files.list", nested(levels)))
    with pytest.raises(TooDeep) as refused:
        protocol.decode(frame)
    assert refused.value.code == "too_deep"
    assert refused.value.envelope == {"type": "request", "id": "r1", "method": "files.list"}
    assert protocol.decode(protocol.encode(protocol.request("r2", "files.list", nested(60)))).type == "request"


def test_a_frame_too_deep_for_json_still_names_its_request_when_the_envelope_leads() -> None:
    deep = "[" * 5000 + "]" * 5000
    with pytest.raises(TooDeep) as refused:
        protocol.decode('{"v":1,"type":"request","id":"r9","method":"m","params":{"x":' + deep + "}}")
    assert refused.value.envelope == {"type": "request", "id": "r9", "method": "m"}
    with pytest.raises(TooDeep) as anonymous:  # params first: nothing after them is certainly top-level
        protocol.decode('{"v":1,"params":' + deep + ',"type":"request","id":"r9"}')
    assert anonymous.value.envelope is None
    with pytest.raises(TooDeep):
        protocol.encode(protocol.request("r3", "m", {"x": nested(5000)}))
