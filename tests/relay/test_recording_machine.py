"""The relay's recording rules (R5) in the state machine, without sockets: who is asked for what."""

from __future__ import annotations

import pytest

from relay.events import Closed, RecordScreen, SaveScreenshot, Tick
from relay.machine import LIVE_FPS
from tests.relay.test_machine import Harness, messages
from wire import protocol
from wire.frame_format import pack, pack3
from wire.recording import KEY_INTERVAL, RECORD_ONLY_FPS, RECORDER_ID


def recording_session() -> tuple[Harness, str]:
    relay = Harness(record=True)
    code = relay.waiting_agent("a")
    actions = relay.hello("t", "technician", code=code, name="Alice")
    (paired,) = [m for m in messages(actions, "a") if m.type == "paired"]
    assert paired["recording"] == "all"
    to_agent = [m for m in messages(actions, "a") if m.type == "event"]
    # No view is open, yet the agent is asked to stream, at the low rate, for the recorder.
    assert [m["name"] for m in to_agent] == ["relay.viewers", "screen.configure"]
    assert to_agent[0]["body"] == {"count": 0, "viewers": [], "recorder": RECORDER_ID}
    assert to_agent[1]["body"]["max_fps"] == RECORD_ONLY_FPS and to_agent[1]["body"]["copy"] is True
    return relay, str(paired["session_id"])


def frame(seq: int, key: bool = False, fmt: int = 1) -> protocol.Message:
    """A frame as an agent of frame format *fmt* sends it (formats 2 and 3: seq and key in the binary header)."""
    rects = [{"x": 0, "y": 0, "w": 4, "h": 4, "codec": "png", "len": 3}]
    if fmt == 2:
        return protocol.event("screen.frame", {"fmt": 2}, pack(seq, key, 4, 4, 1.0, rects, b"png"))
    if fmt == 3:  # seq and key open the header; size and time only in key frames
        return protocol.event("screen.frame", {"fmt": 3}, pack3(seq, key, 4, 4, 1.0 + seq, 1.0, rects, b"png"))
    body = {"seq": seq, "key": key, "width": 4, "height": 4, "captured_at": 1.0, "rects": rects, "hidden": []}
    return protocol.event("screen.frame", body, b"png")


@pytest.mark.parametrize("fmt", [1, 2, 3])
def test_frames_are_recorded_and_acked_by_the_recorder_with_no_view_open(fmt: int) -> None:
    relay, session_id = recording_session()
    sent = frame(1, key=True, fmt=fmt)
    actions = relay.send("a", sent)
    (recorded,) = [a for a in actions if isinstance(a, RecordScreen)]
    assert recorded.session_id == session_id and recorded.name == "screen.frame" and recorded.data == sent.data
    (ack,) = messages(actions, "a")  # no view open: the recorder paces the stream
    assert ack["name"] == "screen.ack" and ack["body"] == {"seq": 1, "viewer_id": RECORDER_ID}


def test_a_view_opening_asks_for_full_rate_and_closing_for_the_low_rate() -> None:
    relay, session_id = recording_session()
    token = relay.send("t", protocol.request("r1", "relay.viewer_token", {}))
    (answer,) = messages(token, "t")
    opened = relay.hello("v", "viewer", session_id=session_id, token=answer["result"]["token"])
    names = [(m["name"], m["body"].get("max_fps")) for m in messages(opened, "a")]
    assert names == [("relay.viewers", None), ("screen.configure", LIVE_FPS)]
    assert messages(opened, "a")[0]["body"]["count"] == 1
    closed = relay.feed(Closed("v"))
    names = [(m["name"], m["body"].get("max_fps")) for m in messages(closed, "a")]
    assert names == [("relay.viewers", None), ("screen.configure", RECORD_ONLY_FPS)]


