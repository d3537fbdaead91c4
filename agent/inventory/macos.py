"""macOS backend: ``sw_vers``, ``ioreg``, ``system_profiler``, and app bundles' ``Info.plist``.

The adapters only run the programs (concurrently, each with a timeout); the
parsers (:func:`parse_sw_vers`, :func:`parse_ioreg`,
:func:`parse_system_profiler`) are pure and tested on any platform.  Same
functions as :mod:`.linux`: :func:`platform_facts` and :func:`browser_fact`.

Availability: macOS (the parsers: everywhere).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Final

from agent.inventory import browsers
from agent.inventory._probe import ProbeError, run
from wire.facts import Fact, missing, ok, text_fact

SYSTEM: Final = "macos"
#: Seconds ``system_profiler`` gets; ``sw_vers`` and ``ioreg`` answer in milliseconds.
PROFILER_TIMEOUT: Final = 6.0
SW_VERS: Final = ("/usr/bin/sw_vers",)
IOREG: Final = ("/usr/sbin/ioreg", "-rd1", "-c", "IOPlatformExpertDevice")
# SPUSBDataType became SPUSBHostDataType in recent releases; ask for both and read what comes.
SYSTEM_PROFILER: Final = ("/usr/sbin/system_profiler", "-json", "-detailLevel", "mini",
                          "SPHardwareDataType", "SPUSBDataType", "SPUSBHostDataType")

#: Marketing names by major version, for the edition.
_RELEASE_NAMES: Final = {11: "Big Sur", 12: "Monterey", 13: "Ventura", 14: "Sonoma", 15: "Sequoia", 26: "Tahoe"}
#: Chassis by model identifier prefix (Apple does not publish an SMBIOS chassis type).
_CHASSIS_BY_MODEL: Final = (("MacBook", "laptop"), ("iMac", "all-in-one"), ("Macmini", "mini PC"),
                            ("MacPro", "tower"))


def parse_sw_vers(text: str) -> dict[str, str]:
    """Return ``sw_vers``'s ``Key: value`` lines as a dict; raises nothing."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() and value.strip():
            values[key.strip()] = value.strip()
    return values


def _ioreg_value(raw: str) -> Any:
    raw = raw.strip()
    if raw.startswith('"') and raw.endswith('"'):
        return raw[1:-1]
    if raw.startswith("<") and raw.endswith(">"):
        strings = re.findall(r'"((?:[^"\\]|\\.)*)"', raw)
        return strings[0] if strings else None  # hex data: not text
    if raw in ("Yes", "No"):
        return raw == "Yes"
    return int(raw) if raw.isdigit() else raw


def parse_ioreg(text: str) -> dict[str, Any]:
    """Return the properties of the first object in ``ioreg -rd1`` output (``"key" = value`` lines).

    Strings and ``<"string">`` data become str; other data is left out.  Raises nothing.
    """
    values: dict[str, Any] = {}
    for line in text.splitlines():
        match = re.match(r'^\s*\|?\s*"([^"]+)"\s*=\s*(.+)$', line)
        if match and match.group(1) not in values:
            value = _ioreg_value(match.group(2))
            if value is not None:
                values[match.group(1)] = value
    return values


def parse_system_profiler(text: str) -> tuple[dict[str, Any], list[dict[str, Any]] | None]:
    """Return (hardware overview, USB devices or None when no USB data type answered).

    USB buses and hubs are walked through, not listed.  Raises ValueError when
    *text* is not ``system_profiler -json`` output.
    """
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError("system_profiler output is not a JSON object")
    hardware_items = data.get("SPHardwareDataType")
    hardware = hardware_items[0] if isinstance(hardware_items, list) and hardware_items else {}
    usb_roots = data.get("SPUSBDataType", data.get("SPUSBHostDataType"))
    if not isinstance(usb_roots, list):
        return (hardware if isinstance(hardware, dict) else {}), None
    devices: list[dict[str, Any]] = []

    def walk(items: Any, depth: int) -> None:
        for item in items if isinstance(items, list) else []:
            if not isinstance(item, dict):
                continue
            name = str(item.get("_name", "")).strip()
            is_bus_or_hub = depth == 0 or "hub" in name.lower()
            if name and not is_bus_or_hub:
                device: dict[str, Any] = {"bus": "usb", "kind": "usb", "name": name}
                vendor = item.get("manufacturer") or item.get("USBDeviceKeyVendorName")
                if isinstance(vendor, str) and vendor.strip():
                    device["vendor"] = vendor.strip()
                devices.append(device)
            walk(item.get("_items"), depth + 1)

    walk(usb_roots, 0)
    return (hardware if isinstance(hardware, dict) else {}), devices


