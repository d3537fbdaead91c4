"""Windows backend: CIM classes through PowerShell, browsers from the registry's ``App Paths``.

``wmic`` is gone from recent Windows, so one PowerShell run asks
``Get-CimInstance`` for Win32_OperatingSystem, Win32_ComputerSystem,
Win32_ComputerSystemProduct, Win32_BIOS, Win32_SystemEnclosure and a few
device classes, and prints one JSON document (``ConvertTo-Json``).  The
adapters (:func:`run_powershell`, :func:`read_app_paths`) are thin; the
parsing (:func:`parse_report`, :func:`parse_versions`) is pure and tested on
any platform.  Same functions as :mod:`.linux`: :func:`platform_facts` and
:func:`browser_fact`.

Availability: Windows (the parsers: everywhere).
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import sys
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Final

from agent.inventory import browsers, windows_native
from agent.inventory._probe import ProbeError, run
from wire.facts import Fact, chassis_fact, missing, ok, text_fact

SYSTEM: Final = "windows"
#: Seconds PowerShell gets to start and answer (its cold start alone can take two).
POWERSHELL_TIMEOUT: Final = 8.0

REPORT_SCRIPT: Final = r"""
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
[Console]::OutputEncoding = [System.Text.Encoding]::UTF8
$pnpFilter = "PNPClass='Camera' OR PNPClass='Image' OR PNPClass='Printer' OR PNPClass='WPD' OR PNPClass='DiskDrive'"
function Get-Section([scriptblock]$Block) {
    try { & $Block } catch { @{ error = $_.Exception.Message } }
}
$report = [ordered]@{
    schema = 1
    os = Get-Section { Get-CimInstance -ClassName Win32_OperatingSystem |
        Select-Object Caption, Version, BuildNumber, CSDVersion, ServicePackMajorVersion, OSArchitecture }
    current_version = Get-Section { Get-ItemProperty -Path 'HKLM:\SOFTWARE\Microsoft\Windows NT\CurrentVersion' |
        Select-Object DisplayVersion, UBR, EditionID }
    system = Get-Section { Get-CimInstance -ClassName Win32_ComputerSystem |
        Select-Object Manufacturer, Model, SystemFamily }
    product = Get-Section { Get-CimInstance -ClassName Win32_ComputerSystemProduct |
        Select-Object UUID, IdentifyingNumber, Vendor, Name }
    bios = Get-Section { Get-CimInstance -ClassName Win32_BIOS |
        Select-Object SerialNumber, Manufacturer, SMBIOSBIOSVersion, ReleaseDate }
    enclosure = Get-Section { Get-CimInstance -ClassName Win32_SystemEnclosure | Select-Object ChassisTypes }
    keyboards = Get-Section { Get-CimInstance -ClassName Win32_Keyboard | Select-Object Name, Description }
    pointers = Get-Section { Get-CimInstance -ClassName Win32_PointingDevice | Select-Object Name, Manufacturer }
    devices = Get-Section { Get-CimInstance -ClassName Win32_PnPEntity -Filter $pnpFilter |
        Select-Object Name, Manufacturer, PNPClass }
}
$report | ConvertTo-Json -Depth 5 -Compress
"""

VERSIONS_SCRIPT: Final = r"""
$ErrorActionPreference = 'Stop'
[Console]::OutputEncoding = [System.Text.Encoding]::UTF8
$paths = $env:WORKBENCH_BROWSER_PATHS | ConvertFrom-Json
$out = foreach ($p in $paths) {
    try {
        $info = (Get-Item -LiteralPath $p).VersionInfo
        [pscustomobject]@{ path = $p; version = $info.ProductVersion; product = $info.ProductName }
    } catch {
        [pscustomobject]@{ path = $p; error = $_.Exception.Message }
    }
}
ConvertTo-Json -InputObject @($out) -Depth 3 -Compress
"""

#: Executables whose ``App Paths`` entry means a browser is installed.
BROWSER_EXECUTABLES: Final = ("chrome.exe", "msedge.exe", "firefox.exe", "brave.exe", "opera.exe", "vivaldi.exe")
_APP_PATHS: Final = r"SOFTWARE\Microsoft\Windows\CurrentVersion\App Paths"
_APP_PATHS_WOW: Final = r"SOFTWARE\WOW6432Node\Microsoft\Windows\CurrentVersion\App Paths"

# (fact name, personal) of every fact the report gives, so that a failed run still names them all.
_REPORT_FACTS: Final = (
    ("os.edition", False), ("os.version", False), ("os.build", False), ("os.service_pack", False),
    ("machine.vendor", False), ("machine.model", False), ("machine.serial", True), ("machine.uuid", True),
    ("machine.firmware", False), ("machine.chassis", False), ("peripherals", False),
)


def powershell_executable() -> str:
    """Return Windows PowerShell's path (always installed), else ``pwsh``; raises ProbeError if neither."""
    system_root = os.environ.get("SYSTEMROOT", r"C:\Windows")
    builtin = Path(system_root) / "System32/WindowsPowerShell/v1.0/powershell.exe"
    if builtin.is_file():
        return str(builtin)
    found = shutil.which("powershell") or shutil.which("pwsh")
    if found is None:
        raise ProbeError("unavailable", "PowerShell not found")
    return found


