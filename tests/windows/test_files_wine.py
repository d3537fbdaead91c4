"""Files (T3) and forbidden folders (C3) with the Windows agent under Wine, through the Linux relay.

The customer's download runs under Wine with ``--forbid`` on a folder; the
technician is this test process (:func:`workbench.connect`, ``s.files``).
The Windows attack list is tried against that folder, each way asserting the
error code the technician gets, and plain work outside it is done and checked
on the Linux side (the bytes on disk are what Wine wrote).

What Wine shows, and what it cannot:

* identity is real here, but not NTFS's: the file id Wine reports is the
  Linux inode and the volume serial is Wine's per device (the ``Z:`` drive
  and a ``dosdevices`` alias of the same folder give the same pair, which is
  what a ``subst`` drive does on Windows);
* 8.3 short names: Wine makes none on disk, but answers ``GetShortPathNameW``
  with a hashed short name (``PROT~XYZ``, not ``PROTEC~1``) and opens by it;
  that short name is the one tried.  ``PROGRA~1``-style names do not exist
  under Wine: :mod:`tests.forbidden.test_ntnames` holds Windows' own forms;
* alternate data streams do not exist (Wine would make a file named
  ``a.txt:s``): refused by syntax before Wine is asked, as on Windows;
* junctions and symbolic links cannot be made (``FSCTL_SET_REPARSE_POINT``
  answers ERROR_NOT_SUPPORTED, ``os.symlink`` fails): the test says so by
  trying; a Linux symbolic link is shown by Wine as the folder it leads to,
  so it is caught by identity, not as a reparse point.  The reparse-tag logic
  is held by the unit tests;
* Wine 8 has no ``FindFirstFileNameW``: hard links are refused through the
  index of the protected folder's multi-link files (made again when an
  unknown multi-link file is met), not by listing the file's other names;
* holding a folder open does not stop its rename under Wine (it does on
  Windows): what that would prove is not proven here.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pytest

from tests.windows.wine import WineHost, windows_path
from workbench import Forbidden, NotFound, WorkbenchError, connect
from workbench.lab import Proc

_SHORT_NAME = r"""
import ctypes, sys
buffer = ctypes.create_unicode_buffer(1024)
n = ctypes.windll.kernel32.GetShortPathNameW(sys.argv[1], buffer, 1024)
print("SHORT=" + buffer.value if n else "SHORT-ERROR")
"""

_JUNCTION = r"""
import ctypes, os, struct, sys
from ctypes import wintypes as w
k = ctypes.WinDLL("kernel32", use_last_error=True)
k.CreateFileW.restype = w.HANDLE
k.CreateFileW.argtypes = [w.LPCWSTR, w.DWORD, w.DWORD, ctypes.c_void_p, w.DWORD, w.DWORD, w.HANDLE]
k.DeviceIoControl.argtypes = [w.HANDLE, w.DWORD, ctypes.c_char_p, w.DWORD, ctypes.c_void_p, w.DWORD,
                              ctypes.POINTER(w.DWORD), ctypes.c_void_p]
