"""agent.forbidden: the walk is chosen once, by platform, and nothing POSIX-only is imported elsewhere."""

from __future__ import annotations

import json
import sys

import pytest

import agent.forbidden
from agent.forbidden import _posix_walk, folders
from tests.files.harness import run_as_on_windows


@pytest.mark.skipif(sys.platform == "win32", reason="the POSIX walk is the one chosen on POSIX systems")
def test_on_posix_the_posix_walk_is_chosen() -> None:
    assert agent.forbidden.Guard is _posix_walk.Guard
    assert agent.forbidden.Location is _posix_walk.Location
    assert agent.forbidden.ForbiddenFolders is folders.ForbiddenFolders


def test_on_windows_the_walk_is_unsupported_and_nothing_posix_is_imported() -> None:
    out = run_as_on_windows("""
        import agent.files, agent.forbidden
        from wire.errors import Unsupported
        refused = []
        for make in (lambda: agent.forbidden.Guard(None, private=[], home=None), agent.forbidden.ForbiddenFolders):
            try:
                make()
            except Unsupported as err:
                refused.append(err.message)
        loaded = sorted(name for name in sys.modules if name.startswith("agent.forbidden."))
        not_loadable = []
        for posix_only in ("_posix", "_posix_walk", "folders", "links", "mounts"):
            try:
                __import__("agent.forbidden." + posix_only)
            except ImportError as err:
                not_loadable.append(str(err))
        print(json.dumps({"refused": refused, "loaded": loaded, "not_loadable": not_loadable}))
    """)
    result = json.loads(out.strip().splitlines()[-1])
    assert result["refused"] == ["file access is not available on this operating system yet"] * 2
    assert result["loaded"] == ["agent.forbidden._unsupported", "agent.forbidden.rules"]
    # Each refuses to load (the first POSIX-only module on its import path says so).
    assert len(result["not_loadable"]) == 5
    assert all(message.endswith("is POSIX-only") for message in result["not_loadable"])
