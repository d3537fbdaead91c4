"""The widget's JavaScript sources (workbench/widget_src/): unit tests, type check, fresh bundle.

Runs what `npm test` and `npm run check` run, and builds the bundle to a temporary file that
must equal the committed workbench/static/screen.js byte for byte.  Node, npm and the npm
packages (node_modules/) come from scripts/setup; without them these tests fail, not skip.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
BUNDLE = ROOT / "workbench" / "static" / "screen.js"
REBUILD = "npm run build (then commit workbench/static/screen.js)"


def _require(program: str) -> str:
    """The path of *program*; fails the test when it, or the npm packages, are missing."""
    found = shutil.which(program)
    if found is None:
        pytest.fail(f"{program} is not installed: run scripts/setup")
    for package in ("esbuild", "typescript"):
        if not (ROOT / "node_modules" / package / "package.json").is_file():
            pytest.fail(f"node_modules/{package} is missing: run scripts/setup (or npm ci)")
    return found


def _run(command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)


def test_js_unit_tests_pass() -> None:
    done = _run([_require("npm"), "test", "--silent"])
    assert done.returncode == 0, done.stdout + done.stderr
    assert "# fail 0" in done.stdout and "# pass 0" not in done.stdout


def test_js_sources_type_check() -> None:
    done = _run([_require("npm"), "run", "check", "--silent"])
    assert done.returncode == 0, done.stdout + done.stderr


def test_committed_bundle_is_up_to_date(tmp_path: Path) -> None:
    fresh = tmp_path / "screen.js"
    done = _run([_require("node"), "scripts/build_widget.mjs", str(fresh)])
    assert done.returncode == 0, done.stdout + done.stderr
    assert fresh.read_bytes() == BUNDLE.read_bytes(), (
        f"{BUNDLE.relative_to(ROOT)} is not what workbench/widget_src/ builds to: run {REBUILD}")
