"""The Windows spellings refused by syntax, and the shapes recognised, held to the Windows documentation's cases.

Pure functions run on Linux: :mod:`agent.forbidden.ntnames`.  The cases come
from Microsoft's "Naming Files, Paths, and Namespaces" (reserved names, with
extensions; trailing dots and spaces; reserved characters; ``\\\\?\\`` and
``\\\\.\\``; UNC), "File Streams" (``name:stream:$DATA``, ``::$DATA``,
``$I30:$INDEX_ALLOCATION``), the 8.3 short-name forms (``PROGRA~1``, and the
hashed ``PR1F3A~1`` used past four collisions), and the reparse tags of
``winnt.h`` (``IsReparseTagNameSurrogate``).  Under Wine none of junctions,
symbolic links, streams or Windows-made short names exist, so these cases are
what proves those refusals (tests/windows/test_files_wine.py proves the rest).
"""

from __future__ import annotations

import pytest

from agent.forbidden.ntnames import (
    IO_REPARSE_TAG_MOUNT_POINT,
    IO_REPARSE_TAG_SYMLINK,
    check_windows_name,
    check_windows_path,
    device_name,
    is_name_surrogate,
    looks_like_short_name,
)
from wire.errors import BadParams


@pytest.mark.parametrize(("name", "device"), [
    ("CON", "CON"), ("con", "CON"), ("PRN", "PRN"), ("AUX", "AUX"), ("NUL", "NUL"),
    ("COM1", "COM1"), ("com9", "COM9"), ("LPT1", "LPT1"), ("lpt9", "LPT9"), ("COM0", "COM0"), ("LPT0", "LPT0"),
    ("COM\u00b9", "COM\u00b9"), ("LPT\u00b3", "LPT\u00b3"), ("CONIN$", "CONIN$"), ("conout$", "CONOUT$"),
    # "NUL.txt" and "NUL.tar.gz" are both equivalent to NUL; spaces before the dot are dropped too.
    ("NUL.txt", "NUL"), ("nul.tar.gz", "NUL"), ("CON .log", "CON"), ("com1.", "COM1"),
])
def test_reserved_device_names_with_or_without_extension(name: str, device: str) -> None:
    assert device_name(name) == device


@pytest.mark.parametrize("name", ["CONSOLE", "CON-1", "NULL", "COM10", "LPT", "xCON", "aux_log.txt", "con~1"])
def test_names_that_only_resemble_devices_are_ordinary(name: str) -> None:
    assert device_name(name) is None
    check_windows_name(name)


@pytest.mark.parametrize(("name", "why"), [
    ("secret.", "ends with a dot or a space"),
    ("secret ", "ends with a dot or a space"),
    ("secret. .", "ends with a dot or a space"),
    ("file.txt:hidden", "alternate data stream"),
    ("file.txt:hidden:$DATA", "alternate data stream"),
    ("file.txt::$DATA", "alternate data stream"),
    ("folder:$I30:$INDEX_ALLOCATION", "alternate data stream"),
    ("a<b", "characters Windows does not allow"),
    ("a|b", "characters Windows does not allow"),
    ('a"b', "characters Windows does not allow"),
    ("a?b", "characters Windows does not allow"),
    ("a*b", "characters Windows does not allow"),
    ("a\x1fb", "characters Windows does not allow"),
    ("LPT1.txt", "names the Windows device LPT1"),
])
def test_names_refused_by_syntax(name: str, why: str) -> None:
    with pytest.raises(BadParams, match=why.replace("?", r"\?")) as caught:
        check_windows_name(name)
    assert caught.value.code == "bad_params"


