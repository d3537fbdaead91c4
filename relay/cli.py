"""``workbench-relay`` (also ``workbench relay``): run the relay.

    workbench-relay --port 8765 --data relay-data [--technicians FILE] [--certfile C --keyfile K]
                    [--db postgresql://...] [--retention FILE] [--nats nats://host:4222]

The session index (R6) is SQLite in ``--data`` unless ``--db`` names a PostgreSQL server; an
unreachable one stops the relay at start with a clear error.  With ``--nats`` the relay joins
the relays sharing codes, routing and records over NATS (``relay.cluster``, docs/cluster.md); a
NATS that cannot be reached at start stops it with one line and status 2.  Retention (R7) applies the
``--retention`` policy (default: ``relay/policies/retention-default.json``) at start and daily.

Secure by default: a relay that listens beyond loopback (``--host`` other than
127.0.0.1, ::1 or localhost) needs TLS (``--certfile``/``--keyfile``) and a
technicians list (``--technicians``).  An operator who wants otherwise says so
with ``--insecure-no-tls`` or ``--insecure-open``, and is warned at every start.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import logging
import socket
import ssl
import sys
from pathlib import Path
from typing import Any

from wire.errors import BadParams, WorkbenchError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the relay's options to *parser* (shared by ``workbench-relay`` and ``workbench relay``)."""
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--data", type=Path, default=Path("relay-data"), help="where each session's records are kept")
    parser.add_argument("--db", metavar="URL",
                        help="the session index: postgresql://USER@HOST:PORT/DB (default: SQLite in --data)")
    parser.add_argument("--retention", type=Path, metavar="FILE",
                        help="retention policy, JSON (default: the shipped one; see docs/records.md)")
    parser.add_argument("--certfile", type=Path, help="certificate for wss://")
    parser.add_argument("--keyfile", type=Path, help="private key for wss://")
    parser.add_argument("--technicians", type=Path,
                        help='admit only these technicians: a JSON object {"name": "key", …}')
    parser.add_argument("--record", choices=("all", "none"), default="all",
                        help="record every session's screen and the technician's screenshots (all, the default, "
                             "as the terms the customer accepts say) or none")
    parser.add_argument("--code-ttl", type=float, default=600.0, help="seconds a session code stays valid (600)")
    parser.add_argument("--max-unauthenticated", type=int, default=1024, metavar="N",
                        help="connections not yet paired or resumed (waiting agents included), in all (1024)")
    parser.add_argument("--max-unauthenticated-per-address", type=int, default=32, metavar="N",
                        help="the same, from one address (an IPv4 address or an IPv6 /64) (32)")
    parser.add_argument("--nats", metavar="URL",
                        help="join the relays sharing pairing, routing and records through NATS with JetStream "
                             "(nats://host:4222); give every relay of the cluster the same --data (docs/cluster.md)")
    parser.add_argument("--insecure-no-tls", action="store_true",
                        help="INSECURE: listen beyond loopback without TLS (codes, keys and sessions in clear)")
    parser.add_argument("--insecure-open", action="store_true",
                        help="INSECURE: listen beyond loopback without --technicians (anyone may pair)")


def is_loopback(host: str) -> bool:
    """True when *host* names only this machine (127.0.0.0/8, ::1, a name resolving only there).

    An empty host, ``0.0.0.0`` or ``::`` mean every interface: not loopback.
    """
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    if not host:
        return False
    try:
        found = socket.getaddrinfo(host, None)
    except OSError:
        return False
    return bool(found) and all(ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]).is_loopback for info in found)


def security_problems(args: argparse.Namespace) -> tuple[list[str], list[str]]:
    """What stops this relay from starting, and what to warn about at start; see the module docstring."""
    errors: list[str] = []
    warnings: list[str] = []
    beyond = not is_loopback(args.host)
    if args.insecure_no_tls:
        warnings.append("--insecure-no-tls: without TLS, session codes, technicians' keys and whole sessions "
                        "cross the network in clear")
    elif beyond and not args.certfile:
        errors.append(f"--host {args.host} is reachable beyond this machine: give --certfile and --keyfile "
                      "for wss://, or --insecure-no-tls to run without TLS anyway")
    if args.insecure_open:
        warnings.append("--insecure-open: any technician may pair, with a code alone")
    elif beyond and not args.technicians:
        errors.append(f"--host {args.host} is reachable beyond this machine: give --technicians FILE, "
                      "or --insecure-open to let anyone pair")
    return errors, warnings


def run(args: argparse.Namespace, prog: str = "workbench-relay") -> int:
    """Run the relay until Ctrl-C; 2 when the options or the technicians file are wrong."""
    # Imported here, not above: `workbench` builds its parser from add_arguments for every
    # command (`workbench journal verify` too), and should not load the server to do so.
    from relay.index.writer import IndexWriter
    from relay.pairing import Technicians
    from relay.retention import Policy, daily_duty
    from relay.server import Limits, run_relay

    if args.certfile and not args.keyfile:
        print(f"{prog}: --certfile needs --keyfile", file=sys.stderr)
        return 2
    errors, warnings = security_problems(args)
    for error in errors:
        print(f"{prog}: {error}", file=sys.stderr)
    if errors:
        return 2
    for warning in warnings:
        print(f"{prog}: WARNING: {warning}", file=sys.stderr, flush=True)
    if args.max_unauthenticated < 1 or args.max_unauthenticated_per_address < 1:
        print(f"{prog}: the --max-unauthenticated limits are at least 1", file=sys.stderr)
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
    try:
        policy = Policy.load(args.retention)
    except BadParams as err:
        print(f"{prog}: {err}", file=sys.stderr)
        return 2
    args.data.mkdir(parents=True, exist_ok=True)
    try:
        index = IndexWriter(args.data, args.db, daily=daily_duty(args.data, policy))
    except WorkbenchError as err:
        print(f"{prog}: the session index: {err}", file=sys.stderr)
        return 2
    index.start(reindex=True)

    def ready(url: str) -> None:
        mode = "open to any technician" if technicians.is_open else "listed technicians only"
        recording = "screens recorded" if args.record == "all" else "screens not recorded"
        print(f"relay listening on {url} ({mode}); records in {args.data.resolve()} ({recording}); "
              f"index in {index.where}", flush=True)

    try:
        with contextlib.suppress(KeyboardInterrupt):
            limits = Limits(unauthenticated=args.max_unauthenticated,
                            unauthenticated_per_address=args.max_unauthenticated_per_address)
            options = {"technicians": technicians, "code_ttl": args.code_ttl, "ssl_context": ssl_context,
                       "ready": ready, "limits": limits, "on_records": index.session_changed,
                       "record": args.record == "all", "retention": policy.told_to_customers()}
            if args.nats:
                return _run_in_cluster(args, prog, options)
            asyncio.run(run_relay(args.data, args.host, args.port, **options))
    finally:
        index.close()
    return 0


def _run_in_cluster(args: argparse.Namespace, prog: str, options: dict[str, Any]) -> int:
    """Run the relay joined to the cluster at ``--nats``; 2, with one line, when NATS cannot be reached."""
    try:
        from relay.cluster.bus import ClusterUnavailable
        from relay.cluster.relay import run_cluster_relay
    except ImportError as err:
        print(f"{prog}: --nats needs the NATS client ({err.name}): pip install 'workbench[relay-cluster]'",
              file=sys.stderr)
        return 2

    try:
        asyncio.run(run_cluster_relay(args.nats, args.data, args.host, args.port, **options))
    except ClusterUnavailable as err:
        print(f"{prog}: {err}", file=sys.stderr)
        return 2
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
