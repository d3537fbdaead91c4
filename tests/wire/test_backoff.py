"""wire.backoff: the reconnection delays."""

from __future__ import annotations

import random
from itertools import islice

from wire.backoff import backoff


def test_delays_grow_to_the_maximum_within_the_jitter() -> None:
    delays = list(islice(backoff(initial=0.1, factor=2.0, maximum=1.0, jitter=0.2), 8))
    bases = [0.1, 0.2, 0.4, 0.8, 1.0, 1.0, 1.0, 1.0]
    for delay, base in zip(delays, bases, strict=True):
        assert base * 0.8 <= delay <= base * 1.2


def test_the_jitter_leaves_the_shared_random_state_alone() -> None:
    """A reconnect loop in a background thread must not move the state a program seeded (Hypothesis
    warned of exactly that, from a loop left running by an earlier test)."""
    random.seed(1234)
    before = random.getstate()
    list(islice(backoff(), 20))
    assert random.getstate() == before
