"""The playbook notebooks run top to bottom against a real relay and agent, on real files."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from workbench.demo import CODE_FILE_VARIABLE, CUSTOMER_FOLDER_VARIABLE, RELAY_VARIABLE, seed_customer_folder
from workbench.lab import Proc, start_agent

PLAYBOOKS = Path(__file__).resolve().parents[2] / "notebooks" / "playbooks"


def test_network_proxy_playbook(relay: tuple[Proc, str, Path], procs: list[Proc], tmp_path: Path,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    _, url, _ = relay
    customer = tmp_path / "customer"
    private = seed_customer_folder(customer)
    agent, code = start_agent(url, tmp_path / "agent", "--forbid", str(private))
    procs.append(agent)
    (tmp_path / "code.txt").write_text(code)
    monkeypatch.setenv(CODE_FILE_VARIABLE, str(tmp_path / "code.txt"))
    monkeypatch.setenv(RELAY_VARIABLE, url)
    monkeypatch.setenv(CUSTOMER_FOLDER_VARIABLE, str(customer))
    work = tmp_path / "technician"
    work.mkdir()
    notebook = nbformat.read(PLAYBOOKS / "network_proxy.ipynb", as_version=4)
    NotebookClient(notebook, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(work)}}).execute()

    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in outputs)
    assert "refused: forbidden" in text and "500 error lines" in text
    assert "proxy = off" in (customer / "settings.ini").read_text()  # the change landed on the customer's disk
    assert (work / "app.log").read_bytes() == (customer / "logs" / "app.log").read_bytes()
    agent.wait_for(r"stopped from opening a folder you protected")
    assert agent.wait(30) == 0


def test_every_playbook_notebook_is_run_by_a_test() -> None:
    """network_proxy runs above; the parameterised playbooks run headless in test_playbooks.py (their faults
    need a machine put into them, and their parameters pointed at it)."""
    import re

    headless = set(re.findall(r'run_playbook\(url, code, "(\w+)"', (Path(__file__).parent / "test_playbooks.py")
                              .read_text(encoding="utf-8")))
    assert {path.stem for path in PLAYBOOKS.glob("*.ipynb")} - {"network_proxy"} <= headless
