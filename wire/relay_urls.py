"""A list of relay addresses, for agents and technicians that fail over between relays of a cluster."""

from __future__ import annotations

from collections.abc import Sequence


def relay_urls(given: str | Sequence[str]) -> list[str]:
    """``"ws://a:1,ws://b:2"`` or ``["ws://a:1", "ws://b:2"]`` → the addresses, in order, blanks dropped.

    Raises ValueError when none is left.
    """
    parts = given.split(",") if isinstance(given, str) else list(given)
    urls = [str(part).strip() for part in parts if str(part).strip()]
    if not urls:
        raise ValueError("no relay address given")
    return urls


class RelayRing:
    """The relays to try, in turn: the current one until it cannot be reached, then the next."""

    def __init__(self, given: str | Sequence[str]) -> None:
        self.urls = relay_urls(given)
        self._at = 0

    @property
    def current(self) -> str:
        return self.urls[self._at]

    def next(self) -> str:
        """Move on to the next relay (back to the first after the last); return it."""
        self._at = (self._at + 1) % len(self.urls)
        return self.current
