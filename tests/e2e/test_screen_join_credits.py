"""A viewer joining a stream already under way, on one relay: the agent's credits hold across the join.

When a viewer joins, frames the agent sent just before (to the relay's recorder, or to a view
already open) may still reach it.  The agent keeps those frames in flight and counts them for
the joiner (the relay's ``relay.viewers`` says which frames it passed on before the join), so
the joiner never holds more than two unacked frames, counted from the very first it gets, and
its key frame takes the next free credit.  The agent streams its synthetic screen at 20 frames a
second (``--synthetic-screen``); a fast viewer, drawing each frame in 30 ms, keeps a frame in
flight most of the time, so the slow viewers join with frames on the way.
"""

from __future__ import annotations

import contextlib
import threading
import time
from pathlib import Path

from websockets.exceptions import ConnectionClosed

from tests.slow_viewer import join, watch_slowly
from wire import protocol
from wire.frame_format import index_fields
from workbench import connect
from workbench.lab import Proc, start_agent

#: Slow viewers joining one after the other while the fast one watches.
JOINS = 4
#: Frames the fast viewer gets alone before each join (the stream back at its pace).
FAST_FRAMES = 5
#: How long the fast viewer takes to draw a frame: most of the time a frame is in flight.
FAST_HOLD = 0.03


def test_viewers_joining_a_stream_under_way_never_hold_more_than_two_frames(
        relay: tuple[Proc, str, Path], procs: list[Proc], tmp_path: Path) -> None:
    _, url, _ = relay
    agent, code = start_agent(url, tmp_path / "agent", "--synthetic-screen", "20")
    procs.append(agent)
    s = connect(code, relay=url, name="Alice")
    token = str(s.call("relay.viewer_token").value["token"])
    # The first join: the agent was streaming for the recorder alone.
    with join(url, s.session_id, token) as ws:
        watch_slowly(ws, rounds_wanted=2)
    fast_frames: list[int] = []  # seqs the fast viewer got
    got_frames = threading.Condition()
    with join(url, s.session_id, token) as fast:

        def ack_at_once() -> None:
            with contextlib.suppress(ConnectionClosed):
                for raw in fast:
                    message = protocol.decode(raw)
                    if message.type == "event" and message["name"] == "screen.frame":
                        seq = index_fields(message["body"], message.data or b"").get("seq", 0)
                        time.sleep(FAST_HOLD)  # a viewer drawing: the frame stays in flight meanwhile
                        fast.send(protocol.encode(protocol.event("screen.ack", {"seq": seq})))
                        with got_frames:
                            fast_frames.append(seq)
                            got_frames.notify_all()

        acker = threading.Thread(target=ack_at_once, daemon=True)
        acker.start()
        for _ in range(JOINS):
            with got_frames:  # the stream runs at the fast viewer's pace again: frames are on the way
                wanted = len(fast_frames) + FAST_FRAMES
                assert got_frames.wait_for(lambda wanted=wanted: len(fast_frames) >= wanted, timeout=30)
            with join(url, s.session_id, token) as ws:
                watch_slowly(ws, rounds_wanted=2)
        fast.close()
        acker.join(30)
    s.close()
    assert agent.wait(30) == 0
