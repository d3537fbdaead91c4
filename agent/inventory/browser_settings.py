"""Key settings of installed browsers: home page, startup, default search engine, proxy.

Read from the current user's profile folders, whatever found the browser:
Chromium-family ``Preferences`` JSON, which stores only the values the user
changed (so an absent key means the browser's default, and the fact says
so), and Firefox's ``prefs.js`` (``user_pref`` lines, same rule) with its
``search.json.mozlz4`` for the default search engine.  One
``browser.settings`` fact per browser, subject the browser's id.
"""

from __future__ import annotations

import configparser
import json
import os
import re
import sqlite3
import struct
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import lz4.block

from agent.inventory._probe import ProbeError, home_relative, read_bytes, read_text
from agent.inventory.browsers import FAMILIES, Family, System
from wire.facts import Fact, missing, ok

#: Largest browser preference file read.
MAX_PREFS_BYTES = 32 * 1024 * 1024


def profile_roots(family: Family, system: System, home: Path, env: Mapping[str, str]) -> list[Path]:
    """Return where *family* keeps its profiles for this user on *system*; raises nothing."""
    if system == "linux":
        return [home / rel for rel in family.linux]
    if system == "macos":
        return [home / "Library/Application Support" / rel for rel in family.macos]
    roots = []
    for variable, rel in family.windows:
        base = env.get(variable)
        if base:
            roots.append(Path(base) / rel)
    return roots


def _setting(value: str | None) -> dict[str, Any]:
    return {"value": value, "default": value is None}


def _chromium_profile(root: Path) -> Path | None:
    """Return the profile folder in use: ``Local State``'s last used one, else ``Default``, else *root*."""
    candidates: list[Path] = []
    try:
        state = json.loads(read_bytes(root / "Local State", MAX_PREFS_BYTES))
        last = state.get("profile", {}).get("last_used") if isinstance(state, dict) else None
        if isinstance(last, str) and last and "/" not in last and "\\" not in last and last not in (".", ".."):
            candidates.append(root / last)
    except (ProbeError, ValueError, AttributeError):
        pass
    candidates += [root / "Default", root]  # Opera keeps Preferences in the root itself
    for candidate in candidates:
        if (candidate / "Preferences").is_file():
            return candidate
    return None


