"""C1: the customer's input always wins.  The state machine, with its clock injected.

States: *clear* (the technician's input may be injected) and *suspended* (the
customer used their mouse or keyboard).  Any customer input suspends at once
and pushes the end of the suspension to ``grace_s`` after that input.  Only
:meth:`PriorityGate.try_resume` ends a suspension, once the customer has been
idle for the whole grace period; the agent calls it from its event loop, where
it also tells the widget, so that "resumed" is said before any technician input
is accepted again.

Threads: :meth:`customer_input` is called by the thread that reads the X
server's record of input, :meth:`wait_clear` by the threads that run notebook
calls, :meth:`try_resume` by the event loop.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class PriorityGate:
    """Whether the technician's input may be injected now, as the customer's input decides."""

    def __init__(self, grace_s: float = 2.0, clock: Callable[[], float] = time.monotonic,
                 wait: Callable[[threading.Condition, float], object] | None = None) -> None:
        if grace_s <= 0:
            raise ValueError("grace_s must be positive")
        self.grace_s = grace_s
        self._clock = clock
        self._cond = threading.Condition()
        self._wait = wait or (lambda cond, seconds: cond.wait(seconds))
        self._suspended = False
        self._last_input: float | None = None
        #: how many times the customer took priority (for the journal and tests)
        self.periods = 0

    @property
    def suspended(self) -> bool:
        return self._suspended

    def customer_input(self) -> bool:
        """The customer just used their mouse or keyboard; True when this starts a suspension."""
        with self._cond:
            self._last_input = self._clock()
            if self._suspended:
                return False
            self._suspended = True
            self.periods += 1
            return True

    def resume_in(self) -> float | None:
        """Seconds until the technician's input may resume (0 once due), None when not suspended."""
        with self._cond:
            if not self._suspended or self._last_input is None:
                return None
            return max(0.0, self._last_input + self.grace_s - self._clock())

    def try_resume(self) -> bool:
        """End the suspension when the customer has been idle for the grace period; True if it ended now."""
        with self._cond:
            if not self._suspended or self._last_input is None:
                return False
            if self._clock() - self._last_input < self.grace_s:
                return False
            self._suspended = False
            self._cond.notify_all()
            return True

    def reset(self) -> None:
        """Forget any suspension (control was taken back: nothing is waiting for it any more)."""
        with self._cond:
            self._suspended = False
            self._last_input = None
            self._cond.notify_all()

    def notify(self) -> None:
        """Wake the waiters so that they look again (control granted or taken back, watch ready)."""
        with self._cond:
            self._cond.notify_all()

    def wait_clear(self, deadline: float, ready: Callable[[], bool]) -> bool:
        """Wait until not suspended and ``ready()``, or until *deadline* (this clock's time).

        Returns True when clear and ready, False at the deadline.  ``ready`` is
        also checked after every wake-up, so it may raise to abort the wait
        (e.g. control was taken back).
        """
        with self._cond:
            while True:
                if not self._suspended and ready():
                    return True
                now = self._clock()
                if now >= deadline:
                    return False
                step = deadline - now
                if self._suspended and self._last_input is not None:
                    # try_resume() runs on the event loop; look again soon after it is due
                    step = min(step, max(0.01, self._last_input + self.grace_s - now + 0.01))
                self._wait(self._cond, min(step, 0.5))
