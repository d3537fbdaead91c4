"""The dispatcher: journal before and after, errors as codes, no double execution."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from agent.dispatch import CallContext, Dispatcher, Method, MethodTable, Reply
from agent.journal import Journal
from agent.policy import Policy
from wire import protocol
from wire.chain import read_records, verify_file
from wire.errors import Forbidden, TooDeep


def make(tmp_path: Path, seen: list[str], told: list[str]) -> tuple[Dispatcher, Journal]:
    journal = Journal(tmp_path / "journal.jsonl")

    def touch(ctx: CallContext) -> dict[str, Any]:
        # the call record is on disk before the handler runs
        on_disk = read_records(journal.path)
        seen.append(on_disk[-1]["kind"])
        ctx.journal_details["sha256_after"] = "abc"
        return {"ok": True}

    def boom(ctx: CallContext) -> None:
        raise RuntimeError("disk on fire")

    def refuse(ctx: CallContext) -> None:
        raise Forbidden("protected")

    def data(ctx: CallContext) -> Reply:
        return Reply({"size": 3}, b"xyz")

    table = MethodTable([
        Method("files.touch", touch, "files", lambda p: f"The technician touched {p.get('path')}"),
        Method("files.boom", boom, "files", lambda p: "boom"),
        Method("files.refuse", refuse, "files", lambda p: "refuse"),
        Method("files.data", data, "files", lambda p: "data"),
        Method("control.click", touch, "control", lambda p: "click"),
    ])
    return Dispatcher(table, journal, Policy(), tmp_path, told.append), journal


def run(dispatcher: Dispatcher, request_id: str, method: str, params: dict[str, Any] | None = None) -> protocol.Message:
    return asyncio.run(dispatcher.handle(protocol.request(request_id, method, params or {})))


def test_each_call_is_journaled_before_it_runs_and_after(tmp_path: Path) -> None:
    seen: list[str] = []
    told: list[str] = []
    dispatcher, journal = make(tmp_path, seen, told)
    reply = run(dispatcher, "r1", "files.touch", {"path": "/tmp/x"})
    assert reply.type == "response" and reply["result"] == {"ok": True}
    assert seen == ["call"]
    kinds = [(r["kind"], r.get("outcome")) for r in journal.records]
    assert kinds == [("call", None), ("outcome", "ok")]
    assert journal.records[1]["sha256_after"] == "abc"
    assert told == ["The technician touched /tmp/x"]
    assert verify_file(journal.path).ok


def test_errors_become_codes_and_are_journaled(tmp_path: Path) -> None:
    told: list[str] = []
    dispatcher, journal = make(tmp_path, [], told)
    assert run(dispatcher, "a", "no.such")["code"] == "unknown_method"
    assert run(dispatcher, "b", "files.boom")["code"] == "internal"
    assert run(dispatcher, "c", "control.click")["code"] == "not_granted"
    assert run(dispatcher, "d", "files.refuse")["code"] == "forbidden"
    outcomes = [r.get("code") for r in journal.records if r["kind"] == "outcome"]
    assert outcomes == ["unknown_method", "internal", "not_granted", "forbidden"]
    assert told[-1] == "The technician was stopped from opening a folder you protected"
    assert "click" not in told  # a call that was not granted is not described as done
    assert told[told.index("boom") + 1] == "That did not happen: RuntimeError: disk on fire"


def test_a_resent_request_is_answered_without_running_again(tmp_path: Path) -> None:
    seen: list[str] = []
    dispatcher, journal = make(tmp_path, seen, [])
    first = run(dispatcher, "same", "files.touch")
    again = run(dispatcher, "same", "files.touch")
    assert first == again and seen == ["call"]
    assert len([r for r in journal.records if r["kind"] == "call"]) == 1


def test_binary_replies_keep_their_data(tmp_path: Path) -> None:
    dispatcher, journal = make(tmp_path, [], [])
    reply = run(dispatcher, "d1", "files.data")
    assert reply.data == b"xyz" and reply["result"] == {"size": 3}
    assert journal.records[-1]["data_bytes"] == 3


def test_deep_and_large_parameters_are_summarized_in_the_journal(tmp_path: Path) -> None:
    dispatcher, journal = make(tmp_path, [], [])
    deep: dict[str, Any] = {}
    for _ in range(60):
        deep = {"a": deep}
    reply = run(dispatcher, "r1", "files.touch", {"path": "p", "deep": deep, "wide": list(range(1000)),
                                                  "k" * 5000: "v"})
    assert reply.type == "response"
    call = journal.records[0]
    assert len(json.dumps(call)) < 4000
    assert call["params"]["wide"][-1] == "…(+936 items)"
    assert "nested deeper than 8 levels" in json.dumps(call["params"]["deep"])
    assert verify_file(journal.path).ok


def test_a_request_that_could_not_be_read_is_refused_by_its_id_and_journaled(tmp_path: Path) -> None:
    dispatcher, journal = make(tmp_path, [], [])
    refusal = TooDeep("a message is nested at most 64 levels deep")
    reply = dispatcher.refuse("r1", "files.touch", refusal)
    assert reply.type == "error" and reply["id"] == "r1" and reply["code"] == "too_deep"
    call, outcome = journal.records
    assert call["kind"] == "call" and call["request"] == "r1" and call["method"] == "files.touch"
    assert call["params"] == {"omitted": "a message is nested at most 64 levels deep"}
    assert outcome["outcome"] == "error" and outcome["code"] == "too_deep"
    assert dispatcher.refuse("r1", "files.touch", refusal) is reply and len(journal.records) == 2


def _read_only_table(journal: Journal, seen: list[tuple[str, ...]]) -> MethodTable:
    """Methods that change nothing: each notes which of its records were on disk while it ran."""

    def on_disk() -> tuple[str, ...]:
        return tuple(f"{r['kind']}:{r.get('method')}" for r in read_records(journal.path))

    def peek(ctx: CallContext) -> dict[str, Any]:
        seen.append(on_disk())
        ctx.journal_details["looked"] = True
        return {"peeked": True}

    def missing(ctx: CallContext) -> None:
        raise Forbidden("protected")

    return MethodTable([
        Method("session.peek", peek, "session", lambda p: "The technician peeked", blocking=False, changes=False),
        Method("files.peek", peek, "files", lambda p: "The technician peeked at a file", changes=False),
        Method("files.missing", missing, "files", lambda p: "The technician looked for a file", changes=False),
        Method("control.peek", peek, "control", lambda p: "peek", changes=False),
    ])


def test_a_read_only_call_is_answered_and_told_only_once_both_records_are_on_disk(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.jsonl")
    seen: list[tuple[str, ...]] = []
    told: list[tuple[str, tuple[str, ...]]] = []

    def tell(line: str) -> None:  # what the journal file holds when the customer is told
        told.append((line, tuple(r["kind"] for r in read_records(journal.path))))

    dispatcher = Dispatcher(_read_only_table(journal, seen), journal, Policy(), tmp_path, tell)
    for method in ("session.peek", "files.peek"):
        reply = run(dispatcher, method, method)
        assert reply.type == "response" and reply["result"] == {"peeked": True}
        # answered: the call and its outcome are both in the file, in this order
        tail = [(r["kind"], r["request"]) for r in read_records(journal.path)][-2:]
        assert tail == [("call", method), ("outcome", method)]
        assert journal.records[-1]["looked"] is True and journal.records[-1]["outcome"] == "ok"
    assert seen[0] == ()  # the non-blocking one ran before any record was written: both went out together
    assert [line for line, _ in told] == ["The technician peeked", "The technician peeked at a file"]
    assert told[0][1] == ("call", "outcome") and told[1][1] == ("call", "outcome", "call", "outcome")
    assert verify_file(journal.path).ok
    journal.close()


def test_a_read_only_call_that_fails_or_is_not_granted_is_journaled_as_any_call(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.jsonl")
    seen: list[tuple[str, ...]] = []
    told: list[str] = []
    dispatcher = Dispatcher(_read_only_table(journal, seen), journal, Policy(), tmp_path, told.append)
    refused = run(dispatcher, "m1", "files.missing", {"path": "/x"})
    assert refused.type == "error" and refused["code"] == "forbidden"
    not_granted = run(dispatcher, "g1", "control.peek")
    assert not_granted.type == "error" and not_granted["code"] == "not_granted"
    assert seen == []  # control is not granted by default: the handler never ran
    kinds = [(r["kind"], r["request"], r.get("code")) for r in journal.records]
    assert kinds == [("call", "m1", None), ("outcome", "m1", "forbidden"),
                     ("call", "g1", None), ("outcome", "g1", "not_granted")]
    assert told[0] == "The technician looked for a file" and "protected" in told[1]
    assert len(told) == 2  # nothing said for the call the customer did not allow
    journal.close()


def test_a_changing_call_still_waits_for_its_call_record_before_running(tmp_path: Path) -> None:
    seen: list[str] = []
    dispatcher, journal = make(tmp_path, seen, [])
    run(dispatcher, "r1", "files.touch")
    run(dispatcher, "r2", "files.touch")
    assert seen == ["call", "call"]  # the handler found its own call record on disk each time
    assert [r["kind"] for r in journal.records] == ["call", "outcome", "call", "outcome"]
    journal.close()
