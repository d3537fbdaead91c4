"""The customer's system information (MISSION.md R4), as the technician sees it in a notebook.

``s.inventory()`` returns an :class:`Inventory`: every fact the agent
collected (:class:`wire.facts.Fact`: name, value, status, source,
personal), plus the session id and start time.  It displays as a table,
converts to a plain dict or JSON, and looks facts up by key::

    inv = s.inventory()
    inv["os.build"].value
    inv["disk.free", "/"].value["free_bytes"]
    [f.key for f in inv if f.personal]

A per-subject fact (one per volume, one per browser) has the key
``name[subject]``; :meth:`Inventory.named` lists all facts of one name.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from wire.errors import ProtocolError
from wire.facts import COLLECT_METHOD, STATUSES, Fact
from workbench.calls import Caller
from workbench.tables import local_time, number_cell, text_cell

__all__ = ["Fact", "Inventory", "fetch"]

#: Items shown before a list is folded into a details element.
_FOLD_AFTER = 5
_STATUS_COLOURS = {"ok": "#1a7f37", "unavailable": "#9a6700", "denied": "#cf222e", "unsupported": "#6e7781"}


def _parse_time(value: Any, what: str) -> datetime:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError as err:
            raise ProtocolError(f"{what} is not an ISO time: {value!r}") from err
    raise ProtocolError(f"{what} must be an ISO time, not {type(value).__name__}")


class Inventory:
    """The facts collected on the customer's computer in one session.

    Build it with :meth:`from_wire`.  Iterating yields the facts in order;
    ``inv[key]`` returns one :class:`Fact`.
    """

    def __init__(self, facts: list[Fact], *, session_id: str, started_at: datetime | None, collected_at: datetime,
                 platform: str | None = None) -> None:
        self.facts = facts
        self.session_id = session_id
        self.started_at = started_at
        self.collected_at = collected_at
        self.platform = platform
        self._by_key = {fact.key: fact for fact in facts}

    @classmethod
    def from_wire(cls, value: Any, *, session_id: str, started_at: datetime | str | None) -> Inventory:
        """Build an inventory from the value ``inventory.collect`` returned.

        *started_at* is the session's start (a datetime or ISO text; None or
        ``""`` when unknown).  Raises :class:`wire.errors.ProtocolError` when
        *value* is not a well-formed inventory (the agent and workbench
        disagree: update both) or a time is not ISO 8601.
        """
        if not isinstance(value, dict) or not isinstance(value.get("facts"), list):
            raise ProtocolError("an inventory must be an object with a list of facts")
        facts: list[Fact] = []
        for i, body in enumerate(value["facts"]):
            try:
                facts.append(Fact.from_wire(body))
            except ValueError as err:
                raise ProtocolError(f"inventory fact {i}: {err}") from err
        keys = [f.key for f in facts]
        if len(set(keys)) != len(keys):
            raise ProtocolError("inventory holds the same fact twice")
        platform = value.get("platform")
        start = None if started_at in (None, "") else _parse_time(started_at, "started_at")
        return cls(facts, session_id=session_id, started_at=start,
                   collected_at=_parse_time(value.get("collected_at"), "collected_at"),
                   platform=platform if isinstance(platform, str) else None)

    # --- lookup ---------------------------------------------------------------------------------------

    def __getitem__(self, key: str | tuple[str, str]) -> Fact:
        """Return the fact ``key`` (``"os.build"``, ``"disk.free[/]"``) or ``(name, subject)``.

        Raises KeyError naming the keys to use when *key* is a per-subject name.
        """
        lookup = f"{key[0]}[{key[1]}]" if isinstance(key, tuple) else key
        try:
            return self._by_key[lookup]
        except KeyError:
            subjects = [f.key for f in self.named(lookup)]
            if subjects:
                raise KeyError(f"{lookup!r} is per subject here; use one of {subjects}") from None
            raise KeyError(f"no fact {lookup!r}") from None

    def __contains__(self, key: object) -> bool:
        if isinstance(key, tuple) and len(key) == 2:
            key = f"{key[0]}[{key[1]}]"
        return isinstance(key, str) and key in self._by_key

    def __iter__(self) -> Iterator[Fact]:
        return iter(self.facts)

    def __len__(self) -> int:
        return len(self.facts)

    def named(self, name: str) -> list[Fact]:
        """Return every fact called *name* (e.g. all ``disk.free`` facts, one per volume)."""
        return [f for f in self.facts if f.name == name]

    def personal(self) -> list[Fact]:
        """Return the facts marked as personal data."""
        return [f for f in self.facts if f.personal]

    def counts(self) -> dict[str, int]:
        """Return how many facts have each status."""
        counts = dict.fromkeys(sorted(STATUSES), 0)
        for fact in self.facts:
            counts[fact.status] += 1
        return counts

    # --- conversions ----------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Return a plain JSON-able dict: session id, start and collection times, platform, facts."""
        return {
            "session_id": self.session_id,
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "collected_at": self.collected_at.isoformat(),
            "platform": self.platform,
            "facts": [fact.to_wire() for fact in self.facts],
        }

    def to_json(self, indent: int | None = 2) -> str:
        """Return :meth:`to_dict` as JSON text."""
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)

    def __repr__(self) -> str:
        counts = ", ".join(f"{n} {status}" for status, n in self.counts().items() if n)
        return (f"<Inventory session={self.session_id} collected={self.collected_at.isoformat(timespec='seconds')}"
                f" {len(self.facts)} facts: {counts}>")

    # --- display --------------------------------------------------------------------------------------

    def _repr_html_(self) -> str:
        """Return a table of the facts: fact, value, status, source; personal data marked."""
        counts = ", ".join(f"{n} {status}" for status, n in self.counts().items() if n)
        head = (
            "<div class='wb-inventory'><style>.wb-inventory td,.wb-inventory th"
            "{padding:2px 8px;vertical-align:top;text-align:left}</style>"
            f"<p><b>System information</b> · session <code>{_e(self.session_id)}</code>"
            f" · started {_e(local_time(self.started_at) if self.started_at else 'unknown')}"
            f" · collected {_e(local_time(self.collected_at))}"
            + (f" · {_e(self.platform)}" if self.platform else "")
            + f"<br><small>{len(self.facts)} facts: {_e(counts)}."
            " <span style='background:#fff1c2;padding:0 3px'>personal</span> marks personal data.</small></p>"
        )
        rows = [
            "<table style='border-collapse:collapse;text-align:left'><thead><tr>"
            "<th>fact</th><th>value</th><th>status</th><th>source</th></tr></thead><tbody>"
        ]
        # The same reason (e.g. "needs administrator rights") often explains several facts: it is
        # written once, under the table, and each fact points to it.
        details = [fact.detail for fact in self.facts if not fact.ok and fact.detail]
        shared = [d for i, d in enumerate(details) if details.count(d) > 1 and details.index(d) == i]
        for fact in self.facts:
            style = " style='background:#fff8e0'" if fact.personal else ""
            badge = (" <span title='personal data' style='background:#fff1c2;padding:0 3px;font-size:80%'>"
                     "personal</span>") if fact.personal else ""
            colour = _STATUS_COLOURS.get(fact.status, "inherit")
            status = f"<span style='color:{colour};font-weight:600'>{_e(fact.status)}</span>"
            if fact.ok:
                value = _render_value(fact)
            elif fact.detail in shared:
                value = f"<i style='color:#57606a'>see note {shared.index(fact.detail) + 1}</i>"
            else:
                value = f"<i style='color:#57606a'>{_e(fact.detail or '')}</i>"
            if fact.ok and fact.detail:
                value += f"<br><small style='color:#57606a'>{_e(fact.detail)}</small>"
            rows.append(
                f"<tr{style}><td><code>{_e(fact.key)}</code>{badge}</td><td>{value}</td>"
                f"<td>{status}</td><td><small>{_e(fact.source)}</small></td></tr>"
            )
        rows.append("</tbody></table>")
        rows.extend(f"<p><small>Note {n}: {_e(detail)}</small></p>" for n, detail in enumerate(shared, 1))
        rows.append("</div>")
        return head + "".join(rows)