@pytest.mark.parametrize(("path", "why"), [
    ("\\\\?\\C:\\Users\\ana", r"skip Windows' name rules"),
    ("//?/C:/Users/ana", r"skip Windows' name rules"),
    ("\\\\?\\UNC\\server\\share\\x", r"skip Windows' name rules"),
    ("\\\\?\\GLOBALROOT\\Device\\HarddiskVolume1\\x", r"skip Windows' name rules"),
    ("\\\\?\\Volume{26a21bda-a627-11d7-9931-806e6f6e6963}\\x", r"skip Windows' name rules"),
    ("\\??\\C:\\Users", r"skip Windows' name rules"),
    ("\\\\.\\C:\\Users\\ana", "name devices"),
    ("\\\\.\\PhysicalDrive0", "name devices"),
    ("\\\\.\\pipe\\x", "name devices"),
    ("\\\\server\\share\\x", "network paths"),
    ("\\\\localhost\\C$\\Users", "network paths"),
    ("\\\\127.0.0.1\\c$\\Users", "network paths"),
    ("//server/share", "network paths"),
    ("C:folder\\x", "relative to the drive's current folder"),
    ("C:", "relative to the drive's current folder"),
    ("\\Users\\ana", "needs a drive letter"),
    ("Users\\ana", "not a full path"),
    ("C:\\Users\\ana\\notes.txt:secret", "alternate data stream"),
    ("C:\\Users\\ana.\\notes.txt", "ends with a dot or a space"),
    ("C:\\Users\\ana \\notes.txt", "ends with a dot or a space"),
    ("C:\\Users\\ana\\nul", "names the Windows device NUL"),
    ("C:\\Users\\ana\\COM1.log", "names the Windows device COM1"),
    ("~\\aux.txt", "names the Windows device AUX"),
    ("C:\\Users\\a\x00b", "NUL character"),
])
def test_paths_refused_by_syntax_before_the_disk(path: str, why: str) -> None:
    with pytest.raises(BadParams, match=why.replace("?", r"\?").replace("\\", "\\\\")) as caught:
        check_windows_path(path)
    assert caught.value.code == "bad_params"


@pytest.mark.parametrize("path", [
    "C:\\", "C:\\Users\\ana\\notes.txt", "c:/users/ANA/Notes.TXT", "D:\\PROGRA~1\\app", "C:\\a\\..\\b",
    "C:\\Users\\ana\\.hidden", "C:\\x\\file.tar.gz", "~\\Documents", "C:\\Users\\ana\\résumé.docx",
])
def test_plain_paths_pass_the_syntax_and_are_left_to_identity(path: str) -> None:
    check_windows_path(path)


@pytest.mark.parametrize("name", ["PROGRA~1", "progra~1", "DOCUME~1", "MICROS~2.TXT", "PR1F3A~1", "A~12",
                                  "LONGN~10.HTM", "PROG~FBU", "WIND~ABC.EXE"])
def test_short_name_shapes(name: str) -> None:
    assert looks_like_short_name(name)


@pytest.mark.parametrize("name", ["Program Files", "my~file.txt", "PROGRAM~", "~1", "TOOLONGNAME~1", "a~0",
                                  "PROGRA~1.LONG", "backup~", "x.y~1"])
def test_not_short_name_shapes(name: str) -> None:
    assert not looks_like_short_name(name)


@pytest.mark.parametrize(("tag", "surrogate"), [
    (IO_REPARSE_TAG_MOUNT_POINT, True),  # junctions and volume mount points
    (IO_REPARSE_TAG_SYMLINK, True),
    (0xA000001D, True),  # IO_REPARSE_TAG_LX_SYMLINK (WSL)
    (0xA0000027, True),  # IO_REPARSE_TAG_PROJFS_TOMBSTONE
    (0x9000001A, False),  # IO_REPARSE_TAG_CLOUD (OneDrive placeholders): the file itself
    (0x80000013, False),  # IO_REPARSE_TAG_DEDUP
    (0x8000001B, False),  # IO_REPARSE_TAG_APPEXECLINK
    (0x80000023, False),  # IO_REPARSE_TAG_AF_UNIX
    (0x80000017, False),  # IO_REPARSE_TAG_WOF (compressed system files)
])
def test_reparse_tags_that_are_other_names_are_never_followed(tag: int, surrogate: bool) -> None:
    assert is_name_surrogate(tag) is surrogate
