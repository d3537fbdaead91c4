"""The house rules the code is held to, checked on every run: ruff, and mypy --strict for every platform.

mypy runs three times, as it would on Linux, Windows and macOS (``--platform``): typeshed knows
which ``os``, ``select`` and ``signal`` names each system has, so a POSIX-only call in code
that runs on Windows (``os.pread`` in the technician's download, ``os.posix_fallocate`` on
macOS) fails here, on this Linux machine.  ``tests/test_platform_imports.py`` checks the
other half: that the agent's modules import on each platform.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=REPO, capture_output=True, text=True, timeout=600,
                          check=False)


def test_ruff_finds_nothing() -> None:
    done = _run("ruff", "check", ".")
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("platform", ["linux", "win32", "darwin"])
def test_mypy_strict_is_clean_for(platform: str, tmp_path: Path) -> None:
    """The packages listed in pyproject.toml ([tool.mypy]), type-checked as on *platform*."""
    done = _run("mypy", "--platform", platform, "--cache-dir", str(tmp_path / "cache"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Success: no issues found" in done.stdout
