"""The records commands of ``workbench`` (R6, R7): sessions, retention, holds, export, erasure, audit.

- ``workbench sessions [--since 7d] [--technician NAME] [--format table|csv|json] [--reindex]``
- ``workbench retention apply [--dry-run] [--retention FILE]``
- ``workbench hold SESSION --why TEXT [--release]``
- ``workbench export (--machine ID | --session ID) out.zip [--redact]``
- ``workbench erase --machine ID``
- ``workbench audit verify``

Each takes ``--data DIR`` (the relay's, default ``relay-data``) and ``--db URL`` (the relay's
``--db``, when its index is in PostgreSQL).  Bad input (a malformed date, an unknown class,
a negative period, an unreachable database) is reported on stderr with exit status 2 and
changes nothing.  ``sessions`` reads the index with plain SQL (no pandas: it answers in well
under a second on 100,000 sessions); the commands that change records run the relay's code
(:mod:`relay.retention`, :mod:`relay.subject`), as ``workbench relay`` does.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import getpass
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from wire.errors import WorkbenchError

#: The columns ``--format table`` shows (csv and json give every column).
TABLE_COLUMNS = ("session_id", "started_at", "duration_s", "technician", "machine_id", "end_reason", "calls",
                 "refusals", "errors", "files_changed")


def _where(args: argparse.Namespace) -> tuple[Path, str | None]:
    return args.data, args.db


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, default=Path("relay-data"), help="the relay's --data directory")
    parser.add_argument("--db", metavar="URL", help="the relay's --db, when its index is in PostgreSQL")


def _guarded(run: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    def guarded(args: argparse.Namespace) -> int:
        try:
            return run(args)
        except WorkbenchError as err:
            print(f"workbench {args.command}: {err.message} ({err.code})", file=sys.stderr)
            return 2
        except OSError as err:
            print(f"workbench {args.command}: {err}", file=sys.stderr)
            return 2
    return guarded


def _open_index(args: argparse.Namespace) -> Any:
    from relay.index.store import SessionIndex

    data, url = _where(args)
    if url is None and not (data / "sessions").is_dir() and not (data / "index.sqlite3").exists():
        from wire.errors import NotFound

        raise NotFound(f"{data} is not a relay's --data directory (no sessions/ in it)")
    return SessionIndex.open(data, url)


def _sessions(args: argparse.Namespace) -> int:
    from wire.database import open_database
    from workbench.records_query import session_filter

    where, params = session_filter(args.since, args.technician)  # a bad date fails before the database is touched
    if args.reindex:
        index = _open_index(args)
        try:
            print(f"reindexed {index.reindex()} session(s) from {args.data / 'sessions'}", file=sys.stderr)
        finally:
            index.close()
    db = open_database(args.db or args.data)
    try:
        names, rows = db.query(f"SELECT * FROM sessions{where} ORDER BY started_at DESC", params)
        _, marks = db.query("SELECT column_name FROM field_marks WHERE table_name = 'sessions' AND personal = 1")
    finally:
        db.close()
    personal = {str(m[0]) for m in marks}
    if args.redact:
        rows = [tuple("[redacted]" if n in personal and v is not None else v for n, v in zip(names, r, strict=True))
                for r in rows]
    out = sys.stdout
    if args.format == "json":
        json.dump({"personal_columns": sorted(personal),
                   "sessions": [dict(zip(names, r, strict=True)) for r in rows]}, out, ensure_ascii=False, default=str)
        out.write("\n")
    elif args.format == "csv":
        writer = csv.writer(out)
        writer.writerow([f"{n} (personal)" if n in personal else n for n in names])
        writer.writerows(rows)
    else:
        positions = [names.index(c) for c in TABLE_COLUMNS]
        table = [[_cell(r[i]) for i in positions] for r in rows]
        widths = [max([len(c), *(len(t[k]) for t in table)]) for k, c in enumerate(TABLE_COLUMNS)]
        out.write("  ".join(c.ljust(w) for c, w in zip(TABLE_COLUMNS, widths, strict=False)).rstrip() + "\n")
        out.writelines("  ".join(v.ljust(w) for v, w in zip(t, widths, strict=False)).rstrip() + "\n" for t in table)
        out.write(f"{len(rows)} session(s)\n")
    return 0


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def _retention_apply(args: argparse.Namespace) -> int:
    from relay.audit import AuditLog
    from relay.retention import Policy, apply

    policy = Policy.load(args.retention)  # a bad policy fails before anything is opened
    index = _open_index(args)
    try:
        outcome = apply(index, AuditLog(args.data), policy, dt.datetime.now(dt.timezone.utc), dry_run=args.dry_run)
    finally:
        index.close()
    print(f"policy {policy.name} ({policy.source}):")
    for line in policy.describe():
        print(f"  {line}")
    verb = "would remove" if args.dry_run else "removed"
    count = len(outcome.due) if args.dry_run else outcome.removed
    size = sum(r.bytes for r in outcome.due) if args.dry_run else outcome.bytes
    print(f"{verb} {count} item(s), {size} bytes")
    by_class: dict[str, int] = {}
    for removal in outcome.due:
        by_class[removal.data_class] = by_class.get(removal.data_class, 0) + 1
    for name, n in sorted(by_class.items()):
        print(f"  {name}: {n} session(s)")
    for session_id, why in sorted(outcome.held.items()):
        print(f"  kept, under a legal hold: {session_id}: {why}")
    for failure in outcome.failed:
        print(f"  FAILED: {failure}", file=sys.stderr)
    return 1 if outcome.failed else 0


def _hold(args: argparse.Namespace) -> int:
    from relay.audit import AuditLog
    from relay.retention import hold

    index = _open_index(args)
    try:
        record = hold(index, AuditLog(args.data), args.session, args.why or "", getpass.getuser(),
                      release=args.release)
    finally:
        index.close()
    state = "released from its hold" if args.release else f"held: {args.why}"
    print(f"session {args.session} {state} (audit record {record['seq']})")
    return 0


def _export(args: argparse.Namespace) -> int:
    from relay.audit import AuditLog
    from relay.subject import export

    index = _open_index(args)
    try:
        records = export(index, AuditLog(args.data), args.out, machine=args.machine, session=args.session,
                         redact=args.redact, by=getpass.getuser())
    finally:
        index.close()
    print(f"exported {len(records['sessions'])} session(s) to {args.out}"
          f"{' (personal facts redacted)' if args.redact else ''}")
    return 0


def _erase(args: argparse.Namespace) -> int:
    from relay.audit import AuditLog
    from relay.subject import erase

    index = _open_index(args)
    try:
        sessions, removed = erase(index, AuditLog(args.data), args.machine, by=getpass.getuser())
    finally:
        index.close()
    print(f"erased the records of {len(sessions)} session(s) ({removed} removals, each in the audit log)")
    return 0


def _audit_verify(args: argparse.Namespace) -> int:
    from relay.audit import AuditLog, describe

    result = AuditLog(args.data).verify()
    print(describe(result))
    return 0 if result.ok else 1


def add_commands(commands: Any) -> None:
    """Add the records commands to ``workbench``'s subparsers."""
    sessions = commands.add_parser("sessions", help="list the relay's sessions from its index")
    _common(sessions)
    sessions.add_argument("--since", help="a period (7d, 12h, 2w) or a date (2026-05-01)")
    sessions.add_argument("--technician", metavar="NAME")
    sessions.add_argument("--format", choices=("table", "csv", "json"), default="table")
    sessions.add_argument("--redact", action="store_true", help="hide the personal columns")
    sessions.add_argument("--reindex", action="store_true", help="rebuild the index from the session files first")
    sessions.set_defaults(run=_guarded(_sessions))

    retention = commands.add_parser("retention", help="apply the retention policy")
    retention_commands = retention.add_subparsers(dest="retention_command", required=True)
    apply = retention_commands.add_parser("apply", help="remove what the policy makes due (audit-logged)")
    _common(apply)
    apply.add_argument("--retention", type=Path, metavar="FILE", help="the policy (default: the shipped one)")
    apply.add_argument("--dry-run", action="store_true", help="say what would be removed; remove nothing")
    apply.set_defaults(run=_guarded(_retention_apply))

    hold = commands.add_parser("hold", help="put a session under a legal hold (or --release it)")
    _common(hold)
    hold.add_argument("session")
    hold.add_argument("--why", help="the reason (required to hold)")
    hold.add_argument("--release", action="store_true")
    hold.set_defaults(run=_guarded(_hold))

    export = commands.add_parser("export", help="every record about a machine or a session, as a zip")
    _common(export)
    which = export.add_mutually_exclusive_group(required=True)
    which.add_argument("--machine", metavar="ID")
    which.add_argument("--session", metavar="ID")
    export.add_argument("out", type=Path)
    export.add_argument("--redact", action="store_true", help="redact the personal facts")
    export.set_defaults(run=_guarded(_export))

    erase = commands.add_parser("erase", help="erase every record of a machine (refused for held sessions)")
    _common(erase)
    erase.add_argument("--machine", metavar="ID", required=True)
    erase.set_defaults(run=_guarded(_erase))

    audit = commands.add_parser("audit", help="the relay's audit log")
    audit_commands = audit.add_subparsers(dest="audit_command", required=True)
    verify = audit_commands.add_parser("verify", help="check the audit log's hash chain")
    _common(verify)
    verify.set_defaults(run=_guarded(_audit_verify))
