"""``workbench playbook run NAME --code CODE --relay URL [-p NAME VALUE ...] [--dry-run] [--out FILE]``
and ``workbench playbook list``.

The parameters are checked against the notebook's ``parameters`` cell before anything runs (exit 2);
papermill then runs the notebook in a kernel of its own (the ``workbench-headless`` engine), which
pairs with the customer, tells the customer's window each step, and keeps the executed notebook in
the session's record at the relay.  Exit status: 0 the playbook ran to its end and its checks hold;
1 a check failed, a call failed or the customer stopped it (the step is named); 2 bad parameters or
no such playbook.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from wire.errors import WorkbenchError
from workbench.playbooks.changes import STOPPED_BY_CUSTOMER, UNDO_WORDS

#: Exit status for bad parameters or an unknown playbook: nothing ran.
EXIT_BAD_PARAMS = 2


class _HideRunParameter(logging.Filter):
    """papermill warns of parameters the notebook does not declare; ``playbook_run`` is the runner's own."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "playbook_run" not in record.getMessage()


def add_commands(commands: Any) -> None:
    playbook = commands.add_parser("playbook", help="run a playbook notebook on a customer's machine")
    sub = playbook.add_subparsers(dest="playbook_command", required=True)
    run = sub.add_parser("run", help="run a playbook headless (papermill) on the customer whose code you have",
                         description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    run.add_argument("name", help="a playbook in notebooks/playbooks (without .ipynb) or a notebook's path")
    run.add_argument("--code", required=True, help="the session code the customer reads to you")
    run.add_argument("--relay", default="ws://127.0.0.1:8765", help="the relay's URL")
    run.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                     help="a playbook parameter (repeatable); its type is the default's")
    run.add_argument("--dry-run", action="store_true", help="plan every change, make none; print the plan")
    run.add_argument("--out", type=Path, help="also keep the executed notebook here")
    run.add_argument("--timeout", type=float, default=600, help="seconds one step may take (default 600)")
    run.set_defaults(run=_run)
    listing = sub.add_parser("list", help="the playbooks there are, with what each fixes")
    listing.set_defaults(run=_list)


def _list(args: argparse.Namespace) -> int:
    import nbformat

    from workbench.playbooks.notebook import describe, playbooks_folder

    for path in sorted(playbooks_folder().glob("*.ipynb")):
        print(f"{path.stem}: {describe(nbformat.read(path, as_version=4))}")  # type: ignore[no-untyped-call,unused-ignore]
    return 0


def _run(args: argparse.Namespace) -> int:
    from workbench.playbooks.notebook import RUN_PARAMETER, Playbook

    try:
        playbook = Playbook.load(args.name)
        given: dict[str, Any] = {}
        for key, value in args.parameter:
            given[key] = value
        checked = playbook.check(given, from_text=True)
    except WorkbenchError as err:
        print(f"workbench playbook run: {err} ({err.code}); nothing ran", file=sys.stderr)
        return EXIT_BAD_PARAMS
    titles = [step.title for step in playbook.steps]
    print(f"playbook {playbook.name}{' (dry run: nothing will be changed)' if args.dry_run else ''}: "
          f"{len(titles)} steps", flush=True)
    parameters = {**checked, "session_code": args.code, "relay": args.relay, "dry_run": bool(args.dry_run),
                  RUN_PARAMETER: {"name": playbook.name, "steps": titles}}
    with tempfile.TemporaryDirectory(prefix="workbench-playbook-run-") as folder:
        out = Path(folder) / f"{playbook.name}.ipynb"
        state, error = _execute(playbook.path, out, parameters, playbook.name, args.timeout)
        if args.out is not None:
            shutil.copyfile(out, args.out)
    return _report(playbook.name, len(titles), state, error, args)


def _execute(path: Path, out: Path, parameters: dict[str, Any], name: str,
             timeout: float) -> tuple[Any, Any]:
    import papermill

    from workbench.playbooks.engines import RunState

    logging.getLogger("papermill").addFilter(_HideRunParameter())

    def starting(step: int, total: int, title: str) -> None:
        print(f"step {step} of {total}: {title}", flush=True)

    state = RunState(name, on_step=starting)
    try:
        papermill.execute_notebook(str(path), str(out), parameters=parameters, engine_name="workbench-headless",
                                   kernel_name="python3", progress_bar=False, run_state=state,
                                   execution_timeout=timeout, cwd=str(out.parent))
    except papermill.PapermillExecutionError as err:
        return state, err
    return state, None


def _report(name: str, total: int, state: Any, error: Any, args: argparse.Namespace) -> int:
    report = state.report
    if report.get("saved"):
        print(f"executed notebook kept at the relay: {report['saved']}")
    else:
        print(f"the executed notebook was not kept at the relay: {report.get('save_error', 'unknown')}",
              file=sys.stderr)
    if args.out is not None:
        print(f"executed notebook: {args.out}")
    if args.dry_run:
        planned = report.get("planned") or []
        print(f"planned changes ({len(planned)}; nothing was changed):")
        for change in planned:
            print(f"  - {change}")
    if error is None:
        print(f"playbook {name}: done, its checks hold")
        return 0
    step, title = state.steps.get(error.cell_index, (0, "before the first step"))
    how = "stopped by the customer" if error.ename in STOPPED_BY_CUSTOMER else "failed"
    print(f"playbook {name} {how} at step {step} of {total} ({title}): {error.ename}: {error.evalue}",
          file=sys.stderr)
    changes = report.get("changes") or []
    if changes:
        print("changes made before it stopped:", file=sys.stderr)
        for change in changes:
            print(f"  - {change}", file=sys.stderr)
        print(UNDO_WORDS, file=sys.stderr)
    else:
        print("no change was made on the customer's machine", file=sys.stderr)
    return 1
