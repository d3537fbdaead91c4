"""Dry runs with the Windows agent under Wine: a preview of write, edit, delete, move and mkdir changes nothing.

The customer's download runs under Wine with ``--forbid`` on a folder; the
technician is a dry-run view of the session.  The plans come back (the diff,
the paths, the sizes), the files are byte for byte as before (checked on the
Linux side), the agent's own undo folder holds no record, and the protected
folder is refused in a preview as in a real call.

What Wine cannot prove: NTFS's own file ids (Wine reports the Linux inode), the
rename of a folder held open (Wine allows it, Windows does not), and whether a
preview's checks would meet an ACL Windows enforces (Wine has no ACLs); the
planners' checks are those of the real handlers, which the other Windows tests
exercise.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tests.windows.wine import WineHost, windows_path
from workbench import Forbidden, connect
from workbench.lab import Proc
from workbench.planned import PlannedChange


def checksums(root: Path) -> dict[str, str]:
    return {str(p): "dir" if p.is_dir() else hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*"))}


def test_a_preview_of_write_and_delete_changes_nothing_on_windows(wine_host: WineHost, relay: tuple[Proc, str, Path],
                                                                   procs: list[Proc], tmp_path: Path) -> None:
    _, url, _ = relay
    customer = tmp_path / "customer"
    (customer / "etc").mkdir(parents=True)
    hosts = customer / "etc" / "hosts"
    hosts.write_bytes(b"127.0.0.1 localhost\r\n10.6.6.6 bank.example\r\n")
    (customer / "private").mkdir()
    (customer / "private" / "secret.txt").write_text("secret")
    agent, code = wine_host.start_agent(url, tmp_path / "agent", "--forbid", windows_path(customer / "private"))
    procs.append(agent)
    s = connect(code, relay=url, name="Alice")
    try:
        agent.wait_for(r"Alice")
        dry = s.with_dry_run(True)
        before = checksums(customer)
        win_hosts = windows_path(hosts)
        write = dry.files.write(win_hosts, "127.0.0.1 localhost\r\n")
        assert isinstance(write, PlannedChange) and write.plan["size_before"] == hosts.stat().st_size
        assert "-10.6.6.6 bank.example" in (write.diff or "")
        edit = dry.files.edit(win_hosts, "10.6.6.6 bank.example\r\n", "")
        assert isinstance(edit, PlannedChange) and edit.plan["size_after"] == len(b"127.0.0.1 localhost\r\n")
        delete = dry.files.delete(windows_path(customer / "etc"))
        assert isinstance(delete, PlannedChange) and delete.plan["kind"] == "folder"
        move = dry.files.move(win_hosts, windows_path(customer / "hosts.old"))
        assert isinstance(move, PlannedChange) and move.plan["dst"].endswith("hosts.old")
        mkdir = dry.files.mkdir(windows_path(customer / "a" / "b"), parents=True)
        assert isinstance(mkdir, PlannedChange) and len(mkdir.plan["created"]) == 2
        with pytest.raises(Forbidden):
            dry.files.write(windows_path(customer / "private" / "secret.txt"), "x")
        with pytest.raises(Forbidden):
            dry.files.delete(windows_path(customer / "private"))
        assert checksums(customer) == before
        assert [p for p in (tmp_path / "agent").rglob("changes/*")] == []  # no undo record was written
        agent.wait_for(r"Preview — nothing was changed: the technician would change the file")
        s.files.write(win_hosts, "127.0.0.1 localhost\r\n")  # the real call: it succeeds, and is kept for undo
        assert hosts.read_bytes() == b"127.0.0.1 localhost\r\n"
        assert len(list((tmp_path / "agent").rglob("changes/*"))) == 1
    finally:
        s.close()