def run_powershell(script: str, timeout: float = POWERSHELL_TIMEOUT, env: Mapping[str, str] | None = None) -> str:
    """Run *script* in PowerShell without profile or prompts and return its output.

    Raises ProbeError (see :func:`agent.inventory._probe.run`).
    """
    encoded = base64.b64encode(script.encode("utf-16-le")).decode("ascii")
    argv = [powershell_executable(), "-NoLogo", "-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass",
            "-EncodedCommand", encoded]
    return run(argv, timeout=timeout, env=env)


# --- parsing (pure) ------------------------------------------------------------------------------------


def load_json(text: str) -> Any:
    """Parse PowerShell's JSON output (a UTF-8 byte-order mark and blank lines allowed).

    Raises ValueError when it is not JSON.
    """
    return json.loads(text.lstrip("\ufeff").strip())


def _items(section: Any) -> list[dict[str, Any]]:
    """ConvertTo-Json writes one object bare and several as a list; always return a list."""
    if section is None:
        return []
    if isinstance(section, dict):
        return [section]
    return [item for item in section if isinstance(item, dict)] if isinstance(section, list) else []


def _section_error(section: Any, cim_class: str) -> ProbeError | None:
    if isinstance(section, dict) and set(section) == {"error"}:
        message = str(section["error"])
        denied = "access denied" in message.lower() or "0x80041003" in message.lower()
        return ProbeError("denied" if denied else "unavailable", f"{cim_class}: {message}")
    return None


def cim_date(value: Any) -> str | None:
    """Return the ``YYYY-MM-DD`` of a CIM date as ConvertTo-Json writes it.

    Windows PowerShell writes ``"/Date(1557446400000)/"``; PowerShell 7 an ISO
    string.  Raises nothing; returns None for anything else.
    """
    if not isinstance(value, str):
        if isinstance(value, dict):  # -Depth too small gives {"value": ..., "DateTime": ...}
            return cim_date(value.get("value"))
        return None
    match = re.fullmatch(r"\\?/Date\((-?\d+)(?:[+-]\d{4})?\)\\?/", value.strip())
    if match:
        return datetime.fromtimestamp(int(match.group(1)) / 1000, tz=timezone.utc).date().isoformat()
    match = re.match(r"(\d{4}-\d{2}-\d{2})", value.strip())
    return match.group(1) if match else None


class _Report:
    """A parsed report: one item per section, and the error of a failed section."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.data = data

    def one(self, section: str) -> dict[str, Any]:
        items = _items(self.data.get(section))
        return items[0] if items else {}

    def text(self, name: str, section: str, field: str, cim_class: str, *, personal: bool = False) -> Fact:
        source = f"{cim_class}.{field}"
        err = _section_error(self.data.get(section), cim_class)
        if err is not None:
            return err.fact(name, source, personal=personal)
        raw = self.one(section).get(field)
        if raw is None:
            return missing(name, "unavailable", source, f"{cim_class} gave no {field}", personal=personal)
        return text_fact(name, str(raw), source, personal=personal)


def parse_report(text: str) -> list[Fact]:
    """Return the OS, machine and peripheral facts from :data:`REPORT_SCRIPT`'s output; raises nothing."""
    try:
        data = load_json(text)
        if not isinstance(data, dict):
            raise ValueError("not an object")
    except ValueError as err:
        return report_failed(ProbeError("unavailable", f"PowerShell output is not the expected JSON ({err})"))
    report = _Report(data)
    facts = [report.text("os.edition", "os", "Caption", "Win32_OperatingSystem")]
    facts.append(_version_fact(report))
    facts.append(_build_fact(report))
    facts.append(_service_pack_fact(report))
    facts.append(report.text("machine.vendor", "system", "Manufacturer", "Win32_ComputerSystem"))
    facts.append(report.text("machine.model", "system", "Model", "Win32_ComputerSystem"))
    facts.append(report.text("machine.serial", "bios", "SerialNumber", "Win32_BIOS", personal=True))
    facts.append(report.text("machine.uuid", "product", "UUID", "Win32_ComputerSystemProduct", personal=True))
    facts.append(_firmware_fact(report))
    facts.append(_chassis_fact(report))
    facts.append(_peripheral_fact(report))
    return facts


