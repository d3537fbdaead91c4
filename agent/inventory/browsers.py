"""Installed web browsers, their versions, and their key settings.

Finding browsers is per platform: Linux reads XDG ``.desktop`` files and asks
each browser ``--version``; macOS reads the ``Info.plist`` of application
bundles; Windows reads the registry's ``App Paths`` (in :mod:`.windows`).
Every finder returns :class:`BrowserInstall` records, turned into the one
``browsers`` fact by :func:`browsers_fact`.

Their settings are read by :mod:`.browser_settings`, which uses the
:data:`FAMILIES` table here to know where each browser keeps its profiles.
"""

from __future__ import annotations

import os
import plistlib
import re
import shlex
import shutil
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from agent.inventory._probe import ProbeError, home_relative, quiet_env, read_bytes, read_text, run
from wire.facts import Fact, ok

Engine = Literal["chromium", "firefox", "other"]
System = Literal["linux", "windows", "macos"]

#: Seconds a browser gets to answer ``--version``.
VERSION_TIMEOUT = 3.0
#: Desktop files looked at, at most, per data directory.
MAX_DESKTOP_FILES = 5000


@dataclass(frozen=True)
class Family:
    """A browser we know how to name and whose settings we know where to find."""

    key: str
    label: str
    engine: Engine
    #: lower-case executable names (without ``.exe``), desktop-file ids, flatpak ids, bundle ids
    names: frozenset[str]
    #: profile roots, relative to the home folder
    linux: tuple[str, ...] = ()
    #: profile roots as (environment variable, relative path)
    windows: tuple[tuple[str, str], ...] = ()
    #: profile roots, relative to ``~/Library/Application Support``
    macos: tuple[str, ...] = ()


FAMILIES: tuple[Family, ...] = (
    Family("google-chrome", "Google Chrome", "chromium",
           frozenset({"google-chrome", "google-chrome-stable", "google-chrome-beta", "chrome", "com.google.chrome"}),
           (".config/google-chrome", ".var/app/com.google.Chrome/config/google-chrome"),
           (("LOCALAPPDATA", "Google/Chrome/User Data"),), ("Google/Chrome",)),
    Family("chromium", "Chromium", "chromium",
           frozenset({"chromium", "chromium-browser", "org.chromium.chromium"}),
           (".config/chromium", "snap/chromium/common/chromium", ".var/app/org.chromium.Chromium/config/chromium"),
           (("LOCALAPPDATA", "Chromium/User Data"),), ("Chromium",)),
    Family("microsoft-edge", "Microsoft Edge", "chromium",
           frozenset({"microsoft-edge", "microsoft-edge-stable", "msedge", "com.microsoft.edgemac"}),
           (".config/microsoft-edge",), (("LOCALAPPDATA", "Microsoft/Edge/User Data"),), ("Microsoft Edge",)),
    Family("brave", "Brave", "chromium",
           frozenset({"brave-browser", "brave-browser-stable", "brave", "com.brave.browser"}),
           (".config/BraveSoftware/Brave-Browser",), (("LOCALAPPDATA", "BraveSoftware/Brave-Browser/User Data"),),
           ("BraveSoftware/Brave-Browser",)),
    Family("vivaldi", "Vivaldi", "chromium", frozenset({"vivaldi", "vivaldi-stable", "com.vivaldi.vivaldi"}),
           (".config/vivaldi",), (("LOCALAPPDATA", "Vivaldi/User Data"),), ("Vivaldi",)),
    Family("opera", "Opera", "chromium", frozenset({"opera", "com.operasoftware.opera"}),
           (".config/opera",), (("APPDATA", "Opera Software/Opera Stable"),), ("com.operasoftware.Opera",)),
    Family("firefox", "Firefox", "firefox",
           frozenset({"firefox", "firefox-esr", "firefox-bin", "org.mozilla.firefox"}),
           (".mozilla/firefox", "snap/firefox/common/.mozilla/firefox",
            ".var/app/org.mozilla.firefox/.mozilla/firefox"),
           (("APPDATA", "Mozilla/Firefox"),), ("Firefox",)),
    Family("safari", "Safari", "other", frozenset({"safari", "com.apple.safari"})),
)
#: Product names as Windows version resources spell them, besides each family's label.
_PRODUCT_NAMES: dict[str, str] = {"brave browser": "brave", "opera internet browser": "opera",
                                  "mozilla firefox": "firefox", "google chrome for testing": "google-chrome"}