def _dig(data: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


_CHROMIUM_STARTUP = {0: "open the home page", 1: "restore the last session", 4: "open specific pages",
                     5: "open the new tab page"}


def chromium_settings(prefs: Mapping[str, Any], web_data: Path | None = None) -> dict[str, Any]:
    """Return home page, startup, search engine and proxy from a Chromium ``Preferences`` dict.

    Chromium writes only values that differ from its defaults, so a missing key
    gives ``{"value": None, "default": True}``.  When only the search engine's
    id is stored, its name is looked up in the profile's ``Web Data`` database
    (read-only) if *web_data* is given.  Raises nothing.
    """
    is_ntp = prefs.get("homepage_is_newtabpage")
    url = prefs.get("homepage")
    if is_ntp is None and not url:
        home_page = _setting(None)
    elif is_ntp is False and isinstance(url, str) and url:
        home_page = _setting(url)
    elif isinstance(url, str) and url:
        home_page = _setting(f"new tab page (stored address {url} not used)")
    else:
        home_page = _setting("new tab page")

    restore = _dig(prefs, "session", "restore_on_startup")
    if restore is None:
        startup = _setting(None)
    else:
        what = _CHROMIUM_STARTUP.get(restore, f"mode {restore}") if isinstance(restore, int) else f"mode {restore!r}"
        urls = _dig(prefs, "session", "startup_urls")
        if restore == 4 and isinstance(urls, list) and urls:
            what += ": " + ", ".join(str(u) for u in urls[:10])
        startup = _setting(what)

    search = _setting(None)
    template = _dig(prefs, "default_search_provider_data", "template_url_data")
    legacy = prefs.get("default_search_provider")
    if isinstance(template, dict) and (template.get("short_name") or template.get("url")):
        search = _setting(_engine_text(template.get("short_name"), template.get("url")))
    elif isinstance(legacy, dict) and (legacy.get("name") or legacy.get("search_url")):
        search = _setting(_engine_text(legacy.get("name"), legacy.get("search_url")))
    elif isinstance(legacy, dict) and isinstance(legacy.get("guid"), str) and legacy["guid"]:
        found = _web_data_engine(web_data, legacy["guid"]) if web_data is not None else None
        search = _setting(found or f"engine {legacy['guid']} (name kept in the Web Data database)")
    if isinstance(legacy, dict) and legacy.get("enabled") is False:
        search = _setting("search from the address bar turned off")

    proxy_prefs = prefs.get("proxy")
    if not isinstance(proxy_prefs, dict) or not proxy_prefs.get("mode"):
        proxy = _setting(None)
    else:
        mode = str(proxy_prefs["mode"])
        text = {"direct": "direct (no proxy)", "system": "system settings", "auto_detect": "auto-detect (WPAD)",
                "fixed_servers": f"servers {proxy_prefs.get('server', '?')}",
                "pac_script": f"PAC script {proxy_prefs.get('pac_url', '?')}"}.get(mode, f"mode {mode}")
        if mode == "fixed_servers" and proxy_prefs.get("bypass_list"):
            text += f" (bypass: {proxy_prefs['bypass_list']})"
        proxy = _setting(text)
    return {"home_page": home_page, "startup": startup, "search_engine": search, "proxy": proxy}


def _engine_text(name: Any, url: Any) -> str:
    parts = [str(name)] if name else []
    if url:
        parts.append(f"({url})" if parts else str(url))
    return " ".join(parts)


def _web_data_engine(web_data: Path, guid: str) -> str | None:
    if not web_data.is_file():
        return None
    try:
        uri = web_data.resolve().as_uri() + "?mode=ro&immutable=1"
        with sqlite3.connect(uri, uri=True, timeout=1) as db:
            row = db.execute("SELECT short_name, url FROM keywords WHERE sync_guid = ?", (guid,)).fetchone()
    except (sqlite3.Error, OSError, ValueError):
        return None
    return _engine_text(row[0], row[1]) if row else None


_PREF_LINE = re.compile(r'^\s*user_pref\(\s*"((?:[^"\\]|\\.)*)"\s*,\s*(.*?)\s*\)\s*;\s*$')


def parse_prefs_js(text: str) -> dict[str, Any]:
    """Return the ``user_pref("name", value);`` lines of a Firefox ``prefs.js`` as a dict.

    Values are strings, numbers or booleans; a value that is not valid JSON is
    kept as its raw text.  Other lines are ignored.  Raises nothing.
    """
    prefs: dict[str, Any] = {}
    for line in text.splitlines():
        match = _PREF_LINE.match(line)
        if not match:
            continue
        try:
            name = json.loads(f'"{match.group(1)}"')
        except ValueError:
            name = match.group(1)
        raw = match.group(2)
        try:
            value = json.loads(raw)
        except ValueError:
            value = raw
        prefs[str(name)] = value
    return prefs


#: The magic that opens Mozilla's ``.mozlz4`` / ``.jsonlz4`` / ``.json.lz4`` files.
MOZLZ4_MAGIC = b"mozLz40\x00"


def decode_mozlz4(data: bytes) -> bytes:
    """Decode a Mozilla ``mozLz40`` file: the magic, a 32-bit little-endian size, then one LZ4 block.

    The block is decoded by the ``lz4`` package into at most :data:`MAX_PREFS_BYTES`
    bytes, so a hostile size in the header cannot make us allocate more.
    Raises ValueError when *data* is not such a file, declares a size over that
    cap, or its block is corrupt or does not decode to the declared size.
    """
    if not data.startswith(MOZLZ4_MAGIC) or len(data) < 12:
        raise ValueError("not a mozLz40 file")
    (size,) = struct.unpack_from("<I", data, 8)
    if size > MAX_PREFS_BYTES:
        raise ValueError(f"mozLz40 file declares {size} bytes, over the {MAX_PREFS_BYTES}-byte limit")
    try:
        decoded = bytes(lz4.block.decompress(data[12:], uncompressed_size=size))
    except lz4.block.LZ4BlockError as err:
        raise ValueError(f"corrupt mozLz40 block: {err}") from err
    if len(decoded) != size:  # the lz4 package takes the size as a bound, so a short block is no error to it
        raise ValueError(f"mozLz40 block decoded to {len(decoded)} bytes, header says {size}")
    return decoded


def firefox_search_engine(search: Mapping[str, Any]) -> str | None:
    """Return the default engine named in a decoded ``search.json``, or None when Firefox's default applies."""
    meta = search.get("metaData")
    if not isinstance(meta, dict):
        return None
    engine_id = meta.get("defaultEngineId")
    if isinstance(engine_id, str) and engine_id:
        engines = search.get("engines")
        for engine in engines if isinstance(engines, list) else []:
            if isinstance(engine, dict) and engine.get("id") == engine_id:
                return str(engine.get("_name") or engine_id)
        return engine_id
    current = meta.get("current")
    return current if isinstance(current, str) and current else None


_FIREFOX_STARTUP = {0: "a blank page", 1: "open the home page", 3: "restore the previous session"}


def firefox_settings(prefs: Mapping[str, Any], search: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Return home page, startup, search engine and proxy from Firefox prefs (and decoded ``search.json``).

    As with Chromium, a pref absent from ``prefs.js`` is at its default.  Raises nothing.
    """
    home = prefs.get("browser.startup.homepage")
    home_page = _setting(" | ".join(str(home).split("|")) if home not in (None, "") else None)
    page = prefs.get("browser.startup.page")
    startup = _setting(None if page is None else _FIREFOX_STARTUP.get(page, f"mode {page}"))

    engine = firefox_search_engine(search) if search is not None else None
    if engine is None:
        legacy = prefs.get("browser.search.defaultenginename")
        if isinstance(legacy, str) and legacy and not legacy.startswith(("chrome://", "data:")):
            engine = legacy
    search_engine = _setting(engine)

    kind = prefs.get("network.proxy.type")
    if kind is None:
        proxy = _setting(None)
    elif kind == 1:
        servers = []
        for scheme, label in (("http", "HTTP"), ("ssl", "HTTPS"), ("socks", "SOCKS")):
            host = prefs.get(f"network.proxy.{scheme}")
            if host:
                port = prefs.get(f"network.proxy.{scheme}_port")
                servers.append(f"{label} {host}" + (f":{port}" if port else ""))
        proxy = _setting("manual: " + (", ".join(servers) if servers else "no server set"))
    else:
        proxy = _setting({0: "direct (no proxy)", 2: f"PAC script {prefs.get('network.proxy.autoconfig_url', '?')}",
                          4: "auto-detect (WPAD)", 5: "system settings"}.get(kind, f"mode {kind}")
                         if isinstance(kind, int) else f"mode {kind!r}")
    return {"home_page": home_page, "startup": startup, "search_engine": search_engine, "proxy": proxy}


def _firefox_profile(root: Path) -> Path | None:
    """Return the default profile named by ``profiles.ini`` (the install's default first)."""
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read_string(read_text(root / "profiles.ini", 256 * 1024))
    except (ProbeError, configparser.Error):
        return None

    def resolve(section: configparser.SectionProxy, path_key: str = "path") -> Path | None:
        rel = section.get(path_key)
        if not rel:
            return None
        if path_key == "path" and section.get("isrelative", "1") != "1":
            return Path(rel)
        return Path(rel) if Path(rel).is_absolute() else root / rel

    for name in parser.sections():
        if name.startswith("Install") and parser[name].get("default"):
            found = resolve(parser[name], "default")
            if found is not None and found.is_dir():
                return found
    profiles = [parser[n] for n in parser.sections() if n.startswith("Profile")]
    profiles.sort(key=lambda s: s.get("default", "0") != "1")
    for section in profiles:
        found = resolve(section)
        if found is not None and found.is_dir():
            return found
    return None


def _chromium_fact(install_id: str, root: Path, home: Path) -> Fact:
    profile = _chromium_profile(root)
    if profile is None:
        return missing("browser.settings", "unavailable", "Preferences JSON",
                       f"no profile with a Preferences file under {home_relative(root, home)}", subject=install_id)
    prefs_path = profile / "Preferences"
    source = f"Preferences JSON ({home_relative(prefs_path, home)})"
    try:
        prefs = json.loads(read_bytes(prefs_path, MAX_PREFS_BYTES))
    except ProbeError as err:
        return err.fact("browser.settings", source, subject=install_id)
    except ValueError:
        return missing("browser.settings", "unavailable", source,
                       "Preferences is not valid JSON (being rewritten by the browser?)", subject=install_id)
    if not isinstance(prefs, dict):
        return missing("browser.settings", "unavailable", source, "Preferences is not a JSON object",
                       subject=install_id)
    value: dict[str, Any] = {"profile": home_relative(profile, home)}
    value.update(chromium_settings(prefs, profile / "Web Data"))
    return ok("browser.settings", value, source, subject=install_id, note=_default_note(value, "Preferences"))


def _firefox_fact(install_id: str, root: Path, home: Path) -> Fact:
    profile = _firefox_profile(root)
    if profile is None:
        return missing("browser.settings", "unavailable", "prefs.js",
                       f"no profile listed in {home_relative(root / 'profiles.ini', home)}", subject=install_id)
    prefs_path = profile / "prefs.js"
    source = f"prefs.js ({home_relative(prefs_path, home)})"
    try:
        prefs = parse_prefs_js(read_text(prefs_path, MAX_PREFS_BYTES))
    except ProbeError as err:
        return err.fact("browser.settings", source, subject=install_id)
    search: dict[str, Any] | None = None
    search_path = profile / "search.json.mozlz4"
    if search_path.is_file():
        try:
            decoded = json.loads(decode_mozlz4(read_bytes(search_path, MAX_PREFS_BYTES)))
            if isinstance(decoded, dict):
                search = decoded
                source += " + search.json.mozlz4"
        except (ProbeError, ValueError):
            pass  # fall back on prefs.js; the search engine then reads as default or legacy pref
    value: dict[str, Any] = {"profile": home_relative(profile, home)}
    value.update(firefox_settings(prefs, search))
    return ok("browser.settings", value, source, subject=install_id, note=_default_note(value, "prefs.js"))


def _default_note(value: Mapping[str, Any], where: str) -> str | None:
    defaults = [k for k, v in value.items() if isinstance(v, dict) and v.get("default")]
    if not defaults:
        return None
    return f"not set in {where}, so the browser's default applies: " + ", ".join(d.replace("_", " ") for d in defaults)


def settings_facts(installs: Sequence[Mapping[str, Any]], system: System, home: Path | None = None,
                   env: Mapping[str, str] | None = None) -> list[Fact]:
    """Return one ``browser.settings`` fact per installed browser or per profile found.

    *installs* are the entries of the ``browsers`` fact.  A known browser with
    a profile gets its settings even when the finder missed its program; an
    installed browser whose settings we cannot read gets an ``unsupported``
    fact saying so.  Raises nothing.
    """
    home = Path.home() if home is None else home
    env = os.environ if env is None else env
    installed_families = {str(b.get("family")) for b in installs if b.get("family")}
    facts: list[Fact] = []
    for family in FAMILIES:
        roots = [r for r in profile_roots(family, system, home, env) if r.is_dir()]
        if family.key not in installed_families and not roots:
            continue
        if family.engine == "other":
            facts.append(missing("browser.settings", "unsupported", family.label,
                                 f"reading {family.label}'s settings is not supported", subject=family.key))
            continue
        if not roots:
            where = ", ".join(home_relative(r, home) for r in profile_roots(family, system, home, env)) or "?"
            facts.append(missing("browser.settings", "unavailable", "profile folder",
                                 f"no profile at {where}: not started yet by this user", subject=family.key))
            continue
        reader = _chromium_fact if family.engine == "chromium" else _firefox_fact
        facts.append(reader(family.key, roots[0], home))
    for install in installs:
        install_id = str(install.get("id"))
        if not install.get("family"):
            facts.append(missing("browser.settings", "unsupported", str(install.get("name") or install_id),
                                 f"reading {install.get('name') or install_id}'s settings is not supported",
                                 subject=install_id))
    return facts