where, target = sys.argv[1], sys.argv[2]
os.mkdir(where)
nt = ("\\??\\" + target).encode("utf-16-le")
shown = target.encode("utf-16-le")
body = struct.pack("<HHHH", 0, len(nt), len(nt) + 2, len(shown)) + nt + b"\0\0" + shown + b"\0\0"
buffer = struct.pack("<IHH", 0xA0000003, len(body), 0) + body
h = k.CreateFileW(where, 0x40000000, 7, None, 3, 0x02000000 | 0x00200000, None)
done = w.DWORD()
ok = k.DeviceIoControl(h, 0x000900A4, buffer, len(buffer), None, 0, ctypes.byref(done), None)
print("JUNCTION=" + ("made" if ok else str(ctypes.get_last_error())))
"""


def _code(call: object) -> str:
    try:
        call()  # type: ignore[operator]
    except WorkbenchError as err:
        return f"{err.code}: {err}"
    return "no error"


@pytest.fixture()
def disk(tmp_path: Path) -> Path:
    root = tmp_path / "disk"
    (root / "protected-folder" / "sub").mkdir(parents=True)
    (root / "protected-folder" / "secret.txt").write_text("the customer's secret\n")
    (root / "open").mkdir()
    (root / "open" / "a.txt").write_text("hello from the customer\n")
    os.link(root / "protected-folder" / "secret.txt", root / "open" / "early-link.txt")  # before --forbid
    os.symlink(root / "protected-folder", root / "open" / "linux-symlink")
    return root


def test_files_and_the_windows_attack_list_under_wine(wine_host: WineHost, relay: tuple[Proc, str, Path],
                                                      procs: list[Proc], tmp_path: Path, disk: Path) -> None:
    _, url, _ = relay
    alias = wine_host.prefix / "dosdevices" / "y:"
    alias.unlink(missing_ok=True)
    alias.symlink_to(disk)  # Y: is another name for the disk folder, as a subst or mapped drive would be
    try:
        _run(wine_host, url, procs, tmp_path, disk)
    finally:
        alias.unlink(missing_ok=True)


def _run(wine_host: WineHost, url: str, procs: list[Proc], tmp_path: Path, disk: Path) -> None:
    win = windows_path(disk)
    protected = win + r"\protected-folder"
    short = wine_host.run_python("-c", _SHORT_NAME, protected).stdout
    assert "SHORT=" in short, short
    short_path = short.split("SHORT=", 1)[1].strip()
    assert short_path.upper() != protected.upper() and "~" in short_path, short_path  # Wine's hashed 8.3 name

    data = tmp_path / "agent"
    agent, code = wine_host.start_agent(url, data, "--forbid", protected)
    procs.append(agent)
    s = connect(code, relay=url, name="Tess")
    files = s.files
    try:
        # --- the plain work, outside the protected folder
        listing = files.list(win)
        by_name = {e.name: e for e in listing}
        assert by_name["protected-folder"].protected and by_name["protected-folder"].size is None
        assert by_name["open"].kind == "folder" and not by_name["open"].protected
        inside_open = {e.name: e for e in files.list(win + r"\open")}
        assert inside_open["early-link.txt"].protected and inside_open["early-link.txt"].size is None
        assert not inside_open["a.txt"].protected and inside_open["a.txt"].size == len("hello from the customer\n")
        assert files.read(win + r"\open\a.txt") == "hello from the customer\n"
        assert files.read(win + r"\OPEN\A.TXT") == "hello from the customer\n"  # case-insensitive, as Windows
        files.write(win + r"\open\new.txt", "written by the technician\r\n")
        assert (disk / "open" / "new.txt").read_bytes() == b"written by the technician\r\n"
        assert not [p.name for p in (disk / "open").iterdir() if ".wb-" in p.name]  # no temp file left
        files.edit(win + r"\open\new.txt", "technician", "technician, edited")
        assert (disk / "open" / "new.txt").read_bytes() == b"written by the technician, edited\r\n"
        info = files.stat(win + r"\open\a.txt")
        assert info.kind == "file" and info.size == len("hello from the customer\n")
        files.mkdir(win + r"\open\made\deeper", parents=True)
        assert (disk / "open" / "made" / "deeper").is_dir()
        files.move(win + r"\open\new.txt", win + r"\open\made\moved.txt")
        assert (disk / "open" / "made" / "moved.txt").exists() and not (disk / "open" / "new.txt").exists()
        files.copy(win + r"\open\made", win + r"\open\made-copy")
        assert (disk / "open" / "made-copy" / "moved.txt").read_bytes() == b"written by the technician, edited\r\n"
        files.delete(win + r"\open\made-copy")
        assert not (disk / "open" / "made-copy").exists()
        files.undo()  # the delete is undone: the copy is back
        assert (disk / "open" / "made-copy" / "moved.txt").exists()

        big = tmp_path / "big.bin"
        big.write_bytes(os.urandom(5 * 1024 * 1024 + 123))
        files.upload(big, win + r"\open\big.bin", progress=False)
        assert hashlib.sha256((disk / "open" / "big.bin").read_bytes()).digest() == \
            hashlib.sha256(big.read_bytes()).digest()
        assert not [p.name for p in (disk / "open").iterdir() if p.name.endswith(".part")]
        back = tmp_path / "back.bin"
        files.download(win + r"\open\big.bin", back, progress=False)
        assert back.read_bytes() == big.read_bytes()

        # --- the Windows ways around the rule, each refused
        def refused(path: str) -> str:
            return _code(lambda: files.read(path))

        secret = r"\secret.txt"
        by_identity = {
            "the folder": protected + secret,
            "a case variant": win + r"\PROTECTED-FOLDER" + secret,
            "the 8.3 short name": short_path + secret,
            "a drive alias (Y:)": r"Y:\protected-folder" + secret,
            "a drive alias, lower case": r"y:\Protected-Folder" + secret,
            "back up with ..": win + r"\open\..\protected-folder" + secret,
            "a Linux symlink Wine shows as a folder": win + r"\open\linux-symlink" + secret,
        }
        for way, path in by_identity.items():
            assert refused(path).startswith("forbidden: "), (way, refused(path))
        by_syntax = {
            "a trailing dot": win + r"\protected-folder." + secret,
            "a trailing space": win + r"\protected-folder " + secret,
            "an alternate data stream": win + r"\open\a.txt:hidden",
            "the default data stream": protected + r"\secret.txt::$DATA",
            "the \\\\?\\ prefix": "\\\\?\\" + protected + secret,
            "the \\\\.\\ prefix": "\\\\.\\" + protected + secret,
            "a UNC path to this machine": r"\\localhost\Z$" + win[2:] + r"\protected-folder" + secret,
            "a device name": win + r"\open\CON",
            "a device name with an extension": win + r"\open\nul.txt",
            "COM1 with spaces and extension": win + r"\open\COM1 .log",
            "LPT1": win + r"\open\lpt1",
        }
        for way, path in by_syntax.items():
            assert refused(path).startswith("bad_params: "), (way, refused(path))

        # Hard links: one made before --forbid, one made now; the refusal does not say where the other name is.
        os.link(disk / "protected-folder" / "secret.txt", disk / "open" / "late-link.txt")
        for name in ("early-link.txt", "late-link.txt"):
            said = refused(win + "\\open\\" + name)
            assert said.startswith("forbidden: ") and "protected-folder" not in said and "inside" not in said, said
        with pytest.raises(Forbidden):
            files.download(win + r"\open\late-link.txt", tmp_path / "nope.txt", progress=False)

        # Writing, listing, moving or deleting into the protected folder, by any name.
        assert _code(lambda: files.write(r"Y:\protected-folder\planted.txt", "x")).startswith("forbidden: ")
        assert _code(lambda: files.list(short_path)).startswith("forbidden: ")
        assert _code(lambda: files.move(win + r"\open\a.txt", protected + r"\a.txt")).startswith("forbidden: ")
        assert _code(lambda: files.delete(protected)).startswith("forbidden: ")
        assert _code(lambda: files.move(win, win + "-moved")).startswith("forbidden: ")  # it holds the folder
        with pytest.raises(Forbidden):
            files.upload(big, r"Y:\protected-folder\big.bin", progress=False)
        assert not (disk / "protected-folder" / "planted.txt").exists()
        assert not (disk / "protected-folder" / "big.bin").exists()
        assert sorted(p.name for p in (disk / "protected-folder").iterdir()) == ["secret.txt", "sub"]

        # The agent's own folder (journal, backups) is refused too.
        assert _code(lambda: files.list(windows_path(data))).startswith("forbidden: ")
        with pytest.raises(NotFound):
            files.read(win + r"\open\no-such-file.txt")

        # Junctions: made with FSCTL_SET_REPARSE_POINT where the file system allows it.
        made = wine_host.run_python("-c", _JUNCTION, win + r"\open\junction", protected).stdout
        if "JUNCTION=made" in made:  # a Wine that makes them: the agent must not follow it
            assert refused(win + r"\open\junction" + secret).startswith(("forbidden: ", "bad_params: "))
        else:
            assert "JUNCTION=50" in made, made  # ERROR_NOT_SUPPORTED: Wine 8 makes no reparse points
    finally:
        s.close()
    assert agent.wait(60) == 0


def _kill_tree(proc: Proc) -> None:
    """SIGKILL the Windows agent and the processes it runs in (by their Linux ids), as a crash would."""
    import psutil

    parent = psutil.Process(proc.popen.pid)
    for child in parent.children(recursive=True):
        child.kill()
    proc.kill()


def test_rules_follow_their_path_and_no_part_outlives_its_upload_under_wine(
        wine_host: WineHost, relay: tuple[Proc, str, Path], procs: list[Proc], tmp_path: Path, disk: Path) -> None:
    """Issue 14, findings 2 and 6, with the Windows agent.

    Wine cannot show NTFS's delete-pending state (a folder deleted while the
    agent holds it keeps its name until the handle closes, unless Windows 10's
    POSIX delete semantics apply): :func:`agent.forbidden._windows_api.deleted`
    reads both from ``FileStandardInfo``, and Wine reports neither for a folder
    removed under it: the deleted folder stays held (harmless), and the
    customer's words cannot say where a moved folder went (Wine's final path
    of a handle is its path when opened).  Nor does Wine reserve NTFS
    clusters as Windows would for a file extended ahead of its bytes: that the
    agent no longer extends the ``.part`` ahead is checked by its size.
    """
    _, url, _ = relay
    win = windows_path(disk)
    protected = win + r"\protected-folder"
    data = tmp_path / "agent"
    agent, code = wine_host.start_agent(url, data, "--forbid", protected)
    procs.append(agent)
    s = connect(code, relay=url, name="Tess")
    secret = r"\protected-folder\secret.txt"
    try:
        # Deleted and made again: still protected, and the customer is told.
        shutil.rmtree(disk / "protected-folder")
        (disk / "protected-folder").mkdir()
        (disk / "protected-folder" / "secret.txt").write_text("a new secret\n")
        assert _code(lambda: s.files.read(win + secret)).startswith("forbidden: ")
        assert {e.name: e.protected for e in s.files.list(win)}["protected-folder"]
        agent.wait_for(r"was deleted or replaced\. The folder now at that place is protected too")

        # Moved away and another folder renamed to its name: both protected.
        (disk / "protected-folder").rename(disk / "moved-away")
        (disk / "other").mkdir()
        (disk / "other" / "secret.txt").write_text("another secret\n")
        (disk / "other").rename(disk / "protected-folder")
        assert _code(lambda: s.files.read(win + secret)).startswith("forbidden: ")
        assert _code(lambda: s.files.read(win + r"\moved-away\secret.txt")).startswith("forbidden: ")
        # Under Wine a held folder's final path is the one it had when opened, so the agent cannot say where
        # the moved one went (on Windows it says "was moved to ..."): it says the folder was replaced.
        agent.wait_for(r"was deleted or replaced\. The folder now at that place is protected too")

        # An upload left half-done by an agent that is killed: its .part stays until the next start.
        opened = s.call("files.upload_open", {"path": win + r"\open\half.bin", "size": 64 * 1024 * 1024}).value
        s.call("files.upload_chunk", {"id": opened["id"], "offset": 0}, b"w" * 100_000)
        (left,) = [p for p in (disk / "open").iterdir() if p.name.endswith(".part")]
        assert left.stat().st_size == 100_000  # not extended to the 64 MiB announced
    finally:
        s.close()
    _kill_tree(agent)
    assert left.exists()

    again, code = wine_host.start_agent(url, data)
    procs.append(again)
    assert any("Removed " in line and left.name in line for line in again.lines), again.lines
    assert not left.exists()
    s = connect(code, relay=url, name="Tess")
    try:
        opened = s.call("files.upload_open", {"path": win + r"\open\other.bin", "size": 1_000_000}).value
        s.call("files.upload_chunk", {"id": opened["id"], "offset": 0}, b"v" * 1000)
        assert [p for p in (disk / "open").iterdir() if p.name.endswith(".part")]
    finally:
        s.close()  # a clean end: the open upload's .part goes with the session
    assert again.wait(60) == 0
    assert not [p.name for p in (disk / "open").iterdir() if p.name.endswith(".part")]
