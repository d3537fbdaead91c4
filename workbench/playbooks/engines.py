"""Two papermill engines, registered with papermill's engine registry on import.

- ``workbench-headless``: papermill's own nbclient engine (a kernel of its own) that also reports
  each step as it starts and, once the cells have run, has the kernel keep the executed notebook at
  the relay and end its session (:func:`workbench.playbooks.kernel.finish`);
- ``workbench-live``: runs the parameterised cells in THIS process, on the technician's open session
  (``workbench.playbooks._live_session``), in a namespace of their own, telling the customer and a
  progress callback each step (:mod:`workbench.playbooks.live`).
"""

from __future__ import annotations

import ast
import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
from papermill.clientwrap import PapermillNotebookClient
from papermill.engines import Engine, NBClientEngine, papermill_engines
from papermill.log import logger
from papermill.utils import remove_args

from workbench.playbooks.notebook import steps_of


@dataclass
class RunState:
    """What a run tells its runner as it goes: each step as it starts, and the kernel's report at the end."""

    name: str
    on_step: Callable[[int, int, str], None] = lambda step, total, title: None
    #: cell index → (step, title), set from the parameterised notebook when the run starts
    steps: dict[int, tuple[int, str]] = field(default_factory=dict)
    report: dict[str, Any] = field(default_factory=dict)

    def start(self, notebook: Any) -> None:
        self.steps = {step.cell_index: (k, step.title) for k, step in enumerate(steps_of(notebook), 1)}

    def starting(self, cell_index: int) -> None:
        if cell_index in self.steps:
            step, title = self.steps[cell_index]
            self.on_step(step, len(self.steps), title)


class HeadlessClient(PapermillNotebookClient):  # type: ignore[misc]
    """papermill's client, plus the step reports and the kernel's finish (see the module docstring)."""

    run_state: RunState | None = None

    def execute_cell(self, cell: Any, cell_index: int, *args: Any, **kwargs: Any) -> Any:
        # papermill calls this (nbclient's synchronous wrapper) for each cell.
        if self.run_state is not None:
            self.run_state.starting(cell_index)
        return super().execute_cell(cell, cell_index, *args, **kwargs)

    def papermill_execute_cells(self) -> None:
        try:
            super().papermill_execute_cells()
        finally:
            if self.run_state is not None:
                self._finish(self.run_state)

    def _finish(self, state: RunState) -> None:
        with tempfile.TemporaryDirectory(prefix="workbench-playbook-") as folder:
            path = Path(folder) / f"{state.name}.ipynb"
            nbformat.write(self.nb, path)  # type: ignore[no-untyped-call,unused-ignore]
            code = (f"import workbench.playbooks.kernel as _wb_kernel\n"
                    f"_wb_kernel.finish({str(path)!r}, {state.name!r})")
            msg_id = self.kc.execute(code, silent=True, store_history=False,
                                     user_expressions={"report": "_wb_kernel.REPORT"})
            reply = self.wait_for_reply(msg_id)  # within the run's --timeout
        content = reply["content"] if reply else {}
        if content.get("status") != "ok":
            state.report = {"save_error": f"{content.get('ename')}: {content.get('evalue')}"}
            return
        text = content["user_expressions"]["report"].get("data", {}).get("text/plain", "'{}'")
        state.report = json.loads(ast.literal_eval(text))


class HeadlessEngine(NBClientEngine):  # type: ignore[misc]
    """``workbench-headless``: see the module docstring."""

    @classmethod
    def execute_managed_notebook(cls, nb_man: Any, kernel_name: str, log_output: bool = False,
                                 start_timeout: int = 120, execution_timeout: float | None = None,
                                 run_state: RunState | None = None, **kwargs: Any) -> Any:
        kwargs = remove_args(["input_path", "timeout", "startup_timeout", "stdout_file", "stderr_file"], **kwargs)
        if run_state is not None:
            run_state.start(nb_man.nb)
        client = HeadlessClient(nb_man, kernel_name=kernel_name, timeout=execution_timeout,
                                startup_timeout=start_timeout, log=logger, log_output=log_output, **kwargs)
        client.run_state = run_state
        return client.execute()


class LiveEngine(Engine):  # type: ignore[misc]
    """``workbench-live``: see the module docstring and :class:`workbench.playbooks.live.LiveRun`."""

    @classmethod
    def execute_managed_notebook(cls, nb_man: Any, kernel_name: str, live: Any = None, **kwargs: Any) -> Any:
        if live is None:
            raise TypeError("the workbench-live engine runs only from s.playbooks.run")
        return live.execute(nb_man)


papermill_engines.register("workbench-headless", HeadlessEngine)
papermill_engines.register("workbench-live", LiveEngine)
