"""The relay's rules without sockets or an event loop: events in, the actions asserted."""

from __future__ import annotations

from typing import Any

import pytest

from relay.events import (
    Action,
    AppendJournal,
    Close,
    Closed,
    CloseRecords,
    Deliver,
    Event,
    FlushRecords,
    Hello,
    Instant,
    LogMessage,
    OpenRecords,
    Received,
    SaveMeta,
    Send,
    Tick,
    Trust,
    Undecodable,
    Undelivered,
)
from relay.limits import PairingLimiter
from relay.machine import AGENT_GOODBYE_TIMEOUT, REPLACED, VIEWER_TOKEN_LIFETIME, RelayMachine, _WaitingAgent
from relay.pairing import Technicians, hash_secret
from wire import protocol
from wire.chain import GENESIS, ChainFollower, record_hash
from wire.errors import ProtocolError, TooDeep

CONSENT = {"terms_sha256": "0" * 64, "how": "clicked accept"}


class Harness:
    """A machine and a clock the test moves by hand.

    Not recording unless told (``record=True``): these tests count the frames of the session's
    rules; the recorder's own messages are tested in tests/relay/test_recording_machine.py.
    """

    def __init__(self, technicians: Technicians | None = None, **options: Any) -> None:
        options.setdefault("record", False)
        self.machine = RelayMachine(technicians, **options)
        self.now = 1000.0

    @property
    def instant(self) -> Instant:
        return Instant(self.now, f"utc {self.now}")

    def feed(self, event: Event) -> list[Action]:
        return self.machine.handle(event, self.instant)

    def hello(self, conn: str, role: str, **fields: Any) -> list[Action]:
        return self.feed(Hello(conn, protocol.Message("hello", {"role": role, **fields})))

    def send(self, conn: str, message: protocol.Message) -> list[Action]:
        frame = protocol.encode(message)
        return self.feed(Received(conn, protocol.decode(frame), frame))

    def waiting_agent(self, conn: str) -> str:
        """Say hello as a new agent on *conn*; return the code it was handed."""
        (welcome,) = messages(self.hello(conn, "agent", consent=CONSENT, machine={"hostname": "pc-1"}), conn)
        assert welcome.type == "welcome" and welcome["reason"] == "new"
        return str(welcome["code"])

    def paired(self, agent: str = "a", technician: str = "t", name: str = "Alice") -> tuple[str, str, str]:
        """Pair an agent and a technician; return the session id and both resume tokens."""
        code = self.waiting_agent(agent)
        actions = self.hello(technician, "technician", code=code, name=name)
        (agent_paired,) = messages(actions, agent)
        (technician_paired,) = messages(actions, technician)
        return (str(agent_paired["session_id"]), str(agent_paired["resume_token"]),
                str(technician_paired["resume_token"]))


def messages(actions: list[Action], conn: str) -> list[protocol.Message]:
    """The messages the actions send (or deliver) to *conn*, decoded, in order."""
    return [protocol.decode(a.frame) for a in actions if isinstance(a, Send | Deliver) and a.conn == conn]


def refusal(actions: list[Action], conn: str) -> str:
    """The error code of a refused hello: an error then a close, nothing else."""
    assert len(actions) == 2 and actions[1] == Close(conn)
    (error,) = messages(actions, conn)
    assert error.type == "error" and error["id"] is None
    return str(error["code"])


def wrong_code(*codes: str) -> str:
    return next(c for c in ("000 000 000", "111 111 111", "222 222 222") if c not in codes)


def technician_hello(conn: str, peer: str, code: str) -> Hello:
    return Hello(conn, protocol.Message("hello", {"role": "technician", "code": code, "name": "Mallory"}), peer)


def journal_records(first: int, count: int, prev: str = GENESIS) -> list[dict[str, Any]]:
    records = []
    for seq in range(first, first + count):
        record: dict[str, Any] = {"seq": seq, "time": "t", "kind": "call", "prev": prev}
        record["hash"] = prev = record_hash(record)
        records.append(record)
    return records


# -- pairing ------------------------------------------------------------------


