"""Screen frames across relays: a slow viewer on relay B of an agent on relay A.

The agent streams its synthetic screen (``--synthetic-screen``: a generated picture changing 20
times a second, no X server); the viewer's frames cross NATS on the session's subjects.  The
viewer acks late on purpose: at no moment may more than two of its frames be unacked (the
agent's credits hold end to end), and the frame that comes after a late ack is a picture taken
after that ack (the newest wins: nothing older was queued on the way).
"""

from __future__ import annotations

import time
from pathlib import Path

from websockets.sync.client import connect as ws_connect

from tests.cluster.conftest import StartRelay
from wire import protocol
from wire.frame_format import FORMAT, FORMAT_3, StreamState, index_fields, unpack, unpack3
from workbench import connect
from workbench.lab import Proc, start_agent

#: How long the slow viewer keeps a frame unacked: several of the agent's frame intervals.
HOLD = 0.6
#: captured_at is rounded to 0.1 s by the agent.
ROUNDING = 0.1


def frame_head(message: protocol.Message, stream: StreamState) -> tuple[int, float]:
    """``seq`` and ``captured_at`` of a ``screen.frame`` event of any format (*stream*: format 3's state)."""
    body = message["body"]
    if body.get("fmt") == FORMAT_3:
        head, _ = unpack3(body, message.data or b"", stream)
        return int(head["seq"]), float(head["captured_at"])
    if body.get("fmt") == FORMAT:
        head, _ = unpack(body, message.data or b"")
        return int(head["seq"]), float(head["captured_at"])
    return int(body["seq"]), float(body["captured_at"])


def test_a_slow_viewer_on_another_relay_never_has_more_than_two_frames_in_flight_and_gets_the_newest(
        cluster: tuple[Path, StartRelay], procs: list[Proc], tmp_path: Path) -> None:
    _, start = cluster
    (_, url_a), (_, url_b) = start(), start()
    agent, code = start_agent(url_a, tmp_path / "agent", "--synthetic-screen", "20")
    procs.append(agent)
    s = connect(code, relay=url_a, name="Alice")
    token = str(s.call("relay.viewer_token").value["token"])
    with ws_connect(url_b, max_size=None, compression=None, open_timeout=30) as ws:
        ws.send(protocol.encode(protocol.Message("hello", {"role": "viewer", "session_id": s.session_id,
                                                           "token": token})))
        assert protocol.decode(ws.recv(timeout=30)).type == "welcome"
        ws.send(protocol.encode(protocol.event("screen.configure", {"max_fps": 20, "copy": True})))
        stream = StreamState()
        unacked: list[tuple[int, float]] = []  # seq, when it arrived
        seqs: list[int] = []
        acked_at = 0.0
        rounds = acks = 0
        while rounds < 4 and acks < 40:
            # The oldest frame is acked HOLD after it arrived: late for a viewer, well within the agent's
            # 2 s ack timeout (after which it counts a frame lost and may send another).
            wait = unacked[0][1] + HOLD - time.monotonic() if unacked else 30.0
            try:
                message = protocol.decode(ws.recv(timeout=max(wait, 0.0)))
            except TimeoutError:
                assert unacked, "no frame within 30 s"
                rounds += len(unacked) == 2  # held back by the credits while waiting, as it must be
                acked_at = time.time() if len(unacked) == 2 else 0.0
                ws.send(protocol.encode(protocol.event("screen.ack", {"seq": unacked.pop(0)[0]})))
                acks += 1
                continue
            if message.type != "event" or message["name"] != "screen.frame":
                continue
            index = index_fields(message["body"], message.data or b"")
            if not seqs and not index.get("key"):
                # Sent before this viewer joined (to the relay's recorder): acked at once, not counted. The
                # agent's credits start again at a viewer's key frame, so the rule holds from there on.
                ws.send(protocol.encode(protocol.event("screen.ack", {"seq": index.get("seq", 0)})))
                continue
            if not acks and unacked and index.get("key"):
                # The key frame sent for this viewer's join restarts the agent's credits; frames sent just
                # before it (to the relay's recorder) may still arrive: acked at once, not counted.
                ws.send(protocol.encode(protocol.event("screen.ack", {"seq": unacked[-1][0]})))
                unacked.clear()
            seq, captured_at = frame_head(message, stream)
            assert not seqs or seq > seqs[-1]
            seqs.append(seq)
            unacked.append((seq, time.monotonic()))
            assert len(unacked) <= 2, f"{len(unacked)} frames in flight"
            if acked_at:
                # The frame a late ack let through is a picture taken after it, not one kept from before.
                assert captured_at >= acked_at - ROUNDING, (captured_at, acked_at)
                acked_at = 0.0
    assert rounds == 4 and len(seqs) >= 5
    s.close()
    assert agent.wait(30) == 0
