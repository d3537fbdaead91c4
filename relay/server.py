"""The relay's I/O layer: websocket connections in, frames moved, records written.

Every rule (pairing, resumption, the queue for a side that is away, viewer tokens,
journal chain checks, the end of a session) is in :mod:`relay.machine`; this module
only moves bytes.  Each connection's handler reads frames, decodes them with
:func:`wire.protocol.decode` and feeds them to the :class:`~relay.machine.RelayMachine`
as the events of :mod:`relay.events`; it then carries out the actions the machine
returns: sends frames, closes connections, writes each session's records
(:mod:`relay.records`).  A housekeeping task feeds a :class:`~relay.events.Tick`
every second.  A relay restarted with the same ``--data`` gives the machine back
the sessions that had not ended, so both sides can resume.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import ssl
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from relay.events import (
    Action,
    AppendJournal,
    Close,
    Closed,
    CloseRecords,
    ConnId,
    Deliver,
    Event,
    FlushRecords,
    Frame,
    Hello,
    Instant,
    LogMessage,
    OpenRecords,
    Received,
    SaveMeta,
    Send,
    Tick,
    Undecodable,
    Undelivered,
)
from relay.machine import RelayMachine
from relay.pairing import Technicians
from relay.records import SessionRecords, load_open_sessions
from wire import protocol
from wire.chain import utc_now
from wire.errors import WorkbenchError

log = logging.getLogger(__name__)

#: Seconds a new connection has to say hello before it is dropped.
HELLO_TIMEOUT = 10.0
#: Seconds between two :class:`~relay.events.Tick` (code expiry, goodbye deadlines, records flushed).
TICK_INTERVAL = 1.0


class Relay:
    """The relay server: its connections, its sessions' records, and the machine that decides.

    One asyncio loop owns it.  *clock* gives the monotonic seconds the machine's deadlines use.
    """

    def __init__(self, data_dir: Path, technicians: Technicians | None = None, code_ttl: float = 600.0,
                 max_wrong_tries: int = 5, clock: Callable[[], float] = time.monotonic) -> None:
        self.data_dir = data_dir
        self.clock = clock
        self.machine = RelayMachine(technicians, code_ttl=code_ttl, max_wrong_tries=max_wrong_tries)
        self.records: dict[str, SessionRecords] = {}
        self._connections: dict[ConnId, ServerConnection] = {}
        self._conn_ids = itertools.count(1)
        self._tasks: set[asyncio.Task[None]] = set()
        for meta in load_open_sessions(data_dir):
            session_id = str(meta["session_id"])
            records = self.records[session_id] = SessionRecords(data_dir, session_id)
            self.machine.restore(meta, records.kept_journal())

    # -- serving ---------------------------------------------------------

    async def serve(self, host: str = "127.0.0.1", port: int = 8765,
                    ssl_context: ssl.SSLContext | None = None) -> Server:
        """Start listening; the caller keeps the returned server open (``async with`` or ``serve_forever``)."""
        server = await serve(self.handle, host, port, ssl=ssl_context, compression=None,
                             max_size=4 * protocol.MAX_MESSAGE_BYTES, max_queue=64)
        self._spawn(self._housekeeping())
        return server

    async def _housekeeping(self) -> None:
        while True:
            await asyncio.sleep(TICK_INTERVAL)
            await self._feed(Tick())

    async def handle(self, ws: ServerConnection) -> None:
        """One connection: feed its hello and frames to the machine until it closes."""
        conn = f"c{next(self._conn_ids)}"
        self._connections[conn] = ws
        try:
            first = await asyncio.wait_for(ws.recv(), HELLO_TIMEOUT)
            await self._feed(self._decoded(conn, first, first=True))
            async for frame in ws:
                await self._feed(self._decoded(conn, frame))
        except (ConnectionClosed, TimeoutError):
            pass
        finally:
            del self._connections[conn]
            await self._feed(Closed(conn))

    @staticmethod
    def _decoded(conn: ConnId, frame: Frame, first: bool = False) -> Event:
        try:
            message = protocol.decode(frame)
        except WorkbenchError as err:
            return Undecodable(conn, err)
        return Hello(conn, message) if first else Received(conn, message, frame)

    # -- carrying out the machine's actions -------------------------------

    async def _feed(self, event: Event) -> None:
        """Give *event* to the machine and carry out its actions, in order."""
        actions: deque[Action] = deque(self.machine.handle(event, self._instant()))
        while actions:
            actions.extend(await self._execute(actions.popleft()))

    def _instant(self) -> Instant:
        return Instant(self.clock(), utc_now())

    async def _execute(self, action: Action) -> list[Action]:
        """Carry out one action; return the machine's answer when a delivery failed."""
        if isinstance(action, Send):
            with contextlib.suppress(ConnectionClosed):
                await self._send(action.conn, action.frame)
        elif isinstance(action, Deliver):
            try:
                await self._send(action.conn, action.frame)
            except ConnectionClosed:
                undelivered = Undelivered(action.conn, action.frame, action.session_id, action.side)
                return self.machine.handle(undelivered, self._instant())
        elif isinstance(action, Close):
            ws = self._connections.get(action.conn)
            if ws is not None:
                # In the background: a peer slow to answer the close must not hold up everyone else.
                self._spawn(ws.close(action.code, action.reason))
        elif isinstance(action, OpenRecords):
            self.records[action.session_id] = SessionRecords(self.data_dir, action.session_id)
        else:
            self._write_records(action)
        return []

    async def _send(self, conn: ConnId, frame: Frame) -> None:
        """Send *frame* on *conn*; raises ConnectionClosed when it has gone."""
        ws = self._connections.get(conn)
        if ws is None:
            raise ConnectionClosed(None, None)
        await ws.send(frame)

    def _write_records(self, action: SaveMeta | LogMessage | AppendJournal | FlushRecords | CloseRecords) -> None:
        records = self.records.get(action.session_id)
        if records is None:
            log.error("no records open for session %s", action.session_id)
            return
        if isinstance(action, SaveMeta):
            records.save_meta(action.meta)
        elif isinstance(action, LogMessage):
            records.log_message(action.direction, action.kind, action.fields, action.size)
        elif isinstance(action, AppendJournal):
            records.append_journal(action.record)
        elif isinstance(action, FlushRecords):
            records.flush()
        else:
            records.close()

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)  # the loop keeps only a weak reference to a task
        task.add_done_callback(self._tasks.discard)


async def run_relay(data_dir: Path, host: str, port: int, *, technicians: Technicians | None = None,
                    code_ttl: float = 600.0, ssl_context: ssl.SSLContext | None = None,
                    ready: Callable[[str], Awaitable[None] | None] | None = None) -> None:
    """Run a relay until cancelled; prints where it listens through *ready*."""
    relay = Relay(data_dir, technicians, code_ttl=code_ttl)
    server = await relay.serve(host, port, ssl_context)
    async with server:
        scheme = "wss" if ssl_context else "ws"
        address = server.sockets[0].getsockname()
        if ready is not None:
            outcome = ready(f"{scheme}://{address[0]}:{address[1]}")
            if outcome is not None:
                await outcome
        await server.serve_forever()
