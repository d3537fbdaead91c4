"""``workbench``: the support organisation's commands.

- ``workbench relay``: run the relay (pairing, forwarding, session records).
- ``workbench journal verify FILE``: check a journal's hash chain.
- ``workbench demo``: a relay, an agent on a virtual screen, and JupyterLab on the quickstart.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import ssl
import sys
from pathlib import Path

from agent.audit import verify_file


def _relay(args: argparse.Namespace) -> int:
    from agent.errors import BadParams
    from workbench.pairing import Technicians
    from workbench.relay import run_relay

    ssl_context = None
    if args.certfile:
        ssl_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ssl_context.load_cert_chain(args.certfile, args.keyfile)
    try:
        technicians = Technicians.from_file(args.technicians) if args.technicians else Technicians.open()
    except (OSError, BadParams) as err:
        print(f"workbench relay: cannot read the technicians file: {err}", file=sys.stderr)
        return 2
    args.data.mkdir(parents=True, exist_ok=True)

    def ready(url: str) -> None:
        mode = "open to any technician" if technicians.is_open else "listed technicians only"
        print(f"relay listening on {url} ({mode}); records in {args.data.resolve()}", flush=True)

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_relay(args.data, args.host, args.port, technicians=technicians, code_ttl=args.code_ttl,
                              ssl_context=ssl_context, ready=ready))
    return 0


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
    relay.add_argument("--host", default="127.0.0.1")
    relay.add_argument("--port", type=int, default=8765)
    relay.add_argument("--data", type=Path, default=Path("relay-data"), help="where each session's records are kept")
    relay.add_argument("--certfile", type=Path, help="certificate for wss://")
    relay.add_argument("--keyfile", type=Path, help="private key for wss://")
    relay.add_argument("--technicians", type=Path,
                       help='admit only these technicians: a JSON object {"name": "key", …}')
    relay.add_argument("--code-ttl", type=float, default=600.0, help="seconds a session code stays valid (600)")
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
    if args.command == "relay" and args.certfile and not args.keyfile:
        print("workbench relay: --certfile needs --keyfile", file=sys.stderr)
        return 2
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
