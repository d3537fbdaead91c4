"""The narrow interface the proxy namespaces use to reach the agent.

A namespace (``s.files``, ``s.registry``, …) holds a :class:`Caller` and
never sees sockets or threads.  :class:`workbench.proxy.Session` is the
real caller: it sends the request through the relay, records it in
``s.history``, and raises the error the agent replied with (a subclass of
:class:`wire.errors.WorkbenchError`).
"""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class CallResult:
    """The agent's answer: a JSON value, and bytes when the call returned data."""

    value: Any
    data: bytes | None = None


class Caller(Protocol):
    def call(self, method: str, params: dict[str, Any] | None = None, data: bytes | None = None,
             *, timeout: float | None = None, record: bool = True) -> CallResult:
        """Run *method* on the agent and wait for its answer.

        ``record=False``: the call is part of an action the history shows as one entry
        (a transfer's chunks); the agent journals it all the same.

        Raises the agent's error (a WorkbenchError subclass), SessionEnded
        once the session is over, Timeout when no answer came in time.
        """
        ...

    def submit(self, method: str, params: dict[str, Any] | None = None, data: bytes | None = None,
               *, timeout: float | None = None, record: bool = True) -> Future[CallResult]:
        """Send *method* without waiting, for pipelined transfers; same errors, raised by the future."""
        ...
