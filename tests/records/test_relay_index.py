"""A real relay indexes a real session as it starts and ends (SQLite and PostgreSQL), off its event loop."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from relay.index.writer import IndexWriter
from relay.server import run_relay
from workbench import connect, fleet
from workbench.lab import Proc, start_agent


@pytest.fixture
def procs() -> Iterator[list[Proc]]:
    started: list[Proc] = []
    try:
        yield started
    finally:
        for proc in started:
            proc.stop()


class RelayThread:
    """``run_relay`` on a loop of its own thread, handing sessions to *writer*."""

    def __init__(self, data: Path, writer: IndexWriter) -> None:
        self.loop = asyncio.new_event_loop()
        self.url = ""
        self._ready = threading.Event()
        self._task: asyncio.Task[None] | None = None

        def ready(url: str) -> None:
            self.url = url
            self._ready.set()

        async def main() -> None:
            self._task = asyncio.current_task()
            await run_relay(data, "127.0.0.1", 0, ready=ready, on_records=writer.session_changed)

        def run() -> None:
            with contextlib.suppress(asyncio.CancelledError):
                self.loop.run_until_complete(main())

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        assert self._ready.wait(60), "the relay did not start"

    def stop(self) -> None:
        def cancel() -> None:
            if self._task is not None:
                self._task.cancel()

        self.loop.call_soon_threadsafe(cancel)
        self.thread.join(30)


def test_a_session_is_indexed_as_it_starts_and_ends(tmp_path: Path, db_url: str | None, procs: list[Proc]) -> None:
    data = tmp_path / "relay"
    writer = IndexWriter(data, db_url)
    writer.start()
    relay = RelayThread(data, writer)
    try:
        agent, code = start_agent(relay.url, tmp_path / "agent")
        procs.append(agent)
        s = connect(code, relay=relay.url, name="Alice")
        assert writer.wait_idle()
        with fleet.open(db_url or data) as f:
            (row,) = f.sessions().to_dict("records")
        assert row["session_id"] == s.session_id and row["technician"] == "Alice" and row["ended_at"] is pd_nat()
        for _ in range(3):
            s.ping()
        s.close()
        assert agent.wait(30) == 0
        assert writer.wait_idle()
        with fleet.open(db_url or data) as f:
            (row,) = f.sessions().to_dict("records")
            summary = f.summary()
        assert row["end_reason"] == "technician_closed" and row["ended_by"] == "technician"
        assert row["calls"] == 3 and row["calls_by_kind"] == {"session": 3} and row["refusals"] == 0
        assert row["latency_p50_ms"] > 0 and row["bytes_to_agent"] > 0 and row["journal_records"] >= 5
        assert row["machine_hostname"] and row["consent_sha256"] and len(row["consent_sha256"]) == 64
        assert summary.per_technician.loc["Alice", "sessions"] == 1
    finally:
        relay.stop()
        writer.close()
    # The files are the source of truth: a relay starting on a fresh index rebuilds it from them.
    (data / "index.sqlite3").unlink(missing_ok=True)
    rebuilt = IndexWriter(data, None)
    rebuilt.start(reindex=True)
    try:
        assert rebuilt.wait_idle() and rebuilt.written == 1
    finally:
        rebuilt.close()


def pd_nat() -> object:
    import pandas as pd

    return pd.NaT
