"""A dry run through every changing namespace changes nothing, across real processes.

A real relay and a real agent (its dconf on a private session bus, so the
customer's "registry" is real dconf); the technician is this process, in a
dry-run view of the session (``s.with_dry_run(True)``).  Every changing call of
``s.files`` (write, edit, move, copy, delete, mkdir, upload, undo) and of
``s.registry`` (set, delete_value, delete_key, undo; on dconf and on a hive
file) answers a :class:`~workbench.planned.PlannedChange`; the checksums of the
files, of the hive file and of dconf's database are the same before and after;
the customer's console reads "Preview — nothing was changed"; the history marks
the previews; the customer's journal says ``planned`` and verifies.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.registry.regf_edit import new_hive
from tests.test_registry_dconf import session_env  # noqa: F401  (the fixture: dconf on a private bus)
from wire.chain import read_records, verify_file
from workbench import Forbidden, NotFound, connect
from workbench.lab import Proc, python_env, start_agent
from workbench.planned import PlannedChange

pytestmark = pytest.mark.e2e

PREVIEW = "Preview — nothing was changed: the technician would"


def checksums(*roots: Path) -> dict[str, str]:
    found: dict[str, str] = {}
    for root in roots:
        paths = [root] if root.is_file() else sorted(root.rglob("*"))
        for path in paths:
            found[str(path)] = "dir" if path.is_dir() else hashlib.sha256(path.read_bytes()).hexdigest()
    return found


@pytest.fixture
def customer(tmp_path: Path) -> Iterator[Path]:
    home = tmp_path / "customer"
    (home / "etc").mkdir(parents=True)
    (home / "etc" / "hosts").write_text("127.0.0.1 localhost\n10.6.6.6 www.bank.example\n")
    (home / "cache").mkdir()
    for i in range(3):
        (home / "cache" / f"blob{i}").write_bytes(bytes([i]) * 1000)
    (home / "private").mkdir()
    (home / "private" / "diary.txt").write_text("dear diary\n")
    (home / "SOFTWARE").write_bytes(new_hive("ROOT", ""))
    yield home


def test_a_dry_run_through_every_changing_namespace_changes_nothing(
        relay: tuple[Proc, str, Path], procs: list[Proc], customer: Path, tmp_path: Path,
        session_env: dict[str, str]) -> None:  # noqa: F811
    _, url, _ = relay
    env = python_env(**{k: session_env[k] for k in ("HOME", "XDG_CONFIG_HOME", "XDG_RUNTIME_DIR",
                                                     "XDG_CACHE_HOME", "DBUS_SESSION_BUS_ADDRESS")})
    data = tmp_path / "agent-data"
    agent, code = start_agent(url, data, "--forbid", str(customer / "private"), env=env)
    procs.append(agent)
    s = connect(code, relay=url, name="Alice")
    try:
        agent.wait_for(r"technician connected: Alice")
        hosts = customer / "etc" / "hosts"
        hive_file = customer / "SOFTWARE"
        # a real change first, on each store, so that the undos have something to plan
        s.registry.set("/wbdry/app", "mode", "normal", "REG_SZ")
        hive = s.registry.open_hive(str(hive_file))
        hive.set("Software\\Run", "Updater", "C:\\evil.exe", "REG_SZ")
        hive.set("Software\\Run", "Keep", "C:\\ok.exe", "REG_SZ")
        s.files.write(str(customer / "etc" / "hosts.bak"), hosts.read_text())
        dconf_db = Path(session_env["XDG_CONFIG_HOME"]) / "dconf" / "user"
        before = checksums(customer, dconf_db)

        dry = s.with_dry_run(True)
        assert dry is not s and dry.with_dry_run(True) is dry and dry.with_dry_run(False) is s
        assert s.with_dry_run(False) is s
        assert dry.files.read(str(hosts)) == hosts.read_text()  # reads run as usual
        edit = dry.files.edit(str(hosts), "10.6.6.6 www.bank.example\n", "")
        assert isinstance(edit, PlannedChange) and "-10.6.6.6 www.bank.example" in (edit.diff or "")
        write = dry.files.write(str(customer / "etc" / "resolv.conf"), "nameserver 9.9.9.9\n")
        assert isinstance(write, PlannedChange) and write.plan["created"] is True
        planned = [
            dry.files.delete(str(customer / "cache")),
            dry.files.move(str(customer / "cache" / "blob0"), str(customer / "etc") + "/"),
            dry.files.copy(str(customer / "cache"), str(customer / "cache2")),
            dry.files.mkdir(str(customer / "new" / "deeper"), parents=True),
            dry.files.undo(),
        ]
        local = tmp_path / "upload.bin"
        local.write_bytes(b"u" * 3_000_000)
        planned.append(dry.files.upload(local, str(customer / "etc" / "big.bin"), progress=False))
        planned.append(dry.files.write(str(customer / "etc" / "large.bin"), b"L" * 5_000_000))  # an upload, too
        planned += [
            dry.registry.set("/wbdry/app", "mode", "safe", "REG_SZ"),
            dry.registry.delete_value("/wbdry/app", "mode"),
            dry.registry.delete_key("/wbdry/"),
            dry.registry.undo(),
        ]
        dry_hive = dry.registry.open_hive(str(hive_file))
        planned += [
            dry_hive.delete_value("Software\\Run", "Updater"),
            dry_hive.set("Software\\Run", "Updater", "C:\\fixed.exe", "REG_SZ"),
            dry_hive.delete_key("Software"),
        ]
        assert all(isinstance(p, PlannedChange) for p in planned), planned
        undo = planned[4]
        assert isinstance(undo, PlannedChange) and undo.plan["undoes"].startswith("changed ")
        hive_delete = planned[-3]
        assert isinstance(hive_delete, PlannedChange)
        assert hive_delete.plan["before"]["data"] == "C:\\evil.exe" and hive_delete.plan["hive_path"] == str(hive_file)

        # refused as the real call would be: the customer's protected folder, a missing file
        with pytest.raises(Forbidden):
            dry.files.write(str(customer / "private" / "diary.txt"), "x")
        with pytest.raises(NotFound):
            dry.files.delete(str(customer / "nothing"))

        assert checksums(customer, dconf_db) == before  # nothing changed: files, the hive, dconf
        assert len(dry.planned_changes) == 2 + len(planned) and s.planned_changes == []
        assert "would" in repr(dry.planned_changes) and "<table>" in dry.planned_changes._repr_html_()
        previews = [r for r in s.history if r.preview]
        assert {r.outcome for r in previews} == {"ok", "planned", "error"}  # the reads, the plans, two refusals
        assert [r.method for r in previews if r.method == "files.upload"] == ["files.upload"]  # the open only

        agent.wait_for(PREVIEW + r" change the file .*resolv\.conf")
        dry.announce_playbook("hosts_fix", 2, 3, "Remove the bad line")
        agent.wait_for(r"playbook: hosts_fix — step 2 of 3: Remove the bad line")
        hive.close()
    finally:
        s.close()
    agent.wait_for(r"session ended")
    (journal,) = sorted((data / "journals").glob("*.jsonl"))
    assert verify_file(journal).ok
    records = read_records(journal)
    planned_outcomes = [r for r in records if r["kind"] == "outcome" and r.get("outcome") == "planned"]
    assert len(planned_outcomes) == 2 + len(planned)
    assert not any(r["kind"] == "call" and r["method"] == "files.upload_chunk" for r in records)
