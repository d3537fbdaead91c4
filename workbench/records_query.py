"""Which sessions a listing covers (``--since``, ``--technician``), shared by ``workbench sessions`` and
:mod:`workbench.fleet`; without pandas, so the command answers quickly."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from wire.errors import BadParams

_SINCE = re.compile(r"^(\d+)([hdw])$")


def parse_since(text: str, now: dt.datetime | None = None) -> str:
    """``7d``, ``12h``, ``2w`` or an ISO date/time → the UTC ISO time it names.  Raises :class:`BadParams`."""
    now = now or dt.datetime.now(dt.timezone.utc)
    match = _SINCE.match(text.strip())
    if match:
        count, unit = int(match.group(1)), match.group(2)
        delta = {"h": dt.timedelta(hours=count), "d": dt.timedelta(days=count), "w": dt.timedelta(weeks=count)}[unit]
        moment = now - delta
    else:
        try:
            moment = dt.datetime.fromisoformat(text.strip())
        except ValueError:
            raise BadParams(f"--since {text!r}: give a period (7d, 12h, 2w) or a date (2026-05-01)") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment.astimezone(dt.timezone.utc).isoformat(timespec="microseconds")


def session_filter(since: str | None = None, technician: str | None = None,
                   now: dt.datetime | None = None) -> tuple[str, list[Any]]:
    """The WHERE clause (and its parameters) for sessions started since *since* by *technician*."""
    clauses: list[str] = []
    params: list[Any] = []
    if since:
        clauses.append("started_at >= ?")
        params.append(parse_since(since, now))
    if technician:
        clauses.append("technician = ?")
        params.append(technician)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params