def test_an_agent_gets_a_code_and_a_technician_pairs_with_it() -> None:
    relay = Harness()
    code = relay.waiting_agent("a")
    assert len(code) == 11 and code.replace(" ", "").isdigit()

    actions = relay.hello("t", "technician", code=code.replace(" ", "-"), name="Alice")
    assert [type(a) for a in actions] == [Trust, Trust, OpenRecords, SaveMeta, Send, Send]
    assert actions[:2] == [Trust("a"), Trust("t")]  # both limits lifted before either may send more
    opened, saved = actions[2], actions[3]
    assert isinstance(opened, OpenRecords) and isinstance(saved, SaveMeta)
    session_id, meta = opened.session_id, saved.meta
    (to_agent,), (to_technician,) = messages(actions, "a"), messages(actions, "t")
    assert to_agent.type == to_technician.type == "paired"
    assert to_agent["session_id"] == to_technician["session_id"] == meta["session_id"] == session_id
    assert to_agent["technician"] == "Alice" and to_agent["machine"] == {"hostname": "pc-1"}
    assert to_agent["started_at"] == meta["started_at"] == relay.instant.utc
    assert to_agent["resume_token"] != to_technician["resume_token"]
    assert meta["agent_token_sha256"] == hash_secret(to_agent["resume_token"])
    assert meta["technician_token_sha256"] == hash_secret(to_technician["resume_token"])
    assert not any(key.endswith("_sha256") for key in to_agent.fields)

    request = protocol.request("r1", "session.ping", {})
    frame = protocol.encode(request)
    assert relay.send("t", request) == [
        LogMessage(session_id, "technician>", "request", {"id": "r1", "method": "session.ping", "params": {}},
                   len(frame)),
        Deliver("a", frame, session_id, "agent")]
    answer = protocol.encode(protocol.response("r1", {"pong": True}))
    assert relay.send("a", protocol.response("r1", {"pong": True}))[1] == Deliver("t", answer, session_id, "technician")


@pytest.mark.parametrize(("event", "code"), [
    (Hello("x", protocol.Message("request", {"id": "1", "method": "m", "params": {}})), "bad_message"),
    (Hello("x", protocol.Message("hello", {"role": "janitor"})), "bad_message"),
    (Hello("x", protocol.Message("hello", {"role": "agent"})), "bad_message"),  # no consent
    (Hello("x", protocol.Message("hello", {"role": "technician", "name": "Alice"})), "pairing_failed"),  # no code
    (Hello("x", protocol.Message("hello", {"role": "technician", "code": "123456789"})), "unauthorized"),  # no name
    (Undecodable("x", ProtocolError("not JSON")), "bad_message"),
])
def test_a_bad_hello_is_answered_and_closed(event: Event, code: str) -> None:
    assert refusal(Harness().feed(event), "x") == code


def test_a_wrong_code_is_refused_and_the_code_still_works() -> None:
    relay = Harness()
    code = relay.waiting_agent("a")
    assert refusal(relay.hello("t1", "technician", code=wrong_code(code), name="Mallory"), "t1") == "bad_code"
    assert refusal(relay.hello("t2", "technician", code="12345", name="Mallory"), "t2") == "bad_code"
    assert [m.type for m in messages(relay.hello("t3", "technician", code=code, name="Alice"), "t3")] == ["paired"]


def one_typo(code: str, n: int) -> str:
    """*code* with its n-th digit changed: a try against that code."""
    digits = code.replace(" ", "")
    return digits[:n] + str((int(digits[n]) + 1) % 10) + digits[n + 1:]


def test_wrong_codes_burn_no_other_customers_code() -> None:
    relay = Harness()
    first, second = relay.waiting_agent("a1"), relay.waiting_agent("a2")
    guesses = (f"{n:09d}" for n in range(10**9) if f"{n:09d}" not in (first, second))
    for n, guess in zip(range(9), guesses, strict=False):  # under the limit per address (10)
        actions = relay.hello(f"m{n}", "technician", code=guess, name="Mallory")
        assert refusal(actions, f"m{n}") == "bad_code"  # and nothing sent to the waiting agents
    for agent, code in (("a1", first), ("a2", second)):
        assert [m.type for m in messages(relay.hello(f"t{agent}", "technician", code=code, name="Alice"),
                                         f"t{agent}")] == ["paired"]


