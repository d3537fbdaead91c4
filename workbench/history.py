"""``s.history``: every call made through a session, in order, for the technician."""

from __future__ import annotations

import html
import json
import threading
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any, overload


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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class History(Sequence[CallRecord]):
    """The calls of one session; thread-safe to append, a plain sequence to read."""

    def __init__(self) -> None:
        self._records: list[CallRecord] = []
        self._lock = threading.Lock()

    def add(self, record: CallRecord) -> None:
        with self._lock:
            self._records.append(record)

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

    def __repr__(self) -> str:
        lines = [f"{r.time}  {r.method:<24} {r.outcome:<5} {r.duration_s * 1000:8.1f} ms  {r.error or ''}"
                 for r in self]
        return "\n".join(lines) if lines else "(no calls yet)"

    def _repr_html_(self) -> str:
        rows = []
        for r in self:
            params = html.escape(json.dumps(r.params, ensure_ascii=False, default=str)[:200])
            colour = "" if r.outcome == "ok" else ' style="color:#b00020"'
            rows.append(f"<tr{colour}><td>{html.escape(r.time[11:23])}</td><td><code>{html.escape(r.method)}</code></td>"
                        f"<td><code>{params}</code></td><td>{html.escape(r.outcome)}</td>"
                        f"<td style='text-align:right'>{r.duration_s * 1000:.1f} ms</td>"
                        f"<td>{html.escape(r.error or '')}</td></tr>")
        head = ("<tr><th>time (UTC)</th><th>method</th><th>arguments</th><th>outcome</th><th>duration</th>"
                "<th>error</th></tr>")
        return f"<table><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>"
