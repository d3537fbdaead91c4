"""What a relay puts around a connection's frame on a NATS subject: whose it is and what happens to it.

A NATS message's payload is the envelope's one line, then the frame's bytes unchanged::

    kind 0x1F conn 0x1F relay [0x1F key=value ...] 0x0A frame

``kind``: what the receiving relay does (``open``, ``frame``, ``closed``, ``moved``,
``undelivered`` towards a holder; ``send``, ``deliver``, ``close``, ``trust`` back); ``conn``:
the connection on the relay ``relay`` that sent it.  The fields after them are few and short:
``s`` and ``d`` (the session and side of a delivery), ``p`` (a new connection's peer), ``t=1``
(the frame is text), ``m=1`` (more parts of this frame follow; see
:meth:`relay.cluster.relay.ClusterRelay._publish`).  None of these values holds 0x1F or a
newline: they are the relays' own ids, kinds and addresses.

Why not NATS headers: nats-py writes and reads a header block in Python for every message (a
regular expression per key on the way out, a line parser on the way in).  Profiled in
``bench/cluster_load.py --profile``, that was about a sixth of a relay's CPU for a message
crossing NATS; one join and one split cost a fraction of it.
"""

from __future__ import annotations

from dataclasses import dataclass

from wire.errors import ProtocolError

SEPARATOR = "\x1f"
END = b"\n"


@dataclass(frozen=True)
class Envelope:
    """A frame's envelope: its kind, its connection and relay, and the other fields (``s``, ``d``, ...)."""

    kind: str
    conn: str
    relay: str
    fields: dict[str, str]

    def get(self, key: str) -> str:
        """The field *key*, or "" when absent."""
        return self.fields.get(key, "")


def seal(kind: str, conn: str, relay: str, data: bytes, fields: dict[str, str]) -> bytes:
    """The payload carrying *data* (a frame or a part of one) in its envelope."""
    head = SEPARATOR.join([kind, conn, relay, *(f"{key}={value}" for key, value in fields.items())])
    return head.encode() + END + data


def unseal(payload: bytes) -> tuple[Envelope, bytes]:
    """The envelope and the data of *payload*.

    Raises :class:`ProtocolError` when it has no envelope (a message no relay published).
    """
    end = payload.find(END)
    if end < 0:
        raise ProtocolError("a cluster message without its envelope line")
    kind, _, rest = payload[:end].decode("utf-8", "replace").partition(SEPARATOR)
    conn, _, rest = rest.partition(SEPARATOR)
    relay, _, rest = rest.partition(SEPARATOR)
    fields = dict(item.partition("=")[::2] for item in rest.split(SEPARATOR)) if rest else {}
    return Envelope(kind, conn, relay, fields), payload[end + 1:]
