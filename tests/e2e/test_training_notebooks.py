"""The training notebooks run top to bottom by nbclient, on a session the repository's script records.

``scripts/record-training-session --out DIR`` is run for real (relay, agent on Xvfb, the scripted
fault), so the committed notebooks are proved against a freshly recorded session as well as the
committed one (notebooks/training/data).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from workbench.lab import python_env

pytestmark = [pytest.mark.e2e, pytest.mark.needs("Xvfb", "xvfb")]

ROOT = Path(__file__).resolve().parents[2]
TRAINING = ROOT / "notebooks" / "training"
NOTEBOOKS = sorted(TRAINING.glob("*.ipynb"))


def run_notebooks(folder: Path) -> str:
    text = ""
    for path in NOTEBOOKS:
        notebook = nbformat.read(path, as_version=4)
        NotebookClient(notebook, timeout=300, kernel_name="python3",
                       resources={"metadata": {"path": str(folder)}}).execute()
        outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
        errors = [o for o in outputs if o.output_type == "error"]
        assert not errors, f"{path.name}: {errors[0].get('ename')}: {errors[0].get('evalue')}"
        text += "".join(o.get("text", "") for o in outputs)
        widgets = [o for o in outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
        assert len(widgets) >= 4, f"{path.name} shows {len(widgets)} widgets"
    return text


def test_at_least_two_training_notebooks_run_on_the_committed_session(tmp_path: Path) -> None:
    assert len(NOTEBOOKS) >= 2
    shutil.copytree(TRAINING / "data", tmp_path / "data")
    text = run_notebooks(tmp_path)
    assert "recording verifies" in text and "tied to the journal" in text
    assert (tmp_path / "fix.mp4").stat().st_size > 1000


def test_the_training_session_is_regenerated_by_one_command(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "record-training-session"),
                           "--out", str(tmp_path / "data")], capture_output=True, text=True, timeout=300,
                          env=python_env(), check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "recorded session" in done.stdout
    text = run_notebooks(tmp_path)
    assert "recording verifies" in text