def _e(value: Any) -> str:
    """Escape text from the customer's machine: it is untrusted and must not become markup."""
    return html.escape(str(value), quote=True)


def human_bytes(count: int | float) -> str:
    """Return a byte count as ``"12.3 GB"`` (powers of 1000, like file managers)."""
    value = float(count)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(value) < 1000 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} PB"  # pragma: no cover - loop always returns


def _fold(summary: str, items: list[str]) -> str:
    body = "<br>".join(items)
    if len(items) <= _FOLD_AFTER:
        return body or _e(summary)
    return f"<details><summary>{_e(summary)}</summary>{body}</details>"


def _render_value(fact: Fact) -> str:
    value = fact.value
    if fact.name == "disk.free" and isinstance(value, Mapping) and "free_bytes" in value:
        text = f"{human_bytes(value['free_bytes'])} free"
        if isinstance(value.get("total_bytes"), int) and value["total_bytes"]:
            text += f" of {human_bytes(value['total_bytes'])}"
        extra = ", ".join(str(value[k]) for k in ("fstype", "device") if value.get(k))
        return _e(text + (f" ({extra})" if extra else ""))
    if fact.name == "processes" and isinstance(value, Mapping) and isinstance(value.get("rows"), list):
        return _render_processes(value)
    if fact.name == "browsers" and isinstance(value, list):
        items = [_e(" ".join(str(b.get(k)) for k in ("name", "version") if isinstance(b, Mapping) and b.get(k))
                    + (f" — {b.get('path')}" if isinstance(b, Mapping) and b.get("path") else "")
                    + ("" if not isinstance(b, Mapping) or b.get("version") else
                       f" (version: {b.get('version_detail', 'unknown')})"))
                 for b in value]
        return _fold(f"{len(items)} browsers", items) if items else "<i>none found</i>"
    if fact.name == "browser.settings" and isinstance(value, Mapping):
        items = []
        for key, setting in value.items():
            if isinstance(setting, Mapping) and "default" in setting:
                shown = "<i>default</i>" if setting["default"] else _e(setting.get("value"))
                items.append(f"{_e(key.replace('_', ' '))}: {shown}")
            else:
                items.append(f"{_e(key.replace('_', ' '))}: {_e(setting)}")
        return "<br>".join(items)
    if fact.name == "peripherals" and isinstance(value, list):
        items = [_e(" — ".join(str(d.get(k)) for k in ("name", "vendor", "kind") if d.get(k)))
                 for d in value if isinstance(d, Mapping)]
        return _fold(f"{len(items)} devices", items) if items else "<i>none listed</i>"
    if isinstance(value, (dict, list)):
        text = json.dumps(value, ensure_ascii=False)
        if len(text) > 200:
            return f"<details><summary>{_e(text[:80])}…</summary><pre>{_e(json.dumps(value, indent=1))}</pre></details>"
        return f"<code>{_e(text)}</code>"
    return _e(value)


