"""Errors in a notebook read as one sentence with its code, the traceback folded away, and never the
client's loop internals; a code already in use says so (CodeInUse), not "no session is waiting"."""

from __future__ import annotations

import re
import traceback
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from workbench import BadCode, CodeInUse, connect
from workbench.lab import Proc, start_agent

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def run_cells(sources: list[str], tmp_path: Path) -> list[nbformat.NotebookNode]:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    NotebookClient(notebook, timeout=120, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    return list(notebook.cells)


def test_a_wrong_code_and_a_code_in_use_in_a_notebook(relay: tuple[Proc, str, Path], procs: list[Proc],
                                                      tmp_path: Path) -> None:
    _, url, _ = relay
    agent, code = start_agent(url, tmp_path / "agent")
    procs.append(agent)
    wrong = "000000000" if code.replace(" ", "") != "000000000" else "111111111"
    cells = run_cells([
        "from workbench import connect",
        f"connect({wrong!r}, relay={url!r})",
        f"s = connect({code!r}, relay={url!r}, name='first notebook')",
        f"connect({code!r}, relay={url!r}, name='second notebook')",
        "s.close()",
    ], tmp_path)
    for index, code_name in ((1, "bad_code"), (3, "code_in_use")):
        errors = [o for o in cells[index].outputs if o.output_type == "error"]
        assert len(errors) == 1, cells[index].outputs
        shown = [ANSI.sub("", line) for line in errors[0].traceback]
        assert len(shown) == 1 and f"[{code_name}]" in shown[0], shown  # one sentence and its code
        folded = "".join(o.get("data", {}).get("text/html", "") for o in cells[index].outputs)
        assert folded.startswith("<details>")  # the traceback, folded away
        everything = "\n".join(shown) + folded
        assert "concurrent.futures" not in everything and "asyncio" not in everything
    assert "already in use" in ANSI.sub("", cells[3].outputs[0].traceback[0])
    assert not [o for o in cells[2].outputs + cells[4].outputs if o.output_type == "error"]


def test_pairing_errors_are_raised_in_the_callers_thread(relay: tuple[Proc, str, Path], procs: list[Proc],
                                                          tmp_path: Path) -> None:
    _, url, _ = relay
    agent, code = start_agent(url, tmp_path / "agent")
    procs.append(agent)
    with pytest.raises(BadCode) as caught:
        connect("000 000 001" if code != "000 000 001" else "000 000 002", relay=url)
    frames = traceback.extract_tb(caught.value.__traceback__)
    assert not [f for f in frames if "concurrent" in f.filename or "asyncio" in f.filename], frames
    s = connect(code, relay=url, name="first")
    with pytest.raises(CodeInUse, match="already in use"):
        connect(code, relay=url, name="second")
    s.close()
