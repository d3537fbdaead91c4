"""agent.paths: the path rules of each OS flavour, as pure functions (run on any OS)."""

from __future__ import annotations

import unicodedata

import pytest

from agent import paths
from wire.errors import BadParams


def test_current_flavour_by_platform() -> None:
    assert paths.current_flavour("linux") == "posix"
    assert paths.current_flavour("win32") == "windows"
    assert paths.current_flavour("darwin") == "mac"


@pytest.mark.parametrize("flavour", ["posix", "mac"])
def test_posix_either_separator_and_dots(flavour: paths.Flavour) -> None:
    parsed = paths.parse("/home//ana/./notes\\sub/", flavour)
    assert parsed.anchor == "/"
    assert parsed.parts == ("home", "ana", "notes", "sub")
    assert parsed.trailing_separator
    assert str(parsed) == "/home/ana/notes/sub"
    # ".." is kept: only the file system can resolve it once links are involved.
    assert paths.parse("/a/b/../c", flavour).parts == ("a", "b", "..", "c")


@pytest.mark.parametrize("flavour", paths.FLAVOURS)
@pytest.mark.parametrize("bad", ["", "relative/file", "a\x00b", "~other/x"])
def test_refused_everywhere(flavour: paths.Flavour, bad: str) -> None:
    with pytest.raises(BadParams):
        paths.parse(bad, flavour)


def test_nul_is_named_in_the_message() -> None:
    with pytest.raises(BadParams, match="NUL"):
        paths.parse("/etc/pass\x00wd", "posix")


def test_too_long() -> None:
    with pytest.raises(BadParams, match="longer"):
        paths.parse("/" + "a/" * 3000, "posix")
    with pytest.raises(BadParams, match="255"):
        paths.parse("/" + "é" * 200, "posix")  # 400 bytes in UTF-8


def test_home() -> None:
    assert str(paths.parse("~/notes.txt", "posix", home="/home/ana")) == "/home/ana/notes.txt"
    assert str(paths.parse("~", "windows", home="C:\\Users\\Ana")) == "C:\\Users\\Ana"
    assert str(paths.parse("~\\Desktop", "windows", home="C:\\Users\\Ana")) == "C:\\Users\\Ana\\Desktop"
    with pytest.raises(BadParams, match="~"):
        paths.parse("~/x", "posix")


def test_windows_drive_and_separators() -> None:
    parsed = paths.parse("c:/Users\\Ana//Documents/", "windows")
    assert parsed.anchor == "C:\\"
    assert parsed.parts == ("Users", "Ana", "Documents")
    assert str(parsed) == "C:\\Users\\Ana\\Documents"


def test_windows_unc_and_long_prefixes() -> None:
    assert paths.parse("\\\\server\\share\\dir\\f.txt", "windows").anchor == "\\\\server\\share\\"
    assert paths.parse("//server/share/dir", "windows").parts == ("dir",)
    long = paths.parse("\\\\?\\C:\\very\\long", "windows")
    assert (long.anchor, long.parts) == ("C:\\", ("very", "long"))
    unc = paths.parse("\\\\?\\UNC\\server\\share\\x", "windows")
    assert (unc.anchor, unc.parts) == ("\\\\server\\share\\", ("x",))


@pytest.mark.parametrize("bad", [
    "C:relative", "\\no\\drive", "/no/drive", "C:\\a\\b:stream", "C:\\a\\what?", "C:\\NUL",
    "C:\\dir\\con.txt", "C:\\dir\\COM1", "C:\\dir\\lpt¹", "\\\\server", "\\\\.\\PhysicalDrive0", "C:\\a\\...",
    "C:\\tab\there",
])
def test_windows_refusals(bad: str) -> None:
    with pytest.raises(BadParams):
        paths.parse(bad, "windows")


def test_windows_trailing_dots_and_spaces_are_dropped_like_win32() -> None:
    # "secret. " opens "secret" on Windows: the parse must agree, not invent another name.
    assert paths.parse("C:\\Users\\secret. \\x", "windows").parts == ("Users", "secret", "x")


def test_case_rules() -> None:
    assert paths.same_name("Secret", "SECRET", "windows")
    assert paths.same_name("Secret", "secret", "mac")
    assert not paths.same_name("Secret", "secret", "posix")
    # NTFS upcases one character to one: "ß" is not "SS" there.
    assert not paths.same_name("straße", "STRASSE", "windows")
    assert paths.same_name("straße", "STRAßE", "windows")


def test_mac_unicode_normalisation() -> None:
    nfc = unicodedata.normalize("NFC", "Résumé")
    nfd = unicodedata.normalize("NFD", "Résumé")
    assert nfc != nfd
    assert paths.same_name(nfc, nfd, "mac")
    assert paths.same_name(nfc, "RÉSUMÉ", "mac")
    assert not paths.same_name(nfc, nfd, "posix")


def test_same_path_and_is_within() -> None:
    w = "windows"
    assert paths.same_path(paths.parse("C:\\Users\\Ana", w), paths.parse("c:/users/ANA/", w))
    assert paths.is_within(paths.parse("C:\\Users\\Ana\\Secret\\x", w), paths.parse("c:\\users\\ana\\secret", w))
    assert not paths.is_within(paths.parse("C:\\Users\\Ana\\Secret2", w), paths.parse("C:\\Users\\Ana\\Secret", w))
    assert not paths.is_within(paths.parse("D:\\Users\\Ana", w), paths.parse("C:\\Users", w))
    p = "posix"
    assert not paths.is_within(paths.parse("/home/Ana/x", p), paths.parse("/home/ana", p))
    assert paths.is_within(paths.parse("/home/ana/../ana/x", p), paths.parse("/home/ana", p))
    assert not paths.is_within(paths.parse("/home/ana", p), paths.parse("/home/ana", "mac"))


def test_check_name() -> None:
    for bad in ["", ".", "..", "a/b", "a\\b", "a\x00"]:
        with pytest.raises(BadParams):
            paths.check_name(bad, "posix")
    with pytest.raises(BadParams):
        paths.check_name("trailing.", "windows")
    with pytest.raises(BadParams):
        paths.check_name("aux", "windows")
    paths.check_name("aux", "posix")
    paths.check_name("ok name.txt", "windows")


def test_child_and_parent() -> None:
    parsed = paths.parse("/home/ana", "posix")
    assert str(parsed.child("x.txt")) == "/home/ana/x.txt"
    assert str(parsed.parent) == "/home"
    assert parsed.name == "ana"
    with pytest.raises(BadParams):
        parsed.child("..")
