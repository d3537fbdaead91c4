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

What an unauthenticated peer can make the relay hold is bounded here (:class:`Limits`):
until the machine trusts a connection (paired, resumed, an admitted viewer) its
messages may be at most :data:`MAX_UNTRUSTED_MESSAGE_BYTES` (a larger one closes it
with 1009, *message too big*), few of them are queued, it must say hello within
``hello_timeout`` seconds, and only so many such connections are taken from one
address and in all (beyond, 1013 *try again later*).  A waiting agent stays
unauthenticated until a technician pairs with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import ssl
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode

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
    RecordScreen,
    SaveMeta,
    SavePlaybook,
    SaveScreenshot,
    Send,
    Tick,
    Trust,
    Undecodable,
    Undelivered,
)
from relay.limits import PairingLimiter, address_key
from relay.machine import RelayMachine
from relay.pairing import Technicians
from relay.records import SessionRecords, load_open_sessions
from wire import protocol
from wire.chain import utc_now
from wire.errors import WorkbenchError

log = logging.getLogger(__name__)

#: Seconds a new connection has to say hello before it is dropped.
HELLO_TIMEOUT = 10.0
#: Largest message from a connection not trusted yet: a hello is under 2 KiB.
MAX_UNTRUSTED_MESSAGE_BYTES = 64 * 1024
#: Messages queued for a connection not trusted yet (then reading from it pauses).
UNTRUSTED_QUEUE = 4
#: The same, once trusted: a session moves file chunks and screen frames.
TRUSTED_MAX_MESSAGE_BYTES = 4 * protocol.MAX_MESSAGE_BYTES
TRUSTED_QUEUE = 64


@dataclass(frozen=True)
class Limits:
    """What unauthenticated peers may make the relay hold (see the module docstring)."""

    #: connections not trusted yet (saying hello, waiting agents, technicians pairing), in all
    unauthenticated: int = 1024
    #: the same, from one address (an IPv4 address or an IPv6 /64)
    unauthenticated_per_address: int = 32
    hello_timeout: float = HELLO_TIMEOUT
#: Seconds between two :class:`~relay.events.Tick` (code expiry, goodbye deadlines, records flushed).
TICK_INTERVAL = 1.0


