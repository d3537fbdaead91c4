"""agent.registry: the backends are chosen once, by platform, and nothing is imported where it cannot load.

On Windows (simulated: ``sys.platform`` is "win32" and the ``os`` names Windows lacks are removed, so an
import-time ``os.O_NOFOLLOW`` or ``os.pread`` anywhere the agent loads there fails the test) the live
backend is the winreg one and offline hives go through the Windows file layer, which reaches a hive only
through the guard (``unsupported`` while the guard has no Windows walk: never an unguarded read); on Linux
the live backend is dconf, hives open through the POSIX layer, and ``winreg`` is never imported.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from agent.forbidden._windows_api import NO_WINDOWS_CALLS
from agent.registry import choice
from agent.registry.dconf import DconfBackend
from agent.registry.defaults import DefaultsBackend
from tests.files.harness import run_as_on_windows

#: Calls the method table through a real dispatcher (each reply as the wire carries it) and prints what
#: the agent answered, which agent.registry modules it loaded, and which modules of the package load.
_PROBE = """
    import hashlib, importlib, pkgutil
    from pathlib import Path
    import agent.registry
    from agent.dispatch import Dispatcher, MethodTable
    from agent.journal import Journal
    from agent.policy import Policy
    from agent.registry.regf_edit import new_hive
    from agent.registry.undo import UndoStore
    from wire import protocol
    from wire.errors import error_from_wire

    root = Path(tempfile.mkdtemp())
    hive = root / "SOFTWARE"
    hive.write_bytes(new_hive())  # a sound hive: a refusal is about the platform, not the file
    journal = Journal(root / "journal.jsonl")
    dispatcher = Dispatcher(MethodTable(agent.registry.METHODS), journal, Policy(), root / "state", lambda words: None)

    def call(method, **params):
        request = protocol.decode(protocol.encode(protocol.request("r-" + method, method, params)))
        reply = protocol.decode(protocol.encode(asyncio.run(dispatcher.handle(request))))
        if reply.type == "error":
            error = error_from_wire(reply.fields)
            return [error.code, error.message]
        return reply["result"]

    answers = {"open_hive": call("registry.open_hive", path=str(hive))}
    answers["keys_in_hive"] = call("registry.keys", hive="hive-1", path="")
    answers["hives"] = call("registry.hives")
    # a hive change left to undo (its backup made where hives open): undoing it needs the hive file too
    store = UndoStore(root / "state" / "registry-undo")
    slot = store.begin()
    (slot / "hive").write_bytes(hive.read_bytes())
    store.save(slot, {"backend": "hive", "hive_path": str(hive), "key": ["A"], "name": None,
                      "before": {"sha256": hashlib.sha256(hive.read_bytes()).hexdigest(), "file": "hive"},
                      "words": "created the key A"})
    answers["undo_hive_change"] = call("registry.undo")
    dispatcher.close()
    journal.close()
    loaded = sorted(name for name in sys.modules if name.startswith("agent.registry"))
    live = type(agent.registry.REGISTRY.live())
    not_loadable = {}
    for module in pkgutil.iter_modules(agent.registry.__path__, "agent.registry."):
        try:
            importlib.import_module(module.name)
        except ImportError as err:
            not_loadable[module.name] = str(err)
    print(json.dumps({"answers": answers, "loaded": loaded, "live": f"{live.__module__}.{live.__name__}",
                      "not_loadable": not_loadable, "winreg": "winreg" in sys.modules}))
