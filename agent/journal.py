"""The customer's journal file: the hash chain of :mod:`wire.chain`, written and synced.

A record the technician was told about is on disk: :meth:`Journal.append` returns,
and :meth:`Journal.append_async` resolves, only once the record is written and
synced.  Only the agent writes journals; the relay and the workbench read and
check them with :mod:`wire.chain`.

Why it is fast without being less durable:

* **Preallocated file, data-only sync.**  The file is grown in chunks of
  :data:`PREALLOCATE_BYTES` of written zeros (fsynced once per chunk), and records
  overwrite those zeros.  The file's size and blocks do not change per record, so
  ``fdatasync`` flushes only the data, not the inode (on ext4 half the median
  and a tenth of the p99 of an append with ``fsync``).  Windows and macOS have no
  ``fdatasync``: ``os.fsync`` there, as before.  While the agent runs (and after
  it was killed) the file ends in that tail of zeros; :meth:`close` cuts it,
  reopening cuts it, and :func:`wire.chain.verify_file` /
  :func:`wire.chain.read_records` read a journal up to it.
* **One syscall per batch on Linux.**  The file is opened ``O_DSYNC`` there and
  a batch goes out in one ``pwrite`` that returns once the data is on the disk
  (what ``write`` + ``fdatasync`` promise, one system call instead of three).
* **Group commit, written by whoever is there: no thread hop on a fast disk.**
  The first caller that finds no write under way becomes the writer and writes
  every record staged so far in one write + one sync, then whatever was staged
  meanwhile, until nothing is left; callers that find a write under way leave
  their record to it.  An event loop's caller (:meth:`append_async`) stages its
  record and the loop writes it on its next turn (``call_soon``), so every call
  staged in the same turn shares one sync, and the caller is resumed from the
  loop itself.  Handing each record to a writer thread and back had cost two
  thread wake-ups per record, more than the sync itself on a busy machine (a
  no-op call makes two records).  The price is that the loop waits while it
  writes (one ``O_DSYNC`` write, ~0.15 ms on this SSD), and frames with it; so a
  loop whose recent writes took longer than :data:`LOOP_WRITE_BUDGET` (a slow
  or busy disk) hands them to a writer thread instead, and goes on meanwhile.
Records are chained (``seq``, ``prev``, ``hash``) when they are staged, in the
order the callers staged them, and written in that order; :attr:`records`,
:attr:`seq` and :attr:`head` show only records already on disk.
"""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wire.chain import ChainError, ChainFollower, canonical, record_hash, utc_now

__all__ = ["PREALLOCATE_BYTES", "ChainError", "Journal"]

log = logging.getLogger(__name__)

#: The journal grows by this much zeroed, synced space at a time (a session writes well under it).
PREALLOCATE_BYTES = 1 << 20
#: An event loop writes its records itself while the disk's recent writes took less than this; on a
#: slower disk the loop hands them to the writer thread instead, so frames do not wait on the disk.
LOOP_WRITE_BUDGET = 0.001
#: The recent write time is the slowest write lately: each write's time, decaying by this at each
#: later write (a write of 20 ms keeps the loop off the disk for the next ~30 writes).
_RECENT_DECAY = 0.9

if sys.platform == "linux":
    #: Every write returns once its data is on the disk (fdatasync's promise): no separate sync.
    _SYNC_FLAG = os.O_DSYNC

    def _data_sync(fd: int) -> None:
        pass
else:  # Windows (FlushFileBuffers) and macOS have no fdatasync, and Windows no O_DSYNC
    _SYNC_FLAG = 0
    _data_sync: Callable[[int], None] = os.fsync


#: The journal's writer: nobody; planned on an event loop's next turn; writing now (some thread).
_IDLE, _PLANNED, _WRITING = "idle", "planned", "writing"


@dataclass
class _Staged:
    record: dict[str, Any]
    line: bytes
    #: A thread's caller waits on this (:meth:`Journal.append`)...
    done: Future[None] | None = None
    #: ...an event loop's caller on this, resolved on its own loop (:meth:`Journal.append_async`).
    waiter: asyncio.Future[None] | None = None


def _write_at(fd: int, data: bytes, offset: int) -> None:
    """Write all of *data* at *offset* (``pwrite`` where there is one; Windows has none)."""
    view = memoryview(data)
    if hasattr(os, "pwrite"):
        while view:
            written = os.pwrite(fd, view, offset)
            view, offset = view[written:], offset + written
        return
    os.lseek(fd, offset, os.SEEK_SET)
    while view:
        view = view[os.write(fd, view):]


def _settle_waiters(waiters: list[tuple[asyncio.Future[None], OSError | None]]) -> None:
    """On the waiters' loop: resolve each (a waiter whose caller gave up is left alone)."""
    for waiter, err in waiters:
        if waiter.done():
            continue
        if err is None:
            waiter.set_result(None)
        else:
            waiter.set_exception(err)


