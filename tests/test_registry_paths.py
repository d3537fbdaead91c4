"""Registry paths: splitting what the technician writes, and matching the customer's rules."""

from __future__ import annotations

import pytest

from agent.registry.paths import Rules, canonical_forms, hive_mounts, split_path
from wire.errors import BadParams


def test_the_native_separator_wins_and_the_other_works_alone() -> None:
    assert split_path("HKCU\\Software\\Foo", "\\") == ("HKCU", "Software", "Foo")
    assert split_path("HKCU/Software/Foo", "\\") == ("HKCU", "Software", "Foo")
    # a real Windows key whose name holds a slash
    assert split_path("HKCR\\MIME\\Database\\Content Type\\application/json", "\\")[-1] == "application/json"
    assert split_path("/org/gnome/desktop", "/") == ("org", "gnome", "desktop")
    assert split_path("org\\gnome", "/") == ("org", "gnome")
    assert split_path("\\\\A\\\\B\\", "\\") == ("A", "B")
    assert split_path("", "\\") == ()


@pytest.mark.parametrize(("path", "words"), [
    ("A\\B\x00C", "NUL"),
    ("A\\" + "x" * 256, "255"),
    ("\\".join(["k"] * 513), "512"),
])
def test_bad_paths_are_refused(path: str, words: str) -> None:
    with pytest.raises(BadParams, match=words):
        split_path(path, "\\")


def forbids(rule: str, *targets: str) -> list[bool]:
    rules = Rules([rule])
    return [rules.forbids([target.split("\\")]) for target in targets]


def test_a_rule_covers_its_key_and_below_whatever_the_spelling() -> None:
    assert forbids("HKEY_CURRENT_USER\\Software\\Secret",
                   "HKCU\\Software\\Secret",
                   "hkcu\\SOFTWARE\\secret\\deeper\\still",
                   "HKEY_CURRENT_USER/Software/Secret",
                   "HKCU\\Software\\Other",
                   "HKCU\\Software\\SecretNot",
                   "HKCU\\Software") == [True, True, True, False, False, False]
    assert Rules(["Computer\\HKEY_LOCAL_MACHINE\\SOFTWARE\\X"]).forbids([("HKLM", "Software", "x", "y")])
    assert Rules(["HKLM/Software/X/"]).forbids([("HKEY_LOCAL_MACHINE", "SOFTWARE", "X")])


def test_unicode_forms_and_case_fold_together() -> None:
    assert forbids("HKCU\\Café", "HKCU\\Cafe\u0301", "HKCU\\CAFÉ") == [True, True]


@pytest.mark.parametrize(("rule", "target"), [
    # one user's hive, under HKEY_USERS or as HKEY_CURRENT_USER
    ("HKCU\\Software\\Secret", "HKEY_USERS\\S-1-5-21-1-2-3-1001\\Software\\Secret\\x"),
    ("HKEY_USERS\\S-1-5-21-1-2-3-1001\\Software\\Secret", "HKCU\\Software\\Secret"),
    ("HKEY_USERS", "HKEY_USERS\\S-1-5-21-1-2-3-1001\\Software"),
    # the merged classes view
    ("HKLM\\SOFTWARE\\Classes\\.txt", "HKCR\\.txt\\ShellNew"),
    ("HKCR\\CLSID\\{x}", "HKCU\\Software\\Classes\\CLSID\\{x}"),
    ("HKCR\\CLSID\\{x}", "HKEY_USERS\\S-1-5-21-9_Classes\\CLSID\\{x}"),
    # the current control set is a link to one of the numbered ones
    ("HKLM\\SYSTEM\\ControlSet001\\Services\\Foo", "HKLM\\SYSTEM\\CurrentControlSet\\Services\\Foo"),
    ("HKLM\\SYSTEM\\CurrentControlSet\\Services\\Foo", "HKLM\\SYSTEM\\ControlSet002\\Services\\Foo\\Parameters"),
    ("HKLM\\SYSTEM\\CurrentControlSet\\Hardware Profiles\\Current\\X", "HKCC\\X"),
    # the 32-bit view
    ("HKLM\\SOFTWARE\\Vendor", "HKLM\\SOFTWARE\\WOW6432Node\\Vendor\\App"),
    ("HKLM\\SOFTWARE\\WOW6432Node\\Vendor", "HKLM\\SOFTWARE\\Vendor"),
])
def test_the_registry_s_own_aliases_cannot_be_used_to_go_around_a_rule(rule: str, target: str) -> None:
    assert Rules([rule]).forbids([target.split("\\")])


def test_rules_elsewhere_are_not_widened() -> None:
    rules = Rules(["HKCU\\Software\\Secret"])
    assert not rules.forbids([("HKLM", "Software", "Secret")])
    assert not rules.forbids([("HKEY_USERS",)])
    assert not Rules(["HKLM\\SYSTEM\\ControlSet001\\Services\\Foo"]).forbids([("HKLM", "SYSTEM", "Setup", "Foo")])


def test_dconf_and_file_paths_match_by_components() -> None:
    rules = Rules(["/org/gnome/secret", "/srv/hives/NTUSER.DAT\\Software\\Private"])
    assert rules.forbids([("org", "gnome", "secret", "deeper")])
    assert rules.forbids([("org", "GNOME", "Secret")])  # over-matches on purpose: refusing more is safe
    assert not rules.forbids([("org", "gnome", "secretive")])
    assert rules.forbids([("/srv/hives/NTUSER.DAT", "Software", "Private", "x")])
    assert not rules.forbids([("/srv/hives/NTUSER.DAT", "Software")])


def test_protects_below_finds_a_rule_under_a_key() -> None:
    rules = Rules(["HKCU\\Software\\Vendor\\Secret"])
    assert rules.protects_below([("HKCU", "Software")])
    assert rules.protects_below([("HKEY_USERS", "S-1-5-21-7", "Software", "Vendor")])
    assert not rules.protects_below([("HKCU", "Software", "Vendor", "Secret")])  # at it, not below: forbids()
    assert not rules.protects_below([("HKCU", "Software", "Other")])


def test_canonical_forms_strip_windows_file_prefixes() -> None:
    assert ("c:", "users", "bob") in canonical_forms("\\\\?\\C:\\Users\\Bob")


def test_well_known_hive_files_are_placed_where_windows_mounts_them() -> None:
    assert hive_mounts("SOFTWARE", "") == [("hkey_local_machine", "software")]
    assert hive_mounts("copy.bin", "m32\\Config\\SAM") == [("hkey_local_machine", "sam")]
    assert hive_mounts("NTUSER.DAT", "\\??\\C:\\Users\\Bob\\ntuser.dat") == [("hkey_current_user",)]
    assert hive_mounts("rescue.hiv", "") == []
    rules = Rules(["HKLM\\SOFTWARE\\Secret"])
    assert rules.forbids([(*hive_mounts("SOFTWARE", "")[0], "Secret", "x")])
