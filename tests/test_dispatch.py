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
    # the customer reads why in plain words; the journal keeps the exception
    assert told[told.index("boom") + 1] == "That did not happen: something went wrong in the agent"


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


def test_a_changing_call_still_waits_for_its_call_record_before_running(tmp_path: Path) -> None:
    seen: list[str] = []
    dispatcher, journal = make(tmp_path, seen, [])
    run(dispatcher, "r1", "files.touch")
    run(dispatcher, "r2", "files.touch")
    assert seen == ["call", "call"]  # the handler found its own call record on disk each time
    assert [r["kind"] for r in journal.records] == ["call", "outcome", "call", "outcome"]
    journal.close()
