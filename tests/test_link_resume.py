"""The agent's link on resuming: its journal goes on from where the relay's copy ends, never before the welcome.

Found by ``bench/cluster_load.py``: when a relay was killed under load, an agent that had made
records while its link was down sent them right after its hello to the relay that took the
session over, before that relay's welcome had said how far its copy went.  The copy lacked the
record sent to the dead relay, so the next record broke its chain, and both sides were told that
the journal and the copy disagree, though neither had been altered.

A real websocket server on loopback plays the relay (its script is the test); the agent's real
link and a real journal file.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

from websockets.asyncio.server import ServerConnection, serve

from agent.dispatch import Dispatcher, MethodTable
from agent.journal import Journal
from agent.link import JOURNAL_FORWARD_DELAY, AgentLink, LinkCallbacks
from agent.policy import Policy
from wire import protocol


async def _next_message(ws: ServerConnection) -> protocol.Message:
    return protocol.decode(await asyncio.wait_for(ws.recv(), 30))


async def _journal_records(ws: ServerConnection, up_to: int) -> list[int]:
    """The seqs of the journal records the agent sends, until record *up_to* (other messages skipped)."""
    seqs: list[int] = []
    while not seqs or seqs[-1] < up_to:
        message = await _next_message(ws)
        if message.type == "journal":
            seqs += [int(record["seq"]) for record in message["records"]]
    return seqs


def test_a_resumed_link_sends_its_journal_from_the_relays_copy_on(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.jsonl")
    for n in range(3):
        journal.append("note", n=n)
    first_seqs: list[int] = []
    resumed_first: list[protocol.Message] = []
    resumed_seqs: list[int] = []
    before_welcome: list[Any] = []
    connections = 0

    async def relay(ws: ServerConnection) -> None:
        nonlocal connections
        connections += 1
        hello = await _next_message(ws)
        assert hello.type == "hello"
        if connections == 1:
            await ws.send(protocol.encode(protocol.Message("welcome", {"code": "123456789"})))
            await ws.send(protocol.encode(protocol.Message("paired", {"session_id": "s1", "resume_token": "t"})))
            first_seqs.extend(await _journal_records(ws, 3))
            # Two records made while the link is about to drop (the outcomes of calls under way when a
            # relay dies): the link has not streamed them when the connection goes.
            journal.append("note", n=3)
            journal.append("note", n=4)
            await ws.close()
            return
        assert hello["resume"] == {"session_id": "s1", "token": "t"}
        # A relay that takes the session over answers after a round through NATS: the welcome comes
        # late.  Nothing may come from the agent meanwhile (before the fix, its journal came after
        # JOURNAL_FORWARD_DELAY, 50 ms).  Absence has no event to await: a bounded wait of 20 times that.
        with contextlib.suppress(TimeoutError):
            before_welcome.append(await asyncio.wait_for(ws.recv(), 20 * JOURNAL_FORWARD_DELAY))
        # This relay's copy kept only two records (the third was in flight to the relay that died).
        await ws.send(protocol.encode(protocol.Message(
            "welcome", {"resumed": True, "journal_seq": 2, "journal_head": journal.records[1]["hash"]})))
        resumed_first.append(await _next_message(ws))
        resumed_seqs.extend(int(r["seq"]) for r in resumed_first[0]["records"])
        if resumed_seqs[-1] < 5:
            resumed_seqs.extend(await _journal_records(ws, 5))
        await ws.send(protocol.encode(protocol.Message("bye", {"reason": "ended by the test"})))
        await _next_message(ws)  # the agent's bye

    alerts: list[tuple[int, str]] = []

    def ignore(*_args: Any) -> None:
        return None

    async def session() -> str:
        async with serve(relay, "127.0.0.1", 0) as server:
            port = server.sockets[0].getsockname()[1]
            callbacks = LinkCallbacks(on_code=ignore, on_paired=ignore, on_status=ignore, on_event=_no_event,
                                      on_ended=ignore, on_journal_alert=lambda at, words: alerts.append((at, words)))
            dispatcher = Dispatcher(MethodTable(), journal, Policy(), tmp_path, ignore)
            link = AgentLink(f"ws://127.0.0.1:{port}", {"name": "test"}, dispatcher, journal, callbacks)
            return await asyncio.wait_for(link.run(), 60)

    try:
        reason = asyncio.run(session())
    finally:
        journal.close()
    assert first_seqs == [1, 2, 3]
    assert before_welcome == []
    assert reason == "ended by the test"
    # The first message after the welcome is the journal from the copy's end on: record 3 again, then
    # the two made meanwhile.  Before the fix it was [4, 5], sent before the welcome was read.
    assert resumed_first[0].type == "journal"
    assert resumed_seqs == [3, 4, 5]
    assert alerts == []


async def _no_event(name: str, body: dict[str, Any], data: bytes | None) -> None:
    return None
