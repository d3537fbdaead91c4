"""The customer's journal against the relay's copy, record by record (``workbench journal verify --against``).

A journal alone proves only that its records chain: whoever edits a record and
recomputes every hash after it, or removes the last records (the end record with
them, or a forged end record in their place), is left with a chain that holds.
The relay kept its own copy as the records arrived (:mod:`relay.records`), so the
two are compared here: every record the relay kept must be in the journal,
byte for byte the same JSON; records beyond the relay's copy can only be
confirmed when they are the kinds the agent writes after the end.

:func:`compare_files` reads both and returns a :class:`Comparison` whose
:attr:`~Comparison.status` is one of

- ``verified``: the same records (and the journal ends the session);
- ``differs``: at least one record differs, or either copy's chain is broken;
- ``truncated``: the relay's copy holds records the journal lacks;
- ``unconfirmed``: the journal holds records the relay never received;
- ``incomplete``: both copies agree but neither ends the session (the agent stopped).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from wire.chain import AFTER_THE_END, Verification, iter_lines, verify_file

#: The chain's own fields: an edit re-hashed makes every later record differ in these alone.
LINK_FIELDS: Final = frozenset({"prev", "hash"})
#: At most this many differing records are described one by one.
MAX_DESCRIBED: Final = 10


def read_records(path: Path) -> list[dict[str, Any]]:
    """The records of the journal at *path*, in file order; a line that is not a JSON object is kept as such.

    An incomplete last line (the writer stopped mid-record) is left out.  Raises OSError.
    """
    found: list[dict[str, Any]] = []
    for line, complete in iter_lines(path):
        try:
            value = json.loads(line)
        except (ValueError, RecursionError):
            if not complete:
                break
            value = None
        found.append(value if isinstance(value, dict) else {"(not a record)": line.decode(errors="replace")})
    return found


def _shown(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


@dataclass(frozen=True)
class Difference:
    """One record (by its position, counted from 1) that differs between the two copies."""

    seq: int
    journal: dict[str, Any]
    relay: dict[str, Any]

    @property
    def fields(self) -> list[str]:
        """The names of the fields whose values differ (a field one side lacks included)."""
        keys = sorted(set(self.journal) | set(self.relay))
        return [k for k in keys if self.journal.get(k, _MISSING) != self.relay.get(k, _MISSING)]

    @property
    def links_only(self) -> bool:
        """True when only ``prev``/``hash`` differ: what a re-hashed edit of an earlier record leaves."""
        return set(self.fields) <= LINK_FIELDS

    def describe(self) -> str:
        parts = []
        for name in self.fields:
            if name in LINK_FIELDS:
                continue
            mine = _shown(self.journal[name]) if name in self.journal else "(absent)"
            theirs = _shown(self.relay[name]) if name in self.relay else "(absent)"
            parts.append(f"{name}: journal {mine}, relay's copy {theirs}")
        return f"record {self.seq} differs: " + "; ".join(parts)


_MISSING: Final = object()


@dataclass(frozen=True)
class Comparison:
    """What :func:`compare_files` found; :meth:`describe` says it in words, :attr:`status` in one word."""

    journal: Verification
    relay: Verification
    journal_records: int
    relay_records: int
    differences: list[Difference] = field(default_factory=list)
    #: records only in the relay's copy: (first, last) positions
    missing: tuple[int, int] | None = None
    #: records only in the journal that are not what the agent writes after the end: (first, last)
    unconfirmed: tuple[int, int] | None = None
    #: what the relay recorded in session.json: its alerts during the session, and the end of its copy
    relay_alerts: list[Any] = field(default_factory=list)
    relay_end_mismatch: str = ""

    @property
    def status(self) -> str:
        if self.differences or not self.journal.ok or not self.relay.ok or self.relay_end_mismatch:
            return "differs"
        if self.missing is not None:
            return "truncated"
        if self.unconfirmed is not None:
            return "unconfirmed"
        return "verified" if self.journal.ended else "incomplete"

    def describe(self) -> str:
        lines = [self._headline()]
        if not self.journal.ok:
            lines.append(f"  the journal's own chain: {self.journal.describe()}")
        if not self.relay.ok:
            lines.append(f"  the relay's copy's own chain (it was altered after the relay wrote it): "
                         f"{self.relay.describe()}")
        if self.relay_end_mismatch:
            lines.append(f"  {self.relay_end_mismatch}")
        edits = [d for d in self.differences if not d.links_only]
        relinked = [d.seq for d in self.differences if d.links_only]
        lines.extend(f"  {d.describe()}" for d in edits[:MAX_DESCRIBED])
        if len(edits) > MAX_DESCRIBED:
            lines.append(f"  ... and {len(edits) - MAX_DESCRIBED} more records differ in content")
        if relinked:
            lines.append(f"  {len(relinked)} later record(s) ({_ranges(relinked)}) differ only in their chain links "
                         "(prev, hash): the hashes were recomputed after an edit")
        if self.missing is not None:
            first, last = self.missing
            lines.append(f"  records {first}–{last} are in the relay's copy but not in the journal"
                         + (" (the relay's copy ends with the session's end record)" if self.relay.ended else ""))
        if self.unconfirmed is not None:
            first, last = self.unconfirmed
            lines.append(f"  records {first}–{last} are in the journal but the relay never received them: "
                         "nothing confirms them")
        for alert in self.relay_alerts:
            reason = alert.get("reason") if isinstance(alert, dict) else alert
            lines.append(f"  the relay raised a journal alert during the session: {reason}")
        return "\n".join(lines)

    def _headline(self) -> str:
        status = self.status
        counts = f"journal {self.journal_records} records, relay's copy {self.relay_records}"
        if status == "differs":
            return f"journal DIFFERS from the relay's copy ({counts})"
        if status == "truncated":
            return f"journal TRUNCATED: the relay's copy holds records it lacks ({counts})"
        if status == "unconfirmed":
            return f"journal holds records the relay never received ({counts})"
        if status == "incomplete":
            return (f"journal INCOMPLETE: it matches the relay's copy record by record ({counts}), but neither "
                    "ends with the session's end record (the agent stopped before the session ended)")
        return f"journal matches the relay's copy record by record ({counts}) and ends with the session's end record"


def _ranges(seqs: list[int]) -> str:
    """``4–7, 9`` for [4, 5, 6, 7, 9]."""
    parts: list[str] = []
    start = prev = seqs[0]
    for seq in [*seqs[1:], None]:
        if seq is not None and seq == prev + 1:
            prev = seq
            continue
        parts.append(str(start) if start == prev else f"{start}–{prev}")
        if seq is not None:
            start = prev = seq
    return ", ".join(parts)


def relay_copy_paths(against: Path) -> tuple[Path, Path | None]:
    """The relay's journal copy and its ``session.json`` (None when absent) for *against*.

    *against* is the session's directory under the relay's ``--data`` (``sessions/<id>/``)
    or its ``journal.jsonl``.
    """
    journal = against / "journal.jsonl" if against.is_dir() else against
    meta = journal.parent / "session.json"
    return journal, meta if meta.is_file() else None


def compare_files(journal_path: Path, against: Path) -> Comparison:
    """Compare the agent's journal at *journal_path* with the relay's copy at *against*, record by record.

    Raises OSError when either file cannot be read, ValueError when ``session.json`` is not JSON.
    """
    relay_path, meta_path = relay_copy_paths(against)
    journal, relay = verify_file(journal_path), verify_file(relay_path)
    mine, theirs = read_records(journal_path), read_records(relay_path)
    differences = [Difference(i + 1, a, b) for i, (a, b) in enumerate(zip(mine, theirs, strict=False)) if a != b]
    missing = (len(mine) + 1, len(theirs)) if len(theirs) > len(mine) else None
    extra = mine[len(theirs):]
    unconfirmed = None
    if extra and not (relay.ended and all(r.get("kind") in AFTER_THE_END for r in extra)):
        unconfirmed = (len(theirs) + 1, len(mine))
    alerts: list[Any] = []
    end_mismatch = ""
    if meta_path is not None:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if isinstance(meta, dict):
            alerts = list(meta.get("journal_alerts") or [])
            end = meta.get("journal_end")
            if isinstance(end, dict) and (end.get("seq"), end.get("head")) != (relay.records, relay.head):
                end_mismatch = (f"the relay's copy ends at record {relay.records}, but session.json says the relay "
                                f"closed it at record {end.get('seq')} (head {end.get('head')})")
    return Comparison(journal, relay, len(mine), len(theirs), differences, missing, unconfirmed, alerts, end_mismatch)
