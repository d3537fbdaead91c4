"""Reconnection policy: a generator of delays, kept apart from the waiting itself."""

from __future__ import annotations

import random
from collections.abc import Iterator


def backoff(initial: float = 0.1, factor: float = 1.7, maximum: float = 5.0, jitter: float = 0.2) -> Iterator[float]:
    """Yield ever longer delays (seconds) up to *maximum*, each randomised by ±*jitter*.

    The first reconnect is quick (a relay restart takes well under a second
    here); later ones back off so a relay that is down is not hammered.  The
    jitter comes from a generator of its own: a reconnect loop in a background
    thread never moves the process's shared ``random`` state, which a program
    (or a test framework) may have seeded to reproduce its own draws.
    """
    jitters = random.Random()
    delay = initial
    while True:
        yield delay * jitters.uniform(1 - jitter, 1 + jitter)
        delay = min(delay * factor, maximum)
