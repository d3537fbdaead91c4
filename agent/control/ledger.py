"""Telling the customer's input from the agent's own: accounting, not guessing.

Every device event the agent injects is written in the :class:`InjectionLedger`
*before* it is sent.  Every device event the X server processes (whatever its
source: a real mouse, a real keyboard, another program using XTEST) comes back
through the RECORD extension and is checked against the ledger, in order:

- a recorded event that matches an expected one is the agent's own (that entry
  is consumed; entries older than it were lost by the server and are dropped);
- any other recorded event is the customer's.

Matching is by kind and by key or button; motions match any expected motion
(the server may clamp a position, and a motion carries no identity).  The
accounting is sound by counting: each recorded event consumes at most one
expected entry, so events beyond those the agent injected are always reported
as the customer's, at worst one event later than they happened.  Entries never
seen within :attr:`InjectionLedger.expiry_s` are forgotten, so a lost event
cannot hide a customer event for longer than that.

The one ambiguity is documented: a key the agent holds down repeats on its own
(auto-repeat), and those repeats count as the agent's, so the customer pressing
the very key the technician holds down is noticed only at its release or at
their next other input.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

KEY_PRESS, KEY_RELEASE, BUTTON_PRESS, BUTTON_RELEASE, MOTION = 2, 3, 4, 5, 6
KINDS = (KEY_PRESS, KEY_RELEASE, BUTTON_PRESS, BUTTON_RELEASE, MOTION)


@dataclass(frozen=True)
class DeviceEvent:
    """One core device event: its X type, key code or button (0 for motion), root position."""

    kind: int
    detail: int = 0
    x: int = 0
    y: int = 0

    def matches(self, other: DeviceEvent) -> bool:
        if self.kind != other.kind:
            return False
        return self.kind == MOTION or self.detail == other.detail


class InjectionLedger:
    """The events the agent injected and has not seen come back yet; thread-safe."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, expiry_s: float = 2.0) -> None:
        self.expiry_s = expiry_s
        self._clock = clock
        self._lock = threading.Lock()
        self._expected: deque[tuple[float, DeviceEvent]] = deque()
        self._down: set[int] = set()  # keycodes the agent pressed and the server saw pressed
        #: counters, for tests and the journal
        self.ours = 0
        self.customers = 0
        self.lost = 0

    def expect(self, event: DeviceEvent) -> None:
        """Call just before injecting *event*."""
        with self._lock:
            self._expected.append((self._clock(), event))

    def forget(self) -> None:
        """Drop every expectation (e.g. the injection connection broke)."""
        with self._lock:
            self.lost += len(self._expected)
            self._expected.clear()
            self._down.clear()

    def pending(self) -> int:
        with self._lock:
            return len(self._expected)

    def observe(self, event: DeviceEvent) -> bool:
        """Account for one recorded event; True when it is the agent's own, False for the customer's."""
        with self._lock:
            now = self._clock()
            while self._expected and now - self._expected[0][0] > self.expiry_s:
                self._expected.popleft()
                self.lost += 1
            for index, (_, expected) in enumerate(self._expected):
                if expected.matches(event):
                    for _ in range(index):
                        self._expected.popleft()
                    self.lost += index
                    self._expected.popleft()
                    if event.kind == KEY_PRESS:
                        self._down.add(event.detail)
                    elif event.kind == KEY_RELEASE:
                        self._down.discard(event.detail)
                    self.ours += 1
                    return True
            if event.kind == KEY_PRESS and event.detail in self._down:
                self.ours += 1  # auto-repeat of a key the agent holds down
                return True
            if event.kind == KEY_RELEASE and event.detail in self._down:
                # a release the agent did not send: the customer let go of that key
                self._down.discard(event.detail)
            self.customers += 1
            return False
