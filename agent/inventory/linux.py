"""Linux backend: ``/etc/os-release``, ``/sys/class/dmi/id``, ``/sys/bus/usb``, ``/proc/bus/input``.

Same functions as :mod:`.windows` and :mod:`.macos`: :func:`platform_facts`
and :func:`browser_fact`.  The DMI serial number and UUID are readable by
root only; for anyone else they are ``denied``, as the kernel says.
Machines without a DMI table (many virtual machines, ARM boards) get
``unavailable`` machine facts, with the device tree's model where there is one.

Availability: Linux.
"""

from __future__ import annotations

import platform
import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from agent.inventory import browsers
from agent.inventory._probe import ProbeError, read_text
from wire.facts import Fact, chassis_fact, missing, ok, text_fact

SYSTEM: Final = "linux"
OS_RELEASE: Final = (Path("/etc/os-release"), Path("/usr/lib/os-release"))
DMI_DIR: Final = Path("/sys/class/dmi/id")
DEVICE_TREE: Final = Path("/sys/firmware/devicetree/base")
USB_DIR: Final = Path("/sys/bus/usb/devices")
INPUT_DEVICES: Final = Path("/proc/bus/input/devices")
#: Peripherals listed at most.
MAX_PERIPHERALS: Final = 200


def parse_os_release(text: str) -> dict[str, str]:
    """Return the ``KEY=value`` assignments of an os-release file, shell quoting removed; raises nothing."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, raw = line.partition("=")
        try:
            words = shlex.split(raw)
            value = " ".join(words)
        except ValueError:
            value = raw.strip().strip("\"'")
        values[key.strip()] = value
    return values


def os_facts(paths: Sequence[Path] = OS_RELEASE, kernel_release: str | None = None) -> list[Fact]:
    """Return ``os.edition``, ``os.version``, ``os.build`` and ``os.service_pack``; raises nothing.

    ``os.build`` is the distribution's ``BUILD_ID`` when it has one, else the
    kernel release (Linux distributions have no OS build number of their own).
    """
    release = kernel_release if kernel_release is not None else platform.release()
    found: dict[str, str] | None = None
    source = ""
    problem: ProbeError | None = None
    for path in paths:
        try:
            found = parse_os_release(read_text(path, 64 * 1024))
            source = str(path)
            break
        except ProbeError as err:
            problem = problem if problem is not None and problem.status == "denied" else err
    facts: list[Fact] = []
    if found is None:
        reason = problem or ProbeError("unavailable", "no os-release file")
        facts.append(reason.fact("os.edition", " or ".join(map(str, paths))))
        facts.append(reason.fact("os.version", " or ".join(map(str, paths))))
    else:
        pretty = found.get("PRETTY_NAME") or " ".join(filter(None, (found.get("NAME"), found.get("VERSION"))))
        facts.append(text_fact("os.edition", pretty or None, f"{source} PRETTY_NAME"))
        if found.get("VERSION_ID"):
            facts.append(text_fact("os.version", found["VERSION_ID"], f"{source} VERSION_ID"))
        else:
            facts.append(missing("os.version", "unavailable", f"{source} VERSION_ID",
                                 "no VERSION_ID: a rolling release has no version number"))
    build = (found or {}).get("BUILD_ID") or (found or {}).get("IMAGE_VERSION")
    if build:
        facts.append(text_fact("os.build", build, f"{source} BUILD_ID"))
    else:
        facts.append(text_fact("os.build", release, "uname release (kernel; the distribution has no build number)"))
    facts.append(missing("os.service_pack", "unsupported", "Linux",
                         "Linux distributions have no service packs; see os.version and os.build"))
    return facts


def _dmi(dmi_dir: Path, file: str) -> str:
    """Return the text of one DMI attribute; raises ProbeError (``denied`` for root-only files)."""
    return read_text(dmi_dir / file, 4096)


def _dmi_fact(name: str, dmi_dir: Path, file: str, *, personal: bool = False) -> Fact:
    source = str(dmi_dir / file)
    try:
        raw = _dmi(dmi_dir, file)
    except ProbeError as err:
        if err.status == "denied":
            err = ProbeError("denied", f"{source} is readable by root only; the agent runs as an ordinary user")
        return err.fact(name, source, personal=personal)
    return text_fact(name, raw, source, personal=personal)


def machine_facts(dmi_dir: Path = DMI_DIR, device_tree: Path = DEVICE_TREE) -> list[Fact]:
    """Return ``machine.vendor``, ``.model``, ``.serial``, ``.uuid``, ``.firmware``, ``.chassis``; raises nothing.

    ``machine.serial`` and ``machine.uuid`` are personal data.
    """
    if not dmi_dir.is_dir():
        return _device_tree_facts(dmi_dir, device_tree)
    facts = [
        _dmi_fact("machine.vendor", dmi_dir, "sys_vendor"),
        _dmi_fact("machine.model", dmi_dir, "product_name"),
        _dmi_fact("machine.serial", dmi_dir, "product_serial", personal=True),
        _dmi_fact("machine.uuid", dmi_dir, "product_uuid", personal=True),
        _firmware_fact(dmi_dir),
    ]
    try:
        code_text = _dmi(dmi_dir, "chassis_type").strip()
        facts.append(chassis_fact(int(code_text) if code_text.isdigit() else None, str(dmi_dir / "chassis_type")))
    except ProbeError as err:
        facts.append(err.fact("machine.chassis", str(dmi_dir / "chassis_type")))
    return facts


def _firmware_fact(dmi_dir: Path) -> Fact:
    source = str(dmi_dir / "bios_{vendor,version,date}")
    parts: dict[str, str] = {}
    for part in ("vendor", "version", "date"):
        try:
            fact = text_fact("machine.firmware", _dmi(dmi_dir, f"bios_{part}"), source)
        except ProbeError:
            continue
        if fact.ok:
            parts[part] = str(fact.value)
    if "version" not in parts:
        return missing("machine.firmware", "unavailable", source, "no firmware version in the DMI table")
    text = " ".join(p for p in (parts.get("vendor"), parts["version"]) if p)
    return ok("machine.firmware", text + (f" ({parts['date']})" if "date" in parts else ""), source)


def _device_tree_facts(dmi_dir: Path, device_tree: Path) -> list[Fact]:
    why = f"{dmi_dir} absent: no DMI table (a virtual machine without SMBIOS, or a board without it)"
    facts = [missing("machine.vendor", "unavailable", str(dmi_dir), why)]
    try:
        facts.append(text_fact("machine.model", read_text(device_tree / "model", 4096), str(device_tree / "model")))
    except ProbeError:
        facts.append(missing("machine.model", "unavailable", str(dmi_dir), why))
    try:
        facts.append(text_fact("machine.serial", read_text(device_tree / "serial-number", 4096),
                               str(device_tree / "serial-number"), personal=True))
    except ProbeError:
        facts.append(missing("machine.serial", "unavailable", str(dmi_dir), why, personal=True))
    facts.append(missing("machine.uuid", "unavailable", str(dmi_dir), why, personal=True))
    facts.append(missing("machine.firmware", "unavailable", str(dmi_dir), why))
    facts.append(missing("machine.chassis", "unavailable", str(dmi_dir), why))
    return facts


def parse_input_devices(text: str) -> list[dict[str, Any]]:
    """Return name, kind and ids of each block of ``/proc/bus/input/devices``; raises nothing."""
    devices: list[dict[str, Any]] = []
    for block in text.split("\n\n"):
        name = ""
        handlers: list[str] = []
        ids: dict[str, str] = {}
        for line in block.splitlines():
            tag, _, rest = line.partition(": ")
            if tag == "N":
                name = rest.partition("=")[2].strip().strip('"')
            elif tag == "H":
                handlers = rest.partition("=")[2].split()
            elif tag == "I":
                for pair in rest.split():
                    key, _, val = pair.partition("=")
                    ids[key] = val
        if not name:
            continue
        # "kbd" alone is also the power button's handler; a keyboard has lock lights too.
        kind = "keyboard" if "kbd" in handlers and "leds" in handlers else "input"
        if any(h.startswith("mouse") for h in handlers):
            kind = "pointer"
        elif any(h.startswith("js") for h in handlers):
            kind = "joystick"
        device: dict[str, Any] = {"bus": "input", "kind": kind, "name": name}
        if ids.get("Vendor") and ids.get("Product") and ids["Vendor"] != "0000":  # 0000: no vendor id
            device["id"] = f"{ids['Vendor']}:{ids['Product']}"
        devices.append(device)
    return devices


def usb_devices(usb_dir: Path = USB_DIR) -> list[dict[str, Any]]:
    """Return the USB devices under *usb_dir* (root hubs, hubs and interfaces left out).

    Raises ProbeError when *usb_dir* cannot be listed.
    """
    try:
        entries = sorted(usb_dir.iterdir())
    except OSError as err:
        raise ProbeError("unavailable", f"{usb_dir}: {err.strerror or err}") from err

    def attr(dev: Path, name: str) -> str | None:
        try:
            value = read_text(dev / name, 1024).strip()
        except ProbeError:
            return None
        return value or None

    devices: list[dict[str, Any]] = []
    for dev in entries:
        if ":" in dev.name or dev.name.startswith("usb") or attr(dev, "bDeviceClass") == "09":
            continue
        vendor_id, product_id = attr(dev, "idVendor"), attr(dev, "idProduct")
        product, manufacturer = attr(dev, "product"), attr(dev, "manufacturer")
        device: dict[str, Any] = {"bus": "usb", "kind": "usb",
                                  "name": product or f"USB device {vendor_id or '?'}:{product_id or '?'}"}
        if manufacturer:
            device["vendor"] = manufacturer
        if vendor_id and product_id:
            device["id"] = f"{vendor_id}:{product_id}"
        devices.append(device)
    return devices


def peripheral_fact(usb_dir: Path = USB_DIR, input_devices: Path = INPUT_DEVICES) -> Fact:
    """Return ``peripherals``: USB devices and input devices the kernel lists; raises nothing.

    An empty list is a finding (nothing plugged in); the fact is
    ``unavailable`` only when neither source can be read.
    """
    found: list[dict[str, Any]] = []
    sources: list[str] = []
    problems: list[str] = []
    try:
        found += usb_devices(usb_dir)
        sources.append(str(usb_dir))
    except ProbeError as err:
        problems.append(err.detail)
    try:
        found += parse_input_devices(read_text(input_devices, 1024 * 1024))
        sources.append(str(input_devices))
    except ProbeError as err:
        problems.append(err.detail)
    if not sources:
        return missing("peripherals", "unavailable", f"{usb_dir} + {input_devices}", "; ".join(problems))
    note = "; ".join(problems) or None
    if len(found) > MAX_PERIPHERALS:
        note = f"{len(found) - MAX_PERIPHERALS} more not listed" + (f"; {note}" if note else "")
    return ok("peripherals", found[:MAX_PERIPHERALS], " + ".join(sources), note=note)


def platform_facts(timeout: float) -> list[Fact]:
    """Return the OS, machine and peripheral facts; raises nothing.  *timeout* is unused: no programs run."""
    return [*os_facts(), *machine_facts(), peripheral_fact()]


def browser_fact(timeout: float) -> Fact:
    """Return ``browsers`` from XDG desktop entries, each asked ``--version`` within *timeout*; raises nothing."""
    return browsers.linux_browsers(timeout=timeout)
