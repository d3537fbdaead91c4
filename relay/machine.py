"""The relay's rules as a state machine without I/O: events in, actions out.

Everything the relay decides lives here: pairing an agent with a technician by a
one-time code (wrong tries, burned and expired codes, the technicians list),
resuming either side with its token and sending it what waited for it, the bounded
queue for a side that is away, admitting screen viewers by token, checking the
agent's journal against the hash chain and its head against the agent's (see
:meth:`RelayMachine._journal_alert`), and ending a session.  No sockets, no event loop, no files, no
clock: the I/O layer (:mod:`relay.server`) feeds :meth:`RelayMachine.handle` the
events of :mod:`relay.events` with the time they happened, and carries out the
actions it returns, in order.  The machine draws codes, tokens and ids from
:mod:`secrets` and :mod:`uuid`; tests read them from the frames it sends.

Roles, announced by the first message on a connection (``hello``):

- ``agent``: a customer's agent, after the customer accepted the terms.  A new
  agent is handed a code (``welcome {code}``); a reconnecting one resumes its
  session with ``resume {session_id, token}``.
- ``technician``: a workbench; pairs with ``code`` (and ``name``/``key`` when the
  relay admits only listed technicians) or resumes like the agent.
- ``viewer``: a screen widget's own websocket, admitted by a token the technician
  obtained with the ``relay.viewer_token`` request (see ``docs/screen-protocol.md``).

A bad frame gets an ``error`` reply with a code and the connection stays up; a bad
hello gets the error and the connection is closed.  Failed pairing tries are
limited per address and in all (:class:`relay.limits.PairingLimiter`); a
connection is *trusted* (the :class:`~relay.events.Trust` action: the I/O layer
lifts its limits on unauthenticated peers) once it is paired, resumed or an admitted viewer.
A request too deep to decode (:class:`~wire.errors.TooDeep`) is still forwarded to
the agent, which answers it by its id and journals the refusal; an answer too deep
reaches the technician as a ``too_deep`` error for that request.
"""

from __future__ import annotations

import copy
import json
import logging
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

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
    Side,
    Trust,
    Undecodable,
    Undelivered,
)
from relay.limits import PairingLimiter, address_key
from relay.pairing import CodeBook, Technicians, format_code, hash_secret
from relay.playbooks import check_room, playbook_file_name
from relay.session import SessionState
from wire import protocol
from wire.chain import ChainError, ChainFollower
from wire.errors import (
    BadCode,
    CodeBurned,
    CodeExpired,
    PairingFailed,
    ProtocolError,
    SessionEnded,
    TooDeep,
    Unauthorized,
    Unavailable,
    UnknownMethod,
    WorkbenchError,
)
from wire.frame_format import index_fields
from wire.recording import KEY_INTERVAL, RECORD_ONLY_FPS, RECORDER_ID

log = logging.getLogger(__name__)

#: Frames kept for a side that is away; beyond this the sender is told ``unavailable``.
MAX_WAITING_FRAMES = 1000
VIEWER_TOKEN_LIFETIME = 12 * 3600.0
#: How long an agent has to send its last journal records after the technician ended the session.
AGENT_GOODBYE_TIMEOUT = 10.0
#: Event prefixes a viewer may send on to the agent.
VIEWER_EVENT_PREFIXES = ("screen.", "control.", "annotate.")
#: Close code for a connection a side replaced by resuming on a new one.
REPLACED = 4001
#: The frame-rate cap asked of the agent when a technician's view opens while recording (the agent's default).
LIVE_FPS = 40


#: What the relay keeps of a waiting agent's hello, for the session's records once paired.
AGENT_HELLO_FIELDS = ("machine", "consent", "policy", "agent_version")
#: Failures of a technician's hello that count against its address (see relay.limits).
_FAILED_TRIES = (BadCode, CodeExpired, CodeBurned, Unauthorized)


@dataclass
class _WaitingAgent:
    """An agent holding a code, waiting for a technician.

    Its hello is kept as compact JSON text, the few fields the session needs: an
    unauthenticated peer makes the relay hold no more than the bytes it sent.
    """

    hello_json: str

    def hello(self) -> dict[str, Any]:
        return dict(json.loads(self.hello_json))


@dataclass
class _Party:
    """The agent or the technician of a session."""

    side: Side
    session: SessionState


