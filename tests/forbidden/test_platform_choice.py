"""agent.forbidden: the walk is chosen once, by platform, and nothing POSIX-only is imported elsewhere."""

from __future__ import annotations

import json
import sys

import pytest

import agent.forbidden
from agent.forbidden import _posix_walk, folders
from agent.forbidden._windows_api import NO_WINDOWS_CALLS
from tests.files.harness import run_as_on_windows


@pytest.mark.skipif(sys.platform == "win32", reason="the POSIX walk is the one chosen on POSIX systems")
def test_on_posix_the_posix_walk_is_chosen() -> None:
    assert agent.forbidden.Guard is _posix_walk.Guard
    assert agent.forbidden.Location is _posix_walk.Location
    assert agent.forbidden.ForbiddenFolders is folders.ForbiddenFolders


def test_on_windows_the_windows_walk_is_chosen_and_nothing_posix_is_imported() -> None:
    out = run_as_on_windows("""
        import agent.files, agent.forbidden
        from wire.errors import Unsupported
        chosen = [agent.forbidden.Guard.__module__, agent.forbidden.ForbiddenFolders.__module__]
        folders = agent.forbidden.ForbiddenFolders()  # made without a system call
        refused = []
        for use in (lambda: folders.add("C:/Users"), lambda: agent.forbidden.Guard(None).locate("C:/Users")):
            try:
                use()
            except Unsupported as err:  # no kernel32 on this Linux
                refused.append(err.message)
        loaded = sorted(name for name in sys.modules if name.startswith("agent.forbidden."))
        not_loadable = []
        for posix_only in ("_posix", "_posix_walk", "folders", "links", "mounts"):
            try:
                __import__("agent.forbidden." + posix_only)
            except ImportError as err:
                not_loadable.append(str(err))
        print(json.dumps({"chosen": chosen, "refused": refused, "loaded": loaded, "not_loadable": not_loadable}))
    """)
    result = json.loads(out.strip().splitlines()[-1])
    assert result["chosen"] == ["agent.forbidden._windows_walk", "agent.forbidden._windows_folders"]
    assert result["refused"] == [NO_WINDOWS_CALLS] * 2
    assert result["loaded"] == ["agent.forbidden._windows_api", "agent.forbidden._windows_folders",
                                "agent.forbidden._windows_walk", "agent.forbidden.follow", "agent.forbidden.ntnames",
                                "agent.forbidden.rules"]
    assert len(result["not_loadable"]) == 5
    assert all(message.endswith("is POSIX-only") for message in result["not_loadable"])