class Journal:
    """An append-only journal file; thread-safe.

    Opening an existing journal continues its chain after checking it: a
    journal that does not verify raises :class:`ChainError` rather than being
    extended.  The preallocated tail of zeros and an incomplete final line (the
    writer was killed mid-record) are cut off first; neither was acknowledged.
    A write or sync that fails (disk full) fails that append and every later one
    with the OSError: the chain cannot go on past a record that is not on disk.
    """

    def __init__(self, path: Path, on_append: Callable[[dict[str, Any]], None] | None = None,
                 preallocate: int = PREALLOCATE_BYTES) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._cond = threading.Condition()
        self._durable = ChainFollower()  # what is on disk
        self.records: list[dict[str, Any]] = []
        self._chunk = max(preallocate, 4096)
        self._end = 0  # bytes of records on disk
        if path.exists():
            self._recover()
        self._staged_chain = ChainFollower(self._durable.seq, self._durable.head)
        # O_BINARY: Windows' C runtime would otherwise write each "\n" as "\r\n".
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT | _SYNC_FLAG | getattr(os, "O_BINARY", 0), 0o600)
        self._allocated = self._end
        self._queue: list[_Staged] = []
        self._failed: OSError | None = None
        self._closed = False
        #: who writes: nobody, a loop's next turn (planned), or someone now
        self._state = _IDLE
        #: seconds the slowest write + sync took lately (decaying), to choose between the loop and the thread
        self.recent_write = 0.0
        self._planned_on: asyncio.AbstractEventLoop | None = None  # the loop whose next turn writes
        self._handoff = False  # the writer thread is to write what is staged (its ``_state`` is _WRITING)
        self._thread: threading.Thread | None = None
        self.on_append = on_append

    def _recover(self) -> None:
        raw = self.path.read_bytes()
        zeros = raw.find(b"\0")  # the preallocated tail: every synced record comes before it
        written = raw if zeros < 0 else raw[:zeros]
        complete = written[: written.rfind(b"\n") + 1]
        if len(complete) != len(raw):
            with open(self.path, "r+b") as f:
                f.truncate(len(complete))
                os.fsync(f.fileno())
        for line in complete.splitlines():
            record = json.loads(line)
            self._durable.check(record)
            self.records.append(record)
        self._end = len(complete)

    @property
    def seq(self) -> int:
        """The last record on disk."""
        return self._durable.seq

    @property
    def head(self) -> str:
        """The hash of the last record on disk."""
        return self._durable.head

    def append(self, kind: str, **fields: Any) -> dict[str, Any]:
        """Write one record, sync it, and return it (blocks the calling thread until it is on disk).

        Called on an event loop's thread, it blocks that loop for the write (use :meth:`append_async`
        there).  Raises OSError when it could not be written (or the journal is closed or failed before).
        """
        done: Future[None] = Future()
        # Running from the start: a writer never meets a cancelled future.
        done.set_running_or_notify_cancel()
        with self._cond:
            (staged,) = self._stage([(kind, fields)], done=done)
            # A write under way (another thread's) takes this record with it; one only planned on a
            # loop's next turn is taken over here: this thread may be that loop's, which waits on us.
            write_here = self._state != _WRITING
            if write_here:
                self._state = _WRITING
        if write_here:
            self._drain()
        done.result()
        return staged.record

    async def append_async(self, kind: str, **fields: Any) -> dict[str, Any]:
        """Like :meth:`append`, written on the event loop's next turn with every record staged before it.

        The record is chained at once (so records keep the order of the calls); it is
        returned once it is on disk.  A caller that gives up (a cancelled task) cannot
        take back a record already chained: it is written all the same.  Raises OSError
        as :meth:`append`.
        """
        loop = asyncio.get_running_loop()
        waiter = loop.create_future()
        with self._cond:
            (staged,) = self._stage([(kind, fields)], waiter=waiter)
            # Planned on another loop (one that may have closed before its turn came): plan it here too;
            # the first turn to come writes, the other finds nothing to do.
            if self._state == _IDLE or (self._state == _PLANNED and self._planned_on is not loop):
                self._state, self._planned_on = _PLANNED, loop
                loop.call_soon(self._planned_write)
        await waiter  # a caller cancelled here cancels only its waiting: the record is written all the same
        return staged.record

    def _stage(self, entries: list[tuple[str, dict[str, Any]]], *, done: Future[None] | None = None,
               waiter: asyncio.Future[None] | None = None) -> list[_Staged]:
        """Chain *entries* in order and queue them; the last one carries the future to settle.

        The caller holds ``_cond``.  Raises OSError when the journal failed or is closed.
        """
        if self._failed is not None:
            raise OSError(self._failed.errno, f"the journal could not be written: {self._failed}")
        if self._closed:
            raise OSError(errno.EBADF, "the journal is closed")
        staged: list[_Staged] = []
        for kind, fields in entries:
            record: dict[str, Any] = {"seq": self._staged_chain.seq + 1, "time": utc_now(), "kind": kind}
            record.update(fields)
            record.pop("hash", None)
            record["prev"] = self._staged_chain.head
            record["hash"] = record_hash(record)
            self._staged_chain.advance(record)
            staged.append(_Staged(record, canonical(record) + b"\n"))
        staged[-1].done, staged[-1].waiter = done, waiter
        self._queue.extend(staged)
        return staged

    def _planned_write(self) -> None:
        """On the loop, the turn after a record was staged there: write it and all staged since.

        The loop writes itself while the disk is fast (:data:`LOOP_WRITE_BUDGET`); else the writer
        thread writes and the loop goes on meanwhile (two thread wake-ups per batch instead of none).
        """
        with self._cond:
            if self._state != _PLANNED:  # taken over by a blocking append (or close) meanwhile
                return
            self._state = _WRITING
            if self.recent_write > LOOP_WRITE_BUDGET:
                self._handoff = True
                if self._thread is None:
                    self._thread = threading.Thread(target=self._write_thread, name=f"journal {self.path.name}",
                                                    daemon=True)
                    self._thread.start()
                self._cond.notify_all()
                return
        self._drain()

    def _write_thread(self) -> None:
        """The writer thread: writes what a loop handed over, until the journal is closed."""
        while True:
            with self._cond:
                while not self._handoff and not self._closed:
                    self._cond.wait()
                if not self._handoff:
                    return
                self._handoff = False
            self._drain()

    def _drain(self) -> None:
        """Be the writer (``_state`` is ``_WRITING``): write and sync batches until nothing is staged.

        Everything staged since the last batch goes out in one write and one sync; records staged
        by others while a batch is on its way go in the next.
        """
        while True:
            with self._cond:
                batch, self._queue = self._queue, []
                if not batch:
                    self._state = _IDLE
                    self._cond.notify_all()
                    return
            data = b"".join(staged.line for staged in batch)
            try:
                self._make_room(len(data))
                started = time.perf_counter()  # the record's write, not the space's growth
                _write_at(self._fd, data, self._end)
                _data_sync(self._fd)
            except OSError as err:
                log.error("journal %s could not be written: %s", self.path, err)
                with self._cond:
                    self._failed = err
                    batch += self._queue
                    self._queue = []
                self._settle(batch, err)
                continue
            self._end += len(data)
            self.recent_write = max(time.perf_counter() - started, self.recent_write * _RECENT_DECAY)
            with self._cond:
                self.records.extend(staged.record for staged in batch)
                self._durable.advance(batch[-1].record)
            self._settle(batch, None)
            if self.on_append is not None:
                for staged in batch:
                    try:
                        self.on_append(staged.record)
                    except Exception:  # a listener's bug must not stop the journal
                        log.exception("journal listener failed")

    @staticmethod
    def _settle(batch: list[_Staged], err: OSError | None) -> None:
        """Tell the batch's callers: threads through their futures, the writer's own loop directly,
        any other event loop with one wake-up."""
        try:
            here: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:  # written from a plain thread
            here = None
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[None], OSError | None]]] = {}
        for staged in batch:
            if staged.done is not None:
                if err is None:
                    staged.done.set_result(None)
                else:
                    staged.done.set_exception(err)
            if staged.waiter is not None:
                by_loop.setdefault(staged.waiter.get_loop(), []).append((staged.waiter, err))
        for loop, waiters in by_loop.items():
            if loop is here:
                _settle_waiters(waiters)
                continue
            try:
                loop.call_soon_threadsafe(_settle_waiters, waiters)
            except RuntimeError:  # that loop is closed: nobody is waiting any more
                continue

    def _make_room(self, size: int) -> None:
        """Grow the preallocated, zeroed space so *size* more bytes fit (a full fsync: the size changes)."""
        if self._end + size <= self._allocated:
            return
        grow = max(self._chunk, size + self._chunk // 2)
        _write_at(self._fd, bytes(grow), self._allocated)
        os.fsync(self._fd)
        self._allocated += grow

    def after(self, seq: int) -> list[dict[str, Any]]:
        """The records with a sequence number above *seq*, in order."""
        return self.records[max(seq, 0):]

    def close(self) -> None:
        """Write what is staged, cut the preallocated tail, and close; a second close does nothing."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            self._cond.notify_all()  # the writer thread, if any, ends once it wrote what it was handed
            while self._state == _WRITING:  # another thread's write: it takes what is staged
                self._cond.wait()
            write_here = bool(self._queue)  # planned on a loop that has not run it (maybe this thread's)
            self._state = _WRITING if write_here else _IDLE
        if write_here:
            self._drain()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()  # woken by _closed: it ends once nothing is handed over
        try:
            if self._allocated > self._end:
                os.ftruncate(self._fd, self._end)
                os.fsync(self._fd)
        finally:
            os.close(self._fd)
