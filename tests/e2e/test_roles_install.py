"""Each role installs alone: ``pip install .[relay]``, ``.[agent]``, ``.[technician]`` into a fresh venv.

One venv, filled in the order a skeptic would: first the relay's extra alone
(only websockets and blake3, the recording's payload hash, arrive, and a relay
started from it listens), then the
agent's (nothing of Jupyter arrives, and an agent started from it pairs through
that relay with a technician), while pip resolves the technician's extra in a
dry run (JupyterLab, but neither python-xlib nor mss).  The project is copied
out of the checkout first so that the build leaves nothing in it, and the venv's
processes run without PYTHONPATH and outside the checkout, so they can only
import what pip installed.  Needs the package index pip is configured with.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from workbench import connect
from workbench.lab import Proc

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]

#: Distributions of the agent's screen and panel: never on a relay server.
GUI = ("python-xlib", "mss", "pillow", "numpy", "simplejpeg", "tk*", "*tkinter*")
#: Distributions of JupyterLab and its widgets: never on a customer's PC nor on a relay.
JUPYTER = ("jupyter*", "ipywidgets", "anywidget", "notebook", "ipykernel", "ipython", "widgetsnbextension",
           "traitlets", "comm", "nbformat", "nbclient")


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def matching(names: set[str], patterns: tuple[str, ...]) -> list[str]:
    """The *names* that match one of the *patterns* (``*`` at either end matches anything there)."""
    def match(name: str, pattern: str) -> bool:
        core = pattern.strip("*")
        if pattern.startswith("*") and pattern.endswith("*"):
            return core in name
        if pattern.endswith("*"):
            return name.startswith(core)
        return name == pattern
    return sorted(n for n in names if any(match(n, p) for p in patterns))


def venv_env() -> dict[str, str]:
    """This environment without PYTHONPATH: the venv's processes see only what pip put in it."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    return {**env, "PYTHONUNBUFFERED": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}


class Venv:
    def __init__(self, path: Path) -> None:
        subprocess.run([sys.executable, "-m", "venv", str(path)], check=True, capture_output=True, timeout=120)
        self.path = path
        self.python = str(path / "bin/python")

    def run(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([self.python, *args], cwd=self.path, env=venv_env(), capture_output=True, text=True,
                              timeout=timeout)
        assert done.returncode == 0, f"{args} failed:\n{done.stdout}\n{done.stderr}"
        return done

    def pip(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.run("-m", "pip", *args, "--quiet")

    def distributions(self) -> set[str]:
        listed = json.loads(self.run("-m", "pip", "list", "--format=json").stdout)
        return {normalized(d["name"]) for d in listed}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the project's installable parts (the build writes egg-info next to its sources)."""
    source = tmp_path / "project"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    for package in ("wire", "screenfmt", "agent", "relay", "workbench"):
        shutil.copytree(ROOT / package, source / package, ignore=shutil.ignore_patterns("__pycache__"))
    return source


def test_each_role_installs_alone(project: Path, tmp_path: Path, procs: list[Proc]) -> None:
    venv = Venv(tmp_path / "venv")
    # the technician's resolution runs beside the real installs: it only reads package metadata
    report = tmp_path / "technician.json"
    technician = subprocess.Popen(
        [venv.python, "-m", "pip", "install", "--quiet", "--dry-run", "--ignore-installed", "--report", str(report),
         f"{project}[technician]"], cwd=tmp_path, env=venv_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)
    try:
        baseline = venv.distributions()  # pip and what python -m venv puts beside it

        venv.pip("install", f"{project}[relay]")
        relay_only = venv.distributions() - baseline
        # blake3 hashes the recording's payloads (wire/recording.py); its wheel requires typing-extensions.
        assert relay_only - {"typing-extensions"} == {"workbench", "websockets", "blake3"}
        assert matching(relay_only, GUI + JUPYTER) == []
        assert "--data" in subprocess.run([str(venv.path / "bin/workbench-relay"), "--help"], env=venv_env(),
                                          cwd=tmp_path, capture_output=True, text=True, check=True).stdout
        relay = Proc([str(venv.path / "bin/workbench-relay"), "--port", "0", "--data", str(tmp_path / "relay-data")],
                     env=venv_env(), name="relay")
        procs.append(relay)
        url = relay.wait_for(r"relay listening on (\S+)", timeout=60).group(1)

        venv.pip("install", f"{project}[agent]")
        agent_install = venv.distributions() - baseline
        assert {"mss", "numpy", "pillow", "lz4", "websockets"} <= agent_install
        assert ("python-xlib" in agent_install) == sys.platform.startswith("linux")
        assert matching(agent_install, JUPYTER) == []
        venv.run("-c", "import agent.app, agent.cli, agent.inventory.browser_settings")
        loaded = venv.run("-c", "import sys, agent.app; print(sys.modules['agent'].__file__)").stdout
        assert loaded.startswith(str(venv.path))  # the installed copy, not the checkout

        agent = Proc([str(venv.path / "bin/workbench-agent"), "--relay", url, "--data", str(tmp_path / "agent-data"),
                      "--accept-terms", "--no-window"], env=venv_env(), name="agent")
        procs.append(agent)
        code = agent.wait_for(r"session code: (\d{3} \d{3} \d{3})", timeout=60).group(1)
        session = connect(code, relay=url, name="Alice")  # the technician, from this test's environment
        agent.wait_for(r"Alice")
        assert session.ping() > 0
        session.close()
        assert agent.wait(30) == 0

        out, err = technician.communicate(timeout=300)
        assert technician.returncode == 0, f"{out}\n{err}"
    finally:
        if technician.poll() is None:
            technician.kill()
            technician.communicate()
    resolved = {normalized(item["metadata"]["name"]) for item in json.loads(report.read_text())["install"]}
    assert {"workbench", "jupyterlab", "anywidget", "ipywidgets", "websockets", "pillow"} <= resolved
    assert matching(resolved, ("python-xlib", "mss", "simplejpeg", "lz4")) == []


def test_matching() -> None:
    names = {"jupyterlab", "jupyter-core", "tk", "customtkinter", "pillow", "notebook-shim", "websockets"}
    assert matching(names, GUI + JUPYTER) == ["customtkinter", "jupyter-core", "jupyterlab", "pillow", "tk"]
