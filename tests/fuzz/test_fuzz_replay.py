"""Every input the fuzzers ever found, replayed: each must now be accepted or refused with its documented error.

The files are under ``tests/data/fuzz/<target>/`` (targets: :mod:`tests.fuzz.targets`), one
input each, named after what it broke.  A file here is never deleted: it is the regression test.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fuzz.targets import TARGETS

DATA = Path(__file__).resolve().parent.parent / "data" / "fuzz"
CASES = sorted(path for target in TARGETS for path in (DATA / target).iterdir() if path.is_file())


def test_every_target_has_its_folder() -> None:
    assert sorted(p.name for p in DATA.iterdir() if p.is_dir()) == sorted(TARGETS)
    assert CASES, "no kept case at all: the replay would prove nothing"


@pytest.mark.parametrize("path", CASES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_a_kept_case_is_handled(path: Path) -> None:
    TARGETS[path.parent.name](path.read_bytes())
