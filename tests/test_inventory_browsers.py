"""Browsers and their settings (agent/inventory/browsers.py, browser_settings.py)."""

from __future__ import annotations

import json
import os
import plistlib
import re
import select
import shutil
import sqlite3
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from agent.inventory import browser_settings as bs
from agent.inventory import browsers
from agent.inventory._probe import ProbeError, quiet_env, run
from tests import requires

POSIX = sys.platform != "win32"


def write_exe(path: Path, body: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)
    return path


def write_desktop(data_dir: Path, desktop_id: str, **keys: str) -> Path:
    path = data_dir / "applications" / desktop_id
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["[Desktop Entry]", "Type=Application", *(f"{k}={v}" for k, v in keys.items()),
             "", "[Desktop Action new-window]", "Name=Not the name", "Exec=/bin/false"]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def fake_desktop(tmp_path: Path) -> dict[str, Any]:
    """A temp HOME and XDG data dirs holding a fake Chromium and a few decoys."""
    home = tmp_path / "home"
    bin_dir = tmp_path / "bin"
    system_share = tmp_path / "share"
    chromium = write_exe(bin_dir / "chromium", 'echo "Chromium 123.0.1 "')
    write_desktop(system_share, "chromium.desktop", Name="Chromium Web Browser", Exec=f"{chromium} %U",
                  Categories="Network;WebBrowser;", MimeType="text/html;x-scheme-handler/http;")
    write_desktop(system_share, "vim.desktop", Name="Vim", Exec="/bin/true %F", Categories="Utility;TextEditor;")
    write_desktop(system_share, "ghost.desktop", Name="Ghost Browser", TryExec=str(tmp_path / "nope"),
                  Exec=f"{chromium} %U", Categories="WebBrowser;")
    hidden_exe = write_exe(bin_dir / "hidden-browser", 'echo "Hidden 1.0"')
    write_desktop(system_share, "hidden.desktop", Name="Hidden", Exec=str(hidden_exe), Categories="WebBrowser;")
    # the user's own entry with the same id hides the system one
    write_desktop(home / ".local/share", "hidden.desktop", Name="Hidden", Hidden="true", Exec="/bin/true")
    env = {"HOME": str(home), "XDG_DATA_DIRS": str(system_share), "PATH": f"{bin_dir}:/usr/bin:/bin"}
    return {"home": home, "bin": bin_dir, "share": system_share, "env": env, "chromium": chromium}


@pytest.mark.skipif(not POSIX, reason="XDG desktop entries")
def test_fake_chromium_is_found_with_its_version(fake_desktop: dict[str, Any]) -> None:
    fact = browsers.linux_browsers(env=fake_desktop["env"], home=fake_desktop["home"])
    assert fact.ok
    assert fact.value == [{
        "id": "chromium", "family": "chromium", "name": "Chromium Web Browser", "version": "123.0.1",
        "path": str(fake_desktop["chromium"]), "found_in": str(fake_desktop["share"] / "applications/chromium.desktop"),
        "version_source": "chromium --version"}]


@pytest.mark.skipif(not POSIX, reason="XDG desktop entries")
def test_version_failures_are_explained(fake_desktop: dict[str, Any]) -> None:
    share = fake_desktop["share"]
    hang = write_exe(fake_desktop["bin"] / "slowfox", "exec sleep 30")
    mute = write_exe(fake_desktop["bin"] / "mute-browser", 'echo "no digits here"')
    broken = write_exe(fake_desktop["bin"] / "broken-browser", 'echo "cannot start" >&2; exit 3')
    for name, exe in (("slowfox", hang), ("mute", mute), ("broken", broken)):
        write_desktop(share, f"{name}.desktop", Name=name, Exec=f"env FOO=1 {exe} --new-window %u",
                      Categories="Network;WebBrowser;")
    fact = browsers.linux_browsers(env=fake_desktop["env"], home=fake_desktop["home"], timeout=0.5)
    found = {b["name"]: b for b in fact.value}
    assert set(found) == {"Chromium Web Browser", "slowfox", "mute", "broken"}
    assert found["slowfox"]["version"] is None
    assert "did not answer within 0.5 s" in found["slowfox"]["version_detail"]
    assert "no version number" in found["mute"]["version_detail"]
    assert found["broken"]["version_detail"] == "broken-browser exited with status 3: cannot start"
    assert found["slowfox"]["id"] == "slowfox"
    assert found["slowfox"]["family"] is None