@dataclass
class _Viewer:
    session: SessionState
    viewer_id: str


_Connection = _WaitingAgent | _Party | _Viewer


class RelayMachine:
    """The relay's state: waiting agents, sessions, connections; see the module docstring.

    Not thread-safe: one caller feeds it, one event at a time.
    """

    def __init__(self, technicians: Technicians | None = None, *, code_ttl: float = 600.0,
                 max_wrong_tries: int = 5, max_waiting_frames: int = MAX_WAITING_FRAMES,
                 limiter: PairingLimiter | None = None, record: bool = True,
                 retention: dict[str, str] | None = None) -> None:
        #: ``--record all`` (True) or ``none``: whether new sessions' screens are recorded (R5)
        self.record = record
        self.technicians = technicians or Technicians.open()
        #: the retention policy's periods (data class → "90d"/"forever"), told to each customer once paired (R7)
        self.retention = dict(retention) if retention else None
        self.limiter = limiter or PairingLimiter()
        self._now = Instant(0.0, "")
        self.codes = CodeBook(ttl=code_ttl, max_wrong=max_wrong_tries, clock=lambda: self._now.monotonic)
        self.max_waiting_frames = max_waiting_frames
        self.sessions: dict[str, SessionState] = {}
        self._connections: dict[ConnId, _Connection] = {}
        #: connections the machine closed whose :class:`Closed` has not come yet; their frames are ignored
        self._closing: set[ConnId] = set()
        self._out: list[Action] = []

    def restore(self, meta: dict[str, Any], chain: ChainFollower) -> SessionState:
        """Take back a session that had not ended when the relay stopped, so both sides can resume.

        *chain* is the head of the journal records kept so far.
        """
        session = SessionState(meta, chain)
        session.recording = meta.get("recording") == "all"
        self.sessions[session.id] = session
        return session

    def forget(self, session_id: str) -> list[ConnId]:
        """Drop the session *session_id* without ending it: another relay of a cluster holds it now.

        Returns its connections (sides and viewers), which the machine forgets too: the caller
        closes them, so their sides resume on the holder, and their :class:`Closed` then changes
        nothing here.  Nothing is written: the records are the new holder's to keep.  An unknown
        session gives ``[]``.
        """
        session = self.sessions.pop(session_id, None)
        if session is None:
            return []
        conns = [conn for conn, state in self._connections.items()
                 if isinstance(state, _Party | _Viewer) and state.session is session]
        for conn in conns:
            del self._connections[conn]
            self._closing.discard(conn)
        return conns

    def handle(self, event: Event, now: Instant) -> list[Action]:
        """Take one *event* that happened at *now*; return what to do, in order.

        Never raises for anything a connection sent: a bad message becomes an
        ``error`` frame in the actions.
        """
        self._now = now
        self._out = []
        if isinstance(event, Hello):
            self._on_hello(event.conn, event.message, address_key(event.peer))
        elif isinstance(event, Received):
            self._on_message(event.conn, event.message, event.frame)
        elif isinstance(event, Undecodable):
            self._on_undecodable(event.conn, event.error, event.frame)
        elif isinstance(event, Closed):
            self._on_closed(event.conn)
        elif isinstance(event, Undelivered):
            self._on_undelivered(event)
        else:
            self._on_tick()
        actions, self._out = self._out, []
        return actions

    # -- events ----------------------------------------------------------

    def _on_hello(self, conn: ConnId, hello: protocol.Message, peer: str) -> None:
        try:
            if conn in self._connections or conn in self._closing:
                raise ProtocolError("hello only once")
            if hello.type != "hello":
                raise ProtocolError("the first message must be hello")
            role = hello["role"]
            if role == "agent":
                self._agent_hello(conn, hello)
            elif role == "technician":
                self._technician_hello(conn, hello, peer)
            elif role == "viewer":
                self._viewer_hello(conn, hello)
            else:
                raise ProtocolError(f"unknown role {role!r}")
        except WorkbenchError as err:
            self._refuse(conn, err)

    def _on_message(self, conn: ConnId, message: protocol.Message, frame: Frame) -> None:
        state = self._connections.get(conn)
        if state is None or conn in self._closing:
            return  # closed by the relay: what it still sends does not count
        try:
            if isinstance(state, _WaitingAgent):
                self._from_waiting_agent(conn, message)
            elif isinstance(state, _Viewer):
                self._from_viewer(conn, state, message, frame)
            elif state.side == "agent":
                self._from_agent(conn, state.session, message, frame)
            else:
                self._from_technician(conn, state.session, message, frame)
        except WorkbenchError as err:
            self._refuse(conn, err)

    def _on_undecodable(self, conn: ConnId, error: WorkbenchError, frame: Frame) -> None:
        if conn in self._closing:
            return
        state = self._connections.get(conn)
        if state is None:  # its first frame: no hello, no connection
            self._refuse(conn, error)
            return
        envelope = error.envelope if isinstance(error, TooDeep) else None
        request_id = envelope.get("id") if envelope is not None else None
        if (isinstance(state, _Party) and request_id is not None and envelope is not None
                and self._too_deep(conn, state, envelope, frame)):
            return
        self._send(conn, protocol.error(request_id, error.to_wire()))

    def _too_deep(self, conn: ConnId, party: _Party, envelope: dict[str, Any], frame: Frame) -> bool:
        """Route a message too deep to decode by its envelope; False when the sender is to be told.

        A technician's request goes on to the agent, which refuses it by its id and
        journals the refusal; an agent's answer becomes a ``too_deep`` error for the request.
        """
        session, kind, request_id = party.session, envelope.get("type"), str(envelope["id"])
        if party.side == "technician" and kind == "request":
            method = str(envelope.get("method", ""))
            if method.startswith("relay.") or session.ended:
                return False
            summary = protocol.Message("request", {"id": request_id, "method": method,
                                                   "params": {"omitted": "nested too deep"}})
            self._log(session, "technician>", summary, frame)
            if not self._deliver(session, "agent", frame):
                self._send(conn, protocol.error(request_id, Unavailable(
                    "the customer's agent is away and too much is waiting for it").to_wire()))
            return True
        if party.side == "agent" and kind in ("response", "error"):
            refusal = TooDeep(f"the agent's answer is nested deeper than {protocol.MAX_DEPTH} levels")
            self._to_technician(session, protocol.error(request_id, refusal.to_wire()))
            return True
        return False

    def _on_closed(self, conn: ConnId) -> None:
        self._closing.discard(conn)
        state = self._connections.pop(conn, None)
        if isinstance(state, _WaitingAgent):
            self.codes.withdraw(conn)
        elif isinstance(state, _Viewer):
            session = state.session
            session.viewers.pop(state.viewer_id, None)
            if not session.ended:
                self._to_agent(session, self._viewers_event(session))
                if session.recording and not session.viewers:
                    self._recorder_rate(session, RECORD_ONLY_FPS)
        elif isinstance(state, _Party):
            session = state.session
            if state.side == "agent":
                if session.ended:
                    self._close_records(session)
                if session.agent == conn:
                    session.agent = None
                    session.agent_goodbye_at = None
                    if not session.ended:
                        self._to_technician(session, protocol.event("relay.agent", {"connected": False}))
            elif session.technician == conn:
                session.technician = None

    def _on_undelivered(self, event: Undelivered) -> None:
        session = self.sessions.get(event.session_id)
        if session is None:
            return
        current, waiting = session.side(event.side)
        if current is not None and current != event.conn and current not in self._closing:
            self._out.append(Deliver(current, event.frame, session.id, event.side))
        elif len(waiting) < self.max_waiting_frames:
            waiting.append(event.frame)
        else:
            log.warning("session %s: a frame for the %s was lost: too much waits for it", session.id, event.side)

    def _on_tick(self) -> None:
        for owner in self.codes.sweep():
            self._hand_new_code(owner, "expired")
        for session in self.sessions.values():
            deadline = session.agent_goodbye_at
            if deadline is not None and deadline <= self._now.monotonic:
                session.agent_goodbye_at = None
                if session.agent is not None:
                    self._close(session.agent)
            if session.records_open:
                self._out.append(FlushRecords(session.id))
            self._maybe_ask_key_frame(session)

    # -- agents ----------------------------------------------------------

    def _agent_hello(self, conn: ConnId, hello: protocol.Message) -> None:
        resume = hello.get("resume")
        if resume is not None:
            session = self._resume(resume, "agent_token_sha256")
            self._check_agent_head(session, hello.get("journal"))
            self._attach_agent(session, conn)
            return
        if not isinstance(hello.get("consent"), dict):
            raise ProtocolError("an agent says hello only after the customer's consent")
        kept = {name: hello[name] for name in AGENT_HELLO_FIELDS if name in hello.fields}
        self._connections[conn] = _WaitingAgent(json.dumps(kept, separators=(",", ":"), ensure_ascii=False))
        self._hand_new_code(conn, "new")

    def _hand_new_code(self, owner: ConnId, reason: str) -> None:
        """Issue a code to the waiting agent *owner* and send it (``new``, ``expired`` or ``burned``)."""
        if not isinstance(self._connections.get(owner), _WaitingAgent):
            return
        code = self.codes.issue(owner)
        self._send(owner, protocol.Message("welcome", {"code": format_code(code), "expires_in": self.codes.ttl,
                                                       "reason": reason}))

    def _from_waiting_agent(self, conn: ConnId, message: protocol.Message) -> None:
        if message.type == "bye":
            self._connections.pop(conn, None)
            self.codes.withdraw(conn)
            self._close(conn)
            return
        self._send(conn, protocol.error(
            message.get("id"), ProtocolError("no technician yet: only bye is expected").to_wire()))

    def _attach_agent(self, session: SessionState, conn: ConnId) -> None:
        old, session.agent = session.agent, conn
        session.last_frame_seq = None  # frames of an older connection never reach anyone now
        self._connections[conn] = _Party("agent", session)
        if old is not None and old != conn:
            self._close(old, REPLACED, "replaced by a newer connection")
        self._out.append(Trust(conn))
        self._send(conn, protocol.Message("welcome", {
            "session_id": session.id, "resumed": True, "journal_seq": session.chain.seq,
            "journal_head": session.chain.head, "technician": session.meta.get("technician")}))
        self._send(conn, self._viewers_event(session))
        if session.recording and not session.viewers:
            self._recorder_rate(session, RECORD_ONLY_FPS)
        while session.to_agent:
            self._out.append(Deliver(conn, session.to_agent.popleft(), session.id, "agent"))
        self._to_technician(session, protocol.event("relay.agent", {"connected": True}))

    def _from_agent(self, conn: ConnId, session: SessionState, message: protocol.Message, frame: Frame) -> None:
        self._log(session, "agent>", message, frame)
        if message.type in ("response", "error"):
            request_id = message.get("id")
            if request_id in session.screenshot_requests:
                session.screenshot_requests.discard(request_id)
                if message.type == "response" and message.data and session.records_open:
                    result = message.get("result")
                    self._out.append(SaveScreenshot(session.id, str(request_id),
                                                    result if isinstance(result, dict) else {}, message.data))
            self._deliver(session, "technician", frame)
        elif message.type == "event":
            if str(message["name"]).startswith("screen."):
                for viewer in session.viewers.values():
                    self._out.append(Send(viewer, frame))
                index = self._frame_index(session, message)
                self._record_screen(session, message, index)
            else:
                self._deliver(session, "technician", frame)
        elif message.type == "journal":
            for record in message["records"]:
                if not self._keep_journal_record(session, record):
                    break
            if session.records_open:
                self._out.append(FlushRecords(session.id))
                # The head kept (and flushed): the agent compares it with its own record of that number.
                self._send(conn, protocol.event("relay.journal", {"seq": session.chain.seq,
                                                                  "head": session.chain.head}))
        elif message.type == "bye":  # the customer ended, or the agent acknowledges the end
            self._check_agent_head(session, message.get("journal"))
            self._end(session, str(message["reason"]), by="customer")
            self._close_records(session)
            self._close(conn)
        else:
            self._send(conn, protocol.error(
                message.get("id"), ProtocolError(f"an agent does not send {message.type}").to_wire()))

    def _keep_journal_record(self, session: SessionState, record: Any) -> bool:
        """Keep the agent's next journal record; False (and an alert) when it breaks the chain.

        A record already kept (a resumed agent sends again what it was not sure of) is skipped.
        """
        if not session.records_open:
            return True
        record = record if isinstance(record, dict) else {}
        seq = record.get("seq")
        if isinstance(seq, int) and seq <= session.chain.seq:
            return True
        try:
            line = session.chain.check(record)
        except ChainError as err:
            self._journal_alert(session, str(err))
            return False
        self._out.append(AppendJournal(session.id, record, line))
        return True

    def _check_agent_head(self, session: SessionState, head: Any) -> None:
        """Compare the agent's head (on resuming, on bye) with the copy kept; an alert when they disagree.

        A journal shorter than the copy, or as long with another last hash, cannot be the journal
        the relay kept records of.  A longer one is checked as its records arrive.
        """
        if not isinstance(head, dict) or not session.records_open:
            return
        seq = head.get("seq")
        if not isinstance(seq, int):
            return
        if seq < session.chain.seq:
            self._journal_alert(session, f"the agent's journal has {seq} records; the relay kept {session.chain.seq}")
        elif seq == session.chain.seq and isinstance(head.get("head"), str) and head["head"] != session.chain.head:
            self._journal_alert(session, f"the agent's journal and the relay's copy both have {seq} records, "
                                         "but their last hashes differ: one of them was altered")

    def _journal_alert(self, session: SessionState, reason: str) -> None:
        """Record that the agent's journal and the relay's copy disagree, and tell both sides.

        The alert goes to ``session.json`` (``journal_alerts``), the relay's log, the technician
        and the agent (a ``relay.journal_alert`` event, ``at``: the last record the copy holds).
        Once per place where the copies part: later records that cannot follow are the same break.
        """
        at = session.chain.seq
        alerts = session.meta.setdefault("journal_alerts", [])
        if any(isinstance(a, dict) and a.get("at") == at for a in alerts):
            return
        log.warning("session %s: journal alert: %s", session.id, reason)
        alert = {"time": self._now.utc, "at": at, "reason": reason}
        alerts.append(alert)
        self._save_meta(session)
        event = protocol.event("relay.journal_alert", dict(alert))
        self._to_technician(session, event)
        self._to_agent(session, event)

    # -- technicians -----------------------------------------------------

    def _technician_hello(self, conn: ConnId, hello: protocol.Message, peer: str) -> None:
        resume = hello.get("resume")
        if resume is None:
            self.limiter.check(peer, self._now.monotonic)
            try:
                self._pair(conn, hello)
            except _FAILED_TRIES:
                self.limiter.failed(peer, self._now.monotonic)
                raise
            return
        session = self._resume(resume, "technician_token_sha256")
        old, session.technician = session.technician, conn
        self._connections[conn] = _Party("technician", session)
        if old is not None and old != conn:
            self._close(old, REPLACED, "replaced by a newer connection")
        self._out.append(Trust(conn))
        self._send(conn, protocol.Message("welcome", {
            "session_id": session.id, "resumed": True, "agent_connected": session.agent is not None}))
        while session.to_technician:
            self._out.append(Deliver(conn, session.to_technician.popleft(), session.id, "technician"))

    def _pair(self, conn: ConnId, hello: protocol.Message) -> None:
        """Admit the technician, claim its code and start the session with the code's agent.

        Raises :class:`Unauthorized`, :class:`PairingFailed` and the code's errors
        (:class:`BadCode`, :class:`CodeExpired`, :class:`CodeBurned`, :class:`CodeInUse`).  A wrong try
        counts only against the waiting codes one typo away from it
        (:class:`relay.pairing.CodeBook`); an agent whose code it burned is handed a new
        one before the technician is answered.
        """
        name = self.technicians.admit(hello.get("name"), hello.get("key"))
        code = hello.get("code")
        if not isinstance(code, str):
            raise PairingFailed("a session code is required")
        # The claim sweeps expired codes too, and would drop their owners: hand them new codes first.
        for expired in self.codes.sweep():
            self._hand_new_code(expired, "expired")
        try:
            owner = self.codes.claim(code)
        finally:
            for burned in self.codes.take_burned():
                self._hand_new_code(burned, "burned")
        waiting = self._connections.get(owner)
        if not isinstance(waiting, _WaitingAgent):
            raise PairingFailed("the customer's agent left before the technician arrived")
        self.codes.withdraw(owner)
        agent_token, technician_token = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        agent_hello = waiting.hello()
        meta: dict[str, Any] = {
            "session_id": str(uuid.uuid4()),
            "started_at": self._now.utc,
            "ended_at": None,
            "technician": name,
            "machine": agent_hello.get("machine", {}),
            "consent": agent_hello.get("consent", {}),
            "policy": agent_hello.get("policy", {}),
            "agent_version": agent_hello.get("agent_version"),
            "agent_token_sha256": hash_secret(agent_token),
            "technician_token_sha256": hash_secret(technician_token),
        }
        session = SessionState(meta, agent=owner, technician=conn)
        self.sessions[session.id] = session
        self._connections[owner] = _Party("agent", session)
        self._connections[conn] = _Party("technician", session)
        meta["recording"] = "all" if self.record else "none"
        session.recording = self.record
        self._out.extend((Trust(owner), Trust(conn), OpenRecords(session.id)))
        self._save_meta(session)
        public = {k: v for k, v in meta.items() if not k.endswith("_sha256")}
        told = {"retention": self.retention} if self.retention else {}
        self._send(owner, protocol.Message("paired", {**public, **told, "resume_token": agent_token}))
        self._send(conn, protocol.Message("paired", {**public, "resume_token": technician_token}))
        if session.recording:
            # The recorder is a viewer from the first moment: the agent streams at a low rate for it.
            self._to_agent(session, self._viewers_event(session))
            self._recorder_rate(session, RECORD_ONLY_FPS)

    def _from_technician(self, conn: ConnId, session: SessionState, message: protocol.Message,
                         frame: Frame) -> None:
        self._log(session, "technician>", message, frame)
        if message.type == "request":
            if message["method"] == "screen.screenshot" and session.recording:
                session.screenshot_requests.add(message["id"])
            if str(message["method"]).startswith("relay."):
                self._send(conn, self._relay_method(session, message))
            elif session.ended:
                self._send(conn, protocol.error(message["id"], SessionEnded("the session has ended").to_wire()))
            elif not self._deliver(session, "agent", frame):
                self._send(conn, protocol.error(message["id"], Unavailable(
                    "the customer's agent is away and too much is waiting for it").to_wire()))
        elif message.type == "bye":
            self._end(session, str(message["reason"]), by="technician")
            self._close(conn)
        else:
            self._send(conn, protocol.error(
                message.get("id"), ProtocolError(f"a technician does not send {message.type}").to_wire()))

    def _relay_method(self, session: SessionState, message: protocol.Message) -> protocol.Message:
        method = message["method"]
        if method == "relay.viewer_token":
            token = secrets.token_urlsafe(24)
            session.viewer_tokens[hash_secret(token)] = self._now.monotonic + VIEWER_TOKEN_LIFETIME
            return protocol.response(message["id"], {"token": token, "session_id": session.id,
                                                     "expires_in": VIEWER_TOKEN_LIFETIME})
        if method == "relay.status":
            return protocol.response(message["id"], session.status())
        if method == "relay.put_playbook":
            return self._put_playbook(session, message)
        return protocol.error(message["id"], UnknownMethod(f"the relay has no method {method!r}").to_wire())

    def _put_playbook(self, session: SessionState, message: protocol.Message) -> protocol.Message:
        """Keep the executed notebook the request carries (:mod:`relay.playbooks`)."""
        try:
            if not session.records_open:
                raise SessionEnded("the session's record is closed")
            file_name = playbook_file_name(message.get("params"), message.data, self._now.utc)
            check_room(session.meta.get("playbooks"), len(message.data or b""))
        except WorkbenchError as err:
            return protocol.error(message["id"], err.to_wire())
        name = str(message["params"]["name"])
        self._out.append(SavePlaybook(session.id, file_name, message.data or b""))
        session.meta.setdefault("playbooks", []).append({"name": name, "file": f"playbooks/{file_name}",
                                                          "at": self._now.utc, "bytes": len(message.data or b"")})
        self._save_meta(session)
        return protocol.response(message["id"], {"path": f"sessions/{session.id}/playbooks/{file_name}"})

    # -- viewers ---------------------------------------------------------

    def _viewer_hello(self, conn: ConnId, hello: protocol.Message) -> None:
        """Admit a viewer by its token; raises :class:`Unauthorized` or :class:`SessionEnded`."""
        session = self.sessions.get(str(hello.get("session_id")))
        token = hello.get("token")
        if session is None or not isinstance(token, str):
            raise Unauthorized("unknown session or token")
        expiry = session.viewer_tokens.get(hash_secret(token))
        if expiry is None or expiry < self._now.monotonic:
            session.viewer_refusals += 1
            raise Unauthorized("unknown session or token")
        if session.ended:
            raise SessionEnded("the session has ended")
        viewer_id = uuid.uuid4().hex[:12]
        session.viewers[viewer_id] = conn
        session.viewer_connections += 1
        self._connections[conn] = _Viewer(session, viewer_id)
        self._out.append(Trust(conn))
        self._send(conn, protocol.Message("welcome", {"viewer_id": viewer_id}))
        self._to_agent(session, self._viewers_event(session))
        if session.recording and len(session.viewers) == 1:
            self._recorder_rate(session, LIVE_FPS)

    def _from_viewer(self, conn: ConnId, viewer: _Viewer, message: protocol.Message, frame: Frame) -> None:
        session = viewer.session
        name = str(message.get("name", ""))
        if message.type != "event" or not name.startswith(VIEWER_EVENT_PREFIXES):
            self._send(conn, protocol.error(None, ProtocolError(
                "a viewer sends screen, control and annotate events only").to_wire()))
            return
        session.viewer_events[name] = session.viewer_events.get(name, 0) + 1
        self._log(session, "viewer>", message, frame)
        body = {**message["body"], "viewer_id": viewer.viewer_id}
        self._to_agent(session, protocol.event(name, body, message.data))

    def _viewers_event(self, session: SessionState) -> protocol.Message:
        """``relay.viewers``: the technicians' live views, and the recorder while the session is recorded.

        The recorder is not counted in ``count`` (the customer is told when a person views their
        screen); an agent that knows ``recorder`` streams for it too, and waits for its acks.
        """
        body: dict[str, Any] = {"count": len(session.viewers), "viewers": sorted(session.viewers)}
        if session.recording and not session.ended:
            body["recorder"] = RECORDER_ID
        if session.last_frame_seq is not None:
            # Frames after this one reach every viewer listed (frames up to it reached the viewers listed
            # before): a joining viewer owes acks for those only, so the agent keeps its credits ("at
            # most two in flight" holds for each viewer from its first frame).
            body["last_frame_seq"] = session.last_frame_seq
        return protocol.event("relay.viewers", body)

    # -- recording -------------------------------------------------------

    def _recorder_rate(self, session: SessionState, max_fps: int) -> None:
        """Ask the agent for *max_fps*: a low rate while only the recorder watches, full rate with a view.

        The recorder keeps bytes and decodes nothing, so it takes ``copy`` and ``h264`` rectangles.
        """
        self._to_agent(session, protocol.event("screen.configure", {
            "max_fps": max_fps, "copy": True, "h264": True, "viewer_id": RECORDER_ID}))

    @staticmethod
    def _frame_index(session: SessionState, message: protocol.Message) -> dict[str, Any]:
        """``seq`` and ``key`` of a ``screen.frame`` ({} for other events); notes the seq passed on."""
        body = message.get("body")
        if message["name"] != "screen.frame" or not isinstance(body, dict):
            return {}
        # Formats 2 and 3 keep seq and key in their binary header (the compact envelope's payload).
        index = index_fields(body, message.data or b"")
        seq = index.get("seq")
        if isinstance(seq, int) and not isinstance(seq, bool):
            session.last_frame_seq = seq
        return index

    def _record_screen(self, session: SessionState, message: protocol.Message, index: dict[str, Any]) -> None:
        """Keep a ``screen.*`` event in the recording; ack frames as the recorder (it has kept them).

        *index*: the frame's ``seq`` and ``key`` (:meth:`_frame_index`).
        """
        if not session.recording or not session.records_open:
            return
        name, body = str(message["name"]), message.get("body")
        if not isinstance(body, dict):
            return
        self._out.append(RecordScreen(session.id, name, body, message.data))
        if name != "screen.frame":
            return
        if index.get("key"):
            session.last_key_at, session.frames_since_key, session.key_requested_at = self._now.monotonic, 0, None
        else:
            session.frames_since_key += 1
        seq = index.get("seq")
        # While a view is open the agent paces the stream by the views' acks (the recorder keeps every
        # frame they get); with none, by the recorder's.
        if isinstance(seq, int) and not session.ended and not session.viewers:
            self._to_agent(session, protocol.event("screen.ack", {"seq": seq, "viewer_id": RECORDER_ID}))

    def _maybe_ask_key_frame(self, session: SessionState) -> None:
        """Ask for a key frame once :data:`KEY_INTERVAL` seconds of changes followed the last: seeks stay short."""
        if not session.recording or session.ended or session.agent is None or session.frames_since_key == 0:
            return
        now = self._now.monotonic
        if now - session.last_key_at < KEY_INTERVAL:
            return
        if session.key_requested_at is not None and now - session.key_requested_at < KEY_INTERVAL:
            return
        session.key_requested_at = now
        self._to_agent(session, protocol.event("screen.key_request", {"viewer_id": RECORDER_ID}))

    # -- shared ----------------------------------------------------------

    def _resume(self, resume: Any, token_field: str) -> SessionState:
        """The session *resume* names; raises :class:`Unauthorized` or :class:`SessionEnded`."""
        if not isinstance(resume, dict):
            raise ProtocolError("resume must be an object")
        session = self.sessions.get(str(resume.get("session_id")))
        token = resume.get("token")
        if session is None or not isinstance(token, str) or session.meta.get(token_field) != hash_secret(token):
            raise Unauthorized("no such session to resume")
        if session.ended:
            raise SessionEnded(f"the session ended: {session.meta.get('end_reason', '')}")
        return session

    def _end(self, session: SessionState, reason: str, by: str) -> None:
        """End *session*: record the end time and tell everyone still connected."""
        if session.ended:
            return
        session.meta["ended_at"] = self._now.utc
        session.meta["end_reason"] = reason
        session.meta["ended_by"] = by
        self._save_meta(session)
        bye = protocol.bye(reason)
        for conn in [session.technician, *session.viewers.values()]:
            if conn is not None:
                self._send(conn, bye)
                self._close(conn)
        if session.agent is not None and by != "customer":
            # The agent journals the end and answers with its last records and a bye;
            # its connection stays open for that, but not for ever.
            self._send(session.agent, bye)
            session.agent_goodbye_at = self._now.monotonic + AGENT_GOODBYE_TIMEOUT
        elif session.agent is None:
            self._close_records(session)

    def _to_agent(self, session: SessionState, message: protocol.Message) -> bool:
        return self._deliver(session, "agent", protocol.encode(message))

    def _to_technician(self, session: SessionState, message: protocol.Message) -> bool:
        return self._deliver(session, "technician", protocol.encode(message))

    def _deliver(self, session: SessionState, side: Side, frame: Frame) -> bool:
        """Send *frame* to *side*, or keep it for when that side resumes; False when too much waits already."""
        conn, waiting = session.side(side)
        if conn is not None and conn not in self._closing:
            self._out.append(Deliver(conn, frame, session.id, side))
            return True
        if len(waiting) >= self.max_waiting_frames:
            return False
        waiting.append(frame)
        return True

    def _send(self, conn: ConnId, message: protocol.Message) -> None:
        self._out.append(Send(conn, protocol.encode(message)))

    def _refuse(self, conn: ConnId, error: WorkbenchError) -> None:
        """Answer *error* and close: the connection cannot go on."""
        self._send(conn, protocol.error(None, error.to_wire()))
        self._close(conn)

    def _close(self, conn: ConnId, code: int = 1000, reason: str = "") -> None:
        if conn not in self._closing:
            self._closing.add(conn)
            self._out.append(Close(conn, code, reason))

    def _log(self, session: SessionState, direction: str, message: protocol.Message, frame: Frame) -> None:
        if session.records_open:
            self._out.append(LogMessage(session.id, direction, message.type, message.fields, len(frame)))

    def _save_meta(self, session: SessionState) -> None:
        self._out.append(SaveMeta(session.id, copy.deepcopy(session.meta)))

    def _close_records(self, session: SessionState) -> None:
        if session.records_open:
            session.records_open = False
            # Where the copy ends, so `workbench journal verify --against` notices a copy cut later.
            session.meta["journal_end"] = {"seq": session.chain.seq, "head": session.chain.head}
            self._save_meta(session)
            self._out.append(CloseRecords(session.id))