def _render_processes(value: Mapping[str, Any]) -> str:
    columns = value.get("columns") or ["pid", "name", "user", "cpu_percent", "rss_bytes"]
    shown = value.get("shown", len(value["rows"]))
    summary = f"{value.get('total', '?')} processes (showing {shown}, largest memory first)"
    numeric = {"pid", "cpu_percent", "rss_bytes", "threads", "memory_percent"}
    head = "".join((number_cell if c in numeric else text_cell)(_e(c), "th") for c in columns)
    body = []
    for row in value["rows"]:
        if not isinstance(row, list):
            continue
        cells = []
        for column, cell in zip(columns, row, strict=False):
            if column == "rss_bytes" and isinstance(cell, (int, float)):
                cells.append(human_bytes(cell))
            else:
                cells.append("" if cell is None else str(cell))
        body.append("<tr>" + "".join((number_cell if column in numeric else text_cell)(_e(c))
                                     for column, c in zip(columns, cells, strict=False)) + "</tr>")
    return (f"<details><summary>{_e(summary)}</summary><table style='font-size:85%'><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table></details>")


def fetch(caller: Caller, *, session_id: str, started_at: datetime | str | None, max_processes: int | None = None,
          timeout: float | None = 60.0) -> Inventory:
    """Ask the agent for its inventory through *caller* and return it.

    This is what ``s.inventory()`` does.  Raises the agent's error
    (``NotGranted`` when the customer withheld the inventory power),
    ``SessionEnded``, ``Timeout``, or ``ProtocolError`` for a malformed answer.
    """
    params: dict[str, Any] = {} if max_processes is None else {"max_processes": max_processes}
    result = caller.call(COLLECT_METHOD, params, timeout=timeout)
    return Inventory.from_wire(result.value, session_id=session_id, started_at=started_at)