def facts_from(sw_vers: Mapping[str, str] | ProbeError, ioreg: Mapping[str, Any] | ProbeError,
               profiler: tuple[dict[str, Any], list[dict[str, Any]] | None] | ProbeError) -> list[Fact]:
    """Return the OS, machine and peripheral facts from the three parsed sources (or why each failed).

    Raises nothing.
    """
    facts: list[Fact] = []
    if isinstance(sw_vers, ProbeError):
        facts += [sw_vers.fact(n, "sw_vers") for n in ("os.edition", "os.version", "os.build")]
    else:
        product, version = sw_vers.get("ProductName"), sw_vers.get("ProductVersion")
        extra = sw_vers.get("ProductVersionExtra")
        full_version = f"{version} {extra}" if version and extra else version
        major = int(version.split(".")[0]) if version and version.split(".")[0].isdigit() else None
        release = _RELEASE_NAMES.get(major) if major is not None else None
        edition = " ".join(p for p in (product, version, release) if p) if product else None
        facts.append(text_fact("os.edition", edition, "sw_vers ProductName + ProductVersion"))
        facts.append(text_fact("os.version", full_version, "sw_vers ProductVersion"))
        facts.append(text_fact("os.build", sw_vers.get("BuildVersion"), "sw_vers BuildVersion"))
    facts.append(missing("os.service_pack", "unsupported", "macOS",
                         "macOS has no service packs; see os.version and os.build"))

    hardware: dict[str, Any] = {}
    usb: list[dict[str, Any]] | None = None
    if not isinstance(profiler, ProbeError):
        hardware, usb = profiler
    io: Mapping[str, Any] = {} if isinstance(ioreg, ProbeError) else ioreg

    def pick(name: str, candidates: list[tuple[Any, str]], *, personal: bool = False) -> Fact:
        for raw, source in candidates:
            if isinstance(raw, str):
                return text_fact(name, raw, source, personal=personal)
        why = "; ".join(e.detail for e in (ioreg, profiler) if isinstance(e, ProbeError)) or "not reported"
        return missing(name, "unavailable", " or ".join(s for _, s in candidates), why, personal=personal)

    facts.append(pick("machine.vendor", [(io.get("manufacturer"), "ioreg IOPlatformExpertDevice manufacturer")]))
    model_id = hardware.get("machine_model") or io.get("model")
    model_name = hardware.get("machine_name") or io.get("product-name")
    model_text = f"{model_name} ({model_id})" if model_name and model_id else (model_name or model_id)
    facts.append(pick("machine.model", [(model_text, "system_profiler SPHardwareDataType / ioreg model")]))
    facts.append(pick("machine.serial", [(io.get("IOPlatformSerialNumber"), "ioreg IOPlatformSerialNumber"),
                                         (hardware.get("serial_number"), "system_profiler serial_number")],
                      personal=True))
    facts.append(pick("machine.uuid", [(io.get("IOPlatformUUID"), "ioreg IOPlatformUUID"),
                                       (hardware.get("platform_UUID"), "system_profiler platform_UUID")],
                      personal=True))
    facts.append(pick("machine.firmware", [(hardware.get("boot_rom_version"), "system_profiler boot_rom_version")]))
    facts.append(_chassis(model_id if isinstance(model_id, str) else None))
    if isinstance(profiler, ProbeError):
        facts.append(profiler.fact("peripherals", "system_profiler SPUSBDataType"))
    elif usb is None:
        facts.append(missing("peripherals", "unavailable", "system_profiler SPUSBDataType",
                             "system_profiler gave no USB data"))
    else:
        facts.append(ok("peripherals", usb, "system_profiler SPUSBDataType"))
    return facts


def _chassis(model_id: str | None) -> Fact:
    source = "model identifier"
    if model_id is None:
        return missing("machine.chassis", "unavailable", source, "no model identifier")
    for prefix, label in _CHASSIS_BY_MODEL:
        if model_id.startswith(prefix):
            return ok("machine.chassis", label, source)
    return missing("machine.chassis", "unavailable", source, f"chassis not known for model {model_id}")


def _attempt(parse: Callable[[str], Any], argv: tuple[str, ...], timeout: float) -> Any:
    try:
        return parse(run(argv, timeout=timeout))
    except ProbeError as err:
        return err
    except ValueError as err:
        return ProbeError("unavailable", f"{Path(argv[0]).name} output not understood ({err})")


def platform_facts(timeout: float = PROFILER_TIMEOUT) -> list[Fact]:
    """Run ``sw_vers``, ``ioreg`` and ``system_profiler`` concurrently and return their facts; raises nothing."""
    with ThreadPoolExecutor(max_workers=3, thread_name_prefix="inventory-macos") as pool:
        sw = pool.submit(_attempt, parse_sw_vers, SW_VERS, min(timeout, 3.0))
        io = pool.submit(_attempt, parse_ioreg, IOREG, min(timeout, 3.0))
        profiler = pool.submit(_attempt, parse_system_profiler, SYSTEM_PROFILER, timeout)
        return facts_from(sw.result(), io.result(), profiler.result())


def browser_fact(timeout: float = PROFILER_TIMEOUT) -> Fact:
    """Return ``browsers`` from the app bundles in /Applications and ~/Applications; raises nothing."""
    folders = [Path("/Applications"), Path.home() / "Applications"]
    return browsers.browsers_fact(browsers.scan_app_bundles(folders), "Info.plist", [str(f) for f in folders])