def test_five_tries_against_a_code_burn_that_code_only_and_its_agent_gets_a_new_one() -> None:
    relay = Harness()
    first, second = relay.waiting_agent("a1"), relay.waiting_agent("a2")
    for n in range(4):
        assert refusal(relay.hello(f"m{n}", "technician", code=one_typo(first, n), name="Mallory"), f"m{n}") \
            == "bad_code"
    actions = relay.hello("m4", "technician", code=one_typo(first, 4), name="Mallory")
    assert [(type(a), getattr(a, "conn", None)) for a in actions] == [
        (Send, "a1"), (Send, "m4"), (Close, "m4")]  # the new code goes out before the refusal
    (new_first,), (error,) = messages(actions, "a1"), messages(actions, "m4")
    assert new_first["reason"] == "burned" and error["code"] == "bad_code" and new_first["code"] != first

    assert refusal(relay.hello("t1", "technician", code=first, name="Alice"), "t1") == "code_burned"
    for conn, code in (("t2", new_first["code"]), ("t3", second)):
        assert [m.type for m in messages(relay.hello(conn, "technician", code=code, name="Alice"), conn)] \
            == ["paired"]


def test_failed_tries_are_limited_per_address_and_an_honest_address_still_pairs() -> None:
    relay = Harness()
    code = relay.waiting_agent("a")
    guess = wrong_code(code)
    for n in range(10):
        assert refusal(relay.feed(technician_hello(f"m{n}", "10.0.0.66", guess)), f"m{n}") == "bad_code"
    actions = relay.feed(technician_hello("m10", "10.0.0.66", code))  # even the right code: the address waits
    assert refusal(actions, "m10") == "rate_limited"
    (error,) = messages(actions, "m10")
    assert error["details"]["retry_after"] == 60 and "your address" in error["message"]
    relay.now += 61
    assert refusal(relay.feed(technician_hello("m11", "10.0.0.66", guess)), "m11") == "bad_code"  # waited enough
    assert refusal(relay.feed(technician_hello("m12", "::ffff:10.0.0.66", guess)), "m12") == "bad_code"
    assert [m.type for m in messages(relay.feed(technician_hello("t", "10.0.0.7", code)), "t")] == ["paired"]


def test_an_ipv6_guesser_is_one_address_for_its_whole_64() -> None:
    relay = Harness()
    code = relay.waiting_agent("a")
    for n in range(10):
        address = f"2001:db8:1:2::{n + 1:x}"
        assert refusal(relay.feed(technician_hello(f"m{n}", address, wrong_code(code))), f"m{n}") == "bad_code"
    assert refusal(relay.feed(technician_hello("m", "2001:db8:1:2:ffff::1", code)), "m") == "rate_limited"
    assert [m.type for m in messages(relay.feed(technician_hello("t", "2001:db8:1:3::1", code)), "t")] == ["paired"]


def test_past_the_overall_limit_only_addresses_without_failures_may_try() -> None:
    relay = Harness(limiter=PairingLimiter(per_address=10, overall=20, window=60.0))
    code = relay.waiting_agent("a")
    for n in range(20):  # twenty guessers, one try each
        assert refusal(relay.feed(technician_hello(f"m{n}", f"10.1.0.{n}", wrong_code(code))), f"m{n}") == "bad_code"
    actions = relay.feed(technician_hello("m0b", "10.1.0.0", code))
    assert refusal(actions, "m0b") == "rate_limited"
    assert "this relay" in messages(actions, "m0b")[0]["message"]
    assert [m.type for m in messages(relay.feed(technician_hello("t", "10.9.9.9", code)), "t")] == ["paired"]


def test_a_wrong_technician_key_counts_as_a_failed_try() -> None:
    relay = Harness(Technicians({"Alice Martin": "correct horse"}))
    code = relay.waiting_agent("a")
    for n in range(10):
        hello = Hello(f"m{n}", protocol.Message("hello", {"role": "technician", "code": code,
                                                          "name": "Alice Martin", "key": f"guess {n}"}), "10.0.0.66")
        assert refusal(relay.feed(hello), f"m{n}") == "unauthorized"
    hello = Hello("m", protocol.Message("hello", {"role": "technician", "code": code, "name": "Alice Martin",
                                                  "key": "correct horse"}), "10.0.0.66")
    assert refusal(relay.feed(hello), "m") == "rate_limited"


def test_a_waiting_agent_is_kept_as_the_few_fields_a_session_needs() -> None:
    relay = Harness()
    relay.hello("a", "agent", consent=CONSENT, machine={"hostname": "pc-1"}, padding=["x" * 1000] * 50)
    waiting = relay.machine._connections["a"]
    assert isinstance(waiting, _WaitingAgent) and "padding" not in waiting.hello_json
    assert len(waiting.hello_json) < 300


