"""A relay of a cluster: the one-process relay, plus routing over NATS to the relay holding a session.

Each session is *held* by one relay: its :class:`~relay.machine.RelayMachine` runs the session's
rules and that relay alone writes its records (in the data directory all relays share).  The
relay that pairs a session holds it: the agent's, since the code is the agent's (a technician's
code typed on another relay is sent on to the relay whose agent holds it, which also counts the
wrong tries against it, so five burn a code wherever they were typed).

A connection whose session another relay holds is *proxied*: this relay sends its hello and
frames on the session's subject ``wb.s.<session>.in`` (the holder subscribes per session it
holds) and the holder's machine sees an ordinary connection (named ``@<this relay>.<conn>``);
what the machine does to it (send, deliver, close, trust) comes back on
``wb.s.<session>.out.<this relay>`` (this relay subscribes per session it forwards).  Only a
technician pairing by a code another relay's agent holds has no session yet: it goes on that
relay's ``wb.relay.<id>.in`` and moves to its session's subjects once ``paired`` (this relay
subscribes, tells the holder "moved", then passes ``paired`` on).  A delivery that finds the
connection gone is answered ``undelivered``, so the holder keeps the frame for when that side
resumes, as for a local connection.  Screen frames and their acks travel the same way, end to
end, so the agent's credits (at most two frames in flight, the newest wins) hold across the hop.

A code is claimed in ``wb_codes`` by the relay whose agent holds it, before its machine pairs: a
revision-checked update of the key to ``used``, so a second claim fails on any relay, even once the
relay that issued the code is gone.

Fail-over: every relay writes its key in ``wb_relays`` every second.  When the holder's key has
aged out, the relay a side resumes on takes the session over (a revision-checked update of
``wb_sessions``: one relay wins) and restores it from the shared records, as a restarted relay
does (:meth:`relay.server.Relay.restore_session`); connections proxied to the dead holder are
closed so their sides resume.  Requests the dead relay had queued are sent again by the sides,
with the same ids (the agent's replay cache answers without running anything twice).

A relay that only *looked* dead (stopped, starved of CPU, cut from NATS for longer than
:data:`~relay.cluster.bus.LIVENESS`) comes back to find its choices undone, and each side must hear
of it, or a passive side (an agent waiting for requests) waits for ever on a connection nobody
serves, and what the relay writes on its way back lands in the records the new holder keeps.  So:

- a relay whose last heartbeat is old enough (:data:`MAY_LOOK_DEAD`) asks ``wb_sessions`` who holds
  its sessions before it handles anything else, and gives up those another relay took: the
  machine forgets the session without ending it, and its sides are closed, so they resume on
  the holder;
- the relay that takes a session over tells the old holder (``taken`` on its subject), which gives
  it up the same way once ``wb_sessions`` confirms it (for a holder that ran on but could not
  beat);
- a holder that forgets the connections of a relay it thinks dead tells that relay to close them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js.errors import KeyWrongLastSequenceError, NoKeysError, NotFoundError
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from relay.cluster.bus import HEARTBEAT, LIVENESS, Bus, inbox, join, outbox, session_in, session_of, session_out
from relay.cluster.codes import CodePool
from relay.cluster.envelope import Envelope, seal, unseal
from relay.events import (
    Action,
    Close,
    Closed,
    CloseRecords,
    ConnId,
    Deliver,
    Event,
    Frame,
    OpenRecords,
    Send,
    Trust,
    Undelivered,
)
from relay.pairing import normalise_code, one_typo_away
from relay.server import Relay
from wire import protocol
from wire.errors import CodeInUse, ProtocolError, WorkbenchError

log = logging.getLogger(__name__)

#: Close code for a proxied connection whose holder died: 1012, *service restart*: resume.
HOLDER_GONE = 1012
#: Seconds a new session's registration in ``wb_sessions`` may hold up its pairing.
HOLD_TIMEOUT = 2.0
#: Age of this relay's last heartbeat from which the others may count it dead (its key in ``wb_relays``
#: ages out at LIVENESS, and their view is up to a beat late): it checks what it holds before acting again.
MAY_LOOK_DEAD = LIVENESS - HEARTBEAT
#: Bound on that check (seconds): past it, the relay goes on with what it holds.
CHECK_TIMEOUT = 1.0
#: Room left in a NATS message for the envelope (:mod:`relay.cluster.envelope`) and NATS's own protocol line.
PAYLOAD_MARGIN = 4096
#: A code's value in ``wb_codes`` once a technician claimed it (before: the id of the relay holding it).
USED = b"used"


class Route:
    """Where a forwarded connection's frames go: its holder, and its session once known (None while pairing)."""

    __slots__ = ("holder", "session_id")

    def __init__(self, holder: str, session_id: str | None) -> None:
        self.holder, self.session_id = holder, session_id

    @property
    def subject(self) -> str:
        return session_in(self.session_id) if self.session_id else inbox(self.holder)


