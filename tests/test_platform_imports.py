"""Every module the agent loads imports on Windows, macOS and a Linux without a display (issue 16).

Each target runs :mod:`tests.platform_probe` in a subprocess: ``sys.platform`` is
the target's, the ``os`` (``signal``, ``select``, ``socket``) names the target
lacks are deleted, POSIX-only modules are gone on Windows, and python-xlib is
gone everywhere; then every module of ``agent`` and ``wire`` is imported, and
``agent.app`` by name.  The probe's docstring says exactly what is imitated and
what is not (the standard library itself, ``os.name`` and path syntax).

Skipped, and only these: modules whose names say they are another platform's
backend (:data:`tests.platform_probe.BACKEND_PLATFORMS`): ``_x11*`` (loaded only
with a display: ``tests/e2e`` imports them on Xvfb), ``_posix*`` (not on
Windows), ``linux`` and ``dconf`` (Linux only), ``macos``, ``darwin`` and
``defaults`` (macOS only), ``windows``, ``win32`` and ``winreg*`` (Windows only).
So a module with such a name must be a backend, chosen in one place.

So a top-level ``import Xlib`` or ``os.O_NOFOLLOW`` in a shared module fails
here; :func:`test_the_probe_catches_x11_and_posix_only_code_in_a_shared_module`
shows that it does.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.platform_probe import other_platforms_backend

REPO = Path(__file__).resolve().parents[1]

#: What each per-platform choice gives on each target, as the probe reports it.
CHOICES = {
    # Windows has backends, but the imitation has no user32 to load: screen and overlay decline (None,
    # NullOverlay), listing windows says "unavailable", and control's Win32 API raises OSError, as Linux
    # without X does (tests/windows runs them all for real under Wine).
    "win32": {"screen watcher": "None", "window tracker": "None", "window list": "raises Unavailable",
              "overlay": "NullOverlay", "control": "raises OSError"},
    "darwin": {"screen watcher": "None", "window tracker": "None", "window list": "raises Unsupported",
               "overlay": "NullOverlay", "control": "raises Unsupported"},
    # Linux is an X11 platform: without a display, the choices say so rather than "unsupported".
    "linux": {"screen watcher": "None", "window tracker": "None", "window list": "raises Unavailable",
              "overlay": "NullOverlay", "control": "raises OSError"},
}


def probe(target: str, *extra: str, path: Path | None = None) -> dict[str, Any]:
    env = {key: value for key, value in os.environ.items() if key not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["PYTHONPATH"] = os.pathsep.join(str(p) for p in (REPO, path) if p is not None)
    done = subprocess.run([sys.executable, "-m", "tests.platform_probe", target, *extra], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


@pytest.mark.parametrize("target", ["win32", "darwin", "linux"])
def test_every_agent_module_imports_on(target: str) -> None:
    report = probe(target)
    assert report["platform"] == target
    assert report["failed"] == {}
    if target != "win32":
        assert report["declined"] == {}  # only Windows lacks POSIX
    imported = set(report["imported"])
    assert not set(report["declined"]) & imported
    assert {"agent.app", "agent.screen.backend", "agent.screen.tracking", "agent.control.backend",
            "agent.annotate.overlay", "agent.panel.window", "wire.errors"} <= imported
    assert not any(".x11" in name or "._x11" in name for name in imported)  # nothing of X11 was needed
    assert report["choices"] == CHOICES[target]


def test_each_platform_loads_its_own_backends_and_not_the_others() -> None:
    assert other_platforms_backend("agent.screen._x11_windows", "linux")
    assert other_platforms_backend("agent.registry.winreg_backend", "darwin")
    assert not other_platforms_backend("agent.registry.winreg_backend", "win32")
    assert other_platforms_backend("agent.inventory.linux", "win32")
    assert not other_platforms_backend("agent.inventory.linux", "linux")
    assert other_platforms_backend("agent.files._posix", "win32")
    assert not other_platforms_backend("agent.files._posix", "darwin")
    assert not other_platforms_backend("agent.screen.tracking", "win32")  # shared: imported everywhere


def test_the_probe_catches_x11_and_posix_only_code_in_a_shared_module(tmp_path: Path) -> None:
    (tmp_path / "canary_xlib.py").write_text("import Xlib.display\n")
    (tmp_path / "canary_nofollow.py").write_text("import os\n\nFLAGS = os.O_RDONLY | os.O_NOFOLLOW\n")
    (tmp_path / "canary_fcntl.py").write_text("import fcntl\n")
    report = probe("win32", "canary_xlib", "canary_nofollow", "canary_fcntl", path=tmp_path)
    failed = report["failed"]
    assert "ImportError" in failed["canary_xlib"] or "ModuleNotFoundError" in failed["canary_xlib"]
    assert "O_NOFOLLOW" in failed["canary_nofollow"]
    assert "fcntl" in failed["canary_fcntl"]
    on_linux = probe("linux", "canary_xlib", "canary_nofollow", "canary_fcntl", path=tmp_path)["failed"]
    assert set(on_linux) == {"canary_xlib"}  # POSIX code is fine on Linux; X11 is not, without a display


_AGENT_ON_WINDOWS = """
import json, sys
from pathlib import Path
from tests import platform_probe

platform_probe.walk(None, [])  # the libraries, on the real platform
platform_probe.imitate("win32")
from agent.app import AgentApp, AgentConfig
from agent.panel.terms import load_terms

data = Path(sys.argv[1])
app = AgentApp(AgentConfig(relay_url="ws://127.0.0.1:9", data_dir=data, terms=load_terms("en"),
                           accept_terms=True, forbid=[str(data / "private")]))
print(json.dumps({"folders": app.policy.forbidden_folders is None, "status": app.run()}))
"""


def test_the_agent_starts_on_windows_without_a_folder_walk_and_refuses_to_promise_one(tmp_path: Path) -> None:
    """Windows imitated on Linux has no kernel32, so no walk: the agent starts, and a ``--forbid`` it cannot
    keep stops it before consent (C3).  The real walk runs under Wine: tests/windows/test_files_wine.py."""
    (tmp_path / "private").mkdir()
    done = subprocess.run([sys.executable, "-c", _AGENT_ON_WINDOWS, str(tmp_path)], cwd=REPO,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"folders": True, "status": 2}
    assert f"cannot protect {tmp_path / 'private'}" in done.stderr
    assert not (tmp_path / "journals").exists()  # nothing journaled: consent was never recorded