def test_an_expired_code_is_replaced_and_refused() -> None:
    relay = Harness(code_ttl=60.0)
    code = relay.waiting_agent("a")
    relay.now += 59
    assert relay.feed(Tick()) == []
    relay.now += 2
    (fresh,) = messages(relay.feed(Tick()), "a")
    assert fresh.type == "welcome" and fresh["reason"] == "expired" and fresh["code"] != code
    assert fresh["expires_in"] == 60.0
    assert refusal(relay.hello("t", "technician", code=code, name="Alice"), "t") == "code_expired"


def test_a_code_that_expired_between_two_ticks_is_replaced_when_a_technician_tries_it() -> None:
    relay = Harness(code_ttl=60.0)
    code = relay.waiting_agent("a")
    relay.now += 61  # no Tick yet
    actions = relay.hello("t", "technician", code=code, name="Alice")
    (fresh,) = messages(actions, "a")
    assert fresh["reason"] == "expired" and fresh["code"] != code
    assert refusal(actions[1:], "t") == "code_expired"
    assert relay.feed(Tick()) == []  # handed once


def test_a_code_is_used_once() -> None:
    relay = Harness()
    code = relay.waiting_agent("a")
    relay.hello("t1", "technician", code=code, name="Alice")
    assert refusal(relay.hello("t2", "technician", code=code, name="Bob"), "t2") == "code_in_use"  # good, but taken


def test_only_listed_technicians_pair() -> None:
    relay = Harness(Technicians({"Alice Martin": "correct horse"}))
    code = relay.waiting_agent("a")
    assert refusal(relay.hello("t1", "technician", code=code, name="Alice Martin", key="wrong"), "t1") == "unauthorized"
    assert refusal(relay.hello("t2", "technician", code=code, name="Eve", key="correct horse"), "t2") == "unauthorized"
    actions = relay.hello("t3", "technician", code=code, name="Alice Martin", key="correct horse")
    assert [m["technician"] for m in messages(actions, "t3")] == ["Alice Martin"]


def test_a_waiting_agent_may_only_say_bye_and_its_code_goes_with_it() -> None:
    relay = Harness()
    code = relay.waiting_agent("a")
    (error,) = messages(relay.send("a", protocol.request("r1", "session.ping", {})), "a")
    assert error.type == "error" and error["id"] == "r1" and error["code"] == "bad_message"
    assert relay.send("a", protocol.bye("customer_ended")) == [Close("a")]
    assert relay.feed(Closed("a")) == []
    assert refusal(relay.hello("t", "technician", code=code, name="Alice"), "t") == "bad_code"


def test_a_code_goes_when_its_agent_leaves() -> None:
    relay = Harness()
    code = relay.waiting_agent("a")
    assert relay.feed(Closed("a")) == []
    assert refusal(relay.hello("t", "technician", code=code, name="Alice"), "t") == "bad_code"


# -- resumption and the queue --------------------------------------------------


def test_an_agent_resumes_and_gets_what_waited_for_it_in_order() -> None:
    relay = Harness()
    session_id, agent_token, _ = relay.paired()
    (gone,) = relay.feed(Closed("a"))
    assert gone == Deliver("t", protocol.encode(protocol.event("relay.agent", {"connected": False})),
                           session_id, "technician")
    requests = [protocol.request(f"r{n}", "session.ping", {}) for n in range(3)]
    for request in requests:
        assert [type(a) for a in relay.send("t", request)] == [LogMessage]  # kept, not sent

    forged = relay.hello("a2", "agent", resume={"session_id": session_id, "token": "forged"})
    assert refusal(forged, "a2") == "unauthorized"
    actions = relay.hello("a3", "agent", resume={"session_id": session_id, "token": agent_token},
                          journal={"seq": 0})
    welcome, viewers, *waited = messages(actions, "a3")
    assert welcome.type == "welcome" and welcome.fields == {
        "session_id": session_id, "resumed": True, "journal_seq": 0, "journal_head": GENESIS, "technician": "Alice"}
    assert viewers.fields == {"name": "relay.viewers", "body": {"count": 0, "viewers": []}}
    assert [m["id"] for m in waited] == ["r0", "r1", "r2"]
    assert actions[0] == Trust("a3")
    assert all(isinstance(a, Deliver) for a in actions[3:6])  # a failed delivery would wait again
    assert messages(actions, "t") == [protocol.event("relay.agent", {"connected": True})]
    assert [type(a) for a in relay.send("t", protocol.request("r3", "session.ping", {}))] == [LogMessage, Deliver]