class ClusterRelay(Relay):
    """:class:`relay.server.Relay` joined to a cluster through *bus*; see the module docstring.

    Takes :class:`relay.server.Relay`'s keyword arguments.  Sessions are not restored at start:
    a relay takes one over when a side resumes on it and its holder is dead.
    """

    def __init__(self, data_dir: Path, bus: Bus, url: str = "", **options: Any) -> None:
        super().__init__(data_dir, restore_open=False, **options)
        self.bus = bus
        self.url = url
        self.pool = CodePool(bus.codes, bus.relay_id)
        self.machine.codes.draw = self.pool.take
        #: this relay's connections whose session another relay holds → where their frames go
        self._proxied: dict[ConnId, Route] = {}
        #: other relays' connections this relay's machine holds (``@relay.conn``) → that relay's id and
        #: the session whose subjects they use (None: a technician still pairing, on the relay's subjects)
        self._remote: dict[ConnId, tuple[str, str | None]] = {}
        #: sessions this relay holds → its subscription to their ``in`` subject
        self._holding: dict[str, Subscription] = {}
        #: sessions this relay forwards connections of → its subscription to their ``out`` subject (being
        #: made, or made), and how many of their connections it forwards
        self._forwarding: dict[str, tuple[asyncio.Future[Subscription], int]] = {}
        #: relay id → when its key was last seen (monotonic seconds)
        self._seen: dict[str, float] = {}
        #: since when this relay's view of the others is fresh (NATS reached); None while away
        self._view_since: float | None = None
        self._parts_in, self._parts_out = Parts(), Parts()
        #: when this relay's last heartbeat reached NATS (monotonic seconds; None before the first)
        self._beat_at: float | None = None
        #: the check of what this relay holds, while one runs (every event waits for it), and when the last ended
        self._checking: asyncio.Future[None] | None = None
        self._checked_at = 0.0

    @property
    def relay_id(self) -> str:
        return self.bus.relay_id

    # -- joining ----------------------------------------------------------

    async def serve(self, host: str = "127.0.0.1", port: int = 8765, ssl_context: Any = None) -> Any:
        """Reserve codes, listen on the subjects, start the heartbeat, then serve websockets."""
        nc = self.bus.nc
        await self.pool.fill()
        await nc.subscribe(inbox(self.relay_id), cb=self._from_proxy)
        await nc.subscribe(outbox(self.relay_id), cb=self._from_holder)
        self.bus.on_reconnected.append(self._resume_everyone)
        await self._beat()
        server = await super().serve(host, port, ssl_context)
        self._spawn(self._heartbeat())
        return server

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT)
            try:
                await self._beat()
            except Exception as err:  # NATS away: the sessions pause; its client reconnects by itself
                log.warning("cluster: %s", err or type(err).__name__)
                self._view_since = None
                continue
            await self._bury_the_dead()

    async def _beat(self) -> None:
        """Say this relay is alive, look who else is, and reserve codes."""
        await self.bus.relays.put(self.relay_id, self.url.encode())
        now = self._beat_at = time.monotonic()
        # nats-py says "no keys" with NoKeysError (or, in some versions, a NotFoundError): seen at start
        # on a loaded machine, right after this relay's own put; the next beat sees the keys.
        with contextlib.suppress(NotFoundError, NoKeysError):
            for relay_id in await self.bus.relays.keys():
                self._seen[relay_id] = now
        if self._view_since is None:
            self._view_since = now
        await self.pool.reserve_late()
        if self.pool.low:
            await self.pool.fill()

    def alive(self, relay_id: str) -> bool:
        """Whether *relay_id* is alive as far as this relay knows (in doubt, it is)."""
        if relay_id == self.relay_id:
            return True
        now = time.monotonic()
        if self._view_since is None or now - self._view_since < LIVENESS:
            return True  # no fresh view of the cluster yet: never declare a relay dead on an old one
        return now - self._seen.get(relay_id, self._view_since) < LIVENESS

    async def _bury_the_dead(self) -> None:
        """Close what this relay proxies to a dead holder, and forget a dead relay's connections."""
        for conn, route in list(self._proxied.items()):
            if not self.alive(route.holder):
                self._close_local(conn, "the relay holding this session went away: resume")
        dead: dict[str, list[ConnId]] = {}
        for remote, (relay_id, _) in list(self._remote.items()):
            if not self.alive(relay_id):
                dead.setdefault(relay_id, []).append(remote)
        for relay_id, remotes in dead.items():
            log.warning("cluster: relay %s looks dead: forgetting %d of its connections", relay_id, len(remotes))
            for remote in remotes:
                await self._forget_remote(remote, "this relay looked dead to the one holding the session: resume")

    async def _resume_everyone(self) -> None:
        """NATS is back after a loss: what crossed it meanwhile may be lost (core NATS keeps nothing for a
        subscriber that is away), so every connection that crosses it is closed and resumes; the sides send
        again what was not answered, with the same ids (nothing runs twice)."""
        for conn in list(self._proxied):
            self._close_local(conn, "the relays lost each other for a moment: resume")
        for remote in list(self._remote):
            await self._forget_remote(remote, "the relays lost each other for a moment: resume")

    def _close_local(self, conn: ConnId, reason: str) -> None:
        """Close this relay's own connection *conn* (if still open) with :data:`HOLDER_GONE`: its side resumes."""
        ws = self._connections.get(conn)
        if ws is not None:
            self._spawn(ws.close(HOLDER_GONE, reason))

    async def _forget_remote(self, remote: ConnId, reason: str) -> None:
        """Forget *remote* (another relay's connection this relay's machine serves), tell that relay to close
        it (:meth:`_close_remote`), and tell the machine it is gone."""
        await self._close_remote(remote, reason)
        await self._feed(Closed(remote))

    async def _close_remote(self, remote: ConnId, reason: str) -> None:
        """Tell the relay carrying *remote* to close it (1012, *reason*), and forget it here: alive after all,
        that relay would keep its side waiting on a connection no machine serves any more.

        A relay that is really gone hears nothing, and its sides have resumed elsewhere already.
        """
        with contextlib.suppress(Exception):  # NATS away: that relay closes what it proxies when it is back
            await self._to_remote(Close(remote, HOLDER_GONE, reason))
        self._remote.pop(remote, None)

    # -- a relay that may have looked dead --------------------------------

    async def _feed(self, event: Event) -> None:
        """As :meth:`relay.server.Relay._feed`, after checking what this relay still holds when it may have
        looked dead to the others (module docstring): a session taken over meanwhile is given up before
        anything of it is written here."""
        if self._may_have_looked_dead():
            await self._check_holdings()
        await super()._feed(event)

    def _may_have_looked_dead(self) -> bool:
        """Whether this relay's heartbeat is old enough for another relay to have taken its sessions over,
        NATS can say which, and no check has just been made."""
        if self._beat_at is None or not self._holding or not self.bus.nc.is_connected:
            return False  # with NATS away, the check cannot be made: local sessions go on meanwhile
        now = time.monotonic()
        return now - self._beat_at >= MAY_LOOK_DEAD and now - self._checked_at >= HEARTBEAT

    async def _check_holdings(self) -> None:
        """Ask ``wb_sessions`` who holds each session this relay holds; give up those another relay took.

        One check at a time: events that come meanwhile wait for it.  Never raises: a check NATS
        cannot answer within :data:`CHECK_TIMEOUT` leaves everything held (said in the log).
        """
        if self._checking is None:
            self._checking = asyncio.ensure_future(self._check_holdings_now())
        checking = self._checking
        try:
            await asyncio.shield(checking)
        finally:
            if self._checking is checking and checking.done():
                self._checking = None

    async def _check_holdings_now(self) -> None:
        held = list(self._holding)
        try:
            holders = await asyncio.wait_for(asyncio.gather(*(self._holder_in_kv(s) for s in held)), CHECK_TIMEOUT)
        except Exception as err:
            log.warning("cluster: could not check the %d sessions this relay holds: %s", len(held),
                        err or type(err).__name__)
            return
        finally:
            self._checked_at = time.monotonic()
        for session_id, holder in zip(held, holders, strict=True):
            if holder is not None and holder != self.relay_id:
                await self._give_up(session_id, holder)

    async def _holder_in_kv(self, session_id: str) -> str | None:
        """The relay ``wb_sessions`` names for *session_id* (None: not there, ended or not registered yet)."""
        try:
            entry = await self.bus.sessions.get(session_id)
        except NotFoundError:
            return None
        return entry.value.decode() if entry is not None and entry.value else None

    # -- where a new connection goes ------------------------------------

    async def _carry(self, conn: ConnId, ws: ServerConnection, first: Frame, peer: str) -> None:
        try:
            route = await self._route(first)
            if route is None:
                await self._claim(first)
        except CodeInUse as err:
            await ws.send(protocol.encode(protocol.error(None, err.to_wire())))
            await ws.close()
            return
        if route is None:
            await super()._carry(conn, ws, first, peer)
            return
        self._proxied[conn] = route
        if route.session_id:
            await self._forward(route.session_id)
        try:
            await self._publish(route.subject, "open", conn, first, p=peer)
            async for frame in ws:
                await self._publish(route.subject, "frame", conn, frame)
        finally:
            self._proxied.pop(conn, None)
            with contextlib.suppress(Exception):
                await self._publish(route.subject, "closed", conn)
            if route.session_id:
                await self._unforward(route.session_id)

    async def _forward(self, session_id: str) -> None:
        """Listen to what the holder of *session_id* sends the connections this relay forwards for it.

        One subscription per session however many of its connections come here at once (the first
        makes it, the others wait for it).
        """
        entry = self._forwarding.get(session_id)
        if entry is None:
            entry = (asyncio.ensure_future(self._subscribe_out(session_id)), 0)
        self._forwarding[session_id] = (entry[0], entry[1] + 1)
        await asyncio.shield(entry[0])

    async def _subscribe_out(self, session_id: str) -> Subscription:
        sub = await self.bus.nc.subscribe(session_out(session_id, self.relay_id), cb=self._from_holder)
        await self.bus.nc.flush()  # the server knows before the holder is told where to answer
        return sub

    async def _unforward(self, session_id: str) -> None:
        entry = self._forwarding.pop(session_id, None)
        if entry is None:
            return
        if entry[1] > 1:
            self._forwarding[session_id] = (entry[0], entry[1] - 1)
            return
        with contextlib.suppress(Exception):
            await (await entry[0]).unsubscribe()

    async def _route(self, first: Frame) -> Route | None:
        """Where to send a connection by its hello (*first*), or None to keep it here.

        Raises :class:`CodeInUse` for a technician's code already claimed (on any relay).
        """
        try:
            hello = protocol.decode(first)
        except WorkbenchError:
            return None  # refused here
        if hello.type != "hello":
            return None
        resume = hello.get("resume")
        if hello.get("role") == "viewer" or isinstance(resume, dict):
            session_id = hello.get("session_id") if hello.get("role") == "viewer" else resume.get("session_id")
            if not isinstance(session_id, str):
                return None
            holder = await self._session_holder(session_id)
            return None if holder is None else Route(holder, session_id)
        if hello.get("role") == "technician" and isinstance(hello.get("code"), str):
            holder = await self._code_holder(hello["code"], first)
            return None if holder is None else Route(holder, None)
        return None

    async def _claim(self, first: Frame) -> None:
        """Claim in ``wb_codes`` the code of a technician's hello (*first*) this relay decides, before its
        machine pairs: a revision-checked update to :data:`USED`, so a second claim fails on any relay,
        even once this relay is gone.  Nothing to do for other hellos, or codes the machine refuses anyway.

        Raises :class:`CodeInUse` when another claim came first.
        """
        try:
            hello = protocol.decode(first)
            if hello.type != "hello" or hello.get("role") != "technician":
                return
            code = normalise_code(hello.get("code") if isinstance(hello.get("code"), str) else "")
            self.machine.technicians.admit(hello.get("name"), hello.get("key"))
        except WorkbenchError:
            return  # the machine refuses it, with its own words
        if not self.machine.codes.is_waiting(code):
            return  # expired, burned, used or wrong: the machine says which
        try:
            entry = await self.bus.codes.get(code)
        except NotFoundError:
            return
        if entry.value != self.relay_id.encode():
            raise _in_use()
        try:
            await self.bus.codes.update(code, USED, last=entry.revision)
        except KeyWrongLastSequenceError:
            raise _in_use() from None

    async def _code_holder(self, typed: str, first: Frame) -> str | None:
        """The relay whose agent holds the code *typed*; for a wrong code, the relays holding codes one typo away.

        Those relays count the wrong try (the first one answers the technician; the others are sent
        the hello only to count it).
        """
        try:
            code = normalise_code(typed)
        except WorkbenchError:
            return None
        owner = await self.pool.owner(code)
        if owner == USED.decode():
            raise _in_use()  # claimed, perhaps through a relay that is gone since
        if owner is not None:
            return None if owner == self.relay_id or not self.alive(owner) else owner
        found = await asyncio.gather(*(self.pool.owner(near) for near in one_typo_away(code)))
        owners = {o for o in found if o and self.alive(o)}
        holder = None if not owners or self.relay_id in owners else sorted(owners)[0]
        for other in sorted(owners - {self.relay_id, holder or ""}):
            # Counted there; the answer to this copy goes to a connection of no one and is dropped.
            await self._publish(inbox(other), "open", f"count{time.monotonic_ns()}", first)
        return holder

    async def _session_holder(self, session_id: str) -> str | None:
        """The live relay holding *session_id*, or None when this relay holds it (taking it over if need be)."""
        if session_id in self.machine.sessions:
            return None
        sessions = self.bus.sessions
        try:
            entry = await sessions.get(session_id)
        except NotFoundError:
            entry = None
        holder = entry.value.decode() if entry is not None and entry.value else None
        if holder is not None and holder != self.relay_id and self.alive(holder):
            return holder
        meta = _open_meta(self.data_dir, session_id)
        if meta is None:
            return None  # no such open session: this relay's machine refuses the resume
        try:
            if entry is None:
                await sessions.create(session_id, self.relay_id.encode())
            else:
                await sessions.update(session_id, self.relay_id.encode(), last=entry.revision)
        except KeyWrongLastSequenceError:
            return await self._session_holder(session_id)  # another relay took it first
        log.warning("cluster: took over session %s (its relay %s is gone)", session_id, holder)
        self.restore_session(meta)
        await self._listen(session_id)
        if holder is not None and holder != self.relay_id:
            with contextlib.suppress(Exception):  # it is gone, most likely; if it only looked gone, it lets go
                await self._publish(inbox(holder), "taken", "", session_id)
        return None

    async def _taken(self, session_id: str) -> None:
        """Another relay says it took *session_id* over: given up once ``wb_sessions`` names that relay (a
        stray ``taken`` changes nothing)."""
        if session_id not in self.machine.sessions:
            return
        try:
            holder = await self._holder_in_kv(session_id)
        except Exception as err:  # NATS away: kept for now; the check after this relay's next stall gives it up
            log.warning("cluster: session %s said taken, not checked: %s", session_id, err or type(err).__name__)
            return
        if holder is not None and holder != self.relay_id:
            await self._give_up(session_id, holder)

    async def _give_up(self, session_id: str, holder: str) -> None:
        """Relay *holder* took *session_id* over while this one looked dead: let it go (module docstring).

        The machine forgets the session without ending it, its records are closed here (the
        holder writes them now), and every connection of it, local or proxied from another
        relay, is closed with :data:`HOLDER_GONE`: the sides resume, and reach the holder.
        """
        if session_id not in self.machine.sessions:
            return
        log.warning("cluster: gave session %s up: relay %s took it over while this relay looked dead",
                    session_id, holder)
        sub = self._holding.pop(session_id, None)
        if sub is not None:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
        records = self.records.pop(session_id, None)
        if records is not None:
            records.close()
        reason = "another relay holds this session now: resume"
        for conn in self.machine.forget(session_id):
            if conn.startswith("@"):
                await self._close_remote(conn, reason)  # the machine forgot it already
            else:
                self._close_local(conn, reason)

    # -- the holder's side of a proxied connection ------------------------

    async def _from_proxy(self, msg: Msg) -> None:
        """A forwarded connection's hello, frame or end, from the relay that accepted it.

        On a session's subject the connection uses that session's subjects from then on; a technician
        pairing by code comes on this relay's subject and moves to its session's once paired ("moved").
        """
        whole = self._parts_in.frame(msg)
        if whole is None:
            return
        envelope, frame = whole
        relay_id, kind = envelope.relay, envelope.kind
        if kind == "taken":
            await self._taken(frame.decode("utf-8", "replace") if isinstance(frame, bytes) else str(frame))
            return
        remote = f"@{relay_id}.{envelope.conn}"
        session_id = session_of(msg.subject)
        event: Event
        if kind == "open":
            self._remote[remote] = (relay_id, session_id)
            if session_id is None:
                try:
                    await self._claim(frame)
                except CodeInUse as err:
                    await self._to_remote(Send(remote, protocol.encode(protocol.error(None, err.to_wire()))))
                    await self._to_remote(Close(remote, 1000, ""))
                    return
            event = self._decoded(remote, frame, envelope.get("p"))
        elif remote not in self._remote:
            if kind in ("frame", "moved"):
                # Forgotten here (its relay looked dead for a while): the side must resume, or it would
                # wait for ever for answers to frames this machine never sees.
                back = session_out(session_id, relay_id) if session_id else outbox(relay_id)
                await self._publish(back, "close", envelope.conn,
                                    json.dumps([HOLDER_GONE, "the relay holding this session lost this link: resume"]))
            return
        elif kind == "moved":
            self._remote[remote] = (relay_id, session_id)
            return
        elif kind == "frame":
            event = self._decoded(remote, frame)
        elif kind == "undelivered":
            event = Undelivered(remote, frame, envelope.get("s"), "agent" if envelope.get("d") == "agent"
                                else "technician")
        else:
            del self._remote[remote]
            event = Closed(remote)
        await self._feed(event)

    async def _execute(self, action: Action) -> list[Action]:
        if isinstance(action, Send | Deliver | Close | Trust) and action.conn.startswith("@"):
            return await self._to_remote(action)
        done = await super()._execute(action)
        if isinstance(action, OpenRecords):
            await self._listen(action.session_id)
            # Awaited: the sides are told they are paired (the actions after this one) only once the
            # cluster knows who holds the session, so a side resuming elsewhere at once is sent here.
            try:
                await asyncio.wait_for(self._hold(action.session_id), HOLD_TIMEOUT)
            except Exception as err:  # NATS away: said again in the background until it is back
                log.warning("cluster: session %s not registered yet: %s", action.session_id, err or type(err).__name__)
                self._spawn(self._hold(action.session_id))
        elif isinstance(action, CloseRecords):
            sub = self._holding.pop(action.session_id, None)
            if sub is not None:
                with contextlib.suppress(Exception):
                    await sub.unsubscribe()
            self._spawn(self._release(action.session_id))
        return done

    async def _listen(self, session_id: str) -> None:
        """Subscribe to the frames other relays forward for *session_id*, which this relay holds now."""
        if session_id not in self._holding:
            self._holding[session_id] = await self.bus.nc.subscribe(session_in(session_id), cb=self._from_proxy)

    async def _to_remote(self, action: Send | Deliver | Close | Trust) -> list[Action]:
        relay_id, _, conn = action.conn[1:].partition(".")
        known = self._remote.get(action.conn)
        if known is None or known[0] != relay_id:
            if isinstance(action, Deliver):
                return self.machine.handle(Undelivered(action.conn, action.frame, action.session_id, action.side),
                                           self._instant())
            return []
        subject = session_out(known[1], relay_id) if known[1] else outbox(relay_id)
        if isinstance(action, Deliver):
            await self._publish(subject, "deliver", conn, action.frame, s=action.session_id, d=action.side)
        elif isinstance(action, Send):
            await self._publish(subject, "send", conn, action.frame)
        elif isinstance(action, Close):
            await self._publish(subject, "close", conn, json.dumps([action.code, action.reason]))
        else:
            await self._publish(subject, "trust", conn)
        return []

    async def _hold(self, session_id: str) -> None:
        """Say in ``wb_sessions`` that this relay holds *session_id* (retried while NATS is away)."""
        while True:
            try:
                await self.bus.sessions.put(session_id, self.relay_id.encode())
                return
            except Exception as err:  # NATS away (a timeout): try again once it may be back
                log.info("cluster: registering session %s: %s", session_id, err or type(err).__name__)
                await asyncio.sleep(HEARTBEAT)

    async def _release(self, session_id: str) -> None:
        with contextlib.suppress(NotFoundError):
            await self.bus.sessions.delete(session_id)

    # -- the proxy's side --------------------------------------------------

    async def _from_holder(self, msg: Msg) -> None:
        """What the holder's machine does to a connection this relay accepted for it."""
        whole = self._parts_out.frame(msg)
        if whole is None:
            return
        envelope, frame = whole
        conn, kind, holder = envelope.conn, envelope.kind, envelope.relay
        route = self._proxied.get(conn)
        ws = self._connections.get(conn) if route is not None and route.holder == holder else None
        session_id = session_of(msg.subject)
        back = session_in(session_id) if session_id else inbox(holder)
        if ws is None or route is None:
            if kind == "deliver":
                await self._publish(back, "undelivered", conn, frame, s=envelope.get("s"), d=envelope.get("d"))
            if kind != "close":
                await self._publish(back, "closed", conn)
            return
        if kind == "close":
            code, reason = json.loads(frame)
            self._spawn(ws.close(int(code), str(reason)))
        elif kind == "trust":
            self._trust(conn)
        else:
            if route.session_id is None and kind == "send":
                await self._moved(conn, route, frame)
            try:
                await ws.send(frame)
            except ConnectionClosed:
                if kind == "deliver":
                    await self._publish(back, "undelivered", conn, frame, s=envelope.get("s"),
                                        d=envelope.get("d"))

    async def _moved(self, conn: ConnId, route: Route, frame: Frame) -> None:
        """A technician that paired through this relay: once *frame* says ``paired``, its connection moves to
        the session's subjects (this relay listens there first, then tells the holder, then the technician)."""
        try:
            message = protocol.decode(frame)
        except WorkbenchError:
            return
        session_id = message.get("session_id") if message.type == "paired" else None
        if not isinstance(session_id, str):
            return
        await self._forward(session_id)
        route.session_id = session_id
        await self._publish(route.subject, "moved", conn)

    async def _publish(self, subject: str, kind: str, conn: str, frame: Frame = b"", **more: str) -> None:
        """Publish *frame* for *conn* in its envelope (:mod:`relay.cluster.envelope`), in parts when it is
        larger than NATS takes in one message (1 MiB by default)."""
        if isinstance(frame, str):
            more["t"] = "1"
            frame = frame.encode()
        nc = self.bus.nc
        part = max(nc.max_payload - PAYLOAD_MARGIN, PAYLOAD_MARGIN)
        if len(frame) <= part:  # nearly always: one message
            await nc.publish(subject, seal(kind, conn, self.relay_id, frame, more))
            return
        pieces = [frame[start:start + part] for start in range(0, len(frame), part)]
        for piece in pieces[:-1]:  # marked "more": the receiver keeps them until the last
            await nc.publish(subject, seal(kind, conn, self.relay_id, piece, {**more, "m": "1"}))
        await nc.publish(subject, seal(kind, conn, self.relay_id, pieces[-1], more))