@pytest.mark.parametrize("fmt", [1, 2, 3])
def test_a_key_frame_is_asked_for_once_changes_outlast_the_key_interval(fmt: int) -> None:
    relay, _ = recording_session()
    relay.send("a", frame(1, key=True, fmt=fmt))
    relay.send("a", frame(2, fmt=fmt))
    relay.now += KEY_INTERVAL / 2
    assert not [m for m in messages(relay.feed(Tick()), "a") if m["name"] == "screen.key_request"]
    relay.now += KEY_INTERVAL
    asked = [m for m in messages(relay.feed(Tick()), "a") if m["name"] == "screen.key_request"]
    assert len(asked) == 1
    relay.now += 1
    assert not [m for m in messages(relay.feed(Tick()), "a") if m["name"] == "screen.key_request"]
    relay.send("a", frame(3, key=True, fmt=fmt))
    relay.now += KEY_INTERVAL * 3  # no change since the key frame: nothing to ask
    assert not [m for m in messages(relay.feed(Tick()), "a") if m["name"] == "screen.key_request"]


def test_the_technicians_screenshots_are_kept() -> None:
    relay, _ = recording_session()
    relay.send("t", protocol.request("s1", "screen.screenshot", {}))
    answer = protocol.Message("response", {"id": "s1", "result": {"width": 4, "height": 4}}, b"PNG")
    (saved,) = [a for a in relay.send("a", answer) if isinstance(a, SaveScreenshot)]
    assert saved.request_id == "s1" and saved.data == b"PNG" and saved.description["width"] == 4


def test_record_none_asks_the_agent_for_nothing() -> None:
    relay = Harness(record=False)
    code = relay.waiting_agent("a")
    actions = relay.hello("t", "technician", code=code, name="Alice")
    assert [m.type for m in messages(actions, "a")] == ["paired"]
    assert not [a for a in relay.send("a", frame(1, key=True)) if isinstance(a, RecordScreen)]


def test_a_compact_format_2_frame_is_recorded_as_it_came_and_acked_by_its_seq() -> None:
    """seq and key of a format-2 frame are in its binary header, not in a JSON body."""
    relay, _ = recording_session()
    payload = pack(41, True, 4, 4, 1.0, [{"x": 0, "y": 0, "w": 4, "h": 4, "codec": "fill", "rgb": [1, 2, 3]}], b"")
    message = protocol.event("screen.frame", {"fmt": 2}, payload)
    assert protocol.encode(message)[:2] == b"WF"
    actions = relay.send("a", message)
    (recorded,) = [a for a in actions if isinstance(a, RecordScreen)]
    assert recorded.body == {"fmt": 2} and recorded.data == payload
    (ack,) = messages(actions, "a")
    assert ack["body"] == {"seq": 41, "viewer_id": RECORDER_ID}



@pytest.mark.parametrize("fmt", [1, 2, 3])
def test_a_joining_view_is_told_which_frames_were_passed_on_before_it(fmt: int) -> None:
    relay = Harness(record=True)
    code = relay.waiting_agent("a")
    actions = relay.hello("t", "technician", code=code, name="Alice")
    (paired,) = [m for m in messages(actions, "a") if m.type == "paired"]
    session_id = str(paired["session_id"])
    relay.send("a", frame(1, key=True, fmt=fmt))
    relay.send("a", frame(2, fmt=fmt))
    (answer,) = messages(relay.send("t", protocol.request("r1", "relay.viewer_token", {})), "t")
    token = answer["result"]["token"]
    opened = relay.hello("v", "viewer", session_id=session_id, token=token)
    (viewers,) = [m for m in messages(opened, "a") if m["name"] == "relay.viewers"]
    # Frames after 2 reach the view, which acks them: the agent counts 1 and 2 as acked by it.
    assert viewers["body"]["last_frame_seq"] == 2 and viewers["body"]["count"] == 1
    assert not [m for m in messages(relay.send("a", frame(3, fmt=fmt)), "a") if m["name"] == "screen.ack"]
    # A new connection of the agent starts afresh: frames sent on the old one reach nobody now.
    relay.feed(Closed("a"))
    resumed = relay.hello("a2", "agent", resume={"session_id": session_id, "token": paired["resume_token"]})
    (viewers,) = [m for m in messages(resumed, "a2") if m.type == "event" and m["name"] == "relay.viewers"]
    assert "last_frame_seq" not in viewers["body"]
    relay.send("a2", frame(4, fmt=fmt))
    relay.feed(Closed("v"))
    (viewers,) = [m for m in messages(relay.hello("v2", "viewer", session_id=session_id, token=token), "a2")
                  if m["name"] == "relay.viewers"]
    assert viewers["body"]["last_frame_seq"] == 4
