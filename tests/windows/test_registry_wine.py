"""T4 on Windows: the live registry (winreg) and an offline hive, through the Linux relay, the agent under Wine.

The live round trip is checked independently with Wine's own ``reg.exe``; the offline hive, a file
made on Linux (the product's own empty hive, tests/registry_support.py) and seen by the agent as
``Z:\\...``, is read back by regipy on Linux.

Offline hives are reached only through the customer's guard (C3, ``agent/forbidden/_windows_walk.py``):
the round trip runs on the Windows file layer (``agent/registry/_windows_hive_io.py``), and
``test_the_windows_hive_file_layer_under_wine`` runs that layer alone, under Wine, with a guard that lets
everything through (the walk itself is tested by tests/windows/test_files_wine.py).

What Wine cannot prove: registry virtualisation and UAC (HKLM writes as a standard user), the
``WOW6432Node`` redirection of 32-bit programs, and a hive held open by a running Windows (the live
SYSTEM answers a sharing violation on Windows; Wine keeps its registry in text files).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.registry_support import make_hive, regipy_values, sha256
from tests.windows.wine import WineHost, windows_path
from workbench import Session, connect
from workbench.lab import Proc

KEY = r"HKCU\Software\WorkbenchWine"


@pytest.fixture
def session(wine_host: WineHost, relay: tuple[Proc, str, Path], procs: list[Proc],
            tmp_path: Path) -> Iterator[Session]:
    _, url, _ = relay
    agent, code = wine_host.start_agent(url, tmp_path / "agent")
    procs.append(agent)
    s = connect(code, relay=url, name="Alice")
    try:
        yield s
    finally:
        s.close()


def reg_query(wine_host: WineHost, key: str) -> str:
    """What Wine's own reg.exe says of *key* (independent of the agent)."""
    done = wine_host.run_python("-c", f"import subprocess; print(subprocess.run(['reg', 'query', {key!r}], "
                                      "capture_output=True, text=True).stdout)")
    return done.stdout


def test_the_live_registry_round_trip(wine_host: WineHost, session: Session) -> None:
    s = session
    s.registry.set(KEY, "Greeting", "bonjour")
    s.registry.set(KEY, "Count", 7, type="REG_DWORD")
    values = s.registry.values(KEY)
    assert (values["Greeting"].type, values["Greeting"].data) == ("REG_SZ", "bonjour")
    assert (values["Count"].type, values["Count"].data) == ("REG_DWORD", 7)
    seen = reg_query(wine_host, KEY)
    assert "Greeting" in seen and "bonjour" in seen and "0x7" in seen, seen

    s.registry.delete_value(KEY, "Greeting")
    assert "Greeting" not in reg_query(wine_host, KEY)
    s.registry.undo()  # the value comes back, as it was
    assert s.registry.get(KEY, "Greeting").data == "bonjour"
    assert "bonjour" in reg_query(wine_host, KEY)

    s.registry.delete_key(KEY)
    assert "WorkbenchWine" not in s.registry.keys(r"HKCU\Software")
    s.registry.undo()
    assert s.registry.get(KEY, "Count").data == 7


def test_an_offline_hive_through_the_relay(wine_host: WineHost, session: Session, tmp_path: Path) -> None:
    (tmp_path / "broken").mkdir()
    hive_path = make_hive(tmp_path / "broken" / "SOFTWARE", root="ROOT")
    before = sha256(hive_path)
    with session.registry.open_hive(windows_path(hive_path)) as hive:
        hive.set(r"Microsoft\Windows\CurrentVersion\Run", "Helper", r"C:\Tools\helper.exe")
        assert hive.get(r"Microsoft\Windows\CurrentVersion\Run", "Helper").data == r"C:\Tools\helper.exe"
    assert regipy_values(hive_path, r"\Microsoft\Windows\CurrentVersion\Run")["Helper"] == r"C:\Tools\helper.exe"
    session.registry.undo()
    assert sha256(hive_path) == before


#: Runs in the download's python.exe: the Windows hive layer over a guard that lets everything through.
LAYER = r"""
import contextlib, json, os, sys
from agent.registry._windows_hive_io import HiveFile
from agent.registry.regf_edit import new_hive

class Open:
    def __init__(self, path):
        self.path, self.name = path, os.path.basename(path)
    def __enter__(self):
        return self
    def __exit__(self, *exc):
        return None

class LetThrough:  # the guard's shape (locate, open_file); agent/forbidden decides what it refuses
    def locate(self, path):
        return Open(os.path.realpath(path))
    def open_file(self, location):
        fd = os.open(location.path, os.O_RDONLY | os.O_BINARY)
        return fd, None, os.fstat(fd)

path = sys.argv[1]
hive = HiveFile(path, LetThrough)
with hive.reading() as reader:
    root = reader.root.name
first = hive.sha256()
hive.copy_to(path + ".backup")
hive.edit(lambda editor: editor.create_key(["Created on Windows"]))
edited = hive.sha256()
with hive.reading() as reader:
    names = [key.name for key in reader.subkeys(reader.root)]
hive.restore_from(path + ".backup", first)
leftovers = [n for n in os.listdir(os.path.dirname(path)) if n.endswith(".tmp")]
print(json.dumps({"root": root, "first": first, "edited": edited, "names": names, "restored": hive.sha256(),
                  "leftovers": leftovers}))
"""


def test_the_windows_hive_file_layer_under_wine(wine_host: WineHost, tmp_path: Path) -> None:
    (tmp_path / "hives").mkdir()
    hive_path = make_hive(tmp_path / "hives" / "SOFTWARE", root="ROOT")
    before = sha256(hive_path)
    script = tmp_path / "layer.py"
    script.write_text(LAYER, encoding="utf-8")
    done = wine_host.run_python(windows_path(script), windows_path(hive_path))
    assert done.returncode == 0, done.stdout
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["first"] == before and result["restored"] == before
    assert result["edited"] != before and result["names"] == ["Created on Windows"]
    assert result["leftovers"] == []  # the copy beside the hive was renamed over it, or removed
    assert sha256(hive_path) == before