def test_a_technician_resumes_and_replaces_its_old_connection() -> None:
    relay = Harness()
    session_id, _, technician_token = relay.paired()
    relay.feed(Closed("t"))
    relay.send("a", protocol.response("r1", {"pong": True}))
    relay.send("a", protocol.event("files.progress", {"done": 1}))
    actions = relay.hello("t2", "technician", resume={"session_id": session_id, "token": technician_token})
    welcome, *waited = messages(actions, "t2")
    assert welcome.fields == {"session_id": session_id, "resumed": True, "agent_connected": True}
    assert [m.type for m in waited] == ["response", "event"]

    actions = relay.hello("t3", "technician", resume={"session_id": session_id, "token": technician_token})
    assert actions[0] == Close("t2", REPLACED, "replaced by a newer connection")
    assert relay.send("t2", protocol.request("late", "session.ping", {})) == []  # closed: not heard
    assert relay.feed(Closed("t2")) == []
    assert [type(a) for a in relay.send("t3", protocol.request("r2", "session.ping", {}))] == [LogMessage, Deliver]


def test_a_full_queue_answers_unavailable() -> None:
    relay = Harness(max_waiting_frames=2)
    session_id, agent_token, _ = relay.paired()
    relay.feed(Closed("a"))
    for n in (1, 2):
        assert [type(a) for a in relay.send("t", protocol.request(f"r{n}", "session.ping", {}))] == [LogMessage]
    actions = relay.send("t", protocol.request("r3", "session.ping", {}))
    assert [type(a) for a in actions] == [LogMessage, Send]
    (error,) = messages(actions, "t")
    assert error.type == "error" and error["id"] == "r3" and error["code"] == "unavailable"
    actions = relay.hello("a2", "agent", resume={"session_id": session_id, "token": agent_token})
    assert [m.get("id") for m in messages(actions, "a2")][2:] == ["r1", "r2"]


def test_a_frame_that_could_not_be_delivered_waits_for_the_side() -> None:
    relay = Harness()
    session_id, agent_token, _ = relay.paired()
    frame = protocol.encode(protocol.request("r1", "session.ping", {}))
    assert relay.feed(Undelivered("a", frame, session_id, "agent")) == []  # kept: "a" is still the agent
    relay.feed(Closed("a"))
    actions = relay.hello("a2", "agent", resume={"session_id": session_id, "token": agent_token})
    assert [m.get("id") for m in messages(actions, "a2")][2:] == ["r1"]
    # a delivery that failed on a connection since replaced goes to the new one
    assert relay.feed(Undelivered("a", frame, session_id, "agent")) == [Deliver("a2", frame, session_id, "agent")]


def test_a_restored_session_resumes_with_the_journal_kept() -> None:
    relay = Harness()
    records = journal_records(1, 2)
    meta = {"session_id": "s1", "technician": "Alice", "ended_at": None,
            "agent_token_sha256": hash_secret("agent-token"), "technician_token_sha256": hash_secret("tech-token")}
    relay.machine.restore(meta, ChainFollower(2, records[-1]["hash"]))
    actions = relay.hello("a", "agent", resume={"session_id": "s1", "token": "agent-token"}, journal={"seq": 2})
    assert messages(actions, "a")[0]["journal_seq"] == 2
    actions = relay.hello("t", "technician", resume={"session_id": "s1", "token": "tech-token"})
    assert messages(actions, "t")[0]["agent_connected"] is True
    third = journal_records(3, 1, records[-1]["hash"])[0]
    assert relay.send("a", protocol.Message("journal", {"records": [third]}))[1:] \
        == [AppendJournal("s1", third), FlushRecords("s1"), ack("a", 3, third["hash"])]


# -- viewers ------------------------------------------------------------------


