"""agent.forbidden.rules: a protected thing is known by what it is, its identity."""

from __future__ import annotations

import os
from pathlib import Path

from agent.forbidden import Identity


def test_identity_is_device_and_inode(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    st = os.stat(tmp_path / "d")
    assert Identity.of(st) == Identity(st.st_dev, st.st_ino)
