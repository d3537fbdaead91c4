"""Windows facts without PowerShell: the registry and Win32 calls, for when CIM cannot answer.

PowerShell may be missing, blocked by policy, or too slow; the same facts are
then read where Windows itself keeps them:

* ``HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion``: ``ProductName``,
  ``EditionID``, ``DisplayVersion``, ``CurrentBuild``, ``UBR``, ``CSDVersion``;
* ``RtlGetVersion`` (ntdll): the true version, which ``GetVersionExW`` hides
  from programs without a manifest;
* ``HKLM\\HARDWARE\\DESCRIPTION\\System\\BIOS``: ``SystemManufacturer``,
  ``SystemProductName``, ``BIOSVendor``, ``BIOSVersion``, ``BIOSReleaseDate``
  (written by Windows from the SMBIOS table at every boot).

The serial number and UUID are not in the registry: without CIM they are
``unavailable``, said so. The parsing (:func:`facts_from_registry`) is pure and
tested on every platform; the adapters (:func:`read_native`) run on Windows only.

Availability: Windows (the parsers: everywhere).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any, Final

from wire.facts import Fact, missing, ok, text_fact

CURRENT_VERSION: Final = r"SOFTWARE\Microsoft\Windows NT\CurrentVersion"
BIOS: Final = r"HARDWARE\DESCRIPTION\System\BIOS"
_CV_NAMES: Final = ("ProductName", "EditionID", "DisplayVersion", "CurrentBuild", "CurrentBuildNumber", "UBR",
                    "CSDVersion")
_BIOS_NAMES: Final = ("SystemManufacturer", "SystemProductName", "BIOSVendor", "BIOSVersion", "BIOSReleaseDate")


def _text(values: Mapping[str, Any], name: str) -> str | None:
    value = values.get(name)
    return value.strip() if isinstance(value, str) and value.strip() else None


def facts_from_registry(current: Mapping[str, Any] | None, bios: Mapping[str, Any] | None,
                        rtl: tuple[int, int, int, str] | None, why: str = "") -> dict[str, Fact]:
    """The facts the registry and ``RtlGetVersion`` give, by name; raises nothing.

    *current* and *bios* are the values of the two keys (None when the key
    could not be read, *why* saying why); *rtl* is ``(major, minor, build,
    CSD version)`` or None.
    """
    cv_source, bios_source = f"registry HKLM\\{CURRENT_VERSION}", f"registry HKLM\\{BIOS}"
    facts: dict[str, Fact] = {}
    cv = current or {}
    product = _text(cv, "ProductName")
    edition = _text(cv, "EditionID")
    if product is not None:
        facts["os.edition"] = ok("os.edition", product + (f" ({edition})" if edition and edition not in product
                                                           else ""), f"{cv_source} ProductName + EditionID")
    else:
        facts["os.edition"] = missing("os.edition", "unavailable", cv_source, why or "no ProductName")
    display = _text(cv, "DisplayVersion")
    if rtl is not None:
        version = f"{rtl[0]}.{rtl[1]}.{rtl[2]}"
        facts["os.version"] = ok("os.version", version + (f" ({display})" if display else ""),
                                 "RtlGetVersion" + (" + DisplayVersion" if display else ""))
    else:
        facts["os.version"] = missing("os.version", "unavailable", "RtlGetVersion", why or "ntdll did not answer")
    build = _text(cv, "CurrentBuild") or _text(cv, "CurrentBuildNumber") or (str(rtl[2]) if rtl else None)
    ubr = cv.get("UBR")
    if build is not None:
        with_ubr = isinstance(ubr, int) and not isinstance(ubr, bool)
        facts["os.build"] = ok("os.build", f"{build}.{ubr}" if with_ubr else build,
                               f"{cv_source} CurrentBuild" + (" + UBR" if with_ubr else ""))
    else:
        facts["os.build"] = missing("os.build", "unavailable", cv_source, why or "no CurrentBuild")
    csd = (rtl[3].strip() if rtl else "") or _text(cv, "CSDVersion")
    if csd:
        facts["os.service_pack"] = ok("os.service_pack", csd, "RtlGetVersion szCSDVersion")
    elif rtl is not None:
        facts["os.service_pack"] = ok("os.service_pack", "none", "RtlGetVersion szCSDVersion",
                                      note="no service pack installed (Windows 10 and later ship none; see os.build)")
    else:
        facts["os.service_pack"] = missing("os.service_pack", "unavailable", "RtlGetVersion", why or "no answer")
    hw = bios or {}
    for name, field in (("machine.vendor", "SystemManufacturer"), ("machine.model", "SystemProductName")):
        value = _text(hw, field)
        facts[name] = (text_fact(name, value, f"{bios_source} {field}") if value is not None
                       else missing(name, "unavailable", bios_source, why or f"no {field}"))
    firmware = " ".join(v for v in (_text(hw, "BIOSVendor"), _text(hw, "BIOSVersion")) if v)
    date = _text(hw, "BIOSReleaseDate")
    facts["machine.firmware"] = (
        ok("machine.firmware", firmware + (f" ({date})" if date else ""),
           f"{bios_source} BIOSVendor + BIOSVersion + BIOSReleaseDate") if firmware
        else missing("machine.firmware", "unavailable", bios_source, why or "no BIOSVersion"))
    return facts


def merge(cim: list[Fact], native: Mapping[str, Fact]) -> list[Fact]:
    """CIM's facts, each one CIM could not give replaced by the native one when that is ``ok``.

    The replaced fact's reason is kept in the note, so the technician sees both sources.
    """
    merged = []
    for fact in cim:
        other = native.get(fact.name)
        if not fact.ok and other is not None and other.ok:
            why = f"{fact.source}: {fact.detail}" if fact.detail else fact.source
            note = f"{other.detail}; " if other.detail else ""
            merged.append(Fact(other.name, other.value, other.status, other.source, other.personal,
                               note + f"instead of {why}", other.subject))
        else:
            merged.append(fact)
    return merged


def read_native() -> dict[str, Fact]:
    """Read the registry keys and ``RtlGetVersion`` and return :func:`facts_from_registry`; raises nothing.

    Off Windows: every fact ``unsupported``.
    """
    if sys.platform != "win32":
        return {name: missing(name, "unsupported", "registry", "not Windows")
                for name in ("os.edition", "os.version", "os.build", "os.service_pack", "machine.vendor",
                             "machine.model", "machine.firmware")}
    import winreg

    def key_values(path: str, names: tuple[str, ...]) -> dict[str, Any] | None:
        try:
            with winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, path, 0, winreg.KEY_READ | winreg.KEY_WOW64_64KEY) as key:
                found = {}
                for name in names:
                    try:
                        found[name] = winreg.QueryValueEx(key, name)[0]
                    except OSError:
                        continue
                return found
        except OSError:
            return None

    return facts_from_registry(key_values(CURRENT_VERSION, _CV_NAMES), key_values(BIOS, _BIOS_NAMES), rtl_version(),
                               why="the registry key could not be read")


def rtl_version() -> tuple[int, int, int, str] | None:
    """``(major, minor, build, CSD version)`` from ntdll's ``RtlGetVersion``; None off Windows or on failure."""
    if sys.platform != "win32":
        return None
    import ctypes
    from ctypes import wintypes

    class OsVersionInfoExW(ctypes.Structure):
        _fields_ = [("dwOSVersionInfoSize", wintypes.DWORD), ("dwMajorVersion", wintypes.DWORD),
                    ("dwMinorVersion", wintypes.DWORD), ("dwBuildNumber", wintypes.DWORD),
                    ("dwPlatformId", wintypes.DWORD), ("szCSDVersion", wintypes.WCHAR * 128),
                    ("wServicePackMajor", wintypes.WORD), ("wServicePackMinor", wintypes.WORD),
                    ("wSuiteMask", wintypes.WORD), ("wProductType", wintypes.BYTE), ("wReserved", wintypes.BYTE)]

    info = OsVersionInfoExW()
    info.dwOSVersionInfoSize = ctypes.sizeof(info)
    try:
        status = ctypes.WinDLL("ntdll").RtlGetVersion(ctypes.byref(info))
    except OSError:
        return None
    if status != 0:
        return None
    return int(info.dwMajorVersion), int(info.dwMinorVersion), int(info.dwBuildNumber), str(info.szCSDVersion)