class Relay:
    """The relay server: its connections, its sessions' records, and the machine that decides.

    One asyncio loop owns it.  *clock* gives the monotonic seconds the machine's deadlines use.
    """

    def __init__(self, data_dir: Path, technicians: Technicians | None = None, code_ttl: float = 600.0,
                 max_wrong_tries: int = 5, clock: Callable[[], float] = time.monotonic,
                 limits: Limits | None = None, pairing_limiter: PairingLimiter | None = None,
                 on_records: Callable[[str], None] | None = None, record: bool = True,
                 retention: dict[str, str] | None = None, restore_open: bool = True) -> None:
        self.data_dir = data_dir
        #: told a session's id when its session.json was written or its records closed (the index
        #: writer, relay.index.writer: it must return at once, the loop is waiting)
        self.on_records = on_records
        self.clock = clock
        self.limits = limits or Limits()
        self.machine = RelayMachine(technicians, code_ttl=code_ttl, max_wrong_tries=max_wrong_tries,
                                    limiter=pairing_limiter, record=record, retention=retention)
        self.records: dict[str, SessionRecords] = {}
        self._connections: dict[ConnId, ServerConnection] = {}
        #: connections not trusted yet → their address key; and how many per address
        self._untrusted: dict[ConnId, str] = {}
        self._untrusted_by_address: Counter[str] = Counter()
        self._conn_ids = itertools.count(1)
        self._tasks: set[asyncio.Task[None]] = set()
        # restore_open=False: a relay of a cluster (relay.cluster) takes sessions back one by one, when it
        # becomes the one holding them, from the data directory the relays share.
        for meta in load_open_sessions(data_dir) if restore_open else ():
            self.restore_session(meta)

    def restore_session(self, meta: dict[str, Any]) -> None:
        """Give the machine back a session that had not ended (its *meta*, its records kept so far)."""
        session_id = str(meta["session_id"])
        records = self.records[session_id] = SessionRecords(self.data_dir, session_id)
        records.started_at = meta.get("started_at")
        self.machine.restore(meta, records.kept_journal())

    # -- serving ---------------------------------------------------------

    async def serve(self, host: str = "127.0.0.1", port: int = 8765,
                    ssl_context: ssl.SSLContext | None = None) -> Server:
        """Start listening; the caller keeps the returned server open (``async with`` or ``serve_forever``)."""
        server = await serve(self.handle, host, port, ssl=ssl_context, compression=None,
                             max_size=MAX_UNTRUSTED_MESSAGE_BYTES, max_queue=UNTRUSTED_QUEUE,
                             open_timeout=self.limits.hello_timeout)
        self._spawn(self._housekeeping())
        return server

    async def _housekeeping(self) -> None:
        while True:
            await asyncio.sleep(TICK_INTERVAL)
            await self._feed(Tick())

    async def handle(self, ws: ServerConnection) -> None:
        """One connection: feed its hello and frames to the machine until it closes."""
        peer = _peer_host(ws)
        address = address_key(peer)
        refusal = self._over_limits(address)
        if refusal:
            log.warning("refused a connection from %s: %s", address, refusal)
            await ws.close(CloseCode.TRY_AGAIN_LATER, refusal)
            return
        conn = f"c{next(self._conn_ids)}"
        self._connections[conn] = ws
        self._untrusted[conn] = address
        self._untrusted_by_address[address] += 1
        try:
            try:
                first = await asyncio.wait_for(ws.recv(), self.limits.hello_timeout)
            except TimeoutError:
                await ws.close(CloseCode.POLICY_VIOLATION, f"no hello within {self.limits.hello_timeout:g} s")
                return
            await self._carry(conn, ws, first, peer)
        except ConnectionClosed:
            pass
        finally:
            self._trusted(conn)
            del self._connections[conn]
            await self._feed(Closed(conn))

    async def _carry(self, conn: ConnId, ws: ServerConnection, first: Frame, peer: str) -> None:
        """Feed *conn*'s hello (*first*) and its later frames to the machine until it closes.

        The seam where a relay of a cluster (:mod:`relay.cluster`) sends a connection whose session
        another relay holds on to that relay instead.
        """
        await self._feed(self._decoded(conn, first, peer))
        async for frame in ws:
            await self._feed(self._decoded(conn, frame))

    def _over_limits(self, address: str) -> str:
        """Why a new connection from *address* is refused, or "" when it may come in."""
        if self._untrusted_by_address[address] >= self.limits.unauthenticated_per_address:
            return "too many connections from your address are waiting to authenticate; try again later"
        if len(self._untrusted) >= self.limits.unauthenticated:
            return "too many connections are waiting to authenticate; try again later"
        return ""

    def _trusted(self, conn: ConnId) -> None:
        """*conn* no longer counts as unauthenticated (trusted, or gone)."""
        address = self._untrusted.pop(conn, None)
        if address is not None:
            self._untrusted_by_address[address] -= 1
            if self._untrusted_by_address[address] <= 0:
                del self._untrusted_by_address[address]

    @property
    def unauthenticated(self) -> int:
        """How many connections are waiting to authenticate now (for tests and status)."""
        return len(self._untrusted)

    @staticmethod
    def _decoded(conn: ConnId, frame: Frame, hello_from: str | None = None) -> Event:
        """The event for *frame*: a :class:`Hello` when it is the first (*hello_from* is the peer's address)."""
        try:
            message = protocol.decode(frame)
        except WorkbenchError as err:
            return Undecodable(conn, err, frame)
        return Hello(conn, message, hello_from) if hello_from is not None else Received(conn, message, frame)

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
        elif isinstance(action, Trust):
            self._trust(action.conn)
        elif isinstance(action, OpenRecords):
            self.records[action.session_id] = SessionRecords(self.data_dir, action.session_id)
        else:
            self._write_records(action)
        return []

    def _trust(self, conn: ConnId) -> None:
        """Lift *conn*'s limits: it may now send what a session needs."""
        self._trusted(conn)
        ws = self._connections.get(conn)
        if ws is None:
            return
        # websockets reads these for each new frame and on each queue check, so raising them takes
        # effect from the connection's next message on (tests/relay/test_relay_limits.py proves it
        # with a file chunk after pairing).  The size is ``max_message_size`` since websockets 15,
        # ``max_size`` before.
        size_limit = "max_message_size" if hasattr(ws.protocol, "max_message_size") else "max_size"
        setattr(ws.protocol, size_limit, TRUSTED_MAX_MESSAGE_BYTES)
        ws.recv_messages.high, ws.recv_messages.low = TRUSTED_QUEUE, TRUSTED_QUEUE // 4

    async def _send(self, conn: ConnId, frame: Frame) -> None:
        """Send *frame* on *conn*; raises ConnectionClosed when it has gone."""
        ws = self._connections.get(conn)
        if ws is None:
            raise ConnectionClosed(None, None)
        await ws.send(frame)

    def _write_records(self, action: SaveMeta | LogMessage | AppendJournal | FlushRecords | CloseRecords
                       | RecordScreen | SaveScreenshot | SavePlaybook) -> None:
        records = self.records.get(action.session_id)
        if records is None:
            log.error("no records open for session %s", action.session_id)
            return
        if isinstance(action, SaveMeta):
            records.save_meta(action.meta)
            if self.on_records is not None:
                self.on_records(action.session_id)
        elif isinstance(action, LogMessage):
            records.log_message(action.direction, action.kind, action.fields, action.size)
        elif isinstance(action, AppendJournal):
            records.append_journal(action.record, action.line)
        elif isinstance(action, RecordScreen):
            records.record_screen(action.name, action.body, action.data)
        elif isinstance(action, SaveScreenshot):
            records.save_screenshot(action.request_id, action.description, action.data)
        elif isinstance(action, SavePlaybook):
            records.save_playbook(action.file_name, action.data)
        elif isinstance(action, FlushRecords):
            records.flush()
        else:
            records.close()
            if self.on_records is not None:
                self.on_records(action.session_id)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)  # the loop keeps only a weak reference to a task
        task.add_done_callback(self._tasks.discard)


