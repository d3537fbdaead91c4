"""A real session written as a playbook repeats the fix on a fresh agent in the same fault (papermill).

The technician (this process) fixes a hijacked ``hosts`` file and removes a
bad ``Run`` entry from a hive file, through a real relay and an agent whose
screen is an Xvfb; along the way they write a file and undo it, and try a
missing file (both to be left out).  ``s.history.to_notebook`` writes the
playbook; the fault is put back, a fresh agent is started, and papermill runs
the notebook headless against it with only ``session_code`` and ``relay`` given:
the fault is gone after, and the notebook's checks held.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import nbformat
import papermill
import pytest

from agent.forbidden import Guard
from agent.registry.choice import open_hive_file
from agent.registry.hive import HiveBackend
from agent.registry.model import RegValue
from agent.registry.regf_edit import new_hive
from workbench import NotFound, connect
from workbench.lab import Proc, Xvfb, start_agent

pytestmark = pytest.mark.e2e

BAD = "10.6.6.6 www.bank.example\n"
RUN = "Software\\Microsoft\\Windows\\CurrentVersion\\Run"


def put_fault(customer: Path) -> None:
    (customer / "etc").mkdir(parents=True, exist_ok=True)
    (customer / "etc" / "hosts").write_text("127.0.0.1 localhost\n" + BAD)
    (customer / "SOFTWARE").write_bytes(new_hive("ROOT", ""))
    hive = HiveBackend(open_hive_file(str(customer / "SOFTWARE"), lambda: Guard(None)))
    hive.set(tuple(RUN.split("\\")), RegValue("Updater", "REG_SZ", "C:\\Users\\ana\\evil.exe"))
    hive.set(tuple(RUN.split("\\")), RegValue("OneDrive", "REG_SZ", "C:\\onedrive.exe"))


def run_values(customer: Path) -> list[str]:
    hive = HiveBackend(open_hive_file(str(customer / "SOFTWARE"), lambda: Guard(None)))
    return [value.name for value in hive.values(tuple(RUN.split("\\")))]


@pytest.fixture(scope="module")
def screen() -> Iterator[Xvfb]:
    xvfb = Xvfb(800, 600)
    try:
        yield xvfb
    finally:
        xvfb.stop()


def test_a_recorded_session_replayed_by_papermill_repeats_the_fix(relay: tuple[Proc, str, Path], procs: list[Proc],
                                                                  tmp_path: Path, screen: Xvfb) -> None:
    _, url, _ = relay
    customer = tmp_path / "customer"
    put_fault(customer)
    hosts = customer / "etc" / "hosts"
    agent, code = start_agent(url, tmp_path / "agent-1", env=screen.env())
    procs.append(agent)
    s = connect(code, relay=url, name="Alice")
    try:
        assert BAD in s.files.read(str(hosts))
        s.files.write(str(customer / "etc" / "notes.txt"), "oops")
        s.files.undo()
        with pytest.raises(NotFound):
            s.files.read(str(customer / "etc" / "missing"))
        s.files.edit(str(hosts), BAD, "")
        hive = s.registry.open_hive(str(customer / "SOFTWARE"))
        hive.delete_value(RUN, "Updater")
        hive.close()
        assert s.files.read(str(hosts)) == "127.0.0.1 localhost\n"  # the fix, confirmed
        playbook = s.history.to_notebook(tmp_path / "fix_hosts_and_run.ipynb", title="Hijacked hosts and Run")
    finally:
        s.close()
    assert run_values(customer) == ["OneDrive"] and BAD not in hosts.read_text()

    written = nbformat.read(playbook, as_version=4)
    source = "\n".join(cell.source for cell in written.cells)
    assert "notes" not in source and "missing" not in source  # undone and failed calls left out
    assert "s.files.edit(hosts_path, hosts_old, hosts_new)" in source
    assert "hive_1.delete_value(run_key, updater_value)" in source

    put_fault(customer)  # the same fault again, and a fresh agent
    fresh, fresh_code = start_agent(url, tmp_path / "agent-2", env=screen.env())
    procs.append(fresh)
    executed = tmp_path / "executed.ipynb"
    papermill.execute_notebook(str(playbook), str(executed), kernel_name="python3", progress_bar=False,
                               parameters={"session_code": fresh_code, "relay": url}, cwd=str(tmp_path))
    assert BAD not in hosts.read_text() and hosts.read_text() == "127.0.0.1 localhost\n"
    assert run_values(customer) == ["OneDrive"]
    ran = nbformat.read(executed, as_version=4)
    assert not [o for cell in ran.cells if cell.cell_type == "code" for o in cell.outputs
                if o.output_type == "error"]
    fresh.wait_for(r"technician connected: Playbook")
