"""The relay: pairs an agent with a technician by a one-time code, forwards
their messages, and keeps the session's records.

Roles, announced by the first message on a connection (``hello``):

- ``agent``: a customer's agent, after the customer accepted the terms.  A new
  agent is handed a code (``welcome {code}``); a reconnecting one resumes its
  session with ``resume {session_id, token}``.
- ``technician``: a workbench; pairs with ``code`` (and ``name``/``key`` when
  the relay admits only listed technicians) or resumes like the agent.
- ``viewer``: a screen widget's own websocket, admitted by a token the
  technician obtained with the ``relay.viewer_token`` request
  (see ``docs/screen-protocol.md``).

Nothing a side sends is trusted: every frame is decoded and checked with
:func:`wire.protocol.decode`; a bad one gets an ``error`` reply with a code and
the connection stays up.  Messages for a side that is away (a dropped link, a
restarting process) wait in a bounded queue and are delivered when it resumes.
A relay restarted with the same ``--data`` picks up the sessions that had not
ended, so both sides can resume.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import ssl
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from relay.pairing import CodeBook, Technicians, format_code, hash_secret
from relay.records import SessionRecords, load_open_sessions
from wire import protocol
from wire.chain import ChainError, utc_now
from wire.errors import (
    PairingFailed,
    ProtocolError,
    SessionEnded,
    Unauthorized,
    Unavailable,
    UnknownMethod,
    WorkbenchError,
)

log = logging.getLogger(__name__)

HELLO_TIMEOUT = 10.0
#: Frames kept for a side that is away; beyond this the sender is told ``unavailable``.
MAX_WAITING_FRAMES = 1000
VIEWER_TOKEN_LIFETIME = 12 * 3600.0
#: How long an agent has to send its last journal records after the technician ended the session.
AGENT_GOODBYE_TIMEOUT = 10.0
#: Event prefixes a viewer may send on to the agent.
VIEWER_EVENT_PREFIXES = ("screen.", "control.", "annotate.")

Frame = str | bytes


def _size(frame: Frame) -> int:
    return len(frame)


@dataclass
class RelaySession:
    """One paired session as the relay holds it."""

    meta: dict[str, Any]
    records: SessionRecords
    agent: ServerConnection | None = None
    technician: ServerConnection | None = None
    viewers: dict[str, ServerConnection] = field(default_factory=dict)
    to_agent: deque[Frame] = field(default_factory=deque)
    to_technician: deque[Frame] = field(default_factory=deque)
    viewer_tokens: dict[str, float] = field(default_factory=dict)
    #: counts for the technician and for tests: events from viewers by name, connections, refusals
    viewer_events: dict[str, int] = field(default_factory=dict)
    viewer_connections: int = 0
    viewer_refusals: int = 0

    @property
    def id(self) -> str:
        return str(self.meta["session_id"])

    @property
    def ended(self) -> bool:
        return bool(self.meta.get("ended_at"))


@dataclass
class _WaitingAgent:
    ws: ServerConnection
    hello: protocol.Message
    paired: asyncio.Future[RelaySession]


class Relay:
    """The relay server's state and connection handlers; one asyncio loop owns it."""

    def __init__(self, data_dir: Path, technicians: Technicians | None = None, code_ttl: float = 600.0,
                 max_wrong_tries: int = 5, clock: Callable[[], float] = time.monotonic) -> None:
        self.data_dir = data_dir
        self.technicians = technicians or Technicians.open()
        self.codes = CodeBook(ttl=code_ttl, max_wrong=max_wrong_tries, clock=clock)
        self.clock = clock
        self.sessions: dict[str, RelaySession] = {}
        self.waiting: dict[str, _WaitingAgent] = {}
        for meta in load_open_sessions(data_dir):
            session_id = str(meta["session_id"])
            self.sessions[session_id] = RelaySession(meta, SessionRecords(data_dir, session_id))

    # -- serving ---------------------------------------------------------

    async def serve(self, host: str = "127.0.0.1", port: int = 8765,
                    ssl_context: ssl.SSLContext | None = None) -> Server:
        """Start listening; the caller keeps the returned server open (``async with`` or ``serve_forever``)."""
        server = await serve(self.handle, host, port, ssl=ssl_context, compression=None,
                             max_size=4 * protocol.MAX_MESSAGE_BYTES, max_queue=64)
        asyncio.get_running_loop().create_task(self._housekeeping())
        return server

    async def _housekeeping(self) -> None:
        """Once a second: expire codes (their agents get new ones), flush the message logs."""
        while True:
            await asyncio.sleep(1.0)
            for owner in self.codes.sweep():
                await self._hand_new_code(owner, "expired")
            for session in self.sessions.values():
                session.records.flush()

    async def handle(self, ws: ServerConnection) -> None:
        """One connection: read its hello, then serve it in its role until it closes."""
        try:
            frame = await asyncio.wait_for(ws.recv(), HELLO_TIMEOUT)
            hello = protocol.decode(frame)
            if hello.type != "hello":
                raise ProtocolError("the first message must be hello")
            role = hello["role"]
            if role == "agent":
                await self._serve_agent(ws, hello)
            elif role == "technician":
                await self._serve_technician(ws, hello)
            elif role == "viewer":
                await self._serve_viewer(ws, hello)
            else:
                raise ProtocolError(f"unknown role {role!r}")
        except WorkbenchError as err:
            await self._send_quietly(ws, protocol.encode(protocol.error(None, err.to_wire())))
            await ws.close()
        except (ConnectionClosed, TimeoutError):
            pass

    # -- agents ----------------------------------------------------------

    async def _serve_agent(self, ws: ServerConnection, hello: protocol.Message) -> None:
        resume = hello.get("resume")
        leftover: Frame | None = None
        if resume is not None:
            session = self._resume(resume, "agent_token_sha256")
            self._check_agent_head(session, hello.get("journal"))
            await self._attach_agent(session, ws)
        else:
            if not isinstance(hello.get("consent"), dict):
                raise ProtocolError("an agent says hello only after the customer's consent")
            owner = uuid.uuid4().hex
            waiting = _WaitingAgent(ws, hello, asyncio.get_running_loop().create_future())
            self.waiting[owner] = waiting
            try:
                await self._hand_new_code(owner, "new")
                session, leftover = await self._agent_until_paired(ws, waiting)
            finally:
                self.waiting.pop(owner, None)
                self.codes.withdraw(owner)
        try:
            await self._pump_agent(session, ws, leftover)
        finally:
            if session.ended:
                session.records.close()
            if session.agent is ws:
                session.agent = None
                if not session.ended:
                    await self._to_technician(session, protocol.encode(
                        protocol.event("relay.agent", {"connected": False})))

    async def _agent_until_paired(self, ws: ServerConnection,
                                  waiting: _WaitingAgent) -> tuple[RelaySession, Frame | None]:
        """Read the unpaired agent's messages until a technician claims its code.

        Returns the session and a frame the agent sent as pairing happened
        (or None), which the caller handles first.
        """
        reader: asyncio.Future[Frame] = asyncio.ensure_future(ws.recv())
        try:
            while True:
                watched: set[asyncio.Future[Any]] = {reader, waiting.paired}
                done, _ = await asyncio.wait(watched, return_when=asyncio.FIRST_COMPLETED)
                if waiting.paired in done:
                    leftover = reader.result() if reader.done() else None
                    return waiting.paired.result(), leftover
                frame = reader.result()  # raises ConnectionClosed when the agent left
                reader = asyncio.ensure_future(ws.recv())
                try:
                    message = protocol.decode(frame)
                except WorkbenchError as err:
                    await ws.send(protocol.encode(protocol.error(None, err.to_wire())))
                    continue
                if message.type == "bye":
                    raise ConnectionClosed(None, None)
                await ws.send(protocol.encode(protocol.error(
                    message.get("id"), ProtocolError("no technician yet: only bye is expected").to_wire())))
        finally:
            if not reader.done():
                reader.cancel()
                with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
                    await reader

    async def _hand_new_code(self, owner: str, reason: str) -> None:
        waiting = self.waiting.get(owner)
        if waiting is None:
            return
        code = self.codes.issue(owner)
        welcome = protocol.Message("welcome", {"code": format_code(code), "expires_in": self.codes.ttl,
                                               "reason": reason})
        await self._send_quietly(waiting.ws, protocol.encode(welcome))

    def _check_agent_head(self, session: RelaySession, head: Any) -> None:
        """A resuming agent's journal must extend what the relay kept; note it when not."""
        if not isinstance(head, dict):
            return
        follower = session.records.follower
        seq = head.get("seq")
        if isinstance(seq, int) and seq < follower.seq:
            self._journal_alert(session, f"the agent's journal has {seq} records; the relay kept {follower.seq}")

    async def _attach_agent(self, session: RelaySession, ws: ServerConnection) -> None:
        old, session.agent = session.agent, ws
        if old is not None and old is not ws:
            await old.close(code=4001, reason="replaced by a newer connection")
        await ws.send(protocol.encode(protocol.Message("welcome", {
            "session_id": session.id, "resumed": True, "journal_seq": session.records.follower.seq,
            "technician": session.meta.get("technician")})))
        await ws.send(protocol.encode(self._viewers_event(session)))
        while session.to_agent and session.agent is ws:
            await ws.send(session.to_agent.popleft())
        await self._to_technician(session, protocol.encode(protocol.event("relay.agent", {"connected": True})))

    async def _pump_agent(self, session: RelaySession, ws: ServerConnection, first: Frame | None = None) -> None:
        if first is not None and await self._from_agent(session, ws, first):
            return
        async for frame in ws:
            if await self._from_agent(session, ws, frame):
                return

    async def _from_agent(self, session: RelaySession, ws: ServerConnection, frame: Frame) -> bool:
        """Handle one frame from the agent; True when the session is over."""
        try:
            message = protocol.decode(frame)
        except WorkbenchError as err:
            await ws.send(protocol.encode(protocol.error(None, err.to_wire())))
            return False
        session.records.log_message("agent>", message.type, message.fields, _size(frame))
        if message.type in ("response", "error"):
            await self._to_technician(session, frame)
        elif message.type == "event":
            if str(message["name"]).startswith("screen."):
                await self._to_viewers(session, frame)
            else:
                await self._to_technician(session, frame)
        elif message.type == "journal":
            for record in message["records"]:
                if not self._keep_journal_record(session, record):
                    break
            session.records.flush()
        elif message.type == "bye":  # the customer ended, or the agent acknowledges the end
            self._check_agent_head(session, message.get("journal"))
            await self._end(session, str(message["reason"]), by="customer")
            session.records.close()
            return True
        else:
            await ws.send(protocol.encode(protocol.error(
                message.get("id"), ProtocolError(f"an agent does not send {message.type}").to_wire())))
        return False

    def _keep_journal_record(self, session: RelaySession, record: Any) -> bool:
        """Keep one record of the agent's journal; False (and an alert) when it breaks the chain."""
        try:
            session.records.add_journal_record(record if isinstance(record, dict) else {})
            return True
        except ChainError as err:
            self._journal_alert(session, str(err))
            return False

    def _journal_alert(self, session: RelaySession, reason: str) -> None:
        log.warning("session %s: journal alert: %s", session.id, reason)
        session.meta.setdefault("journal_alerts", []).append({"time": utc_now(), "reason": reason})
        session.records.save_meta(session.meta)

    # -- technicians -----------------------------------------------------

    async def _serve_technician(self, ws: ServerConnection, hello: protocol.Message) -> None:
        resume = hello.get("resume")
        if resume is not None:
            session = self._resume(resume, "technician_token_sha256")
            old, session.technician = session.technician, ws
            if old is not None and old is not ws:
                await old.close(code=4001, reason="replaced by a newer connection")
            await ws.send(protocol.encode(protocol.Message("welcome", {
                "session_id": session.id, "resumed": True, "agent_connected": session.agent is not None})))
            while session.to_technician and session.technician is ws:
                await ws.send(session.to_technician.popleft())
        else:
            session = await self._pair(ws, hello)
        try:
            await self._pump_technician(session, ws)
        finally:
            if session.technician is ws:
                session.technician = None

    async def _pair(self, ws: ServerConnection, hello: protocol.Message) -> RelaySession:
        name = self.technicians.admit(hello.get("name"), hello.get("key"))
        code = hello.get("code")
        if not isinstance(code, str):
            raise PairingFailed("a session code is required")
        try:
            owner = self.codes.claim(code)
        finally:
            for burned in self.codes.take_burned():
                await self._hand_new_code(burned, "burned")
        waiting = self.waiting.get(owner)
        if waiting is None or waiting.paired.done():
            raise PairingFailed("the customer's agent left before the technician arrived")
        agent_token, technician_token = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        session_id = str(uuid.uuid4())
        agent_hello = waiting.hello
        meta: dict[str, Any] = {
            "session_id": session_id,
            "started_at": utc_now(),
            "ended_at": None,
            "technician": name,
            "machine": agent_hello.get("machine", {}),
            "consent": agent_hello.get("consent", {}),
            "policy": agent_hello.get("policy", {}),
            "agent_version": agent_hello.get("agent_version"),
            "agent_token_sha256": hash_secret(agent_token),
            "technician_token_sha256": hash_secret(technician_token),
        }
        session = RelaySession(meta, SessionRecords(self.data_dir, session_id), agent=waiting.ws, technician=ws)
        session.records.save_meta(meta)
        self.sessions[session_id] = session
        public = {k: v for k, v in meta.items() if not k.endswith("_sha256")}
        await waiting.ws.send(protocol.encode(protocol.Message("paired", {**public, "resume_token": agent_token})))
        await ws.send(protocol.encode(protocol.Message("paired", {**public, "resume_token": technician_token})))
        waiting.paired.set_result(session)
        return session

    async def _pump_technician(self, session: RelaySession, ws: ServerConnection) -> None:
        async for frame in ws:
            try:
                message = protocol.decode(frame)
            except WorkbenchError as err:
                await ws.send(protocol.encode(protocol.error(None, err.to_wire())))
                continue
            session.records.log_message("technician>", message.type, message.fields, _size(frame))
            if message.type == "request":
                if str(message["method"]).startswith("relay."):
                    await ws.send(protocol.encode(self._relay_method(session, message)))
                elif session.ended:
                    await ws.send(protocol.encode(protocol.error(message["id"], SessionEnded(
                        "the session has ended").to_wire())))
                elif not await self._to_agent(session, frame):
                    await ws.send(protocol.encode(protocol.error(message["id"], Unavailable(
                        "the customer's agent is away and too much is waiting for it").to_wire())))
            elif message.type == "bye":
                await self._end(session, str(message["reason"]), by="technician")
                return
            else:
                await ws.send(protocol.encode(protocol.error(
                    message.get("id"), ProtocolError(f"a technician does not send {message.type}").to_wire())))

    def _relay_method(self, session: RelaySession, message: protocol.Message) -> protocol.Message:
        method = message["method"]
        if method == "relay.viewer_token":
            token = secrets.token_urlsafe(24)
            session.viewer_tokens[hash_secret(token)] = self.clock() + VIEWER_TOKEN_LIFETIME
            return protocol.response(message["id"], {"token": token, "session_id": session.id,
                                                     "expires_in": VIEWER_TOKEN_LIFETIME})
        if method == "relay.status":
            return protocol.response(message["id"], {
                "session_id": session.id, "agent_connected": session.agent is not None,
                "viewers": len(session.viewers), "viewer_connections": session.viewer_connections,
                "viewer_refusals": session.viewer_refusals, "viewer_events": dict(session.viewer_events),
                "journal_seq": session.records.follower.seq,
                "journal_head": session.records.follower.head,
                "journal_alerts": session.meta.get("journal_alerts", []), "ended_at": session.meta.get("ended_at")})
        return protocol.error(message["id"], UnknownMethod(f"the relay has no method {method!r}").to_wire())

    # -- viewers ---------------------------------------------------------

    async def _serve_viewer(self, ws: ServerConnection, hello: protocol.Message) -> None:
        session = self.sessions.get(str(hello.get("session_id")))
        token = hello.get("token")
        if session is None or not isinstance(token, str):
            raise Unauthorized("unknown session or token")
        expiry = session.viewer_tokens.get(hash_secret(token))
        if expiry is None or expiry < self.clock():
            session.viewer_refusals += 1
            raise Unauthorized("unknown session or token")
        if session.ended:
            raise SessionEnded("the session has ended")
        viewer_id = uuid.uuid4().hex[:12]
        session.viewers[viewer_id] = ws
        session.viewer_connections += 1
        try:
            await ws.send(protocol.encode(protocol.Message("welcome", {"viewer_id": viewer_id})))
            await self._to_agent(session, protocol.encode(self._viewers_event(session)))
            async for frame in ws:
                try:
                    message = protocol.decode(frame)
                    name = str(message.get("name", ""))
                    if message.type != "event" or not name.startswith(VIEWER_EVENT_PREFIXES):
                        raise ProtocolError("a viewer sends screen, control and annotate events only")
                except WorkbenchError as err:
                    await ws.send(protocol.encode(protocol.error(None, err.to_wire())))
                    continue
                session.viewer_events[name] = session.viewer_events.get(name, 0) + 1
                session.records.log_message("viewer>", message.type, message.fields, _size(frame))
                body = {**message["body"], "viewer_id": viewer_id}
                await self._to_agent(session, protocol.encode(protocol.event(name, body, message.data)))
        finally:
            session.viewers.pop(viewer_id, None)
            if not session.ended:
                await self._to_agent(session, protocol.encode(self._viewers_event(session)))

    def _viewers_event(self, session: RelaySession) -> protocol.Message:
        return protocol.event("relay.viewers", {"count": len(session.viewers), "viewers": sorted(session.viewers)})

    # -- shared ----------------------------------------------------------

    def _resume(self, resume: Any, token_field: str) -> RelaySession:
        if not isinstance(resume, dict):
            raise ProtocolError("resume must be an object")
        session = self.sessions.get(str(resume.get("session_id")))
        token = resume.get("token")
        if session is None or not isinstance(token, str) or session.meta.get(token_field) != hash_secret(token):
            raise Unauthorized("no such session to resume")
        if session.ended:
            raise SessionEnded(f"the session ended: {session.meta.get('end_reason', '')}")
        return session

    async def _to_agent(self, session: RelaySession, frame: Frame) -> bool:
        return await self._deliver(session.agent, session.to_agent, frame)

    async def _to_technician(self, session: RelaySession, frame: Frame) -> bool:
        return await self._deliver(session.technician, session.to_technician, frame)

    async def _deliver(self, ws: ServerConnection | None, waiting: deque[Frame], frame: Frame) -> bool:
        """Send *frame*, or keep it for when the side resumes; False when the queue is full."""
        if ws is not None:
            try:
                await ws.send(frame)
                return True
            except ConnectionClosed:
                pass
        if len(waiting) >= MAX_WAITING_FRAMES:
            return False
        waiting.append(frame)
        return True

    async def _to_viewers(self, session: RelaySession, frame: Frame) -> None:
        for viewer in list(session.viewers.values()):
            await self._send_quietly(viewer, frame)

    async def _send_quietly(self, ws: ServerConnection, frame: Frame) -> None:
        with contextlib.suppress(ConnectionClosed):
            await ws.send(frame)

    async def _end(self, session: RelaySession, reason: str, by: str) -> None:
        """End *session*: record the end time and tell everyone still connected."""
        if session.ended:
            return
        session.meta["ended_at"] = utc_now()
        session.meta["end_reason"] = reason
        session.meta["ended_by"] = by
        session.records.save_meta(session.meta)
        bye = protocol.encode(protocol.bye(reason))
        for ws in [session.technician, *session.viewers.values()]:
            if ws is not None:
                await self._send_quietly(ws, bye)
                await ws.close()
        agent = session.agent
        if agent is not None and by != "customer":
            # The agent journals the end and answers with its last records and a bye;
            # its connection stays open for that, but not for ever.
            await self._send_quietly(agent, bye)
            asyncio.get_running_loop().call_later(AGENT_GOODBYE_TIMEOUT, lambda: asyncio.ensure_future(agent.close()))
        elif agent is None:
            session.records.close()


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