def test_viewers_are_admitted_by_token() -> None:
    relay = Harness()
    session_id, _, _ = relay.paired()
    (answer,) = messages(relay.send("t", protocol.request("v1", "relay.viewer_token", {})), "t")
    token = answer["result"]["token"]
    assert answer["result"]["session_id"] == session_id

    assert refusal(relay.hello("v0", "viewer", session_id=session_id, token="guess"), "v0") == "unauthorized"
    actions = relay.hello("v", "viewer", session_id=session_id, token=token)
    (welcome,) = messages(actions, "v")
    viewer_id = welcome["viewer_id"]
    assert messages(actions, "a") == [protocol.event("relay.viewers", {"count": 1, "viewers": [viewer_id]})]

    actions = relay.send("v", protocol.event("control.pointer", {"x": 1, "y": 2}))
    assert isinstance(actions[0], LogMessage) and actions[0].direction == "viewer>"
    assert messages(actions, "a") == [protocol.event("control.pointer", {"x": 1, "y": 2, "viewer_id": viewer_id})]
    (error,) = messages(relay.send("v", protocol.request("x", "files.list", {})), "v")
    assert error["code"] == "bad_message"
    (error,) = messages(relay.send("v", protocol.event("files.delete", {})), "v")
    assert error["code"] == "bad_message"

    frame = protocol.encode(protocol.event("screen.frame", {"seq": 1}, b"jpeg"))
    assert relay.send("a", protocol.event("screen.frame", {"seq": 1}, b"jpeg"))[1:] == [Send("v", frame)]
    compact = protocol.encode(protocol.event("screen.frame", {"fmt": 2}, bytes(19)))
    assert compact[:2] == b"WF"  # forwarded byte for byte, never re-encoded
    assert relay.send("a", protocol.decode(compact))[1:] == [Send("v", compact)]

    (status,) = messages(relay.send("t", protocol.request("s", "relay.status", {})), "t")
    assert status["result"]["viewers"] == 1 and status["result"]["viewer_refusals"] == 1
    assert status["result"]["viewer_events"] == {"control.pointer": 1}

    # The last frame passed on (the format-2 frame's seq, 0) is told with the list.
    assert messages(relay.feed(Closed("v")), "a") == [protocol.event("relay.viewers", {
        "count": 0, "viewers": [], "last_frame_seq": 0})]
    relay.now += VIEWER_TOKEN_LIFETIME + 1
    assert refusal(relay.hello("v2", "viewer", session_id=session_id, token=token), "v2") == "unauthorized"


# -- the journal ---------------------------------------------------------------


def ack(conn: str, seq: int, head: str) -> Send:
    """The relay's answer to a journal batch: the head it kept, for the agent to compare."""
    return Send(conn, protocol.encode(protocol.event("relay.journal", {"seq": seq, "head": head})))


def test_a_record_that_breaks_the_chain_raises_an_alert() -> None:
    relay = Harness()
    session_id, agent_token, _ = relay.paired()
    good = journal_records(1, 3)
    tampered = {**good[2], "kind": "edited"}
    actions = relay.send("a", protocol.Message("journal", {"records": [*good[:2], tampered, good[2]]}))
    assert isinstance(actions[0], LogMessage)
    assert actions[1:3] == [AppendJournal(session_id, good[0]), AppendJournal(session_id, good[1])]
    assert isinstance(actions[3], SaveMeta)
    (alert,) = actions[3].meta["journal_alerts"]
    assert alert == {"time": relay.instant.utc, "at": 2, "reason": "record 3: its hash does not match its content"}
    told = protocol.encode(protocol.event("relay.journal_alert", alert))
    assert actions[4:] == [Deliver("t", told, session_id, "technician"), Deliver("a", told, session_id, "agent"),
                           FlushRecords(session_id), ack("a", 2, good[1]["hash"])]
    # the same break again (a later batch that cannot follow either) is not a new alert
    assert relay.send("a", protocol.Message("journal", {"records": [tampered]}))[1:] == [
        FlushRecords(session_id), ack("a", 2, good[1]["hash"])]

    # sent again after a resume: what was kept is skipped, the rest follows on
    assert relay.send("a", protocol.Message("journal", {"records": good}))[1:] == [
        AppendJournal(session_id, good[2]), FlushRecords(session_id), ack("a", 3, good[2]["hash"])]
    (status,) = messages(relay.send("t", protocol.request("s", "relay.status", {})), "t")
    assert status["result"]["journal_seq"] == 3 and status["result"]["journal_head"] == good[2]["hash"]
    assert len(status["result"]["journal_alerts"]) == 1

    # an agent whose journal is shorter than the relay's copy
    relay.feed(Closed("a"))
    actions = relay.hello("a2", "agent", resume={"session_id": session_id, "token": agent_token}, journal={"seq": 1})
    assert isinstance(actions[0], SaveMeta)
    assert actions[0].meta["journal_alerts"][-1]["reason"] == "the agent's journal has 1 records; the relay kept 3"
    assert "relay.journal_alert" in [m["name"] for m in messages(actions, "t") if m.type == "event"]


