"""``workbench``: the support organisation's commands.

- ``workbench relay``: run the relay (pairing, forwarding, session records); the same as ``workbench-relay``.
- ``workbench journal verify FILE [--against RELAY_COPY]``: check a journal's hash chain and its end, and
  compare it record by record with the relay's copy.
- ``workbench recording verify FILE``: check a session recording's segments (hash chain, payloads, ties to
  the journal's chain) and name the first bad segment.
- ``workbench sessions``, ``retention apply``, ``hold``, ``export``, ``erase``, ``audit verify``: the
  relay's records (R6, R7), see :mod:`workbench.records_cli`.
- ``workbench playbook run NAME --code CODE --relay URL [-p NAME VALUE] [--dry-run]``: run a playbook
  notebook headless (papermill), see :mod:`workbench.playbooks.cli`.
- ``workbench demo``: a customer desktop on a virtual screen, a relay, customer agents, and JupyterLab
  on the quickstart; Ctrl-C stops it.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from wire.chain import verify_file
from wire.chain_compare import compare_files

#: ``workbench journal verify``'s exit status for each finding: only a complete, matching journal passes.
VERIFY_EXIT = {"verified": 0, "broken": 1, "differs": 1, "incomplete": 3, "truncated": 3, "unconfirmed": 4}
#: The file(s) could not be read.
VERIFY_UNREADABLE = 2


def _relay(args: argparse.Namespace) -> int:
    from relay.cli import run

    return run(args, prog="workbench relay")


def _journal_verify(args: argparse.Namespace) -> int:
    """Print what the journal (and the relay's copy) show; the status is :data:`VERIFY_EXIT`'s."""
    try:
        if args.against is None:
            result = verify_file(args.file)
            print(result.describe())
            return VERIFY_EXIT[result.status]
        comparison = compare_files(args.file, args.against)
    except (OSError, ValueError) as err:
        print(f"cannot read the journal or the relay's copy: {err}", file=sys.stderr)
        return VERIFY_UNREADABLE
    print(comparison.describe())
    return VERIFY_EXIT[comparison.status]


def _recording_verify(args: argparse.Namespace) -> int:
    """0 verified; 1 a bad segment (named) or a tie to the journal that does not hold; 2 unreadable;
    3 cut short (a relay stopped mid-segment: readable up to its last complete segment)."""
    from wire.errors import RecordingError
    from wire.recording import check_journal, scan

    path: Path = args.file
    if path.is_dir():
        path = path / "recording" / "screen.wbrec" if (path / "recording").is_dir() else path / "screen.wbrec"
    try:
        found = scan(path)
    except RecordingError as err:
        print(f"cannot read the recording: {err}", file=sys.stderr)
        return VERIFY_UNREADABLE
    print(found.describe())
    if found.broken:
        return 1
    journal = args.journal or (path.parent.parent / "journal.jsonl")
    if journal.exists():
        problem = check_journal(found, journal)
        if problem:
            print(f"recording does not match the journal {journal}: {problem}")
            return 1
        print(f"every segment is tied to a record of the journal {journal}")
    elif args.journal:
        print(f"no journal at {journal}", file=sys.stderr)
        return VERIFY_UNREADABLE
    return 3 if found.stopped else 0


def _demo(args: argparse.Namespace) -> int:
    from workbench.demo import run_demo

    return run_demo(port=args.port, data=args.data, lab=not args.no_lab, lab_port=args.lab_port)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="workbench", description="Remote-support workbench commands.")
    parser.add_argument("--verbose", action="store_true")
    commands = parser.add_subparsers(dest="command", required=True)

    relay = commands.add_parser("relay", help="run the relay that pairs agents and technicians")
    from relay.cli import add_arguments as add_relay_arguments

    add_relay_arguments(relay)
    relay.set_defaults(run=_relay)

    journal = commands.add_parser("journal", help="work with an agent's journal")
    journal_commands = journal.add_subparsers(dest="journal_command", required=True)
    verify = journal_commands.add_parser(
        "verify", help="check the hash chain and the end record; compare with the relay's copy",
        description="Exit status: 0 verified (chained, ended, and matching the relay's copy when given); "
                    "1 broken chain or a record that differs from the relay's copy; 2 unreadable; "
                    "3 incomplete or truncated (no end record, or records the relay's copy holds are missing); "
                    "4 records the relay never received.")
    verify.add_argument("file", type=Path)
    verify.add_argument("--against", type=Path, metavar="RELAY_COPY",
                        help="the relay's copy: its session directory (sessions/<id>/) or its journal.jsonl")
    verify.set_defaults(run=_journal_verify)

    recording = commands.add_parser("recording", help="work with a session's screen recording (R5)")
    recording_commands = recording.add_subparsers(dest="recording_command", required=True)
    rverify = recording_commands.add_parser(
        "verify", help="check the recording's hash-chained segments and their ties to the journal",
        description="Exit status: 0 verified; 1 a bad segment (the first is named) or a segment not tied to "
                    "the journal; 2 unreadable or not a recording; 3 cut short (readable up to its last "
                    "complete segment).")
    rverify.add_argument("file", type=Path, help="recording/screen.wbrec, or the session's folder")
    rverify.add_argument("--journal", type=Path, help="the relay's journal.jsonl (default: the session's)")
    rverify.set_defaults(run=_recording_verify)

    demo = commands.add_parser("demo", help="a customer desktop on a virtual screen, a relay, agents, and JupyterLab")
    demo.add_argument("--port", type=int, default=8765)
    demo.add_argument("--lab-port", type=int, default=8888)
    demo.add_argument("--data", type=Path, default=Path("demo-data"),
                      help="where everything the demo writes goes (work copies of the notebooks included)")
    demo.add_argument("--no-lab", action="store_true", help="start everything but JupyterLab")
    demo.set_defaults(run=_demo)

    from workbench.records_cli import add_commands as add_records_commands

    add_records_commands(commands)
    from workbench.playbooks.cli import add_commands as add_playbook_commands

    add_playbook_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