def test_no_browser_is_a_finding(tmp_path: Path) -> None:
    fact = browsers.linux_browsers(env={"XDG_DATA_DIRS": str(tmp_path / "empty"), "PATH": "/nonexistent"},
                                   home=tmp_path)
    assert fact.status == "ok"
    assert fact.value == []
    assert "no web browser found" in (fact.detail or "")


@pytest.mark.needs("chromium", "chromium")
def test_this_machines_chromium_matches_its_own_answer(tmp_path: Path) -> None:
    answer = subprocess.run(["chromium", "--version"], capture_output=True, text=True, timeout=30).stdout
    expected = re.search(r"\d+(\.\d+)+", answer)
    assert expected
    env = {"XDG_DATA_DIRS": "/usr/share", "PATH": os.environ.get("PATH", "")}
    fact = browsers.linux_browsers(env=env, home=tmp_path)
    chromium = [b for b in fact.value if b["family"] == "chromium"]
    assert chromium and chromium[0]["version"] == expected.group(0)
    assert chromium[0]["path"] == shutil.which("chromium", path=env["PATH"])


def test_desktop_entry_parsing() -> None:
    entry = browsers.parse_desktop_entry("# c\n[Desktop Entry]\nName=Firefox\nName[fr]=Navigateur\n"
                                         "Exec=firefox %u\n[Desktop Action x]\nName=Other\n")
    assert entry == {"Name": "Firefox", "Exec": "firefox %u"}
    assert browsers.version_in("Mozilla Firefox 125.0.1") == "125.0.1"
    assert browsers.version_in("Chromium 123.0.1 built on Debian 12") == "123.0.1"
    assert browsers.version_in("Firefox 128.0esr") == "128.0"
    assert browsers.version_in("no version 12") is None


def test_xdg_defaults_include_flatpak_and_snap(tmp_path: Path) -> None:
    dirs = browsers.xdg_data_dirs({}, tmp_path)
    assert dirs[0] == tmp_path / ".local/share"
    assert Path("/usr/share") in dirs and Path("/var/lib/flatpak/exports/share") in dirs
    assert browsers.xdg_data_dirs({"XDG_DATA_DIRS": "/a:/b", "XDG_DATA_HOME": "/h"}, tmp_path) == [
        Path("/h"), Path("/a"), Path("/b")]


def test_family_names() -> None:
    assert browsers.family_for("msedge.exe").key == "microsoft-edge"  # type: ignore[union-attr]
    assert browsers.family_for("Google Chrome").key == "google-chrome"  # type: ignore[union-attr]
    assert browsers.family_for(None, "org.mozilla.firefox.desktop").key == "firefox"  # type: ignore[union-attr]
    assert browsers.family_for("com.brave.Browser").key == "brave"  # type: ignore[union-attr]
    assert browsers.family_for("vim") is None


@pytest.mark.skipif(not POSIX, reason="POSIX process groups")
def test_run_has_no_display_and_kills_on_timeout(tmp_path: Path) -> None:
    env = quiet_env({"DISPLAY": ":0", "WAYLAND_DISPLAY": "w", "PATH": "/usr/bin:/bin"})
    assert "DISPLAY" not in env and "WAYLAND_DISPLAY" not in env
    script = write_exe(tmp_path / "show", 'echo "[$DISPLAY]"')
    assert run([str(script)], timeout=10, env=env).strip() == "[]"
    pid_file = tmp_path / "child.pid"
    slow = write_exe(tmp_path / "slow", f"sleep 30 & echo $! > {pid_file}; wait")
    with pytest.raises(ProbeError) as caught:
        run([str(slow)], timeout=0.5)
    assert caught.value.status == "unavailable"
    child = int(pid_file.read_text())
    # the grandchild went with its group: its pidfd becomes readable when it exits (an event, not a poll)
    try:
        pidfd = os.pidfd_open(child)
    except ProcessLookupError:
        pidfd = None  # already gone and reaped
    if pidfd is not None:
        try:
            readable, _, _ = select.select([pidfd], [], [], 20)
        finally:
            os.close(pidfd)
        assert readable, "the program's child outlived the timeout"
    with pytest.raises(ProbeError) as missing_exe:
        run([str(tmp_path / "absent")], timeout=1)
    assert "not found" in missing_exe.value.detail


