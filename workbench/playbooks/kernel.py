"""The headless run's side inside the kernel: tell the customer each step, keep the executed notebook.

:func:`workbench.playbooks.attach` calls :func:`follow` in a headless run (papermill's kernel): it
registers IPython ``pre_run_cell``/``post_run_cell`` hooks fed with the step titles the runner
injected (the ``playbook_run`` parameter), so that before each step the customer's window says
"playbook: NAME — step K of N: TITLE", and at the end done, failed or stopped.  When the cells have
run, the runner's engine calls :func:`finish` in the same kernel: it saves the executed notebook at
the relay (``relay.put_playbook``), ends the session and leaves :data:`REPORT` for the runner.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wire.errors import WorkbenchError
from workbench.playbooks.changes import STOPPED_BY_CUSTOMER, changes_made, planned_changes, stop_words

if TYPE_CHECKING:
    from workbench.proxy import Session

#: What :func:`finish` found, as JSON text (read by the runner as a user expression).
REPORT = "{}"


class StepFollower:
    """Counts the cells run after the attach cell, and tells the customer each step and the end."""

    def __init__(self, session: Session, name: str, titles: list[str]) -> None:
        self.session, self.name, self.titles = session, name, titles
        self.step = 0
        self.state = "running"

    def _announce(self, step: int, title: str, state: str) -> None:
        try:
            self.session.announce_playbook(self.name, step, len(self.titles), title, state=state)
        except WorkbenchError as err:  # the customer ended the session: the step itself says so
            print(f"(the customer's window could not be told: {err.code})", file=sys.stderr)

    def before(self, info: Any = None) -> None:
        if self.state != "running" or self.step >= len(self.titles):
            return
        self.step += 1
        title = self.titles[self.step - 1]
        print(f"step {self.step} of {len(self.titles)}: {title}")
        self._announce(self.step, title, "running")

    def after(self, result: Any) -> None:
        if self.state != "running" or self.step == 0:
            return
        error = getattr(result, "error_in_exec", None) or getattr(result, "error_before_exec", None)
        title = self.titles[self.step - 1]
        if error is not None:
            ename = type(error).__name__
            self.state = "stopped" if ename in STOPPED_BY_CUSTOMER else "failed"
            self._announce(self.step, title, self.state)
            print(stop_words(self.step, len(self.titles), title, ename, str(error), changes_made(self.session)))
        elif self.step == len(self.titles):
            self.state = "done"
            self._announce(self.step, title, "done")


_follower: StepFollower | None = None
_session: Session | None = None


def follow(session: Session, run: Any) -> None:
    """Register the step hooks for *run* (``{"name", "steps"}``) in this IPython kernel, if any."""
    global _follower, _session
    _session = session
    if not isinstance(run, dict):
        return
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()  # type: ignore[no-untyped-call,unused-ignore]
    if shell is None:
        return
    if _follower is not None:
        shell.events.unregister("pre_run_cell", _follower.before)
        shell.events.unregister("post_run_cell", _follower.after)
    _follower = StepFollower(session, str(run.get("name", "playbook")), [str(t) for t in run.get("steps", [])])
    shell.events.register("pre_run_cell", _follower.before)
    shell.events.register("post_run_cell", _follower.after)


def finish(notebook_path: str, name: str) -> None:
    """Save the executed notebook at *notebook_path* at the relay, end the session, fill :data:`REPORT`."""
    global REPORT
    report: dict[str, Any] = {"state": _follower.state if _follower else "unknown",
                              "step": _follower.step if _follower else 0}
    session = _session
    if session is None:
        report["save_error"] = "the playbook never attached to a session"
    else:
        report["changes"] = changes_made(session)
        report["planned"] = planned_changes(session)
        live = session.with_dry_run(False)  # a dry-run view copies the session's state when it is made
        if live.ended:
            report["save_error"] = f"the session ended ({live.end_reason}) before the notebook could be kept"
        else:
            try:
                data = Path(notebook_path).read_bytes()
                report["saved"] = session.call("relay.put_playbook", {"name": name}, data, timeout=120).value["path"]
            except WorkbenchError as err:
                report["save_error"] = f"{err.code}: {err}"
            session.close()
    REPORT = json.dumps(report)
