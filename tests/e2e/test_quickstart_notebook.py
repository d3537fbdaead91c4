"""The quickstart notebook runs top to bottom in a real kernel against a real relay and agent,
and leaves the session open (the live view keeps streaming); its last cell ends the session only
when the technician says so."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from workbench.demo import CODE_FILE_VARIABLE, RELAY_VARIABLE
from workbench.lab import Proc, start_agent

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


def test_quickstart_runs_top_to_bottom_and_leaves_the_session_open(
        relay: tuple[Proc, str, Path], procs: list[Proc], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, url, _ = relay
    agent, code = start_agent(url, tmp_path / "agent")
    procs.append(agent)
    code_file = tmp_path / "code.txt"
    code_file.write_text(code)
    monkeypatch.setenv(CODE_FILE_VARIABLE, str(code_file))
    monkeypatch.setenv(RELAY_VARIABLE, url)
    notebook = nbformat.read(NOTEBOOKS / "quickstart.ipynb", as_version=4)
    client = NotebookClient(notebook, timeout=180, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}})
    with client.setup_kernel():
        for index, cell in enumerate(notebook.cells):  # what "Run All" does
            client.execute_cell(cell, index)
        outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
        assert not [o for o in outputs if o.output_type == "error"]
        html = "".join(o.get("data", {}).get("text/html", "") for o in outputs)
        assert "customer machine" in html  # the session summary
        assert "os.edition" in html  # the inventory table
        assert "inventory.collect" in html  # the history
        agent.wait_for(r"read your system information")
        assert "The session stays open" in "".join(o.get("text", "") for o in notebook.cells[-1].outputs)
        assert agent.popen.poll() is None  # still in session after the last cell

        # The technician ends it: the marked last cell, with its flag set.
        last = notebook.cells[-1]
        assert last.source.startswith("END_SESSION = False")
        last.source = last.source.replace("END_SESSION = False", "END_SESSION = True", 1)
        client.execute_cell(last, len(notebook.cells) - 1)
        assert "ended at" in "".join(o.get("text", "") for o in last.outputs)
    assert agent.wait(30) == 0  # the notebook's s.close() ended the customer's session
