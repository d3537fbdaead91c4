"""The agent's websocket to the relay: moves messages, reconnects, resumes.

:class:`AgentLink` owns the connection and nothing else: requests go to the
dispatcher, events to the listeners the app registered, and the journal is
streamed to the relay in order from the journal itself (so after a reconnect
the relay gets exactly the records it lacks: none lost, none twice).

The link also cross-checks the relay's copy as the session runs: the relay
answers each batch (``relay.journal``) and each resume (``welcome``) with the
head it kept, and the link compares it with its own record of that number; a
difference, or a ``relay.journal_alert`` from the relay, is a journal alert
(:attr:`LinkCallbacks.on_journal_alert`), said once per place where the copies part.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import ssl
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from agent.dispatch import Dispatcher
from agent.journal import Journal
from wire import protocol
from wire.backoff import backoff
from wire.chain import GENESIS
from wire.errors import TooDeep, WorkbenchError, error_from_wire
from wire.relay_urls import RelayRing

log = logging.getLogger(__name__)

#: Journal records are sent to the relay in batches, at most this long after they were written
#: (they are on the agent's disk already; the relay's copy may lag this much).
JOURNAL_FORWARD_DELAY = 0.05
#: At most this many records in one journal message.  Small, so neither the agent encoding it nor the
#: relay checking its chain (tens of microseconds a record) holds up a call's frames for long: between
#: two messages the agent's loop, and the relay's, serve whatever else is waiting.
JOURNAL_BATCH = 32

EventListener = Callable[[str, dict[str, Any], bytes | None], Awaitable[None]]


def plain_ws_refusal(url: str, insecure_ws: bool = False) -> str | None:
    """Why the agent will not use *url*, or None when it may.

    A plain ``ws://`` relay is only for this machine (127.0.0.0/8, ::1, ``localhost``):
    anywhere else the customer's screen and files would cross the network in clear.
    *insecure_ws* (``--insecure-ws``) is the explicit, logged way to use one anyway.
    """
    parts = urlsplit(url)
    if parts.scheme != "ws" or insecure_ws:
        return None
    host = parts.hostname or ""
    if host == "localhost":
        return None
    try:
        if ipaddress.ip_address(host).is_loopback:
            return None
    except ValueError:
        pass
    return (f"{url} is a plain ws:// relay on another machine: everything would cross the network "
            "unencrypted. Use its wss:// address, or --insecure-ws to connect anyway")


@dataclass
class LinkCallbacks:
    """What the link tells the rest of the agent."""

    on_code: Callable[[str], None]
    on_paired: Callable[[dict[str, Any]], None]
    on_status: Callable[[str], None]
    on_event: EventListener
    #: the relay ended the session: journal the end now, before the last records are flushed
    on_ended: Callable[[str], None]
    #: the relay's copy of the journal and the journal part after record ``at``: words for the customer
    on_journal_alert: Callable[[int, str], None] | None = None


class SessionOver(Exception):
    """The session ended; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class AgentLink:
    """Keeps the agent connected to the relay until the session ends."""

    def __init__(self, url: str, hello: dict[str, Any], dispatcher: Dispatcher, journal: Journal,
                 callbacks: LinkCallbacks, ssl_context: ssl.SSLContext | None = None) -> None:
        #: the relays to try (``--relay URL1,URL2``): a relay that cannot be reached, the next
        self.relays = RelayRing(url)
        self.hello = hello
        self.dispatcher = dispatcher
        self.journal = journal
        self.callbacks = callbacks
        self.ssl_context = ssl_context
        self.session_id: str | None = None
        self.resume_token: str | None = None
        self._ws: ClientConnection | None = None
        self._journal_sent = -1  # -1: the relay has no session to keep records in yet
        self._journal_wakeup = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._ending: str | None = None
        self._up = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread = 0
        #: where the relay's copy and the journal part (the last record they share), once said
        self._alerted_at: set[int] = set()

    @property
    def url(self) -> str:
        """The relay this link uses now (or tries next)."""
        return self.relays.current

    @property
    def connected(self) -> bool:
        return self._ws is not None

    def journal_appended(self) -> None:
        """Thread-safe: a record was appended; stream it when connected."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        if self._journal_wakeup.is_set():
            # The pump has not taken its last wake-up yet: it reads the journal's records after it clears
            # the event, so this record goes with them.  Saves a wake-up of the loop per record.
            return
        if threading.get_ident() == self._loop_thread:
            self._journal_wakeup.set()
        else:
            loop.call_soon_threadsafe(self._journal_wakeup.set)

    async def run(self) -> str:
        """Connect, serve, reconnect after drops; return why the session ended.

        Raises nothing for network trouble (it retries with backoff); returns
        when the relay says the session is over or :meth:`end` was called.
        """
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        pump = asyncio.create_task(self._pump_journal())
        delays = backoff()
        try:
            while True:
                reached = False
                try:
                    async with connect(self.url, **self._tls(), compression=None, open_timeout=10,
                                       max_size=4 * protocol.MAX_MESSAGE_BYTES, max_queue=64) as ws:
                        await self._say_hello(ws)
                        reached = True
                        if self.session_id and self.resume_token:
                            # Nothing of the journal goes before the welcome says how far the relay's copy
                            # goes: records sent to a relay that died may never have been kept, and records
                            # sent past the copy's end would break its chain (a false journal alert).
                            self._journal_sent = -1
                        self._ws = ws
                        self._up.set()
                        self.callbacks.on_status("connected")
                        delays = backoff()
                        self._journal_wakeup.set()
                        await self._serve(ws)
                except SessionOver as over:
                    return over.reason
                except (OSError, ConnectionClosed, InvalidHandshake, TimeoutError) as err:
                    log.info("link to %s down: %s", self.url, err)
                except InvalidURI as err:
                    raise ValueError(f"not a relay address: {self.url}") from err
                finally:
                    self._ws = None
                    self._up.clear()
                if self._ending is not None:
                    return self._ending
                if not reached:
                    self.relays.next()  # that relay is away: another of the cluster takes the session over
                self.callbacks.on_status("reconnecting")
                await asyncio.sleep(next(delays))
        finally:
            pump.cancel()
            for task in list(self._tasks):
                task.cancel()

    def _tls(self) -> dict[str, Any]:
        """The ``ssl`` argument, only when set: a wss:// URL without one uses the system's CAs."""
        return {"ssl": self.ssl_context} if self.ssl_context is not None else {}

    async def _say_hello(self, ws: ClientConnection) -> None:
        hello = dict(self.hello, role="agent")
        if self.session_id and self.resume_token:
            hello["resume"] = {"session_id": self.session_id, "token": self.resume_token}
            hello["journal"] = {"seq": self.journal.seq, "head": self.journal.head}
        await ws.send(protocol.encode(protocol.Message("hello", hello)))

    async def _serve(self, ws: ClientConnection) -> None:
        async for frame in ws:
            try:
                message = protocol.decode(frame)
            except TooDeep as err:  # a request that cannot be read can still be answered, and journaled
                envelope = err.envelope or {}
                if envelope.get("type") == "request" and "id" in envelope:
                    await self.send(self.dispatcher.refuse(envelope["id"], envelope.get("method", ""), err))
                else:
                    await ws.send(protocol.encode(protocol.error(envelope.get("id"), err.to_wire())))
                continue
            except WorkbenchError as err:
                await ws.send(protocol.encode(protocol.error(None, err.to_wire())))
                continue
            if message.type == "request":
                self._spawn(self._answer(message))
            elif message.type == "event" and message["name"] == "relay.journal":
                self._check_relay_head(message["body"].get("seq"), message["body"].get("head"))
            elif message.type == "event" and message["name"] == "relay.journal_alert":
                self._relay_alert(message["body"])
            elif message.type == "event":
                await self.callbacks.on_event(message["name"], message["body"], message.data)
            elif message.type == "welcome":
                self._welcome(message)
            elif message.type == "paired":
                self.session_id = str(message["session_id"])
                self.resume_token = str(message.get("resume_token", ""))
                self._journal_sent = 0
                self._journal_wakeup.set()
                self.callbacks.on_paired(dict(message.fields))
            elif message.type == "bye":
                reason = str(message["reason"])
                self.callbacks.on_ended(reason)
                self._ending = reason
                await self._flush_journal()
                await self.send(self._bye(reason))
                raise SessionOver(reason)
            elif message.type == "error":
                refusal = error_from_wire(message.fields)
                if refusal.code in ("session_ended", "unauthorized") and message.get("id") is None:
                    raise SessionOver(f"the relay refused to resume the session: {refusal.message}")
                log.warning("relay reported: %s", refusal.message)

    def _welcome(self, message: protocol.Message) -> None:
        if "code" in message.fields:
            self.callbacks.on_code(str(message["code"]))
        if message.get("resumed"):
            seq = message.get("journal_seq")
            self._journal_sent = seq if isinstance(seq, int) and seq >= 0 else 0
            self._journal_wakeup.set()
            if "journal_head" in message.fields:
                self._check_relay_head(seq, message.get("journal_head"))

    def _check_relay_head(self, seq: Any, head: Any) -> None:
        """Compare the head the relay says it kept at record *seq* with this journal's record *seq*."""
        if not isinstance(seq, int) or seq < 0 or not isinstance(head, str):
            return
        if seq > self.journal.seq:
            self._alert(seq, f"The support service says its copy of this session's journal has {seq} records; "
                             f"the journal on this computer has {self.journal.seq}. One of them was altered.")
            return
        mine = GENESIS if seq == 0 else str(self.journal.records[seq - 1].get("hash"))
        if mine != head:
            self._alert(seq, "The support service's copy of this session's journal does not match the journal on "
                             f"this computer (they differ at or before record {seq}). One of them was altered.")

    def _relay_alert(self, body: dict[str, Any]) -> None:
        at = body.get("at")
        reason = str(body.get("reason", ""))[:300]
        self._alert(at if isinstance(at, int) else -1,
                    "The support service reports that its copy of this session's journal does not match the "
                    f"journal on this computer: {reason}")

    def _alert(self, at: int, words: str) -> None:
        """Say a journal alert once per place where the copies part."""
        if at in self._alerted_at:
            return
        self._alerted_at.add(at)
        log.warning("journal alert: %s", words)
        if self.callbacks.on_journal_alert is not None:
            self.callbacks.on_journal_alert(at, words)

    def _spawn(self, coroutine: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _answer(self, message: protocol.Message) -> None:
        reply = await self.dispatcher.handle(message)
        # If the link dropped meanwhile, the technician re-sends the request
        # after resuming and the dispatcher answers it from its cache.
        await self.send(reply)

    async def send(self, message: protocol.Message) -> bool:
        """Send *message* now; False when not connected (it is not queued)."""
        ws = self._ws
        if ws is None:
            return False
        try:
            await ws.send(protocol.encode(message))
            return True
        except ConnectionClosed:
            return False

    async def send_event(self, name: str, body: dict[str, Any], data: bytes | None = None) -> None:
        """Send an event (a screen frame, an activity line); dropped when not connected."""
        await self.send(protocol.event(name, body, data))

    async def _pump_journal(self) -> None:
        while True:
            await self._journal_wakeup.wait()
            await asyncio.sleep(JOURNAL_FORWARD_DELAY)  # let a burst of calls share one message
            self._journal_wakeup.clear()
            await self._flush_journal()

    async def _flush_journal(self) -> None:
        while self._ws is not None and 0 <= self._journal_sent < self.journal.seq:
            batch = self.journal.records[self._journal_sent:self._journal_sent + JOURNAL_BATCH]
            if not await self.send(protocol.Message("journal", {"records": batch})):
                return
            self._journal_sent = int(batch[-1]["seq"])
            await asyncio.sleep(0)  # let requests and frames waiting on the loop go between two messages

    def _bye(self, reason: str) -> protocol.Message:
        head = {"seq": self.journal.seq, "head": self.journal.head}
        return protocol.Message("bye", {"reason": reason, "journal": head})

    async def end(self, reason: str, grace: float = 5.0) -> None:
        """Say goodbye to the relay (after the last journal records), then stop :meth:`run`.

        The caller has written the journal's end record first.  When the link
        is down, it waits up to *grace* seconds for it to come back.
        """
        self._ending = reason
        if self._ws is None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._up.wait(), grace)
        await self._flush_journal()
        await self.send(self._bye(reason))
        ws = self._ws
        if ws is not None:
            with contextlib.suppress(ConnectionClosed):
                await ws.close()