# --- macOS bundles (any platform: plist files written here) ----------------------------------------------


def write_app(folder: Path, name: str, info: dict[str, Any], binary: bool = False) -> Path:
    contents = folder / f"{name}.app" / "Contents"
    contents.mkdir(parents=True)
    fmt = plistlib.FMT_BINARY if binary else plistlib.FMT_XML
    (contents / "Info.plist").write_bytes(plistlib.dumps(info, fmt=fmt))
    return folder / f"{name}.app"


def test_app_bundles(tmp_path: Path) -> None:
    apps = tmp_path / "Applications"
    write_app(apps, "Firefox", {"CFBundleIdentifier": "org.mozilla.firefox", "CFBundleName": "Firefox",
                                "CFBundleShortVersionString": "125.0.1"}, binary=True)
    write_app(apps, "Notes", {"CFBundleIdentifier": "com.apple.Notes", "CFBundleShortVersionString": "4.11"})
    write_app(apps, "Orion", {"CFBundleIdentifier": "com.kagi.kagimacOS", "CFBundleDisplayName": "Orion",
                              "CFBundleShortVersionString": "0.99",
                              "CFBundleURLTypes": [{"CFBundleURLSchemes": ["http", "https"]}]})
    write_app(apps, "Safari", {"CFBundleIdentifier": "com.apple.Safari"})
    (apps / "Broken.app/Contents").mkdir(parents=True)
    (apps / "Broken.app/Contents/Info.plist").write_text("not a plist")
    found = {b.id: b for b in browsers.scan_app_bundles([apps, tmp_path / "missing"])}
    assert set(found) == {"firefox", "com-kagi-kagimacos", "safari"}
    assert found["firefox"].version == "125.0.1"
    assert found["firefox"].path == str(apps / "Firefox.app")
    assert found["com-kagi-kagimacos"].name == "Orion"
    assert found["com-kagi-kagimacos"].family is None
    assert found["safari"].version is None and found["safari"].version_detail


# --- settings ---------------------------------------------------------------------------------------------


def test_chromium_settings_defaults_are_said_to_be_defaults() -> None:
    settings = bs.chromium_settings({"browser": {"has_seen_welcome_page": True}})
    assert all(v == {"value": None, "default": True} for v in settings.values())
    assert set(settings) == {"home_page", "startup", "search_engine", "proxy"}


def test_chromium_settings_changed_values() -> None:
    prefs = {
        "homepage": "https://intranet.example/", "homepage_is_newtabpage": False,
        "session": {"restore_on_startup": 4, "startup_urls": ["https://a.example/", "https://b.example/"]},
        "default_search_provider_data": {"template_url_data": {
            "short_name": "DuckDuckGo", "keyword": "duckduckgo.com", "url": "https://duckduckgo.com/?q={searchTerms}"}},
        "proxy": {"mode": "fixed_servers", "server": "proxy.example:3128", "bypass_list": "localhost"},
    }
    settings = bs.chromium_settings(prefs)
    assert settings["home_page"] == {"value": "https://intranet.example/", "default": False}
    assert settings["startup"]["value"] == "open specific pages: https://a.example/, https://b.example/"
    assert settings["search_engine"]["value"] == "DuckDuckGo (https://duckduckgo.com/?q={searchTerms})"
    assert settings["proxy"]["value"] == "servers proxy.example:3128 (bypass: localhost)"
    pac = bs.chromium_settings({"proxy": {"mode": "pac_script", "pac_url": "http://wpad/wpad.dat"},
                                "homepage_is_newtabpage": True})
    assert pac["proxy"]["value"] == "PAC script http://wpad/wpad.dat"
    assert pac["home_page"]["value"] == "new tab page"


