"""The streamer's credits across a viewer's join: at most two frames in flight for each viewer.

A real :class:`~agent.screen.streamer.Streamer` on the generated screen (``--synthetic-screen``'s,
20 changes a second, no X server).  Frames sent before a join stay in flight; those the relay
passed on before the join (``relay.viewers``'s ``last_frame_seq``) count as acked by the joiner,
the others reach it and wait for its ack.  The joiner's key frame takes the next free credit.
"""

from __future__ import annotations

import queue
import time
from collections.abc import Iterator
from typing import Any

import pytest

from agent.screen import HiddenRegions
from agent.screen._synthetic import synthetic_display
from agent.screen.streamer import Streamer
from wire.frame_format import index_fields

#: How long a streamer held back by its credits is watched for a frame it must not send.
HELD = 0.5


class Frames:
    """The frames a streamer emits: (seq, key, when), in order."""

    def __init__(self) -> None:
        self.queue: queue.Queue[tuple[int, bool, float]] = queue.Queue()

    def emit(self, name: str, body: dict[str, Any], data: bytes | None) -> None:
        if name == "screen.frame":
            index = index_fields(body, data or b"")
            self.queue.put((int(index["seq"]), bool(index["key"]), time.monotonic()))

    def next(self) -> tuple[int, bool, float]:
        return self.queue.get(timeout=10)

    def none_while_held(self) -> bool:
        try:
            self.queue.get(timeout=HELD)
        except queue.Empty:
            return True
        return False


@pytest.fixture
def streamer_frames() -> Iterator[tuple[Streamer, Frames]]:
    frames = Frames()
    streamer = Streamer(HiddenRegions(), frames.emit, synthetic_display(20))
    streamer.configure(None, 20)
    streamer.start()
    try:
        yield streamer, frames
    finally:
        streamer.stop()


def test_frames_passed_on_before_a_join_count_as_acked_and_the_others_wait_for_the_joiner(
        streamer_frames: tuple[Streamer, Frames]) -> None:
    streamer, frames = streamer_frames
    streamer.set_viewers(1, ["recorder"])
    first, _, _ = frames.next()
    second, _, _ = frames.next()
    assert frames.none_while_held(), "a third frame while two are unacked"
    # The relay had passed on `first` (to the recorder) when the view joined; `second` reaches the view.
    streamer.set_viewers(1, ["view"], last_frame_seq=first)
    key_seq, key, _ = frames.next()  # at once: `first` freed a credit, no ack needed
    assert key and key_seq > second
    assert frames.none_while_held(), "the view would hold three frames: second, the key frame and this"
    acked_at = time.monotonic()
    streamer.ack(second, "view")
    after, _, sent_at = frames.next()
    assert after > key_seq and sent_at >= acked_at


def test_without_last_frame_seq_every_frame_sent_before_the_join_counts_as_acked(
        streamer_frames: tuple[Streamer, Frames]) -> None:
    streamer, frames = streamer_frames
    streamer.set_viewers(1, ["recorder"])
    frames.next()
    second, _, _ = frames.next()
    streamer.set_viewers(1, ["view"])  # an older relay: the join frees both credits
    key_seq, key, _ = frames.next()
    after, _, _ = frames.next()
    assert key and second < key_seq < after


def test_a_stream_opened_again_goes_on_from_the_last_seq(streamer_frames: tuple[Streamer, Frames]) -> None:
    streamer, frames = streamer_frames
    streamer.set_viewers(1, ["view"])
    seq, _, _ = frames.next()
    streamer.ack(seq, "view")
    streamer.set_viewers(0, [])  # nobody watches: the stream closes
    streamer.set_viewers(1, ["view2"])
    again, key, _ = frames.next()
    while not key:  # a frame of the first stream may have been on its way
        again, key, _ = frames.next()
    assert again > seq, "acks name a frame and every one before it: seqs never go back"
