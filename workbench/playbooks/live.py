"""``s.playbooks``: run a playbook live on the open session, in this kernel (papermill's runner with the
``workbench-live`` engine of :mod:`workbench.playbooks.engines`).

The cells run in a namespace of their own (the technician's variables stay as they were), with
``workbench.playbooks._live_session`` set so that the notebook's ``attach(...)`` returns this
session (a dry-run view of it with ``dry_run=True``).  Before each step the customer's window is
told; a progress bar and the step list show here; the result is a :class:`PlaybookRun`.
"""

from __future__ import annotations

import ast
import contextlib
import html
import io
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wire.chain import utc_now
from wire.errors import WorkbenchError
from workbench.playbooks.changes import STOPPED_BY_CUSTOMER, changes_made, planned_changes, stop_words
from workbench.playbooks.notebook import Playbook, playbooks_folder

if TYPE_CHECKING:
    from workbench.proxy import Session

#: Where live runs keep their executed notebooks (relative to the working folder).
RUNS_FOLDER = Path("playbook-runs")


@dataclass
class StepResult:
    title: str
    state: str = "not run"  # "running", "done", "failed", "stopped"


@dataclass
class PlaybookRun:
    """How one run went: its steps, its outcome, the changes made or planned, the executed notebook."""

    name: str
    dry_run: bool
    steps: list[StepResult]
    outcome: str = "running"  # "done", "failed", "stopped"
    error: str | None = None
    message: str = ""
    changes: list[str] = field(default_factory=list)
    planned_changes: list[str] = field(default_factory=list)
    notebook: Path | None = None
    saved_at_relay: str | None = None

    @property
    def ok(self) -> bool:
        return self.outcome == "done"

    def __repr__(self) -> str:
        lines = [f"<PlaybookRun {self.name}{' (dry run)' if self.dry_run else ''}: {self.outcome}>"]
        lines += [f"  {k}. {step.title}: {step.state}" for k, step in enumerate(self.steps, 1)]
        if self.message:
            lines.append(self.message)
        if self.planned_changes:
            lines.append("planned changes (nothing was changed):")
            lines += [f"  - {change}" for change in self.planned_changes]
        if self.notebook:
            lines.append(f"executed notebook: {self.notebook}" + (f" (kept at the relay: {self.saved_at_relay})"
                                                                 if self.saved_at_relay else ""))
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return f"<pre>{html.escape(repr(self))}</pre>"


class LiveRun:
    """One live run: executes the parameterised notebook's cells here (called by the live engine)."""

    def __init__(self, session: Session, playbook: Playbook, result: PlaybookRun) -> None:
        self.session, self.playbook, self.result = session, playbook, result
        self.namespace: dict[str, Any] = {"__name__": "__playbook__"}
        self._progress: Any = None
        self._list: Any = None

    # -- the customer's line and the technician's progress

    def _show(self) -> None:
        try:
            import ipywidgets
            from IPython import get_ipython
            from IPython.display import display
        except ImportError:
            return
        if get_ipython() is None:  # type: ignore[no-untyped-call,unused-ignore]
            return
        self._progress = ipywidgets.IntProgress(value=0, min=0, max=len(self.result.steps),
                                                description=self.playbook.name)
        self._list = ipywidgets.HTML()
        self._refresh()
        display(ipywidgets.VBox([self._progress, self._list]))  # type: ignore[no-untyped-call,unused-ignore]

    def _refresh(self) -> None:
        if self._progress is None:
            return
        marks = {"done": "✔", "running": "▶", "failed": "✘", "stopped": "■", "not run": "·"}
        self._progress.value = sum(step.state == "done" for step in self.result.steps)
        self._list.value = "<ol>" + "".join(
            f"<li>{marks[step.state]} {html.escape(step.title)}</li>" for step in self.result.steps) + "</ol>"

    def _announce(self, step: int, state: str) -> None:
        total = len(self.result.steps)
        title = self.result.steps[step - 1].title if step else ""
        with contextlib.suppress(WorkbenchError):  # the customer ended the session: the step's error says so
            self.session.announce_playbook(self.playbook.name, step, total, title, state=state)

    # -- the engine's work

    def execute(self, nb_man: Any) -> Any:
        from workbench import playbooks

        steps = {step.cell_index: k for k, step in enumerate(_steps(nb_man.nb), 1)}
        self._show()
        previous, playbooks._live_session = playbooks._live_session, self.session
        playbooks._attached = None
        step = 0
        try:
            for index, cell in enumerate(nb_man.nb.cells):
                if cell.cell_type != "code" or not cell.source.strip():
                    continue
                nb_man.cell_start(cell, index)
                if index in steps:
                    step = steps[index]
                    self.result.steps[step - 1].state = "running"
                    self._refresh()
                    self._announce(step, "running")
                try:
                    cell.outputs = self._run_cell(cell.source)
                    errors = [o for o in cell.outputs if o["output_type"] == "error"]
                    if errors:
                        nb_man.cell_exception(cell, cell_index=index)
                        self._stopped(step, errors[0]["ename"], errors[0]["evalue"])
                        break
                    if step:
                        self.result.steps[step - 1].state = "done"
                        self._refresh()
                finally:
                    nb_man.cell_complete(cell, cell_index=index)
            else:
                self.result.outcome = "done"
                if step:
                    self._announce(step, "done")
        finally:
            playbooks._live_session = previous
            attached, playbooks._attached = playbooks._attached, None
        self.result.changes = changes_made(self.session)
        if self.result.dry_run and attached is not None:
            self.result.planned_changes = planned_changes(attached)
        return nb_man.nb

    def _stopped(self, step: int, ename: str, evalue: str) -> None:
        state = "stopped" if ename in STOPPED_BY_CUSTOMER else "failed"
        self.result.outcome, self.result.error = state, f"{ename}: {evalue}"
        if step:
            self.result.steps[step - 1].state = state
            self._refresh()
            self._announce(step, state)
        title = self.result.steps[step - 1].title if step else "before the first step"
        self.result.message = stop_words(step, len(self.result.steps), title, ename, evalue,
                                         changes_made(self.session))

    def _run_cell(self, source: str) -> list[dict[str, Any]]:
        """Run one cell's code in the run's namespace; its outputs as nbformat output dicts."""
        import nbformat

        shell = _shell()
        if shell is not None:
            source = shell.transform_cell(source)
        outputs: list[dict[str, Any]] = []
        out, err = io.StringIO(), io.StringIO()
        value: Any = None
        try:
            tree = ast.parse(source)
            last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
            assert last is None or isinstance(last, ast.Expr)
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                exec(compile(tree, "<playbook cell>", "exec"), self.namespace)
                if last is not None:
                    value = eval(compile(ast.Expression(last.value), "<playbook cell>", "eval"),
                                 self.namespace)
        except Exception as error:
            outputs += _streams(out, err)
            outputs.append(nbformat.v4.new_output(  # type: ignore[no-untyped-call,unused-ignore]
                "error", ename=type(error).__name__, evalue=str(error),
                traceback=traceback.format_exception_only(type(error), error)))
            return outputs
        outputs += _streams(out, err)
        if value is not None:
            data = shell.display_formatter.format(value)[0] if shell is not None else {"text/plain": repr(value)}
            outputs.append(nbformat.v4.new_output("execute_result", data=data, execution_count=None))  # type: ignore[no-untyped-call,unused-ignore]
        return outputs