def test_chromium_search_engine_by_guid_from_web_data(tmp_path: Path) -> None:
    db_path = tmp_path / "Web Data"
    with sqlite3.connect(db_path) as db:
        db.execute("CREATE TABLE keywords (id INTEGER, short_name TEXT, keyword TEXT, url TEXT, sync_guid TEXT)")
        db.execute("INSERT INTO keywords VALUES (1, 'Ecosia', 'ecosia.org', 'https://www.ecosia.org/search?q={searchTerms}',"
                   " 'guid-1')")
    db.close()
    settings = bs.chromium_settings({"default_search_provider": {"guid": "guid-1"}}, db_path)
    assert settings["search_engine"]["value"] == "Ecosia (https://www.ecosia.org/search?q={searchTerms})"
    unknown = bs.chromium_settings({"default_search_provider": {"guid": "guid-9"}}, db_path)
    assert "guid-9" in unknown["search_engine"]["value"]


def test_prefs_js_parsing() -> None:
    text = "\n".join([
        "// Mozilla User Preferences",
        'user_pref("browser.startup.homepage", "https://start.example/|https://news.example/");',
        'user_pref("browser.startup.page", 3);',
        'user_pref("network.proxy.type", 1);',
        'user_pref("network.proxy.http", "proxy.corp");',
        'user_pref("network.proxy.http_port", 8080);',
        'user_pref("network.proxy.socks", "socks.corp");',
        'user_pref("app.normandy.first_run", false);',
        'user_pref("some.\\"quoted\\".name", "a \\"b\\" c");',
        'user_pref("weird.value", not_json);',
        'pref("not.a.user.pref", 1);',
    ])
    prefs = bs.parse_prefs_js(text)
    assert prefs["browser.startup.page"] == 3
    assert prefs["app.normandy.first_run"] is False
    assert prefs['some."quoted".name'] == 'a "b" c'
    assert prefs["weird.value"] == "not_json"
    assert "not.a.user.pref" not in prefs
    settings = bs.firefox_settings(prefs)
    assert settings["home_page"]["value"] == "https://start.example/ | https://news.example/"
    assert settings["startup"]["value"] == "restore the previous session"
    assert settings["proxy"]["value"] == "manual: HTTP proxy.corp:8080, SOCKS socks.corp"
    assert settings["search_engine"] == {"value": None, "default": True}
    assert bs.firefox_settings({})["proxy"] == {"value": None, "default": True}
    assert bs.firefox_settings({"network.proxy.type": 0})["proxy"]["value"] == "direct (no proxy)"


FIREFOX_FILES = Path(__file__).parent / "data/firefox"  # written by Firefox itself: see its README.md


def firefox_file(name: str) -> bytes:
    return (FIREFOX_FILES / name).read_bytes()


@pytest.mark.parametrize("name", ["fresh/search.json.mozlz4", "ddg/search.json.mozlz4", "addonStartup.json.lz4",
                                  "sessionstore.jsonlz4"])
def test_mozlz4_files_firefox_wrote(name: str) -> None:
    data = firefox_file(name)
    decoded = bs.decode_mozlz4(data)
    assert len(decoded) == struct.unpack_from("<I", data, 8)[0]
    assert len(decoded) > len(data) - 12  # LZ4 did compress: there were matches to copy, not only literals
    value = json.loads(decoded)
    assert isinstance(value, dict)
    if name == "addonStartup.json.lz4":
        assert "app-builtin-addons" in value
    elif name == "sessionstore.jsonlz4":
        assert value["version"] == ["sessionrestore", 1]
        assert value["windows"][0]["tabs"][0]["entries"][0]["url"] == "about:blank"
    else:
        assert "DuckDuckGo" in [engine["_name"] for engine in value["engines"]]


def test_firefox_search_json() -> None:
    fresh = json.loads(bs.decode_mozlz4(firefox_file("fresh/search.json.mozlz4")))
    assert "defaultEngineId" not in fresh["metaData"]
    assert bs.firefox_search_engine(fresh) is None  # no engine chosen: Firefox's own default applies
    chosen = json.loads(bs.decode_mozlz4(firefox_file("ddg/search.json.mozlz4")))
    assert chosen["metaData"]["defaultEngineId"] == "ddg"
    assert bs.firefox_search_engine(chosen) == "DuckDuckGo"
    assert bs.firefox_search_engine({"metaData": {"defaultEngineId": "gone"}, "engines": []}) == "gone"
    assert bs.firefox_search_engine({"metaData": {"current": "Qwant"}}) == "Qwant"
    assert bs.firefox_search_engine({"metaData": {"current": ""}}) is None