def _peer_host(ws: ServerConnection) -> str:
    """The peer's IP address as text ("" when the transport does not say)."""
    address = ws.remote_address
    return str(address[0]) if isinstance(address, tuple) and address else ""


async def run_relay(data_dir: Path, host: str, port: int, *, technicians: Technicians | None = None,
                    code_ttl: float = 600.0, ssl_context: ssl.SSLContext | None = None,
                    ready: Callable[[str], Awaitable[None] | None] | None = None,
                    limits: Limits | None = None, pairing_limiter: PairingLimiter | None = None,
                    on_records: Callable[[str], None] | None = None, record: bool = True,
                    retention: dict[str, str] | None = None) -> None:
    """Run a relay until cancelled; prints where it listens through *ready*.

    *record*: ``--record all`` (every session's screen recorded, R5) or ``none``.  *retention*
    (data class → period) is told to each customer when their session starts.
    """
    relay = Relay(data_dir, technicians, code_ttl=code_ttl, limits=limits, pairing_limiter=pairing_limiter,
                  on_records=on_records, record=record, retention=retention)
    server = await relay.serve(host, port, ssl_context)
    async with server:
        scheme = "wss" if ssl_context else "ws"
        address = server.sockets[0].getsockname()
        if ready is not None:
            outcome = ready(f"{scheme}://{address[0]}:{address[1]}")
            if outcome is not None:
                await outcome
        await server.serve_forever()
