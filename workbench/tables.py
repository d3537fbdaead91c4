"""What every table the workbench shows in a notebook has in common.

JupyterLab right-aligns every table cell; a person reads text from the left and compares
numbers from the right, so each cell says which it is (:func:`text_cell`, :func:`number_cell`).
Times are the technician's local time with its zone (:func:`local_time`), not ISO stamps in
UTC.  Only characters that common fonts have (Debian's Chromium shows an empty box for an
emoji without a colour-emoji font).
"""

from __future__ import annotations

import datetime as dt
import html
from typing import Any

LEFT = "text-align:left"
RIGHT = "text-align:right;font-variant-numeric:tabular-nums"


def text_cell(content_html: str, tag: str = "td", extra_style: str = "") -> str:
    """A cell of text (already HTML), left-aligned."""
    style = f"{LEFT};{extra_style}" if extra_style else LEFT
    return f"<{tag} style='{style}'>{content_html}</{tag}>"


def number_cell(content_html: str, tag: str = "td") -> str:
    """A cell holding a number (size, duration, count), right-aligned, digits of equal width."""
    return f"<{tag} style='{RIGHT}'>{content_html}</{tag}>"


def escape(value: Any) -> str:
    """Text from anywhere (the customer's machine included) as HTML text, never markup."""
    return html.escape("" if value is None else str(value), quote=True)


def human_size(size: int | None) -> str:
    """``314572800`` → ``300.0 MiB`` (None → "")."""
    if size is None:
        return ""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024:
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"


def local_time(stamp: Any, *, date: bool = True, millis: bool = False) -> str:
    """An ISO stamp (UTC unless it says otherwise) in the technician's local time with its zone:
    ``2026-11-26 10:14:03 CET``; ``10:14:03.120 CET`` without *date* and with *millis*.
    A :class:`datetime.datetime` is taken as is; anything unreadable comes back unchanged, "" for nothing."""
    if isinstance(stamp, dt.datetime):
        moment = stamp
    elif isinstance(stamp, str) and stamp:
        try:
            moment = dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        except ValueError:
            return stamp
    else:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    moment = moment.astimezone()
    clock = moment.strftime("%H:%M:%S") + (f".{moment.microsecond // 1000:03d}" if millis else "")
    day = moment.strftime("%Y-%m-%d ") if date else ""
    return f"{day}{clock} {moment.strftime('%Z')}"