def test_mozlz4_bad_input() -> None:
    good = firefox_file("ddg/search.json.mozlz4")
    size = struct.unpack_from("<I", good, 8)[0]
    with pytest.raises(ValueError, match="not a mozLz40 file"):
        bs.decode_mozlz4(b"not mozlz4")
    with pytest.raises(ValueError, match="not a mozLz40 file"):
        bs.decode_mozlz4(good[:11])
    for cut in (12, 40, len(good) // 2, len(good) - 1):
        with pytest.raises(ValueError, match="corrupt mozLz40 block"):
            bs.decode_mozlz4(good[:cut])
    with pytest.raises(ValueError, match="corrupt mozLz40 block"):
        bs.decode_mozlz4(good[:12] + b"\xff" * (len(good) - 12))
    # a hostile header is refused before anything is allocated for it
    with pytest.raises(ValueError, match="over the 33554432-byte limit"):
        bs.decode_mozlz4(good[:8] + struct.pack("<I", 0xFFFFFFFF) + good[12:])
    with pytest.raises(ValueError, match="header says"):
        bs.decode_mozlz4(good[:8] + struct.pack("<I", size + 1) + good[12:])
    with pytest.raises(ValueError, match="corrupt mozLz40 block"):
        bs.decode_mozlz4(good[:8] + struct.pack("<I", size - 1) + good[12:])


@pytest.fixture
def profiles(tmp_path: Path) -> Path:
    """A temp HOME with a Chromium profile (Local State → "Profile 1") and a Firefox profile."""
    home = tmp_path / "home"
    chromium = home / ".config/chromium"
    (chromium / "Default").mkdir(parents=True)
    (chromium / "Default/Preferences").write_text(json.dumps({"homepage": "https://wrong.example/"}))
    (chromium / "Profile 1").mkdir()
    (chromium / "Profile 1/Preferences").write_text(json.dumps({
        "homepage": "https://start.example/", "homepage_is_newtabpage": False,
        "proxy": {"mode": "direct"}}))
    (chromium / "Local State").write_text(json.dumps({"profile": {"last_used": "Profile 1"}}))
    firefox = home / ".mozilla/firefox"
    (firefox / "abcd.default-release").mkdir(parents=True)
    (firefox / "old.default").mkdir()
    (firefox / "profiles.ini").write_text(
        "[Profile1]\nName=old\nIsRelative=1\nPath=old.default\nDefault=1\n\n"
        "[Profile0]\nName=default-release\nIsRelative=1\nPath=abcd.default-release\n\n"
        "[Install4F96D1932A9F858E]\nDefault=abcd.default-release\nLocked=1\n\n[General]\nVersion=2\n")
    (firefox / "abcd.default-release/prefs.js").write_text(
        'user_pref("browser.startup.homepage", "https://home.example/");\n'
        'user_pref("network.proxy.type", 2);\n'
        'user_pref("network.proxy.autoconfig_url", "http://pac.example/proxy.pac");\n')
    shutil.copy(FIREFOX_FILES / "ddg/search.json.mozlz4", firefox / "abcd.default-release/search.json.mozlz4")
    return home


def test_settings_facts_from_profiles(profiles: Path) -> None:
    facts = {f.key: f for f in bs.settings_facts([], "linux", home=profiles, env={})}
    assert set(facts) == {"browser.settings[chromium]", "browser.settings[firefox]"}
    chromium = facts["browser.settings[chromium]"]
    assert chromium.ok
    assert chromium.value["profile"] == "~/.config/chromium/Profile 1"
    assert chromium.value["home_page"]["value"] == "https://start.example/"
    assert chromium.value["proxy"]["value"] == "direct (no proxy)"
    assert chromium.value["search_engine"]["default"] is True
    assert "Preferences JSON" in chromium.source
    assert "browser's default applies: startup, search engine" in (chromium.detail or "")
    firefox = facts["browser.settings[firefox]"]
    assert firefox.value["profile"] == "~/.mozilla/firefox/abcd.default-release"
    assert firefox.value["home_page"]["value"] == "https://home.example/"
    assert firefox.value["proxy"]["value"] == "PAC script http://pac.example/proxy.pac"
    assert firefox.value["search_engine"]["value"] == "DuckDuckGo"
    assert "search.json.mozlz4" in firefox.source
    assert str(profiles) not in json.dumps([f.to_wire() for f in facts.values()])  # no user name in values


def test_settings_problems(profiles: Path) -> None:
    (profiles / ".config/chromium/Profile 1/Preferences").write_text("{not json")
    installs: list[dict[str, Any]] = [{"id": "google-chrome", "family": "google-chrome", "name": "Google Chrome"},
                {"id": "epiphany", "family": None, "name": "Web"},
                {"id": "safari", "family": "safari", "name": "Safari"}]
    facts = {f.key: f for f in bs.settings_facts(installs, "linux", home=profiles, env={})}
    assert facts["browser.settings[chromium]"].status == "unavailable"
    assert "not valid JSON" in (facts["browser.settings[chromium]"].detail or "")
    chrome = facts["browser.settings[google-chrome]"]
    assert chrome.status == "unavailable" and "not started yet" in (chrome.detail or "")
    assert facts["browser.settings[epiphany]"].status == "unsupported"
    assert facts["browser.settings[safari]"].status == "unsupported"


@pytest.mark.parametrize("damage", ["truncated", "corrupted"])
def test_damaged_search_json_falls_back_on_prefs(profiles: Path, damage: str) -> None:
    profile = profiles / ".mozilla/firefox/abcd.default-release"
    good = firefox_file("ddg/search.json.mozlz4")
    bad = good[:len(good) // 2] if damage == "truncated" else good[:12] + bytes(b ^ 0x5A for b in good[12:])
    with pytest.raises(ValueError, match="corrupt mozLz40 block"):
        bs.decode_mozlz4(bad)
    (profile / "search.json.mozlz4").write_bytes(bad)
    firefox = {f.key: f for f in bs.settings_facts([], "linux", home=profiles, env={})}["browser.settings[firefox]"]
    assert firefox.ok and firefox.value["home_page"]["value"] == "https://home.example/"
    assert firefox.value["search_engine"] == {"value": None, "default": True}
    assert "search.json.mozlz4" not in firefox.source
    with (profile / "prefs.js").open("a") as prefs:
        prefs.write('user_pref("browser.search.defaultenginename", "Qwant");\n')
    firefox = {f.key: f for f in bs.settings_facts([], "linux", home=profiles, env={})}["browser.settings[firefox]"]
    assert firefox.value["search_engine"] == {"value": "Qwant", "default": False}


_SETTINGS_SCRIPT = """
import json, sys
from pathlib import Path
from agent.inventory import browser_settings
print(json.dumps([f.to_wire() for f in browser_settings.settings_facts([], "linux", home=Path(sys.argv[1]), env={})]))
"""


@pytest.mark.skipif(not POSIX, reason="POSIX permissions")
def test_unreadable_preferences_are_denied(profiles: Path) -> None:
    prefs = profiles / ".config/chromium/Profile 1/Preferences"
    if os.geteuid() == 0:
        requires.tool("setpriv", "util-linux")  # root is refused a read only without its capabilities
        # as in the DMI test: root without the capabilities that bypass file modes
        os.chown(prefs, 12345, 12345)
        prefs.chmod(0o400)
        argv = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--inh-caps=-all"]
    else:
        prefs.chmod(0)
        argv = []
    argv += [sys.executable, "-c", _SETTINGS_SCRIPT, str(profiles)]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=True).stdout
    facts = {f["subject"]: f for f in json.loads(out)}
    assert facts["chromium"]["status"] == "denied"
    assert "permission denied" in facts["chromium"]["detail"]
    assert facts["firefox"]["status"] == "ok"


def test_windows_and_macos_profile_roots(tmp_path: Path) -> None:
    chrome = next(f for f in browsers.FAMILIES if f.key == "google-chrome")
    firefox = next(f for f in browsers.FAMILIES if f.key == "firefox")
    env = {"LOCALAPPDATA": str(tmp_path / "Local"), "APPDATA": str(tmp_path / "Roaming")}
    assert bs.profile_roots(chrome, "windows", tmp_path, env) == [tmp_path / "Local/Google/Chrome/User Data"]
    assert bs.profile_roots(firefox, "windows", tmp_path, env) == [tmp_path / "Roaming/Mozilla/Firefox"]
    assert bs.profile_roots(firefox, "windows", tmp_path, {}) == []
    assert bs.profile_roots(chrome, "macos", tmp_path, {}) == [tmp_path / "Library/Application Support/Google/Chrome"]