def test_an_agent_resuming_with_another_head_raises_an_alert_on_both_sides() -> None:
    """Same number of records, another last hash: an edit re-hashed on one side (here: the relay's copy)."""
    relay = Harness()
    records = journal_records(1, 2)
    meta = {"session_id": "s1", "technician": "Alice", "ended_at": None,
            "agent_token_sha256": hash_secret("agent-token"), "technician_token_sha256": hash_secret("tech-token")}
    relay.machine.restore(meta, ChainFollower(2, "f" * 64))  # restarted from a copy edited and re-hashed
    relay.hello("t", "technician", resume={"session_id": "s1", "token": "tech-token"})
    actions = relay.hello("a", "agent", resume={"session_id": "s1", "token": "agent-token"},
                          journal={"seq": 2, "head": records[-1]["hash"]})
    assert isinstance(actions[0], SaveMeta)
    (alert,) = actions[0].meta["journal_alerts"]
    assert alert["at"] == 2 and "last hashes differ" in alert["reason"]
    (to_technician,) = [m for m in messages(actions, "t") if m["name"] == "relay.journal_alert"]
    assert to_technician["body"] == alert
    welcome, *rest = messages(actions, "a")
    assert welcome["journal_seq"] == 2 and welcome["journal_head"] == "f" * 64  # the agent compares too
    assert [m["body"] for m in rest if m["name"] == "relay.journal_alert"] == [alert]
    # the agent's next record links to its own head, not the relay's: the same break, no second alert
    nxt = journal_records(3, 1, records[-1]["hash"])
    actions = relay.send("a", protocol.Message("journal", {"records": nxt}))
    assert actions[1:] == [FlushRecords("s1"), ack("a", 2, "f" * 64)]


def test_an_agent_saying_bye_with_another_head_raises_an_alert() -> None:
    relay = Harness()
    relay.paired()
    records = journal_records(1, 2)
    relay.send("a", protocol.Message("journal", {"records": records}))
    actions = relay.send("a", protocol.Message("bye", {"reason": "customer_ended",
                                                       "journal": {"seq": 2, "head": "e" * 64}}))
    metas = [a.meta for a in actions if isinstance(a, SaveMeta)]
    assert metas[0]["journal_alerts"][0]["at"] == 2
    assert metas[-1]["journal_end"] == {"seq": 2, "head": records[-1]["hash"]}
    assert "relay.journal_alert" in [m["name"] for m in messages(actions, "t") if m.type == "event"]


# -- the end -------------------------------------------------------------------


def test_the_technician_ends_and_the_agent_sends_its_last_records() -> None:
    relay = Harness()
    session_id, agent_token, _ = relay.paired()
    bye = protocol.encode(protocol.bye("technician_closed"))
    actions = relay.send("t", protocol.bye("technician_closed"))
    assert isinstance(actions[0], LogMessage) and isinstance(actions[1], SaveMeta)
    meta = actions[1].meta
    assert meta["ended_at"] == relay.instant.utc and meta["end_reason"] == "technician_closed"
    assert meta["ended_by"] == "technician"
    assert actions[2:] == [Send("t", bye), Close("t"), Send("a", bye)]  # the agent's link stays for its last records

    relay.feed(Closed("t"))
    relay.now += AGENT_GOODBYE_TIMEOUT - 1
    assert relay.feed(Tick()) == [FlushRecords(session_id)]
    last = journal_records(1, 1)
    assert relay.send("a", protocol.Message("journal", {"records": last}))[1:] == [
        AppendJournal(session_id, last[0]), FlushRecords(session_id), ack("a", 1, last[0]["hash"])]
    actions = relay.send("a", protocol.bye("technician_closed"))
    assert isinstance(actions[1], SaveMeta) and actions[1].meta["journal_end"] == {"seq": 1, "head": last[0]["hash"]}
    assert actions[2:] == [CloseRecords(session_id), Close("a")]
    assert relay.feed(Closed("a")) == []
    assert refusal(relay.hello("a2", "agent", resume={"session_id": session_id, "token": agent_token}),
                   "a2") == "session_ended"


