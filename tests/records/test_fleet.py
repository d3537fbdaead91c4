"""``workbench.fleet`` and ``notebooks/fleet.ipynb`` on a synthetic relay's records (SQLite and PostgreSQL)."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from relay.index.store import SessionIndex
from tests.records.synth import write_sessions
from workbench import fleet

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "fleet.ipynb"


def test_sessions_and_summary_agree_with_the_index(tmp_path: Path, db_url: str | None) -> None:
    ids = write_sessions(tmp_path, 40, days=10)
    index = SessionIndex.open(tmp_path, db_url)
    index.reindex()
    index.close()
    with fleet.open(db_url or tmp_path) as f:
        frame = f.sessions()
        summary = f.summary()
        redacted = f.sessions(redact=True)
    assert sorted(frame["session_id"]) == sorted(ids)
    assert str(frame["started_at"].dtype).startswith("datetime64")
    per_tech = frame.groupby("technician").size()
    assert summary.per_technician["sessions"].to_dict() == per_tech.to_dict()
    assert summary.per_technician["refusals"].sum() == frame["refusals"].sum()
    assert summary.per_day["sessions"].sum() == 40
    assert set(redacted["machine_hostname"]) == {fleet.REDACTED} and "machine_hostname" in f.personal
    assert "Per technician" in summary._repr_html_()


def test_the_fleet_notebook_draws_its_plots(tmp_path: Path) -> None:
    write_sessions(tmp_path, 60, days=14)
    SessionIndex.open(tmp_path).reindex()
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    os.environ["FLEET_DATA"] = str(tmp_path)
    try:
        NotebookClient(notebook, timeout=300, kernel_name="python3",
                       resources={"metadata": {"path": str(tmp_path)}}).execute()
    finally:
        del os.environ["FLEET_DATA"]
    images = [o for c in notebook.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if "image/png" in o.get("data", {})]
    assert len(images) == 5  # per day, durations, by playbook, refusals, latency by link
    html = [o["data"]["text/html"] for c in notebook.cells for o in c.get("outputs", [])
            if "text/html" in o.get("data", {})]
    assert any("Per technician" in h and "Alice Martin" in h for h in html)
