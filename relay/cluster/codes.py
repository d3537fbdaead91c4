"""Pairing codes unique across relays: each relay draws from codes it reserved in the shared bucket.

The relay's rules (:class:`relay.pairing.CodeBook`) draw a code without waiting; a JetStream
``create`` must be awaited.  So a relay keeps a few codes reserved ahead (:class:`CodePool`): the
KV ``create`` of a code fails when any relay holds it, and a code is only ever drawn from the pool
of the relay that created its key.  The key names the relay, so a technician's code typed on any
relay finds the relay whose agent holds it (:mod:`relay.cluster.relay` sends the technician there),
and that relay's book alone decides: used once, expired, wrong tries counted, burned after five.
"""

from __future__ import annotations

import logging
from collections import deque

from nats.js.errors import KeyWrongLastSequenceError, NotFoundError
from nats.js.kv import KeyValue

from relay.pairing import random_code

log = logging.getLogger(__name__)

#: Codes kept reserved ahead: as many agents may say hello between two refills without a wait.
POOL_SIZE = 16


class CodePool:
    """Codes this relay reserved in the shared bucket and has not handed out yet."""

    def __init__(self, bucket: KeyValue, relay_id: str, size: int = POOL_SIZE) -> None:
        self.bucket = bucket
        self.relay_id = relay_id
        self.size = size
        self._ready: deque[str] = deque()
        #: codes handed out while the pool was empty (reserved after the fact; see :meth:`take`)
        self.unreserved = 0
        self._late: deque[str] = deque()

    async def fill(self) -> None:
        """Reserve codes until the pool is full; raises the NATS client's errors when NATS is away."""
        while len(self._ready) < self.size:
            code = random_code()
            try:
                await self.bucket.create(code, self.relay_id.encode())
            except KeyWrongLastSequenceError:
                continue  # another relay holds it (or held it, within its lifetime): draw again
            self._ready.append(code)

    @property
    def low(self) -> bool:
        return len(self._ready) < self.size // 2

    def take(self) -> str:
        """A reserved code (for :attr:`relay.pairing.CodeBook.draw`).

        Only when more agents came at once than the pool holds is a code drawn unreserved; it is
        reserved by the next :meth:`reserve_late` (a clash, one chance in ~10⁸ per code, is logged).
        """
        if self._ready:
            return self._ready.popleft()
        self.unreserved += 1
        code = random_code()
        self._late.append(code)
        return code

    async def reserve_late(self) -> None:
        """Reserve the codes :meth:`take` handed out while the pool was empty."""
        while self._late:
            code = self._late.popleft()
            try:
                await self.bucket.create(code, self.relay_id.encode())
            except KeyWrongLastSequenceError:
                log.error("code %s… was handed out unreserved and another relay holds it too", code[:3])

    async def owner(self, code: str) -> str | None:
        """The id of the relay that reserved *code*, or None when no relay holds it."""
        try:
            entry = await self.bucket.get(code)
        except NotFoundError:
            return None
        return entry.value.decode() if entry.value else None