_BY_NAME: dict[str, Family] = {
    **{family.label.lower(): family for family in FAMILIES},
    **{name: family for name, key in _PRODUCT_NAMES.items() for family in FAMILIES if family.key == key},
    **{name: family for family in FAMILIES for name in family.names},
}


def family_for(*names: str | None) -> Family | None:
    """Return the known family matching any of *names* (executable, desktop id, bundle id, product name).

    Raises nothing.
    """
    for raw in names:
        if not raw:
            continue
        name = raw.strip().lower()
        for suffix in (".exe", ".desktop", ".app"):
            name = name.removesuffix(suffix)
        family = _BY_NAME.get(name) or _BY_NAME.get(name.rsplit("/", 1)[-1])
        if family is not None:
            return family
    return None


@dataclass(frozen=True)
class BrowserInstall:
    """One installed browser: an id (its family key when known), display name, version and where it lives."""

    id: str
    family: str | None
    name: str
    path: str
    found_in: str
    version: str | None
    version_source: str
    #: why the version is missing
    version_detail: str | None = None

    def to_wire(self) -> dict[str, Any]:
        body: dict[str, Any] = {"id": self.id, "family": self.family, "name": self.name, "version": self.version,
                                "path": self.path, "found_in": self.found_in, "version_source": self.version_source}
        if self.version is None:
            body["version_detail"] = self.version_detail or "version not found"
        return body


def browsers_fact(installs: Sequence[BrowserInstall], source: str, searched: Sequence[str]) -> Fact:
    """Return the ``browsers`` fact; an empty list is a finding, and the note says where we looked."""
    ids: dict[str, int] = {}
    unique: list[BrowserInstall] = []
    for install in installs:  # two installs of one family (deb and flatpak): keep both, ids distinct
        count = ids.get(install.id, 0)
        ids[install.id] = count + 1
        if count:
            install = replace(install, id=f"{install.id}-{count + 1}")
        unique.append(install)
    note = None if unique else "no web browser found in " + ", ".join(searched)
    return ok("browsers", [b.to_wire() for b in unique], source, note=note)


def version_in(text: str) -> str | None:
    """Return the first dotted version number in *text* (``"Chromium 123.0.1 "`` → ``"123.0.1"``)."""
    match = re.search(r"(?<![\w.])(\d+(?:\.\d+)+)(?:[a-z]+\d*)?(?![\w.])", text)
    return match.group(1) if match else None