class Parts:
    """Frames sent in parts (see :meth:`ClusterRelay._publish`), put together again.

    NATS keeps the order of one publisher's messages on a subject, so a frame's parts arrive in
    order, with no other part of the same connection between them.
    """

    def __init__(self) -> None:
        self._open: dict[tuple[str, str], list[bytes]] = {}

    def frame(self, msg: Msg) -> tuple[Envelope, Frame] | None:
        """The envelope and the frame *msg* ends (text when the sender marked it so), or None when more
        parts are to come (or *msg* is no relay's: it has no envelope)."""
        try:
            envelope, data = unseal(msg.data)
        except ProtocolError:
            log.warning("cluster: a message without an envelope on %s, dropped", msg.subject)
            return None
        key = (envelope.relay, envelope.conn)
        if envelope.get("m") == "1":
            self._open.setdefault(key, []).append(data)
            return None
        if key in self._open:
            data = b"".join([*self._open.pop(key), data])
        return envelope, data.decode() if envelope.get("t") == "1" else data


def _in_use() -> CodeInUse:
    return CodeInUse("this session code is already in use: it opened a session, and a code opens only one; "
                     "close that session, or ask the customer for the code their window shows now")


def _open_meta(data_dir: Path, session_id: str) -> dict[str, Any] | None:
    """The shared records' ``session.json`` of *session_id*, when that session has not ended."""
    if not session_id or "/" in session_id or session_id.startswith("."):
        return None
    path = data_dir / "sessions" / session_id / "session.json"
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) and not meta.get("ended_at") else None


async def run_cluster_relay(nats_url: str, data_dir: Path, host: str, port: int, *,
                            ready: Callable[[str], Awaitable[None] | None] | None = None,
                            code_ttl: float = 600.0, ssl_context: Any = None, **options: Any) -> None:
    """Join the cluster at *nats_url* and run a relay until cancelled (see :func:`relay.server.run_relay`).

    Raises :class:`relay.cluster.bus.ClusterUnavailable` when NATS cannot be reached at start.
    """
    bus = await join(nats_url, code_ttl)
    try:
        scheme = "wss" if ssl_context else "ws"
        relay = ClusterRelay(data_dir, bus, code_ttl=code_ttl, **options)
        server = await relay.serve(host, port, ssl_context)
        async with server:
            address = server.sockets[0].getsockname()
            relay.url = f"{scheme}://{address[0]}:{address[1]}"
            if ready is not None:
                outcome = ready(relay.url)
                if outcome is not None:
                    await outcome
            await server.serve_forever()
    finally:
        with contextlib.suppress(Exception):
            await bus.close()

