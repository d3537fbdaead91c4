"""The pure pieces of the cluster: envelopes, frames cut in parts for NATS and put together, the relays' ring."""

from __future__ import annotations

import pytest
from nats.aio.msg import Msg

from relay.cluster.envelope import Envelope, seal, unseal
from relay.cluster.relay import Parts
from wire.errors import ProtocolError
from wire.relay_urls import RelayRing, relay_urls


def message(data: bytes, relay: str, conn: str, **fields: str) -> Msg:
    return Msg(_client=None, subject="wb.relay.x.in",  # type: ignore[arg-type]
               data=seal("frame", conn, relay, data, fields))


def test_a_frame_in_parts_comes_out_whole_and_text_stays_text() -> None:
    parts = Parts()
    assert parts.frame(message(b"ab", "A", "c1", m="1")) is None
    xy = parts.frame(message(b"xy", "A", "c2", t="1"))  # another connection's frame, whole
    assert xy is not None and xy[1] == "xy" and xy[0].conn == "c2"
    assert parts.frame(message(b"cd", "A", "c1", m="1")) is None
    assert parts.frame(message(b"e", "B", "c1")) == (Envelope("frame", "c1", "B", {}), b"e")  # another relay's
    assert parts.frame(message(b"e\n", "A", "c1")) == (Envelope("frame", "c1", "A", {}), b"abcde\n")
    assert parts.frame(message(b"", "A", "c1")) == (Envelope("frame", "c1", "A", {}), b"")  # nothing left over
    assert parts.frame(Msg(_client=None, subject="wb.relay.x.in", data=b"no envelope")) is None  # type: ignore[arg-type]


def test_an_envelope_carries_its_fields_and_the_bytes_unchanged() -> None:
    frame = bytes(range(256)) * 3  # newlines and 0x1F included
    envelope, data = unseal(seal("deliver", "c7", "r1", frame, {"s": "abc", "d": "agent", "p": "[::1]:5"}))
    assert envelope == Envelope("deliver", "c7", "r1", {"s": "abc", "d": "agent", "p": "[::1]:5"})
    assert data == frame and envelope.get("t") == ""
    assert unseal(seal("closed", "c7", "r1", b"", {})) == (Envelope("closed", "c7", "r1", {}), b"")
    with pytest.raises(ProtocolError):
        unseal(b"closed\x1fc7")


def test_relays_are_tried_in_turn() -> None:
    assert relay_urls(" ws://a:1 ,, ws://b:2") == ["ws://a:1", "ws://b:2"]
    assert relay_urls(["ws://a:1"]) == ["ws://a:1"]
    with pytest.raises(ValueError):
        relay_urls(" , ")
    ring = RelayRing("ws://a:1,ws://b:2")
    assert ring.current == "ws://a:1"
    assert [ring.next(), ring.next()] == ["ws://b:2", "ws://a:1"]
