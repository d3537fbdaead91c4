"""``workbench-agent``: the program the customer runs."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from agent import __version__
from agent.consent import default_data_dir
from agent.panel import available_terms, load_terms


def _rect(text: str) -> tuple[int, int, int, int]:
    """Parse ``X,Y,W,H``; raises argparse.ArgumentTypeError."""
    try:
        x, y, w, h = (int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected X,Y,W,H in pixels, not {text!r}") from None
    if w <= 0 or h <= 0 or x < 0 or y < 0:
        raise argparse.ArgumentTypeError(f"a hidden rectangle needs x, y >= 0 and a positive size: {text!r}")
    return x, y, w, h


def _monitor(text: str) -> int:
    """Parse a monitor's 0-based index; raises argparse.ArgumentTypeError."""
    try:
        index = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a monitor number (0 is the first), not {text!r}") from None
    if not 0 <= index < 64:
        raise argparse.ArgumentTypeError(f"a monitor number is 0 (the first), 1 (the second)…, not {text!r}")
    return index


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="workbench-agent",
        description="Let a technician help you on this computer, under your control. Nothing is "
                    "connected before you accept the terms, and you can end the session at any moment.")
    parser.add_argument("--relay", default="ws://127.0.0.1:8765",
                        help="the support service's address (ws:// or wss://); several, comma-separated, "
                             "for relays of one cluster: the agent fails over between them")
    parser.add_argument("--data", type=Path, default=None,
                        help=f"where your journal and backups are kept (default: {default_data_dir()})")
    parser.add_argument("--terms", type=Path, default=None, help="a terms-of-use text file (UTF-8) to show instead "
                        "of the shipped sample")
    parser.add_argument("--lang", choices=sorted(available_terms()), default=None,
                        help="language of the shipped terms (default: the user's, else English)")
    parser.add_argument("--accept-terms", action="store_true",
                        help="record consent given outside the window (scripted labs, tests); journaled as such")
    window = parser.add_mutually_exclusive_group()
    window.add_argument("--window", dest="window", action="store_true", default=None, help="show the customer window")
    window.add_argument("--no-window", dest="window", action="store_false",
                        help="no window: codes and activity are printed (needs --accept-terms)")
    parser.add_argument("--start-hidden", action="store_true",
                        help="with --accept-terms: keep the window hidden until a technician connects (the session "
                             "bar shows then; the code is printed); for agents waiting side by side, as in the demo")
    parser.add_argument("--forbid", action="append", default=[], metavar="DIR",
                        help="a folder the technician may never open (repeatable)")
    parser.add_argument("--hide-rect", action="append", default=[], type=_rect, metavar="X,Y,W,H",
                        help="a screen area the technician never sees (repeatable)")
    parser.add_argument("--hide-window", action="append", default=[], metavar="TITLE",
                        help="a window the technician never sees, followed when it moves (repeatable)")
    parser.add_argument("--hide-monitor", action="append", default=[], type=_monitor, metavar="N",
                        help="a whole monitor the technician never sees: 0 is the first, 1 the second, as the "
                             "technician's monitor list and the window's picker number them (repeatable)")
    parser.add_argument("--allow-control", action="store_true",
                        help="let the technician control mouse and keyboard from the start (journaled)")
    parser.add_argument("--cafile", type=Path, default=None, help="trust this certificate for a wss:// relay")
    parser.add_argument("--insecure-ws", action="store_true",
                        help="INSECURE: accept a plain ws:// relay that is not on this machine (no encryption)")
    parser.add_argument("--synthetic-screen", type=int, default=None, metavar="FPS",
                        help="for load tests only: stream a generated picture changing FPS times a second "
                             "instead of the screen (no X server needed)")
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("--version", action="version", version=f"workbench-agent {__version__}")
    return parser


def has_display() -> bool:
    """True where a window can be shown: Windows, macOS, or an X11/Wayland display."""
    return sys.platform in ("win32", "darwin") or bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    from agent.link import plain_ws_refusal
    from wire.relay_urls import relay_urls

    try:
        urls = relay_urls(args.relay)
    except ValueError as err:
        parser.error(str(err))
    for url in urls:
        refusal = plain_ws_refusal(url, args.insecure_ws)
        if refusal is not None:
            parser.error(refusal)
    if args.insecure_ws:
        print(f"WARNING: --insecure-ws: the link to {args.relay} is not encrypted", file=sys.stderr, flush=True)
    window = has_display() if args.window is None else args.window
    if not window and not args.accept_terms:
        parser.error("without a window the terms cannot be shown: pass --accept-terms when consent "
                     "was given another way, or run where a window can open")
    try:
        terms = load_terms(args.terms if args.terms is not None else args.lang)
    except (OSError, ValueError) as err:
        parser.error(f"cannot read the terms: {err}")
    if args.synthetic_screen is not None and args.synthetic_screen < 1:
        parser.error("--synthetic-screen takes frames a second, at least 1")
    from agent.app import AgentApp, AgentConfig  # after argument errors, so --help stays light
    from agent.screen._synthetic import synthetic_display

    display = os.environ.get("DISPLAY") if args.synthetic_screen is None else synthetic_display(args.synthetic_screen)

    config = AgentConfig(relay_url=args.relay, data_dir=(args.data or default_data_dir()).resolve(), terms=terms,
                         accept_terms=args.accept_terms, window=window, start_hidden=args.start_hidden,
                         forbid=list(args.forbid),
                         hide_rects=list(args.hide_rect), hide_windows=list(args.hide_window),
                         hide_monitors=list(args.hide_monitor),
                         allow_control=args.allow_control, cafile=args.cafile, display=display)
    return AgentApp(config).run()


if __name__ == "__main__":
    sys.exit(main())
