"""Each role imports only its own package, the wire and its own dependencies.

The installs themselves are checked in ``tests/e2e/test_roles_install.py``; this is
the cheap check that runs with every suite: each import happens in a fresh
interpreter, which then reports every module it loaded.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

_REPORT = """
import importlib, json, pkgutil, sys
before = set(sys.modules)
for name in sys.argv[1:]:
    if name.endswith(".*"):  # the package and every module under it
        package = importlib.import_module(name[:-2])
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if info.name.rsplit(".", 1)[-1].startswith("_windows") and sys.platform != "win32":
                continue  # Windows-only backends refuse to load elsewhere (tests/test_platform_imports.py)
            importlib.import_module(info.name)
    else:
        importlib.import_module(name)
print(json.dumps({"loaded": sorted(set(sys.modules) - before), "all": sorted(sys.modules)}))
"""


def modules_loaded(*names: str) -> tuple[set[str], set[str]]:
    """Import *names* (``pkg.*``: a package with all its modules) in a fresh interpreter.

    Returns the modules the imports loaded and all the modules the interpreter then holds.
    """
    done = subprocess.run([sys.executable, "-c", _REPORT, *names], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    return set(report["loaded"]), set(report["all"])


def offenders(modules: set[str], forbidden: tuple[str, ...]) -> list[str]:
    """The *modules* that are one of *forbidden* or inside it (a trailing ``*`` matches a name's start)."""
    found = []
    for module in modules:
        top = module.split(".")[0]
        for name in forbidden:
            if (top.startswith(name[:-1]) if name.endswith("*") else top == name):
                found.append(module)
    return sorted(found)


GUI = ("tkinter", "_tkinter", "Xlib", "mss", "PIL", "numpy")
JUPYTER = ("IPython", "ipywidgets", "anywidget", "jupyter*", "ipykernel", "traitlets", "comm", "notebook")

#: What a technician's notebook imports: the API, what it returns, and the demo helpers the notebooks use.
NOTEBOOK_MODULES = ("workbench", "workbench.proxy", "workbench.client", "workbench.calls", "workbench.files",
                    "workbench.registry", "workbench.inventory", "workbench.control", "workbench.annotate",
                    "workbench.history", "workbench.widget", "workbench.demo", "workbench.lab",
                    "workbench.recordings")


def test_the_wire_needs_only_the_standard_library() -> None:
    loaded, _ = modules_loaded("wire.*")
    assert "wire.protocol" in loaded and "wire.facts" in loaded
    stdlib = set(sys.stdlib_module_names)
    outside = sorted(m for m in loaded if m.split(".")[0] not in stdlib and m.split(".")[0] != "wire")
    assert outside == []


def test_the_relay_loads_nothing_of_the_agent_the_workbench_the_gui_or_jupyter() -> None:
    loaded, everything = modules_loaded("relay.*")
    assert {"relay.server", "relay.pairing", "relay.records", "relay.cli"} <= loaded
    assert "websockets" in everything
    assert offenders(everything, ("agent", "workbench", "screenfmt", *GUI, *JUPYTER)) == []


def test_the_screen_decoder_loads_nothing_of_a_role_or_jupyter() -> None:
    """screenfmt is shared by the agent's reference viewer and the technician's replay: numpy and Pillow only."""
    loaded, everything = modules_loaded("screenfmt.*")
    assert {"screenfmt.rects", "numpy", "PIL.Image"} <= everything and "screenfmt.rects" in loaded
    assert offenders(everything, ("agent", "relay", "workbench", "tkinter", "_tkinter", "Xlib", "mss",
                                  *JUPYTER)) == []


def test_the_agent_loads_nothing_of_the_workbench_the_relay_or_jupyter() -> None:
    loaded, everything = modules_loaded("agent.app", "agent.*")
    assert {"agent.app", "agent.cli", "agent.inventory.browser_settings"} <= loaded
    assert offenders(everything, ("workbench", "relay", *JUPYTER)) == []


@pytest.mark.parametrize("module", NOTEBOOK_MODULES)
def test_the_technicians_notebook_modules_load_nothing_of_the_agent_or_the_relay(module: str) -> None:
    _, everything = modules_loaded(module)
    assert module in everything
    # the technician views screens through the widget (pillow only), never captures or drives one
    assert offenders(everything, ("agent", "relay", "tkinter", "_tkinter", "Xlib", "mss")) == []


def test_offenders_matches_packages_and_prefixes() -> None:
    assert offenders({"agent", "agent.app", "agents", "jupyter_core.paths", "json"}, ("agent", "jupyter*")) == [
        "agent", "agent.app", "jupyter_core.paths"]
