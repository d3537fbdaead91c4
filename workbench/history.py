"""``s.history``: every call made through a session, in order, for the technician.

One action is one entry: a transfer of any size is a single ``files.download`` or
``files.upload`` entry (what, size, bytes moved so far, result) that :class:`ActionEntry`
keeps up to date while it runs, however many chunk calls carry it (the customer's journal
keeps every chunk).
"""

from __future__ import annotations

import dataclasses
import json
import os
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, overload

from wire.chain import utc_now
from workbench.tables import escape, human_size, local_time, number_cell, text_cell


@dataclass(frozen=True)
class CallRecord:
    """One call: when, what, with which arguments, how it ended, how long it took."""

    time: str
    method: str
    params: dict[str, Any]
    outcome: str
    duration_s: float
    error: str | None = None
    request_id: str | None = None
    #: a transfer's size in bytes, and how many of them have moved (None for other calls)
    size: int | None = None
    done: int | None = None
    #: sent in a dry run: the agent planned it (outcome ``planned``) or ran it because it changes nothing
    preview: bool = False
    #: the arguments as sent, not shortened (for :meth:`History.to_notebook`)
    call_params: dict[str, Any] | None = field(default=None, repr=False, compare=False)
    #: what a read answered (text read, registry value), kept so a playbook can check it again
    result: Any = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        found = asdict(self)
        found.pop("call_params")
        found.pop("result")
        return found


class History(Sequence[CallRecord]):
    """The calls of one session; thread-safe to append, a plain sequence to read."""

    def __init__(self) -> None:
        self._records: list[CallRecord] = []
        self._lock = threading.Lock()

    def add(self, record: CallRecord) -> int:
        """Append *record*; return its index (for :meth:`replace`)."""
        with self._lock:
            self._records.append(record)
            return len(self._records) - 1

    def replace(self, index: int, record: CallRecord) -> None:
        """Put *record* in place of the entry at *index* (an action still running, updated)."""
        with self._lock:
            self._records[index] = record

    def begin(self, method: str, params: dict[str, Any]) -> ActionEntry:
        """Add an entry for an action that spans many calls (a transfer); it reads ``running`` until it ends."""
        return ActionEntry(self, method, params)

    @overload
    def __getitem__(self, index: int) -> CallRecord: ...
    @overload
    def __getitem__(self, index: slice) -> list[CallRecord]: ...
    def __getitem__(self, index: int | slice) -> CallRecord | list[CallRecord]:
        with self._lock:
            return self._records[index]

    def __len__(self) -> int:
        return len(self._records)

    def __iter__(self) -> Iterator[CallRecord]:
        with self._lock:
            return iter(list(self._records))

    def to_list(self) -> list[dict[str, Any]]:
        return [r.to_dict() for r in self]

    def to_notebook(self, path: str | os.PathLike[str], *, title: str | None = None) -> Path:
        """Write these calls as a playbook notebook at *path* (see :mod:`workbench.notebook_export`).

        One cell per call, in order, through the public API (``s.files.read(…)``); literal
        paths, keys and texts lifted into the ``parameters`` cell; failed calls, dry-run
        calls and changes later undone left out; reads kept as checks.  Returns the path.
        """
        from workbench.notebook_export import write_notebook

        return write_notebook(list(self), Path(path), title=title)

    def __repr__(self) -> str:
        lines = [f"{local_time(r.time, date=False, millis=True)}  {r.method:<24} {r.outcome:<7} "
                 f"{r.duration_s * 1000:8.1f} ms  {'(preview) ' if r.preview else ''}{_transfer_words(r)}"
                 f"{r.error or ''}" for r in self]
        return "\n".join(lines) if lines else "(no calls yet)"

    def _repr_html_(self) -> str:
        rows = []
        for r in self:
            params = escape(json.dumps(r.params, ensure_ascii=False, default=str)[:200])
            colour = "" if r.outcome != "error" else ' style="color:#b00020"'
            rows.append(f"<tr{colour}>{text_cell(escape(local_time(r.time, date=False, millis=True)))}"
                        f"{text_cell(f'<code>{escape(r.method)}</code>')}{text_cell(f'<code>{params}</code>')}"
                        f"{text_cell(escape(r.outcome + (' (preview)' if r.preview else '')))}"
                        f"{number_cell(escape(_transfer_words(r).rstrip('; ')))}"
                        f"{number_cell(f'{r.duration_s * 1000:.1f} ms')}{text_cell(escape(r.error or ''))}</tr>")
        head = "".join(text_cell(name, "th") for name in ("time", "method", "arguments", "outcome"))
        head += number_cell("transferred", "th") + number_cell("duration", "th") + text_cell("error", "th")
        return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


class ActionEntry:
    """One history entry for an action made of many calls, kept up to date as it runs.

    :meth:`sized` records the size once known, :meth:`progress` the bytes moved so far,
    :meth:`finish` the result (``ok``, or ``error`` with the error's code and sentence).
    """

    def __init__(self, history: History, method: str, params: dict[str, Any]) -> None:
        self._history = history
        self._started = time.perf_counter()
        self._record = CallRecord(time=utc_now(), method=method, params=dict(params), outcome="running",
                                  duration_s=0.0)
        self._index = history.add(self._record)

    def _update(self, **changes: Any) -> None:
        self._record = dataclasses.replace(self._record, duration_s=time.perf_counter() - self._started, **changes)
        self._history.replace(self._index, self._record)

    def sized(self, size: int, done: int = 0) -> None:
        self._update(size=size, done=done)

    def progress(self, done: int) -> None:
        self._update(done=done)

    def planned(self) -> None:
        """The action was a dry run's: the agent planned it and nothing moved."""
        if self._record.outcome == "running":
            self._update(outcome="planned", preview=True)

    def finish(self, error: BaseException | None = None) -> None:
        if self._record.outcome != "running":
            return
        if error is None:
            self._update(outcome="ok", done=self._record.size)
        else:
            self._update(outcome="error", error=f"{getattr(error, 'code', type(error).__name__)}: {error}")


def _transfer_words(record: CallRecord) -> str:
    if record.size is None:
        return ""
    return f"{human_size(record.done or 0)} of {human_size(record.size)}; "
