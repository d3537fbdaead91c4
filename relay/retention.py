"""Retention (R7): how long each class of a session's records is kept, and removing what is due.

A policy (:class:`Policy`, a JSON file: ``--retention FILE``; the default ships as
``relay/policies/retention-default.json``) gives a period per data class (:data:`CLASSES`),
counted from the session's end.  :func:`apply` removes what is due, except for sessions
under a legal hold (:func:`hold`), writing first, for each removal, a ``delete`` record in
the relay's audit log (:mod:`relay.audit`): class, session, every file with its size and
sha256, the policy (name, sha256, period) and the time.  The records of a batch are
fsynced before any of its files is touched: nothing is deleted without its audit record.

The data classes and what each removes today:

- ``recordings``: ``recording/`` and ``screenshots/`` in the session's folder, written by the
  relay's recorder (:mod:`relay.recording`, ``--record all``).
- ``journals``: ``journal.jsonl``, the relay's copy of the agent's journal.
- ``message_logs``: ``messages.jsonl``.
- ``inventories``: ``inventory/`` (nothing writes it yet: the inventory goes to the notebook only).
- ``personal_facts``: the machine's host name, user, serial and id in ``session.json``
  (removed; ``erased`` says when) and the columns marked personal in the index (set to NULL).

Bad input changes nothing: an unknown class, a negative or malformed period, a policy that
is not JSON raise :class:`wire.errors.BadParams` before anything is read or written.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from relay.audit import AuditLog
from relay.index.store import SessionIndex
from relay.records import PERSONAL_FIELDS, write_json_atomically
from wire.chain import canonical
from wire.errors import BadParams, NotFound

log = logging.getLogger(__name__)

#: Personal fields of ``session.json``'s ``machine`` (marked personal there, see relay.records).
PERSONAL_MACHINE_FIELDS = tuple(f.removeprefix("machine.") for f in PERSONAL_FIELDS)


@dataclass(frozen=True)
class DataClass:
    name: str
    description: str
    #: files or folders inside the session's folder that hold this class
    paths: tuple[str, ...] = ()


CLASSES: dict[str, DataClass] = {c.name: c for c in (
    DataClass("recordings", "video recordings and screenshots (R5)",
              ("recording", "screenshots")),
    DataClass("journals", "the relay's copy of the agent's journal", ("journal.jsonl",)),
    DataClass("message_logs", "the relay's log of every message relayed", ("messages.jsonl",)),
    DataClass("inventories", "inventories of the customer's machine (none are kept by the relay yet)",
              ("inventory",)),
    DataClass("personal_facts", "serial number, user and host names: in session.json and the index"),
)}

_PERIOD = re.compile(r"^\s*(-?\d+)\s*([dwy])\s*$")
_UNIT_DAYS = {"d": 1, "w": 7, "y": 365}
#: Removals whose audit records are fsynced together before their files go.
BATCH = 500


def parse_period(text: Any, where: str = "period") -> dt.timedelta | None:
    """``"30d"``, ``"12w"``, ``"1y"`` → a timedelta; ``"forever"`` → None.  Raises :class:`BadParams`."""
    if isinstance(text, str) and text.strip().lower() == "forever":
        return None
    match = _PERIOD.match(text) if isinstance(text, str) else None
    if match is None:
        raise BadParams(f"{where}: {text!r} is not a period: write Nd, Nw, Ny (days, weeks, years) or \"forever\"")
    count = int(match.group(1))
    if count < 0:
        raise BadParams(f"{where}: {text!r} is negative: a period is 0 or more")
    return dt.timedelta(days=count * _UNIT_DAYS[match.group(2)])


@dataclass(frozen=True)
class Policy:
    name: str
    periods: dict[str, dt.timedelta | None]
    #: sha256 of the policy's canonical JSON, recorded with every removal
    sha256: str
    source: str

    @classmethod
    def from_json(cls, value: Any, source: str) -> Policy:
        """Check and build a policy; raises :class:`BadParams` naming what is wrong.

        Classes the file does not name keep the default policy's period.
        """
        if not isinstance(value, dict) or not isinstance(value.get("periods"), dict):
            raise BadParams(f"{source}: a retention policy is a JSON object with \"periods\": {{class: period}}")
        unknown = sorted(set(value["periods"]) - set(CLASSES))
        if unknown:
            raise BadParams(f"{source}: unknown data class(es) {', '.join(unknown)}; the classes are "
                            f"{', '.join(CLASSES)}")
        periods = {name: parse_period(p, f"{source}: {name}") for name, p in value["periods"].items()}
        if set(periods) != set(CLASSES):
            default = default_policy()
            periods = {**{n: default.periods[n] for n in CLASSES if n not in periods}, **periods}
        name = value.get("name", Path(source).stem)
        if not isinstance(name, str):
            raise BadParams(f"{source}: the policy's name must be text")
        return cls(name, periods, hashlib.sha256(canonical(value)).hexdigest(), source)

    def told_to_customers(self) -> dict[str, str]:
        """Each class's period as the customer's window words it: ``"90d"``, or ``"forever"``."""
        return {name: "forever" if period is None else f"{period.days}d"
                for name, period in self.periods.items()}

    @classmethod
    def load(cls, path: Path | None) -> Policy:
        """The policy in *path*, or the default one; raises :class:`BadParams` (also for an unreadable file)."""
        if path is None:
            return default_policy()
        try:
            value = json.loads(path.read_text(encoding="utf-8"))
        except OSError as err:
            raise BadParams(f"cannot read the retention policy {path}: {err.strerror or err}") from err
        except ValueError as err:
            raise BadParams(f"the retention policy {path} is not valid JSON: {err}") from err
        return cls.from_json(value, str(path))

    def describe(self) -> list[str]:
        return [f"{name}: {'forever' if p is None else f'{p.days} days'} ({CLASSES[name].description})"
                for name, p in self.periods.items()]


def default_policy() -> Policy:
    text = resources.files("relay").joinpath("policies/retention-default.json").read_text(encoding="utf-8")
    return Policy.from_json(json.loads(text), "default")


@dataclass
class Removal:
    """One class of one session, due for removal."""

    session_id: str
    data_class: str
    ended_at: str
    #: (path relative to the session's folder, bytes) of each file to delete
    files: list[tuple[str, int]] = field(default_factory=list)

    @property
    def bytes(self) -> int:
        return sum(size for _, size in self.files)


@dataclass
class Outcome:
    due: list[Removal]
    held: dict[str, str]
    removed: int = 0
    bytes: int = 0
    failed: list[str] = field(default_factory=list)


def _files(session_dir: Path, data_class: DataClass) -> list[tuple[str, int]]:
    found: list[tuple[str, int]] = []
    for rel in data_class.paths:
        path = session_dir / rel
        if path.is_file():
            found.append((rel, path.stat().st_size))
        elif path.is_dir():
            found.extend((p.relative_to(session_dir).as_posix(), p.stat().st_size)
                         for p in sorted(path.rglob("*")) if p.is_file())
    return found


def plan(index: SessionIndex, policy: Policy, now: dt.datetime) -> Outcome:
    """What *policy* makes due at *now* (sessions ended before now - period), holds set aside."""
    if now.tzinfo is None:
        raise BadParams("retention needs an aware time (UTC)")
    done = index.removed()
    held = index.holds()
    due: list[Removal] = []
    held_due: dict[str, str] = {}
    for name, period in policy.periods.items():
        if period is None:
            continue
        cutoff = (now - period).astimezone(dt.timezone.utc).isoformat(timespec="microseconds")
        _, rows = index.db.query("SELECT session_id, ended_at FROM sessions WHERE ended_at IS NOT NULL "
                                 "AND ended_at < ? ORDER BY ended_at", (cutoff,))
        for session_id, ended_at in rows:
            if (session_id, name) in done:
                continue
            if session_id in held:
                held_due[session_id] = held[session_id]
                continue
            removal = Removal(str(session_id), name, str(ended_at))
            removal.files = _files(index.session_dir(removal.session_id), CLASSES[name])
            due.append(removal)
    return Outcome(due, held_due)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def remove(index: SessionIndex, audit: AuditLog, removals: list[Removal], reason: str,
           policy: dict[str, Any]) -> tuple[int, int, list[str]]:
    """Remove *removals*, each after its audit record (fsynced per batch); returns (removed, bytes, failures).

    *policy* is what the audit records say decided it (a retention policy, or an erasure request).
    """
    removed = total = 0
    failures: list[str] = []
    for start in range(0, len(removals), BATCH):
        batch = removals[start:start + BATCH]
        with audit.writing() as writer:
            for removal in batch:
                session_dir = index.session_dir(removal.session_id)
                details = _personal_details(session_dir) if removal.data_class == "personal_facts" else {
                    "files": [{"path": rel, "bytes": size, "sha256": sha256_file(session_dir / rel)}
                              for rel, size in removal.files]}
                writer.append("delete", sync=False, reason=reason, data_class=removal.data_class,
                              session_id=removal.session_id, ended_at=removal.ended_at, bytes=removal.bytes,
                              policy={**policy, "period_days": _period_days(policy, removal.data_class)},
                              **details)
            writer.sync()
            done: list[tuple[str, str, str, int]] = []
            for removal in batch:
                try:
                    _carry_out(index.session_dir(removal.session_id), removal, writer.now())
                except OSError as err:
                    writer.append("delete_failed", session_id=removal.session_id, data_class=removal.data_class,
                                  error=str(err))
                    failures.append(f"{removal.session_id} {removal.data_class}: {err}")
                    continue
                done.append((removal.session_id, removal.data_class, reason, removal.bytes))
                removed += 1
                total += removal.bytes
        if done and hasattr(os, "sync"):
            os.sync()  # the batch's deletions and rewritten session.json on disk before the index records them
        personal = [s for s, c, _, _ in done if c == "personal_facts"]
        if personal:
            index.clear_personal(personal)
        index.record_removals(done)
    return removed, total, failures


def _period_days(policy: dict[str, Any], data_class: str) -> int | None:
    periods = policy.get("periods")
    if isinstance(periods, dict):
        value = periods.get(data_class)
        return value if isinstance(value, int) else None
    return None


def _personal_details(session_dir: Path) -> dict[str, Any]:
    """What the audit says of personal facts removed: the field names and the sha256 of each value."""
    try:
        meta = json.loads((session_dir / "session.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"fields": {}}
    machine = meta.get("machine") if isinstance(meta.get("machine"), dict) else {}
    return {"fields": {f"machine.{k}": hashlib.sha256(str(machine[k]).encode()).hexdigest()
                       for k in PERSONAL_MACHINE_FIELDS if k in machine}}


def _carry_out(session_dir: Path, removal: Removal, at: str) -> None:
    if removal.data_class == "personal_facts":
        scrub_personal(session_dir, at)
        return
    for rel in CLASSES[removal.data_class].paths:
        path = session_dir / rel
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


def scrub_personal(session_dir: Path, at: str) -> None:
    """Remove the personal facts from ``session.json`` (atomically); raises OSError."""
    meta_path = session_dir / "session.json"
    if not meta_path.exists():
        return
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except ValueError as err:
        raise OSError(f"{meta_path} is not JSON: {err}") from err
    machine = meta.get("machine") if isinstance(meta.get("machine"), dict) else {}
    meta["machine"] = {k: v for k, v in machine.items() if k not in PERSONAL_MACHINE_FIELDS}
    meta.setdefault("erased", {})["personal_facts"] = at
    # Not fsynced one by one: remove() syncs the whole batch before the index says it is done.
    write_json_atomically(meta_path, meta, fsync=False)


def policy_record(policy: Policy) -> dict[str, Any]:
    return {"name": policy.name, "sha256": policy.sha256, "source": policy.source,
            "periods": {n: None if p is None else p.days for n, p in policy.periods.items()}}


def apply(index: SessionIndex, audit: AuditLog, policy: Policy, now: dt.datetime, *,
          dry_run: bool = False) -> Outcome:
    """Remove what *policy* makes due at *now*; with *dry_run*, only say what would go."""
    outcome = plan(index, policy, now)
    if dry_run or not outcome.due:
        return outcome
    outcome.removed, outcome.bytes, outcome.failed = remove(index, audit, outcome.due, "retention",
                                                           policy_record(policy))
    return outcome


def hold(index: SessionIndex, audit: AuditLog, session_id: str, why: str, by: str, *, release: bool = False,
         now: Callable[[], str] | None = None) -> dict[str, Any]:
    """Put *session_id* under a legal hold (or release it), logged first in the audit log.

    Raises :class:`BadParams` without a reason, :class:`NotFound` for a session the relay does not know.
    """
    if not release and not why.strip():
        raise BadParams("a hold needs its reason: --why ...")
    if index.row(session_id) is None and not (index.session_dir(session_id) / "session.json").exists():
        raise NotFound(f"the relay has no session {session_id}")
    if release:
        if session_id not in index.holds([session_id]):
            raise NotFound(f"session {session_id} is not under a hold")
        record = audit.append("release", session_id=session_id, why=why, by=by)
        index.release_hold(session_id, record["time"])
        return record
    record = audit.append("hold", session_id=session_id, why=why, by=by)
    index.add_hold(session_id, why, by, record["time"])
    return record


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def daily_duty(data_dir: Path, policy: Policy,
               wall: Callable[[], dt.datetime] = _utc_now) -> Callable[[SessionIndex], None]:
    """What the relay runs daily (in its index writer's thread): :func:`apply` *policy* at *wall*'s time."""
    audit = AuditLog(data_dir)

    def run(index: SessionIndex) -> None:
        outcome = apply(index, audit, policy, wall())
        if outcome.removed or outcome.failed:
            log.info("retention removed %d item(s), %d bytes; %d failed", outcome.removed, outcome.bytes,
                     len(outcome.failed))

    return run
