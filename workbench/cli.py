"""``workbench``: the support organisation's commands.

- ``workbench relay``: run the relay (pairing, forwarding, session records); the same as ``workbench-relay``.
- ``workbench journal verify FILE``: check a journal's hash chain.
- ``workbench demo``: a relay, an agent on a virtual screen, and JupyterLab on the quickstart.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from wire.chain import verify_file


def _relay(args: argparse.Namespace) -> int:
    from relay.cli import run

    return run(args, prog="workbench relay")


def _journal_verify(args: argparse.Namespace) -> int:
    try:
        result = verify_file(args.file)
    except OSError as err:
        print(f"cannot read {args.file}: {err}", file=sys.stderr)
        return 2
    print(result.describe())
    return 0 if result.ok else 1


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
    verify = journal_commands.add_parser("verify", help="check the hash chain and name the first bad record")
    verify.add_argument("file", type=Path)
    verify.set_defaults(run=_journal_verify)

    demo = commands.add_parser("demo", help="a relay, an agent on a virtual screen, and JupyterLab")
    demo.add_argument("--port", type=int, default=8765)
    demo.add_argument("--lab-port", type=int, default=8888)
    demo.add_argument("--data", type=Path, default=Path("demo-data"))
    demo.add_argument("--no-lab", action="store_true", help="start everything but JupyterLab")
    demo.set_defaults(run=_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