"""

#: Loaded on every platform by ``import agent.registry`` and the calls above, whatever the backend.
_SHARED = ["agent.registry", "agent.registry.backend", "agent.registry.choice", "agent.registry.hive",
           "agent.registry.model", "agent.registry.paths", "agent.registry.planning", "agent.registry.regf",
           "agent.registry.regf_edit", "agent.registry.regf_salvage", "agent.registry.service", "agent.registry.undo"]


def _last_json(out: str) -> dict[str, object]:
    result: dict[str, object] = json.loads(out.strip().splitlines()[-1])
    return result


def test_on_windows_the_winreg_backend_is_chosen_and_offline_hives_go_through_the_guard() -> None:
    out = run_as_on_windows("""
        import types
        # A stand-in for Windows' winreg module, ONLY so that the live backend's import of it can resolve
        # here: it has none of winreg's functions, and the live winreg itself cannot run on this machine
        # (test_registry_winreg.py runs the adapter over a stand-in that behaves like the registry).
        winreg = types.ModuleType("winreg")
        winreg.KEY_WOW64_64KEY = 0x0100
        sys.modules["winreg"] = winreg
    """ + textwrap.dedent(_PROBE))
    result = _last_json(out)
    answers = result["answers"]
    assert isinstance(answers, dict)
    # The Windows guard is chosen; this imitation has no kernel32 for it, so it refuses rather than reach a
    # file unguarded (tests/windows/test_registry_wine.py runs the whole round trip under Wine).
    assert answers["open_hive"] == ["unsupported", NO_WINDOWS_CALLS], answers
    assert answers["undo_hive_change"][0] == "unsupported"
    assert answers["keys_in_hive"][0] == "not_found"  # no hive can have been opened
    assert answers["hives"] == {"hives": [], "backend": "winreg"}
    assert result["live"] == "agent.registry.winreg_backend.WinregBackend"
    # Neither the other OSes' backends nor the POSIX file layer is loaded on Windows.
    assert result["loaded"] == sorted([*_SHARED, "agent.registry._windows_hive_io", "agent.registry.winreg_backend"])
    # Every module of the package loads there but the POSIX layer, which refuses to (so this cannot change
    # by accident); dconf and defaults load too, unused.
    assert result["not_loadable"] == {"agent.registry._posix_hive_io": "agent.registry._posix_hive_io is POSIX-only"}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="dconf is the live backend on Linux")
def test_on_linux_dconf_is_chosen_hives_open_and_winreg_is_never_imported() -> None:
    prelude = textwrap.dedent(f"""
        import asyncio, json, sys, tempfile
        sys.path.insert(0, {str(Path(__file__).resolve().parents[1])!r})
    """)
    run = subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(_PROBE)], capture_output=True, text=True,
                         timeout=120, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    assert run.returncode == 0, run.stderr
    result = _last_json(run.stdout)
    answers = result["answers"]
    assert isinstance(answers, dict)
    assert answers["open_hive"]["hive"] == "hive-1" and answers["open_hive"]["writable"] is True
    assert answers["keys_in_hive"] == {"hive": "hive-1", "path": "", "key": [], "keys": [], "hidden": 0}
    assert answers["hives"]["backend"] == "dconf"
    assert answers["undo_hive_change"]["undone"] == "created the key A"
    assert answers["undo_hive_change"]["hive_path"] == answers["open_hive"]["path"]
    assert result["live"] == "agent.registry.dconf.DconfBackend"
    assert result["winreg"] is False
    assert result["loaded"] == sorted([*_SHARED, "agent.registry._posix_hive_io", "agent.registry.dconf"])
    # Everything loads on Linux, the winreg adapter included (it imports winreg only when made), but the
    # Windows file layer of hives, which refuses to (so this cannot change by accident).
    assert result["not_loadable"] == {
        "agent.registry._windows_hive_io": "agent.registry._windows_hive_io is Windows-only"}


@pytest.mark.skipif(sys.platform == "win32", reason="off Windows, nothing provides winreg")
def test_the_live_backend_is_chosen_by_platform_name() -> None:
    assert isinstance(choice.live_backend("linux"), DconfBackend)
    assert isinstance(choice.live_backend("darwin"), DefaultsBackend)
    with pytest.raises(ImportError):  # winreg exists only on Windows, and nothing here fakes it
        choice.live_backend("win32")
