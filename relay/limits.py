"""How many failed pairing tries the relay takes, per address and in all; no I/O, no clock.

A session code is 9 digits (10⁹ codes), and a wrong code is aimed at no code in
particular, so it burns none (:class:`relay.pairing.CodeBook`).  What keeps a
guesser from finding one is the number of tries it gets:

- **per address**: at most ``per_address`` failed tries in ``window`` seconds from
  one address (an IPv4 address, or an IPv6 /64: one subscriber's whole network);
  the next is refused with :class:`~wire.errors.RateLimited` and the number of
  seconds to wait, before the code is even looked at;
- **in all**: when more than ``overall`` failed tries came in ``window`` seconds from
  everywhere, an address that failed even once in that window waits too.  An
  address without a failure (a technician typing the code the customer read out)
  still pairs at once: the limit slows guessers down, never the honest.

With the defaults, a guesser from one address gets 10 tries a minute: finding one
of 100 waiting codes takes it about two years on average; and a relay reachable
beyond loopback admits only listed technicians unless told otherwise (:mod:`relay.cli`),
whose wrong keys count as failures too.  Failures are kept
for at most ``max_addresses`` addresses, the oldest forgotten first, so the
relay's memory stays bounded whatever the number of addresses.
"""

from __future__ import annotations

import ipaddress
import math
from collections import OrderedDict, deque
from dataclasses import dataclass, field

from wire.errors import RateLimited


def address_key(host: str) -> str:
    """What one client is, for the limits: its IPv4 address, or its IPv6 /64 (``2001:db8:1:2::/64``).

    A text that is not an IP address (a Unix socket, a test's name) is its own key.
    """
    try:
        ip = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return host
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


@dataclass
class PairingLimiter:
    """Failed pairing tries, counted per address and in all; times are monotonic seconds."""

    per_address: int = 10
    overall: int = 200
    window: float = 60.0
    max_addresses: int = 10_000
    #: address key → times of its failures in the window, oldest first (at most per_address)
    _failures: OrderedDict[str, deque[float]] = field(default_factory=OrderedDict)
    #: the times of the last ``overall`` failures from anywhere
    _all: deque[float] = field(default_factory=deque)

    def check(self, address: str, now: float) -> None:
        """Raise :class:`RateLimited` when *address* must wait before trying again."""
        times = self._recent(address, now)
        if len(times) >= self.per_address:
            wait = times[0] + self.window - now
            raise RateLimited(f"too many failed tries from your address: try again in {math.ceil(wait)} s",
                              retry_after=math.ceil(wait))
        if times and self._overall_exceeded(now):
            wait = self._all[0] + self.window - now
            raise RateLimited(f"too many failed tries on this relay: try again in {math.ceil(wait)} s",
                              retry_after=math.ceil(wait))

    def failed(self, address: str, now: float) -> None:
        """Count a failed try (a wrong code, an unknown technician) from *address*."""
        times = self._recent(address, now)
        times.append(now)
        while len(times) > self.per_address:
            times.popleft()
        self._failures[address] = times
        self._failures.move_to_end(address)
        while len(self._failures) > self.max_addresses:
            self._failures.popitem(last=False)
        self._all.append(now)
        while len(self._all) > self.overall:
            self._all.popleft()

    def _recent(self, address: str, now: float) -> deque[float]:
        times = self._failures.get(address, deque())
        while times and times[0] + self.window <= now:
            times.popleft()
        if not times:
            self._failures.pop(address, None)
        return times

    def _overall_exceeded(self, now: float) -> bool:
        while self._all and self._all[0] + self.window <= now:
            self._all.popleft()
        return len(self._all) >= self.overall
