"""``workbench-relay`` (also ``workbench relay``): run the relay.

    workbench-relay --port 8765 --data relay-data [--technicians FILE] [--certfile C --keyfile K]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import ssl
import sys
from pathlib import Path

from wire.errors import BadParams


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the relay's options to *parser* (shared by ``workbench-relay`` and ``workbench relay``)."""
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--data", type=Path, default=Path("relay-data"), help="where each session's records are kept")
    parser.add_argument("--certfile", type=Path, help="certificate for wss://")
    parser.add_argument("--keyfile", type=Path, help="private key for wss://")
    parser.add_argument("--technicians", type=Path,
                        help='admit only these technicians: a JSON object {"name": "key", …}')
    parser.add_argument("--code-ttl", type=float, default=600.0, help="seconds a session code stays valid (600)")


def run(args: argparse.Namespace, prog: str = "workbench-relay") -> int:
    """Run the relay until Ctrl-C; 2 when the options or the technicians file are wrong."""
    # Imported here, not above: `workbench` builds its parser from add_arguments for every
    # command (`workbench journal verify` too), and should not load the server to do so.
    from relay.pairing import Technicians
    from relay.server import run_relay

    if args.certfile and not args.keyfile:
        print(f"{prog}: --certfile needs --keyfile", file=sys.stderr)
        return 2
    ssl_context = None
    if args.certfile:
        ssl_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ssl_context.load_cert_chain(args.certfile, args.keyfile)
    try:
        technicians = Technicians.from_file(args.technicians) if args.technicians else Technicians.open()
    except (OSError, BadParams) as err:
        print(f"{prog}: cannot read the technicians file: {err}", file=sys.stderr)
        return 2
    args.data.mkdir(parents=True, exist_ok=True)

    def ready(url: str) -> None:
        mode = "open to any technician" if technicians.is_open else "listed technicians only"
        print(f"relay listening on {url} ({mode}); records in {args.data.resolve()}", flush=True)

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_relay(args.data, args.host, args.port, technicians=technicians, code_ttl=args.code_ttl,
                              ssl_context=ssl_context, ready=ready))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="workbench-relay",
                                     description="Run the relay that pairs agents and technicians.")
    parser.add_argument("--verbose", action="store_true")
    add_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