def test_an_agent_that_does_not_say_bye_is_closed_after_a_while() -> None:
    relay = Harness()
    session_id, _, _ = relay.paired()
    relay.send("t", protocol.bye("technician_closed"))
    relay.now += AGENT_GOODBYE_TIMEOUT
    assert relay.feed(Tick()) == [Close("a"), FlushRecords(session_id)]
    saved, closed = relay.feed(Closed("a"))
    assert isinstance(saved, SaveMeta) and saved.meta["journal_end"] == {"seq": 0, "head": GENESIS}
    assert closed == CloseRecords(session_id)
    assert relay.feed(Tick()) == []


def test_the_customer_ends_the_session() -> None:
    relay = Harness()
    session_id, _, _ = relay.paired()
    (answer,) = messages(relay.send("t", protocol.request("v1", "relay.viewer_token", {})), "t")
    relay.hello("v", "viewer", session_id=session_id, token=answer["result"]["token"])
    bye = protocol.encode(protocol.bye("customer_ended"))
    actions = relay.send("a", protocol.bye("customer_ended"))
    assert isinstance(actions[1], SaveMeta) and actions[1].meta["ended_by"] == "customer"
    assert actions[2:6] == [Send("t", bye), Close("t"), Send("v", bye), Close("v")]
    assert isinstance(actions[6], SaveMeta) and actions[6:][1:] == [CloseRecords(session_id), Close("a")]
    for conn in ("t", "v", "a"):
        assert relay.feed(Closed(conn)) == []  # nobody is told twice, nothing waits


def test_an_end_while_the_agent_is_away_closes_the_records_and_nobody_resumes() -> None:
    relay = Harness()
    session_id, _, technician_token = relay.paired()
    relay.feed(Closed("a"))
    actions = relay.send("t", protocol.bye("technician_closed"))
    assert actions[-1] == CloseRecords(session_id)
    assert refusal(relay.hello("t2", "technician", resume={"session_id": session_id, "token": technician_token}),
                   "t2") == "session_ended"


# -- messages too deep to decode -------------------------------------------------


def test_a_request_too_deep_goes_on_to_the_agent_and_a_deep_answer_is_an_error_for_its_request() -> None:
    relay = Harness()
    session_id, _, _ = relay.paired()
    deep: dict[str, Any] = {}
    for _ in range(100):
        deep = {"a": deep}
    frame = protocol.encode(protocol.request("r1", "files.list", deep))
    with pytest.raises(TooDeep) as refused:
        protocol.decode(frame)
    actions = relay.feed(Undecodable("t", refused.value, frame))
    assert actions[-1] == Deliver("a", frame, session_id, "agent")  # the agent answers it by id, and journals it
    assert isinstance(actions[0], LogMessage) and actions[0].fields["params"] == {"omitted": "nested too deep"}

    answer = protocol.encode(protocol.response("r1", deep))
    with pytest.raises(TooDeep) as deep_answer:
        protocol.decode(answer)
    (error,) = messages(relay.feed(Undecodable("a", deep_answer.value, answer)), "t")
    assert error.type == "error" and error["id"] == "r1" and error["code"] == "too_deep"

    relay_request = protocol.encode(protocol.request("r2", "relay.status", deep))
    with pytest.raises(TooDeep) as to_relay:
        protocol.decode(relay_request)
    (error,) = messages(relay.feed(Undecodable("t", to_relay.value, relay_request)), "t")
    assert error["id"] == "r2" and error["code"] == "too_deep"


# -- a cluster's other relay took the session over -------------------------------


def test_a_forgotten_session_hands_back_its_connections_and_nothing_of_it_is_written_after() -> None:
    relay = Harness()
    session_id, _, _ = relay.paired()
    (answer,) = messages(relay.send("t", protocol.request("v1", "relay.viewer_token", {})), "t")
    relay.hello("v", "viewer", session_id=session_id, token=answer["result"]["token"])
    other_id, _, _ = relay.paired("a2", "t2", "Bob")

    assert sorted(relay.machine.forget(session_id)) == ["a", "t", "v"]
    assert session_id not in relay.machine.sessions and other_id in relay.machine.sessions
    # What its sides still send, and their connections closing, change nothing: the new holder keeps the records.
    assert relay.send("a", protocol.Message("journal", {"records": journal_records(4, 1)})) == []
    assert relay.send("t", protocol.request("r", "session.ping", {})) == []
    assert [relay.feed(Closed(conn)) for conn in ("a", "t", "v")] == [[], [], []]
    assert relay.machine.forget(session_id) == []  # forgotten once
    assert messages(relay.send("t2", protocol.request("r", "session.ping", {})), "a2")  # the other session goes on