def _streams(out: io.StringIO, err: io.StringIO) -> list[dict[str, Any]]:
    import nbformat

    return [nbformat.v4.new_output("stream", name=name, text=buffer.getvalue())  # type: ignore[no-untyped-call,unused-ignore]
            for name, buffer in (("stdout", out), ("stderr", err)) if buffer.getvalue()]


def _shell() -> Any:
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    return get_ipython()  # type: ignore[no-untyped-call,unused-ignore]


def _steps(notebook: Any) -> list[Any]:
    from workbench.playbooks.notebook import steps_of

    return steps_of(notebook)


class PlaybooksNamespace:
    """``s.playbooks``: the playbooks there are, and :meth:`run` on this session."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def list(self) -> list[tuple[str, str]]:
        """Each playbook's name and one-line description."""
        import nbformat

        from workbench.playbooks.notebook import describe

        return [(path.stem, describe(nbformat.read(path, as_version=4)))  # type: ignore[no-untyped-call,unused-ignore]
                for path in sorted(playbooks_folder().glob("*.ipynb"))]

    def run(self, name: str, *, dry_run: bool = False, save: bool = True, **parameters: Any) -> PlaybookRun:
        """Run playbook *name* on this session now, with *parameters* (checked first).

        Shows each step as it runs; the customer's window says which.  Returns a :class:`PlaybookRun`
        (``outcome`` "done", "failed" — its own check or a call failed — or "stopped" — by the
        customer).  The executed notebook goes to ``playbook-runs/`` and, with *save*, to the
        session's record at the relay.  Raises NotFound (no such playbook), BadParams (a parameter
        it does not have, or of the wrong type) before anything runs.
        """
        import papermill

        import workbench.playbooks.engines  # noqa: F401 - registers the engines

        playbook = Playbook.load(name)
        checked = playbook.check(parameters)
        result = PlaybookRun(playbook.name, dry_run, [StepResult(step.title) for step in playbook.steps])
        RUNS_FOLDER.mkdir(exist_ok=True)
        stamp = utc_now().split(".")[0].replace(":", "").replace("-", "")
        result.notebook = RUNS_FOLDER / f"{playbook.name}-{stamp}Z.ipynb"
        live = LiveRun(self._session, playbook, result)
        with contextlib.suppress(papermill.PapermillExecutionError):  # the result says where and why
            papermill.execute_notebook(str(playbook.path), str(result.notebook), engine_name="workbench-live",
                                       parameters={**checked, "dry_run": dry_run}, kernel_name="python3",
                                       progress_bar=False, live=live)
        if save and not self._session.ended:
            try:
                body = self._session.call("relay.put_playbook", {"name": playbook.name},
                                          result.notebook.read_bytes(), timeout=120).value
                result.saved_at_relay = str(body["path"])
            except WorkbenchError as err:
                result.message += f"\n(the executed notebook could not be kept at the relay: {err.code}: {err})"
        return result

    def __repr__(self) -> str:
        return "\n".join(["playbooks (s.playbooks.run(NAME, ...)):",
                          *(f"  {name}: {words}" for name, words in self.list())])

    def _repr_html_(self) -> str:
        rows = "".join(f"<tr><td><code>{html.escape(name)}</code></td><td>{html.escape(words)}</td></tr>"
                       for name, words in self.list())
        return f"<table><tr><th>playbook</th><th>what it fixes</th></tr>{rows}</table>"
