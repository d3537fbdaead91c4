"""R4 on Windows: ``s.inventory()`` against the agent under Wine, through the Linux relay.

Every fact must carry a status and a source; what Wine can give is ``ok``. Wine has no working
PowerShell (its stub prints nothing), so the OS and machine facts come from the registry and
``RtlGetVersion`` (agent/inventory/windows_native.py), each saying why CIM did not answer. psutil cannot
name processes under Wine (WinError 87 from NtQuerySystemInformation): that is an honest
``unavailable`` with the reason, not a crash.

What Wine cannot prove: CIM through a real PowerShell (the parsing is held by
tests/test_inventory_windows.py with documented outputs), the SMBIOS serial number, and the values of
a real machine (Wine's registry says what Wine pretends to be).
"""

from __future__ import annotations

from pathlib import Path

from tests.windows.wine import WineHost
from workbench import connect
from workbench.lab import Proc


def test_every_fact_has_its_status_and_source(wine_host: WineHost, relay: tuple[Proc, str, Path],
                                              procs: list[Proc], tmp_path: Path) -> None:
    _, url, _ = relay
    agent, code = wine_host.start_agent(url, tmp_path / "agent")
    procs.append(agent)
    s = connect(code, relay=url, name="Alice")
    facts = list(s.inventory())
    s.close()
    assert facts
    assert all(f.status in ("ok", "unavailable", "denied", "unsupported") and f.source for f in facts), facts
    assert all(f.status == "ok" or f.detail for f in facts), [f for f in facts if not f.detail]
    by_name = {f.name: f for f in facts}
    for name in ("os.edition", "os.version", "os.build", "os.service_pack", "os.kernel", "os.architecture",
                 "machine.hostname", "disk.free", "browsers"):
        assert by_name[name].status == "ok", by_name[name]
    assert "Windows" in str(by_name["os.edition"].value), by_name["os.edition"]  # Wine says "Microsoft Windows 7"
    assert "registry" in by_name["os.edition"].source  # Wine's PowerShell gives nothing: the registry did
    processes = by_name["processes"]
    assert processes.status == "ok" or "87" in str(processes.detail), processes
    assert processes.personal and by_name["machine.serial"].personal
