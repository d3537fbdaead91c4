"""The control service's injection thread: one thread that runs jobs in arrival order.

Viewer jobs can be dropped (when the customer takes priority), urgent jobs
(releasing what is held) jump the queue, and a newer pointer position replaces
one not injected yet.  Between jobs the thread runs a housekeeping tick (the
backend's ``maintain``).
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from wire.errors import Unavailable

log = logging.getLogger(__name__)


@dataclass
class Job:
    """One thing for the injection thread to run; its future gets the result."""

    run: Callable[[], Any]
    future: Future[Any] = field(default_factory=Future)
    viewer: bool = False
    key: str | None = None
    #: how many inputs the job stands for (characters of a text), counted when it is dropped
    weight: int = 1


class InjectionWorker:
    """One thread that runs jobs in order; viewer jobs can be dropped, urgent ones jump the queue."""

    def __init__(self, name: str, tick: Callable[[], None], tick_s: float = 0.5) -> None:
        self._cond = threading.Condition()
        self._jobs: deque[Job | None] = deque()
        self._tick = tick
        self._tick_s = tick_s
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, run: Callable[[], Any], *, viewer: bool = False, urgent: bool = False,
               key: str | None = None, weight: int = 1) -> Future[Any]:
        job = Job(run, viewer=viewer, key=key, weight=weight)
        with self._cond:
            if self._closed:
                job.future.set_exception(Unavailable("control has stopped"))
                return job.future
            last = self._jobs[-1] if self._jobs else None
            if key is not None and last is not None and last.key == key:
                self._jobs[-1] = job  # a newer pointer position replaces one not injected yet
                last.future.set_result(None)
            elif urgent:
                self._jobs.appendleft(job)
            else:
                self._jobs.append(job)
            self._cond.notify()
        return job.future

    def drop_viewer_jobs(self) -> int:
        """Drop the viewer jobs not run yet; return how many inputs they stood for."""
        with self._cond:
            kept = deque(job for job in self._jobs if job is None or not job.viewer)
            dropped = sum(job.weight for job in self._jobs if job is not None and job.viewer)
            for job in self._jobs:
                if job is not None and job.viewer:
                    job.future.set_result(None)
            self._jobs = kept
            return dropped

    def close(self, timeout: float = 10.0) -> None:
        """Run what is queued (viewer jobs dropped), then end the thread."""
        self.drop_viewer_jobs()
        with self._cond:
            if not self._closed:
                self._closed = True
                self._jobs.append(None)
                self._cond.notify()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            with self._cond:
                if not self._jobs:
                    self._cond.wait(self._tick_s)
                idle = not self._jobs
                job = None if idle else self._jobs.popleft()
            if idle:
                try:
                    self._tick()
                except Exception:
                    log.exception("control housekeeping failed")
                continue
            if job is None:  # the mark close() left: everything before it has run
                return
            if job.future.done():
                continue
            try:
                job.future.set_result(job.run())
            except BaseException as err:  # handed to whoever waits on the future
                job.future.set_exception(err)
