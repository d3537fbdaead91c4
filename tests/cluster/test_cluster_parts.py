"""The pure pieces of the cluster: frames cut in parts for NATS and put together, the relays' ring."""

from __future__ import annotations

import pytest
from nats.aio.msg import Msg

from relay.cluster.relay import Parts
from wire.relay_urls import RelayRing, relay_urls


def message(data: bytes, **headers: str) -> Msg:
    return Msg(_client=None, subject="wb.relay.x.in", data=data, headers=headers)  # type: ignore[arg-type]


def test_a_frame_in_parts_comes_out_whole_and_text_stays_text() -> None:
    parts = Parts()
    assert parts.frame(message(b"ab", r="A", c="c1", m="1")) is None
    assert parts.frame(message(b"xy", r="A", c="c2", t="1")) == "xy"  # another connection's frame, whole
    assert parts.frame(message(b"cd", r="A", c="c1", m="1")) is None
    assert parts.frame(message(b"e", r="A", c="c1")) == b"abcde"
    assert parts.frame(message(b"", r="A", c="c1")) == b""  # nothing left over from before


def test_relays_are_tried_in_turn() -> None:
    assert relay_urls(" ws://a:1 ,, ws://b:2") == ["ws://a:1", "ws://b:2"]
    assert relay_urls(["ws://a:1"]) == ["ws://a:1"]
    with pytest.raises(ValueError):
        relay_urls(" , ")
    ring = RelayRing("ws://a:1,ws://b:2")
    assert ring.current == "ws://a:1"
    assert [ring.next(), ring.next()] == ["ws://b:2", "ws://a:1"]