def report_failed(err: ProbeError) -> list[Fact]:
    """Return every fact of the report, without values, saying why; raises nothing."""
    return [err.fact(name, "PowerShell Get-CimInstance", personal=personal) for name, personal in _REPORT_FACTS]


def _version_fact(report: _Report) -> Fact:
    fact = report.text("os.version", "os", "Version", "Win32_OperatingSystem")
    display = report.one("current_version").get("DisplayVersion")
    if fact.ok and isinstance(display, str) and display.strip():
        return ok("os.version", f"{fact.value} ({display.strip()})",
                  "Win32_OperatingSystem.Version + CurrentVersion DisplayVersion")
    return fact


def _build_fact(report: _Report) -> Fact:
    fact = report.text("os.build", "os", "BuildNumber", "Win32_OperatingSystem")
    ubr = report.one("current_version").get("UBR")
    if fact.ok and isinstance(ubr, int) and not isinstance(ubr, bool):
        return ok("os.build", f"{fact.value}.{ubr}", "Win32_OperatingSystem.BuildNumber + CurrentVersion UBR")
    return fact


def _service_pack_fact(report: _Report) -> Fact:
    source = "Win32_OperatingSystem.CSDVersion"
    err = _section_error(report.data.get("os"), "Win32_OperatingSystem")
    if err is not None:
        return err.fact("os.service_pack", source)
    os_item = report.one("os")
    csd = os_item.get("CSDVersion")
    if isinstance(csd, str) and csd.strip():
        return ok("os.service_pack", csd.strip(), source)
    major = os_item.get("ServicePackMajorVersion")
    if major == 0:
        return ok("os.service_pack", "none", "Win32_OperatingSystem.ServicePackMajorVersion",
                  note="no service pack installed (Windows 10 and later ship none; see os.build)")
    if isinstance(major, int) and major > 0:
        return ok("os.service_pack", f"Service Pack {major}", "Win32_OperatingSystem.ServicePackMajorVersion")
    return missing("os.service_pack", "unavailable", source, "Win32_OperatingSystem gave no service pack")


def _firmware_fact(report: _Report) -> Fact:
    source = "Win32_BIOS.Manufacturer + SMBIOSBIOSVersion + ReleaseDate"
    version = report.text("machine.firmware", "bios", "SMBIOSBIOSVersion", "Win32_BIOS")
    if not version.ok:
        return version
    bios = report.one("bios")
    vendor = text_fact("machine.firmware", str(bios.get("Manufacturer") or ""), source)
    date = cim_date(bios.get("ReleaseDate"))
    text = " ".join(str(v.value) for v in (vendor, version) if v.ok)
    return ok("machine.firmware", text + (f" ({date})" if date else ""), source)


def _chassis_fact(report: _Report) -> Fact:
    source = "Win32_SystemEnclosure.ChassisTypes"
    err = _section_error(report.data.get("enclosure"), "Win32_SystemEnclosure")
    if err is not None:
        return err.fact("machine.chassis", source)
    types = report.one("enclosure").get("ChassisTypes")
    if isinstance(types, int):
        types = [types]
    codes = [t for t in types if isinstance(t, int)] if isinstance(types, list) else []
    return chassis_fact(codes[0] if codes else None, source)


def _peripheral_fact(report: _Report) -> Fact:
    found: list[dict[str, Any]] = []
    problems: list[str] = []
    sources: list[str] = []
    for section, cim_class, kind in (("keyboards", "Win32_Keyboard", "keyboard"),
                                     ("pointers", "Win32_PointingDevice", "pointer"),
                                     ("devices", "Win32_PnPEntity", None)):
        err = _section_error(report.data.get(section), cim_class)
        if err is not None:
            problems.append(err.detail)
            continue
        if section not in report.data:
            continue
        sources.append(cim_class)
        for item in _items(report.data.get(section)):
            name = item.get("Name") or item.get("Description")
            if not isinstance(name, str) or not name.strip():
                continue
            device: dict[str, Any] = {"bus": "pnp", "kind": kind or str(item.get("PNPClass") or "device").lower(),
                                      "name": name.strip()}
            vendor = item.get("Manufacturer")
            if isinstance(vendor, str) and vendor.strip() and not vendor.strip().startswith("("):
                device["vendor"] = vendor.strip()  # "(Standard keyboards)" is Windows' word for "none"
            found.append(device)
    if not sources:
        return missing("peripherals", "unavailable", "Get-CimInstance", "; ".join(problems) or "no device classes")
    return ok("peripherals", found, " + ".join(sources), note="; ".join(problems) or None)


