"""The relay's session index in a notebook (R6): ``from workbench import fleet; f = fleet.open("relay-data")``.

``fleet.open`` takes a relay's ``--data`` directory (its SQLite index) or the index's
``postgresql://`` URL.  ``f.sessions()`` is a pandas DataFrame, one row per session
(times parsed, ``calls_by_kind`` and ``playbooks`` decoded); ``f.summary()`` gives the
per-technician and per-day figures, computed by the database (fast on 100,000 sessions).
Columns marked personal in the index (``field_marks``) are redacted with ``redact=True``.
``notebooks/fleet.ipynb`` draws them.

Reads only: nothing here writes to the index.  Raises :class:`wire.errors.Unavailable` for an
index that cannot be reached, :class:`wire.errors.BadParams` for a bad target or date.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from wire.database import Database, open_database
from workbench.records_query import parse_since, session_filter

__all__ = ["REDACTED", "Fleet", "Summary", "open", "parse_since", "session_filter"]

REDACTED = "[redacted]"


@dataclass
class Summary:
    """Per-technician and per-day figures; shows as two tables in a notebook."""

    per_technician: pd.DataFrame
    per_day: pd.DataFrame

    def _repr_html_(self) -> str:
        return ("<h4>Per technician</h4>" + self.per_technician.to_html()
                + "<h4>Per day</h4>" + self.per_day.to_html())

    def __repr__(self) -> str:
        return f"Per technician\n{self.per_technician}\n\nPer day\n{self.per_day}"


class Fleet:
    """The index of one relay (see the module docstring)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        _, rows = db.query("SELECT column_name FROM field_marks WHERE table_name = 'sessions' AND personal = 1")
        #: the columns the index marks personal
        self.personal = tuple(str(r[0]) for r in rows)

    def sessions(self, since: str | None = None, technician: str | None = None, *,
                 redact: bool = False) -> pd.DataFrame:
        """Every session (started *since*, by *technician*) as a DataFrame, newest first."""
        where, params = session_filter(since, technician)
        names, rows = self.db.query(f"SELECT * FROM sessions{where} ORDER BY started_at DESC", params)
        frame = pd.DataFrame.from_records(rows, columns=names)
        for column in ("started_at", "ended_at", "indexed_at"):
            frame[column] = pd.to_datetime(frame[column], utc=True, format="ISO8601")
        for column in ("calls_by_kind", "playbooks"):
            frame[column] = frame[column].map(lambda text: json.loads(text) if isinstance(text, str) else None)
        if redact:
            for column in self.personal:
                frame[column] = frame[column].map(lambda v: None if v is None else REDACTED)
        return frame

    def summary(self, since: str | None = None, technician: str | None = None) -> Summary:
        """Per technician and per day: sessions, hours, mean duration, refusals, errors, latency, files changed."""
        where, params = session_filter(since, technician)
        figures = ("count(*) AS sessions, sum(duration_s) / 3600.0 AS hours, avg(duration_s) / 60.0 AS mean_minutes, "
                   "sum(refusals) AS refusals, sum(errors) AS errors, avg(latency_p50_ms) AS latency_p50_ms, "
                   "sum(files_changed) AS files_changed, sum(control_s) / 3600.0 AS control_hours")
        names, rows = self.db.query(f"SELECT technician, {figures} FROM sessions{where} "
                                    "GROUP BY technician ORDER BY technician", params)
        per_technician = pd.DataFrame.from_records(rows, columns=names).set_index("technician")
        names, rows = self.db.query(f"SELECT day, count(DISTINCT technician) AS technicians, {figures} "
                                    f"FROM sessions{where} GROUP BY day ORDER BY day", params)
        per_day = pd.DataFrame.from_records(rows, columns=names).set_index("day")
        for frame in (per_technician, per_day):
            for column in frame.columns:
                frame[column] = pd.to_numeric(frame[column])
        return Summary(per_technician, per_day)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Fleet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open(target: str | Path = "relay-data") -> Fleet:
    """The index of the relay whose ``--data`` is *target*, or at the ``postgresql://`` URL *target*."""
    return Fleet(open_database(target))
