"""A short coverage-guided run (atheris/libFuzzer) of each fuzz target, as CI runs it.

A fixed number of inputs from a fixed seed, in a process of its own (libFuzzer owns the
process and exits it), so the run is repeatable: the same inputs on every machine with the
same code.  A finding fails the test with the input written under the test's temporary
folder and the traceback; keep the input as ``tests/data/fuzz/<target>/<what-it-broke>``
(then :mod:`tests.fuzz.test_fuzz_replay` replays it) and fix the code at its cause.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

#: Inputs per target: each run takes a few seconds here (well under 30 s on a loaded machine).
RUNS = {"frame": 30000, "hive": 15000}
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("target", sorted(RUNS))
def test_a_short_coverage_guided_run_finds_nothing(tmp_path: Path, target: str) -> None:
    artifacts = tmp_path / "found"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = subprocess.run([sys.executable, "-m", "tests.fuzz.run_atheris", target, "--runs", str(RUNS[target]),
                          "--seed", "1", "--artifacts", str(artifacts)],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    found = sorted(artifacts.glob("*")) if artifacts.exists() else []
    assert run.returncode == 0 and not found, (
        f"the {target} fuzzer found an input that raises (kept as {[str(p) for p in found]}); copy it to "
        f"tests/data/fuzz/{target}/ and fix the cause:\n{run.stderr[-4000:]}")
    assert f"Done {RUNS[target]} runs" in run.stderr, run.stderr[-2000:]