def parse_versions(text: str) -> dict[str, dict[str, Any]]:
    """Return ``{path: {"version", "product"} or {"error"}}`` from :data:`VERSIONS_SCRIPT`'s output.

    Raises ValueError when the output is not the expected JSON.
    """
    data = load_json(text)
    result: dict[str, dict[str, Any]] = {}
    for item in _items(data):
        path = item.get("path")
        if isinstance(path, str):
            result[path.lower()] = item
    return result


def browsers_from_app_paths(app_paths: Mapping[str, tuple[str, str]],
                            versions: Mapping[str, Mapping[str, Any]] | None,
                            versions_problem: str | None = None) -> list[browsers.BrowserInstall]:
    """Return the installed browsers from ``{exe: (path, registry key)}`` and their versions by path.

    Two executables named ``chrome.exe`` (Chrome and Chromium) are told apart
    by the product name in their version resource.  Raises nothing.
    """
    installs: list[browsers.BrowserInstall] = []
    for exe, (path, key) in app_paths.items():
        info = (versions or {}).get(path.lower(), {})
        product = info.get("product") if isinstance(info.get("product"), str) else None
        family = browsers.family_for(product, exe)
        version_raw = info.get("version")
        version = browsers.version_in(version_raw) if isinstance(version_raw, str) else None
        if version is None:
            why = str(info.get("error") or versions_problem or "the file has no product version")
        else:
            why = None
        name = (product or (family.label if family else exe.removesuffix(".exe"))).strip()
        installs.append(browsers.BrowserInstall(
            family.key if family else exe.removesuffix(".exe").lower(), family.key if family else None, name,
            path, key, version, "file version resource (Get-Item VersionInfo)", why))
    return installs


# --- adapters ------------------------------------------------------------------------------------------


def read_app_paths() -> dict[str, tuple[str, str]]:
    """Return ``{exe: (path, registry key)}`` for the browsers registered under ``App Paths``.

    The user's own registrations (HKCU) win over the machine's.  Raises
    nothing; a missing key means that browser is not registered.  Off Windows: empty.
    """
    if sys.platform != "win32":
        return {}
    import winreg

    hives = ((winreg.HKEY_CURRENT_USER, "HKCU", _APP_PATHS), (winreg.HKEY_LOCAL_MACHINE, "HKLM", _APP_PATHS),
             (winreg.HKEY_LOCAL_MACHINE, "HKLM", _APP_PATHS_WOW))
    found: dict[str, tuple[str, str]] = {}
    for exe in BROWSER_EXECUTABLES:
        for hive, hive_name, base in hives:
            try:
                with winreg.OpenKey(hive, f"{base}\\{exe}") as key:
                    value, _kind = winreg.QueryValueEx(key, "")
            except OSError:
                continue
            path = os.path.expandvars(str(value)).strip().strip('"')
            if path:
                found[exe] = (path, f"{hive_name}\\{base}\\{exe}")
                break
    return found


def platform_facts(timeout: float = POWERSHELL_TIMEOUT) -> list[Fact]:
    """Return the OS, machine and peripheral facts from one PowerShell run; raises nothing.

    A fact CIM cannot give (no PowerShell, a blocked or broken one, a failed class) is read
    from the registry and ``RtlGetVersion`` instead (:mod:`.windows_native`), saying so.
    """
    try:
        facts = parse_report(run_powershell(REPORT_SCRIPT, timeout))
    except ProbeError as err:
        facts = report_failed(err)
    if all(fact.ok for fact in facts):
        return facts
    return windows_native.merge(facts, windows_native.read_native())


def browser_fact(timeout: float = POWERSHELL_TIMEOUT) -> Fact:
    """Return ``browsers`` from ``App Paths``, versions from the files' version resources; raises nothing."""
    app_paths = read_app_paths()
    versions: dict[str, dict[str, Any]] | None = None
    problem: str | None = None
    if app_paths:
        env = dict(os.environ, WORKBENCH_BROWSER_PATHS=json.dumps([p for p, _ in app_paths.values()]))
        try:
            versions = parse_versions(run_powershell(VERSIONS_SCRIPT, timeout, env=env))
        except ProbeError as err:
            problem = err.detail
        except ValueError as err:
            problem = f"PowerShell output is not the expected JSON ({err})"
    return browsers.browsers_fact(browsers_from_app_paths(app_paths, versions, problem),
                                  "registry App Paths + file version", [_APP_PATHS])
