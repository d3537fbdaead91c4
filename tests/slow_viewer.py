"""A slow screen viewer on a real relay, for the "at most two frames in flight" rule (end to end).

The viewer joins a session whose agent is already streaming (to the relay's recorder, or to
another view), and acks each frame late on purpose.  It counts from the very first frame it
gets, whatever it is: frames the agent sent just before the join and that still reached this
viewer (deltas it cannot draw before its key frame) count like any other, since the viewer holds
them until it acks them.  At no moment may more than two of its frames be unacked, and the frame
a late ack lets through is a picture taken after that ack (the newest wins: nothing older was
queued on the way).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

from websockets.sync.client import ClientConnection
from websockets.sync.client import connect as ws_connect

from wire import protocol
from wire.frame_format import FORMAT, FORMAT_3, FrameNeedsKey, StreamState, index_fields, unpack, unpack3

#: How long the slow viewer keeps a frame unacked: several of the agent's frame intervals, well
#: within the agent's 2 s ack timeout (after which it counts a frame lost and may send another).
HOLD = 0.6
#: captured_at is rounded to 0.1 s by the agent.
ROUNDING = 0.1
MAX_IN_FLIGHT = 2


def captured_at(message: protocol.Message, stream: StreamState) -> float | None:
    """``captured_at`` of a ``screen.frame`` of any format; None for a format-3 delta before any key frame."""
    body = message["body"]
    try:
        if body.get("fmt") == FORMAT_3:
            return float(unpack3(body, message.data or b"", stream)[0]["captured_at"])
    except FrameNeedsKey:
        return None
    if body.get("fmt") == FORMAT:
        return float(unpack(body, message.data or b"")[0]["captured_at"])
    return float(body["captured_at"])


@contextlib.contextmanager
def join(url: str, session_id: str, token: str) -> Iterator[ClientConnection]:
    """A viewer's websocket on the relay at *url*, welcomed, asking for 20 fps with copies; closed after."""
    with ws_connect(url, max_size=None, compression=None, open_timeout=30) as ws:
        ws.send(protocol.encode(protocol.Message("hello", {"role": "viewer", "session_id": session_id,
                                                           "token": token})))
        assert protocol.decode(ws.recv(timeout=30)).type == "welcome"
        ws.send(protocol.encode(protocol.event("screen.configure", {"max_fps": 20, "copy": True})))
        yield ws


def watch_slowly(ws: ClientConnection, rounds_wanted: int = 4, max_acks: int = 40) -> list[int]:
    """Watch on *ws* (just joined), acking every frame :data:`HOLD` late, until the credits held the
    stream back *rounds_wanted* times; asserts the rule on every frame and returns the seqs seen."""
    stream = StreamState()
    unacked: list[tuple[int, float]] = []  # seq, when it arrived
    seqs: list[int] = []
    keys = 0
    acked_at = 0.0
    rounds = acks = 0
    while rounds < rounds_wanted and acks < max_acks:
        wait = unacked[0][1] + HOLD - time.monotonic() if unacked else 30.0
        try:
            message = protocol.decode(ws.recv(timeout=max(wait, 0.0)))
        except TimeoutError:
            assert unacked, "no frame within 30 s"
            rounds += len(unacked) == MAX_IN_FLIGHT  # held back by the credits while waiting, as it must be
            acked_at = time.time() if len(unacked) == MAX_IN_FLIGHT else 0.0
            ws.send(protocol.encode(protocol.event("screen.ack", {"seq": unacked.pop(0)[0]})))
            acks += 1
            continue
        if message.type != "event" or message["name"] != "screen.frame":
            continue
        index = index_fields(message["body"], message.data or b"")
        seq = int(index["seq"])
        keys += bool(index.get("key"))
        assert not seqs or seq > seqs[-1]
        seqs.append(seq)
        unacked.append((seq, time.monotonic()))
        assert len(unacked) <= MAX_IN_FLIGHT, f"{len(unacked)} frames in flight: {unacked} of {seqs}"
        taken_at = captured_at(message, stream)
        assert taken_at is not None or not keys, "a delta this viewer cannot read after its key frame"
        if acked_at and taken_at is not None:
            # The frame a late ack let through is a picture taken after it, not one kept from before.
            assert taken_at >= acked_at - ROUNDING, (taken_at, acked_at)
        acked_at = 0.0
    assert rounds == rounds_wanted and keys >= 1 and len(seqs) > rounds_wanted, (rounds, keys, seqs)
    return seqs