def _slug(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug or "browser"


# --- Linux: XDG desktop entries -------------------------------------------------------------------------


def xdg_data_dirs(env: Mapping[str, str], home: Path) -> list[Path]:
    """Return the XDG data directories in precedence order (``XDG_DATA_HOME`` first).

    When ``XDG_DATA_DIRS`` is unset (an agent started outside a desktop
    session), the Flatpak and Snap export folders are added to the spec's
    defaults.  Raises nothing.
    """
    data_home = env.get("XDG_DATA_HOME") or str(home / ".local/share")
    dirs_text = env.get("XDG_DATA_DIRS")
    dirs = [Path(data_home)]
    if dirs_text:
        dirs += [Path(p) for p in dirs_text.split(":") if p]
    else:
        dirs += [home / ".local/share/flatpak/exports/share", Path("/var/lib/flatpak/exports/share"),
                 Path("/usr/local/share"), Path("/usr/share"), Path("/var/lib/snapd/desktop")]
    unique: list[Path] = []
    for d in dirs:
        if d not in unique:
            unique.append(d)
    return unique


def parse_desktop_entry(text: str) -> dict[str, str]:
    """Return the unlocalised keys of the ``[Desktop Entry]`` group of a ``.desktop`` file."""
    entries: dict[str, str] = {}
    in_group = False
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            in_group = line == "[Desktop Entry]"
            continue
        if in_group and "=" in line:
            key, _, value = line.partition("=")
            key = key.strip()
            if "[" not in key:
                entries.setdefault(key, value.strip())
    return entries


def _is_browser_entry(entry: Mapping[str, str]) -> bool:
    if entry.get("Type", "Application") != "Application" or entry.get("Hidden", "").lower() == "true":
        return False
    categories = set(filter(None, entry.get("Categories", "").split(";")))
    mimetypes = set(filter(None, entry.get("MimeType", "").split(";")))
    if "WebBrowser" in categories:
        return True
    return "Network" in categories and bool(mimetypes & {"x-scheme-handler/http", "x-scheme-handler/https"})


def _exec_argv(entry: Mapping[str, str]) -> list[str]:
    """Return the command of an entry without field codes (``%u``) and leading ``env VAR=…``."""
    try:
        argv = shlex.split(entry.get("Exec", ""))
    except ValueError:
        return []
    argv = [a for a in argv if not re.fullmatch(r"%[a-zA-Z]|@@[a-z]?", a)]
    if argv and Path(argv[0]).name == "env":
        argv = argv[1:]
        while argv and "=" in argv[0] and not argv[0].startswith("-"):
            argv = argv[1:]
    return argv


@dataclass(frozen=True)
class DesktopBrowser:
    """A browser's desktop entry, before its version is asked."""

    desktop_id: str
    name: str
    desktop_file: Path
    argv: tuple[str, ...]
    executable: str


def find_desktop_browsers(data_dirs: Iterable[Path], path_env: str | None = None) -> list[DesktopBrowser]:
    """Return the browsers declared by desktop entries in *data_dirs*, first directory winning per id.

    An entry is skipped when hidden, when its ``TryExec`` or command is not
    installed, or when another entry already named the same executable.
    Raises nothing: unreadable files are skipped.
    """
    seen_ids: set[str] = set()
    seen_executables: set[str] = set()
    found: list[DesktopBrowser] = []
    for data_dir in data_dirs:
        apps = data_dir / "applications"
        try:
            files = sorted(apps.rglob("*.desktop"))[:MAX_DESKTOP_FILES]
        except OSError:
            continue
        for file in files:
            desktop_id = str(file.relative_to(apps)).replace(os.sep, "-")
            if desktop_id in seen_ids:
                continue
            seen_ids.add(desktop_id)  # the first directory's entry wins, even a hidden one
            try:
                entry = parse_desktop_entry(read_text(file, 256 * 1024))
            except ProbeError:
                continue
            if not _is_browser_entry(entry):
                continue
            try_exec = entry.get("TryExec")
            if try_exec and shutil.which(try_exec, path=path_env) is None:
                continue
            argv = _exec_argv(entry)
            executable = shutil.which(argv[0], path=path_env) if argv else None
            if executable is None:
                continue
            real = os.path.realpath(executable)
            key = real if Path(argv[0]).name not in ("flatpak", "snap") else " ".join(argv)
            if key in seen_executables:
                continue
            seen_executables.add(key)
            found.append(DesktopBrowser(desktop_id, entry.get("Name") or desktop_id.removesuffix(".desktop"),
                                        file, tuple(argv), executable))
    return found


def _flatpak_app_id(argv: Sequence[str]) -> str | None:
    if len(argv) < 2 or argv[1] != "run":
        return None
    ids = [a for a in argv[2:] if not a.startswith("-") and "." in a]
    return ids[0] if ids else None


def probe_version(browser: DesktopBrowser, timeout: float = VERSION_TIMEOUT) -> tuple[str | None, str, str | None]:
    """Return (version, source, why missing) for a desktop browser; raises nothing.

    Snap packages are read from their ``snap.yaml`` and Flatpak apps asked with
    ``flatpak info``; anything else is run with ``--version`` in an environment
    without a display, so that a program that ignores the flag cannot open a
    window on the customer's screen.
    """
    exe_name = Path(browser.argv[0]).name
    if exe_name == "flatpak":
        app_id = _flatpak_app_id(browser.argv)
        if app_id is None:
            return None, "flatpak info", "no Flatpak application id in the desktop entry"
        try:
            out = run([browser.executable, "info", app_id], timeout=timeout, env=quiet_env())
        except ProbeError as err:
            return None, "flatpak info", err.detail
        match = re.search(r"^\s*Version:\s*(\S+)", out, re.MULTILINE)
        return (match.group(1), "flatpak info", None) if match else (None, "flatpak info", "no Version line")
    if browser.executable.startswith("/snap/bin/"):
        snap_yaml = Path("/snap") / Path(browser.executable).name.split(".")[0] / "current/meta/snap.yaml"
        try:
            text = read_text(snap_yaml, 256 * 1024)
        except ProbeError as err:
            return None, str(snap_yaml), err.detail
        match = re.search(r"^version:\s*'?\"?([^'\"\s]+)", text, re.MULTILINE)
        return (match.group(1), str(snap_yaml), None) if match else (None, str(snap_yaml), "no version line")
    source = f"{exe_name} --version"
    try:
        out = run([browser.executable, "--version"], timeout=timeout, env=quiet_env())
    except ProbeError as err:
        return None, source, err.detail
    version = version_in(out)
    if version is None:
        first = out.strip().splitlines()[0][:80] if out.strip() else "nothing"
        return None, source, f"no version number in its answer ({first!r})"
    return version, source, None


def linux_browsers(env: Mapping[str, str] | None = None, home: Path | None = None,
                   timeout: float = VERSION_TIMEOUT) -> Fact:
    """Return the ``browsers`` fact from XDG desktop entries, versions asked in parallel; raises nothing."""
    env = os.environ if env is None else env
    home = Path.home() if home is None else home
    dirs = xdg_data_dirs(env, home)
    desktop = find_desktop_browsers(dirs, env.get("PATH"))
    installs: list[BrowserInstall] = []
    if desktop:
        with ThreadPoolExecutor(max_workers=min(4, len(desktop)), thread_name_prefix="inventory-version") as pool:
            versions = list(pool.map(lambda b: probe_version(b, timeout), desktop))
        for browser, (version, source, why) in zip(desktop, versions, strict=True):
            family = family_for(Path(browser.executable).name, browser.desktop_id, Path(browser.argv[0]).name,
                                _flatpak_app_id(browser.argv))
            installs.append(BrowserInstall(
                family.key if family else _slug(browser.desktop_id.removesuffix(".desktop")),
                family.key if family else None, browser.name,
                home_relative(browser.executable, home), home_relative(browser.desktop_file, home),
                version, source, why))
    searched = [home_relative(d / "applications", home) for d in dirs]
    return browsers_fact(installs, "XDG .desktop files + --version", searched)


# --- macOS: application bundles -------------------------------------------------------------------------


def bundle_browser(app: Path, info: Mapping[str, Any]) -> BrowserInstall | None:
    """Return the browser described by an app bundle's ``Info.plist`` dict, or None if it is not one."""
    bundle_id = str(info.get("CFBundleIdentifier", ""))
    family = family_for(bundle_id)
    schemes: set[str] = set()
    url_types = info.get("CFBundleURLTypes")
    if isinstance(url_types, list):
        for url_type in url_types:
            if isinstance(url_type, dict) and isinstance(url_type.get("CFBundleURLSchemes"), list):
                schemes.update(str(s).lower() for s in url_type["CFBundleURLSchemes"])
    if family is None and not schemes & {"http", "https"}:
        return None
    name = str(info.get("CFBundleDisplayName") or info.get("CFBundleName") or app.stem)
    version_raw = info.get("CFBundleShortVersionString") or info.get("CFBundleVersion")
    version = str(version_raw).strip() if version_raw is not None and str(version_raw).strip() else None
    return BrowserInstall(family.key if family else _slug(bundle_id or app.stem), family.key if family else None,
                          name, str(app),
                          str(app / "Contents/Info.plist"), version, "Info.plist CFBundleShortVersionString",
                          None if version else "Info.plist has no CFBundleShortVersionString")


def scan_app_bundles(folders: Iterable[Path]) -> list[BrowserInstall]:
    """Return the browsers among the ``*.app`` bundles directly inside *folders*; raises nothing."""
    found: list[BrowserInstall] = []
    for folder in folders:
        try:
            apps = sorted(p for p in folder.iterdir() if p.suffix == ".app")
        except OSError:
            continue
        for app in apps:
            try:
                info = plistlib.loads(read_bytes(app / "Contents/Info.plist", 1024 * 1024))
            except (ProbeError, plistlib.InvalidFileException, ValueError):
                continue
            if isinstance(info, dict):
                browser = bundle_browser(app, info)
                if browser is not None:
                    found.append(browser)
    return found
