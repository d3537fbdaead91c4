"""What goes into the relay's state machine and what comes out of it: plain records, no I/O.

The I/O layer (:mod:`relay.server`) turns what happens on its sockets into *events*
(a decoded hello, a message, a frame that did not decode, a connection closed, a
second gone by), hands each to :meth:`relay.machine.RelayMachine.handle` with the
:class:`Instant` it happened at, and carries out the *actions* it gets back, in
order: send a frame, close a connection, write one of a session's records.

Connections are named by a :data:`ConnId` the I/O layer chooses; frames are the
websocket frames of :mod:`wire.protocol`, already encoded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from wire import protocol
from wire.errors import WorkbenchError

ConnId = str
Frame = str | bytes
#: The two sides of a session whose messages wait for them while they are away.
Side = Literal["agent", "technician"]


@dataclass(frozen=True)
class Instant:
    """When an event happened: *monotonic* seconds for deadlines, *utc* (ISO 8601) for the records."""

    monotonic: float
    utc: str


# -- events -------------------------------------------------------------------


@dataclass(frozen=True)
class Hello:
    """The first message of connection *conn*, decoded (its type may still be wrong).

    *peer* is the address it came from (see :func:`relay.limits.address_key`), for the
    limits on failed pairing tries.
    """

    conn: ConnId
    message: protocol.Message
    peer: str = ""


@dataclass(frozen=True)
class Received:
    """A later message of *conn*: decoded, and the *frame* it came in, to forward as it is."""

    conn: ConnId
    message: protocol.Message
    frame: Frame


@dataclass(frozen=True)
class Undecodable:
    """A frame of *conn* (its first or a later one) that :func:`wire.protocol.decode` refused with *error*.

    *frame* is the frame itself: a request too deep to decode is still forwarded to
    the agent, which answers it by its id and journals the refusal.
    """

    conn: ConnId
    error: WorkbenchError
    frame: Frame = ""


@dataclass(frozen=True)
class Closed:
    """*conn* is gone, whoever closed it."""

    conn: ConnId


@dataclass(frozen=True)
class Undelivered:
    """A :class:`Deliver` failed: *conn* had gone before the frame could be sent."""

    conn: ConnId
    frame: Frame
    session_id: str
    side: Side


@dataclass(frozen=True)
class Tick:
    """Time went by (the I/O layer feeds one a second): codes expire, records are flushed."""


Event = Hello | Received | Undecodable | Closed | Undelivered | Tick


# -- actions ------------------------------------------------------------------


@dataclass(frozen=True)
class Send:
    """Send *frame* to *conn*; if *conn* has gone, forget it."""

    conn: ConnId
    frame: Frame


@dataclass(frozen=True)
class Deliver:
    """Send *frame* to *conn*, one side of a session; if *conn* has gone, answer :class:`Undelivered`.

    The machine then keeps the frame for when that side resumes.
    """

    conn: ConnId
    frame: Frame
    session_id: str
    side: Side


@dataclass(frozen=True)
class Close:
    """Close *conn* with a websocket close *code* and *reason*."""

    conn: ConnId
    code: int = 1000
    reason: str = ""


@dataclass(frozen=True)
class Trust:
    """*conn* is paired, resumed or an admitted viewer: lift the limits on unauthenticated peers.

    Until then a connection may send only small messages and counts against the
    limits on connections waiting to authenticate (see :mod:`relay.server`).
    """

    conn: ConnId


@dataclass(frozen=True)
class OpenRecords:
    """Create the records of a new session (see :mod:`relay.records`)."""

    session_id: str


@dataclass(frozen=True)
class SaveMeta:
    """Rewrite the session's ``session.json`` with *meta* (a copy the machine no longer touches)."""

    session_id: str
    meta: dict[str, Any]


@dataclass(frozen=True)
class LogMessage:
    """Append one line to the session's ``messages.jsonl`` (see :meth:`relay.records.SessionRecords.log_message`)."""

    session_id: str
    direction: str
    kind: str
    fields: dict[str, Any]
    size: int


@dataclass(frozen=True)
class AppendJournal:
    """Append a record of the agent's journal, already checked against the chain, to ``journal.jsonl``."""

    session_id: str
    record: dict[str, Any]
    #: the record's canonical JSON, as the chain check made it (None: encode it again)
    line: bytes | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class FlushRecords:
    """Push the session's buffered records to the OS."""

    session_id: str


@dataclass(frozen=True)
class CloseRecords:
    """Close the session's record files: nothing more will be written to them."""

    session_id: str


@dataclass(frozen=True)
class RecordScreen:
    """Keep a ``screen.*`` event of the agent in the session's recording (see :mod:`relay.recording`)."""

    session_id: str
    name: str
    body: dict[str, Any]
    data: bytes | None


@dataclass(frozen=True)
class SaveScreenshot:
    """Keep the screenshot the agent sent in answer to the technician's ``screen.screenshot`` *request_id*."""

    session_id: str
    request_id: str
    description: dict[str, Any]
    data: bytes


@dataclass(frozen=True)
class SavePlaybook:
    """Keep an executed playbook notebook as ``playbooks/<file_name>`` (see :mod:`relay.playbooks`)."""

    session_id: str
    file_name: str
    data: bytes


Action = (Send | Deliver | Close | Trust | OpenRecords | SaveMeta | LogMessage | AppendJournal | FlushRecords
          | CloseRecords | RecordScreen | SaveScreenshot | SavePlaybook)
