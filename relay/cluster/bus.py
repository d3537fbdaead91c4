"""The relays' shared bus: one NATS connection, its JetStream key-value buckets, the subjects.

Buckets (JetStream key-value, created by the first relay, opened by the others):

- ``wb_codes``: pairing code → the id of the relay whose agent holds it; the bucket's age limit is
  the code's lifetime (NATS 2.9 ages a whole bucket, not a key).  A code is reserved with the KV
  ``create``, which fails when the key exists: two relays never hand out the same code.
- ``wb_sessions``: session id → the id of the relay that holds the session (runs its rules and
  writes its records).
- ``wb_relays``: relay id → its websocket URL, rewritten every second, aged out after
  :data:`LIVENESS` seconds: a relay whose key is gone is dead (its sessions may be taken over).

Subjects are named by session: ``wb.s.<session>.in`` carries to the session's holder the frames
of its connections other relays accepted (the holder subscribes per session it holds);
``wb.s.<session>.out.<relay>`` carries back what the holder sends them (a relay subscribes per
session it forwards).  Only pairing, before a session exists, goes by relay: a technician's hello
with a code on ``wb.relay.<id>.in`` to the code's relay, its answers on ``wb.relay.<id>.out``.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import nats
from nats.aio.client import Client
from nats.js.client import JetStreamContext
from nats.js.errors import BadRequestError
from nats.js.kv import KeyValue

from wire.errors import Unavailable

log = logging.getLogger(__name__)

#: Seconds after its last heartbeat a relay counts as dead.
LIVENESS = 4.0
#: Seconds between two heartbeats.
HEARTBEAT = 1.0
#: Seconds to reach NATS at start before giving up.
CONNECT_TIMEOUT = 3.0


class ClusterUnavailable(Unavailable):
    """NATS cannot be reached, or has no JetStream: the relay cannot join its cluster."""


def inbox(relay_id: str) -> str:
    """The subject a relay reads pairing traffic on: technicians' hellos by code, before a session exists."""
    return f"wb.relay.{relay_id}.in"


def outbox(relay_id: str) -> str:
    """The subject a relay reads the holder's answers to the pairing connections it forwards."""
    return f"wb.relay.{relay_id}.out"


def session_in(session_id: str) -> str:
    """The subject the holder of *session_id* reads its forwarded connections' frames on."""
    return f"wb.s.{session_id}.in"


def session_out(session_id: str, relay_id: str) -> str:
    """The subject *relay_id* reads what the holder of *session_id* sends to the connections it forwards."""
    return f"wb.s.{session_id}.out.{relay_id}"


def session_of(subject: str) -> str | None:
    """The session a :func:`session_in` / :func:`session_out` subject is named by, or None."""
    parts = subject.split(".")
    return parts[2] if len(parts) >= 4 and parts[:2] == ["wb", "s"] else None


@dataclass
class Bus:
    """A relay's link to the cluster: its id, the NATS connection and the three buckets."""

    relay_id: str
    nc: Client
    codes: KeyValue
    sessions: KeyValue
    relays: KeyValue
    #: called (awaited) each time the connection to NATS is back after a loss
    on_reconnected: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    async def close(self) -> None:
        await self.nc.drain()


async def join(url: str, code_ttl: float, relay_id: str | None = None) -> Bus:
    """Connect to NATS at *url* and open (or create) the buckets.

    Raises :class:`ClusterUnavailable` with plain words when NATS cannot be reached or has no
    JetStream (``nats-server -js``).  Once joined, a NATS that goes away is waited for: the client
    reconnects for ever and what is published meanwhile is buffered.
    """
    errors: list[str] = []

    async def first_error(err: Exception) -> None:
        errors.append(str(err) or type(err).__name__)

    try:
        # Tried once: at start a NATS that cannot be reached is the operator's mistake, said at once.
        nc = await nats.connect(url, connect_timeout=int(CONNECT_TIMEOUT), allow_reconnect=False,
                                max_reconnect_attempts=1, reconnect_time_wait=0.2, error_cb=first_error,
                                name="workbench-relay")
    except Exception as err:  # nats-py raises OSError, TimeoutError or its own errors, depending on how
        why = errors[0] if errors else (str(err) or type(err).__name__)
        raise ClusterUnavailable(f"cannot reach NATS at {url}: {why}") from err
    await nc.close()
    hooks: list[Callable[[], Awaitable[None]]] = []

    async def reconnected() -> None:
        log.warning("NATS is back")
        for hook in hooks:
            await hook()

    # Reached once: from now on a NATS that goes away is waited for, not an error.
    nc = await nats.connect(url, connect_timeout=int(CONNECT_TIMEOUT), max_reconnect_attempts=-1,
                            reconnect_time_wait=0.5, error_cb=_said_once, reconnected_cb=reconnected,
                            name="workbench-relay")
    js = nc.jetstream()
    try:
        codes = await _bucket(js, "wb_codes", code_ttl)
        sessions = await _bucket(js, "wb_sessions", None)
        relays = await _bucket(js, "wb_relays", LIVENESS)
    except Exception as err:  # no JetStream: a timeout or a service-unavailable error
        await nc.close()
        raise ClusterUnavailable(f"NATS at {url} has no JetStream: start nats-server with -js -sd DIR") from err
    return Bus(relay_id or uuid.uuid4().hex[:10], nc, codes, sessions, relays, hooks)


async def _said_once(err: Exception) -> None:
    """NATS trouble after start (it went away, it is back): one line in the log, no traceback."""
    log.warning("NATS: %s", err or type(err).__name__)


async def _bucket(js: JetStreamContext, name: str, ttl: float | None) -> KeyValue:
    """Create the bucket *name*, or open it when another relay made it (perhaps with another age limit)."""
    try:
        return await js.create_key_value(bucket=name, ttl=ttl, history=1)
    except BadRequestError:
        return await js.key_value(name)
