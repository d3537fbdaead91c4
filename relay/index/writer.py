"""The thread that keeps the session index up to date, off the relay's event loop.

The relay calls :meth:`IndexWriter.session_changed` (a set insert and an event: it
never blocks) when a session starts, when its ``session.json`` is rewritten and when
its records close.  The writer's thread reads that session's files and writes its row.
When the database cannot be reached the sessions wait in the pending set and the
writer tries again with growing delays (:func:`wire.backoff.backoff`): nothing is
lost, since the files are the source of truth and the row is rebuilt from them.

The same thread runs the relay's daily duty (retention, :mod:`relay.retention`) when
*daily* is given: once at start and every :data:`DAY` seconds of *clock* after.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from relay.index.store import SessionIndex
from wire.backoff import backoff
from wire.database import database_errors

log = logging.getLogger(__name__)

DAY = 86400.0


class IndexWriter:
    """See the module docstring.  Opening it opens the database: an unreachable one raises at once.

    Raises :class:`wire.errors.Unavailable` or :class:`wire.errors.BadParams` (see :meth:`SessionIndex.open`).
    """

    def __init__(self, data_dir: Path, url: str | None = None, *, clock: Callable[[], float] = time.monotonic,
                 daily: Callable[[SessionIndex], None] | None = None) -> None:
        self.data_dir = data_dir
        self.url = url
        self.clock = clock
        self.daily = daily
        self._index: SessionIndex | None = SessionIndex.open(data_dir, url)
        #: where the index is (a file, or the URL without its password)
        self.where = self._index.db.where
        self._pending: set[str] = set()
        self._reindex = False
        self._cond = threading.Condition()
        self._busy = False
        self._stopping = False
        self._delays = backoff(initial=0.5, maximum=60.0)
        self._retry_at: float | None = None
        self._next_daily: float | None = clock() if daily else None
        #: for status and tests: rows written, failures seen, daily runs
        self.written = 0
        self.failures = 0
        self.daily_runs = 0
        self.last_error = ""
        self._thread = threading.Thread(target=self._run, name="session-index", daemon=True)

    def start(self, *, reindex: bool = True) -> None:
        """Start the thread; *reindex*: first index the sessions the index lacks or holds as open."""
        self._reindex = reindex
        self._thread.start()

    def session_changed(self, session_id: str) -> None:
        """Have *session_id*'s row rewritten from its files; returns at once."""
        with self._cond:
            self._pending.add(session_id)
            self._cond.notify_all()

    def wake(self) -> None:
        """Look at the clock again now (tests move a fake clock, then wake the writer)."""
        with self._cond:
            self._retry_at = None if self._retry_at is None else min(self._retry_at, self.clock())
            self._cond.notify_all()

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Wait until nothing is pending or being written; False on timeout (or while the database is away)."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._busy and not self._pending and not self._reindex
                                       and not self._daily_due(), timeout)

    @property
    def pending(self) -> int:
        with self._cond:
            return len(self._pending)

    def close(self, timeout: float = 10.0) -> None:
        """Write what is pending (if the database answers), stop the thread and close the database."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout)
        if self._index is not None:
            self._index.close()
            self._index = None

    # -- the thread ----------------------------------------------------------

    def _daily_due(self) -> bool:
        return self._next_daily is not None and self.clock() >= self._next_daily

    def _has_work(self) -> bool:
        waiting = self._retry_at is not None and self.clock() < self._retry_at
        return not waiting and bool(self._pending or self._reindex or self._daily_due())

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._has_work() and not self._stopping:
                    delay = None if self._retry_at is None else max(0.0, self._retry_at - self.clock())
                    if delay is None and self._next_daily is not None:
                        delay = max(0.0, self._next_daily - self.clock())
                    self._cond.wait(delay)
                    if self._retry_at is not None and self.clock() >= self._retry_at:
                        break
                if self._stopping and (self._retry_at is not None or not self._has_work()):
                    return
                batch, self._pending = self._pending, set()
                reindex, self._busy = self._reindex, True
            ok = self._work(batch, reindex)
            with self._cond:
                self._busy = False
                if ok:
                    self._reindex = False
                    self._retry_at = None
                else:
                    self._pending |= batch
                    self._retry_at = self.clock() + next(self._delays)
                self._cond.notify_all()

    def _work(self, batch: set[str], reindex: bool) -> bool:
        """Write *batch* (and reindex, and the daily duty when due); False when the database failed."""
        errors: tuple[type[BaseException], ...] = (*database_errors(), OSError)
        try:
            index = self._index or SessionIndex.open(self.data_dir, self.url)
            self._index = index
            if reindex:
                self.written += index.reindex(only_missing=True)
            for session_id in sorted(batch):
                try:
                    index.update_from_files(session_id)
                    self.written += 1
                except (OSError, ValueError, KeyError) as err:
                    log.warning("session %s not indexed: %s", session_id, err)
            if self.daily is not None and self._daily_due():
                self.daily(index)
                self.daily_runs += 1
                self._next_daily = self.clock() + DAY
        except errors as err:  # the database went away: keep the batch, reconnect later
            self.failures += 1
            self.last_error = str(err)
            log.warning("the session index is unreachable (%s); %d session(s) wait, their files are kept",
                        err, len(batch))
            if self._index is not None:
                with contextlib.suppress(Exception):
                    self._index.close()
                self._index = None
            return False
        except Exception as err:  # e.g. wire.errors.Unavailable when reopening
            self.failures += 1
            self.last_error = str(err)
            log.warning("the session index failed: %s", err)
            self._index = None
            return False
        return True
