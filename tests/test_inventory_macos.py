"""The macOS backend's parsers (agent/inventory/macos.py), on sample output written here."""

from __future__ import annotations

import json
from typing import Any

from agent.inventory import macos
from agent.inventory._probe import ProbeError
from wire.facts import Fact

SW_VERS = "ProductName:\t\tmacOS\nProductVersion:\t\t14.4.1\nBuildVersion:\t\t23E224\n"

IOREG = """+-o J314sAP  <class IOPlatformExpertDevice, id 0x100000209, registered, matched, active, busy 0 (23 ms)>
    {
      "IOPolledInterface" = "AppleARMWatchdogTimerHibernateHandler is not serializable"
      "#address-cells" = <02000000>
      "compatible" = <"J314sAP","MacBookPro18,3","AppleARM">
      "model" = <"MacBookPro18,3">
      "IOPlatformUUID" = "1A2B3C4D-5E6F-7081-92A3-B4C5D6E7F809"
      "serial-number" = <43303258595a0000000000000000>
      "IOPlatformSerialNumber" = "C02XYZ123ABC"
      "manufacturer" = <"Apple Inc.">
      "product-name" = <"MacBook Pro (14-inch, 2021)">
      "IOBusyInterest" = "IOCommand is not serializable"
      "IONWInterrupts" = "IONWInterrupts"
    }
"""


def profiler(usb_key: str = "SPUSBDataType", **hardware: Any) -> str:
    overview = {"_name": "hardware_overview", "machine_model": "MacBookPro18,3", "machine_name": "MacBook Pro",
                "serial_number": "C02XYZ123ABC", "platform_UUID": "1A2B3C4D-5E6F-7081-92A3-B4C5D6E7F809",
                "boot_rom_version": "10151.101.3", "chip_type": "Apple M1 Pro"}
    overview.update(hardware)
    usb = [{"_name": "USB31Bus", "host_controller": "AppleT6000USBXHCI", "_items": [
        {"_name": "USB2.0 Hub", "manufacturer": "GenesysLogic", "_items": [
            {"_name": "USB Receiver", "manufacturer": "Logitech", "vendor_id": "0x046d"},
            {"_name": "Magic Keyboard", "manufacturer": "Apple Inc."}]},
        {"_name": "Cruzer Blade", "manufacturer": "SanDisk"}]},
        {"_name": "USB31Bus", "host_controller": "AppleT6000USBXHCI"}]
    return json.dumps({"SPHardwareDataType": [overview], usb_key: usb})


def facts_of(sw: Any, io: Any, prof: Any) -> dict[str, Fact]:
    return {f.key: f for f in macos.facts_from(sw, io, prof)}


def test_parsers() -> None:
    assert macos.parse_sw_vers(SW_VERS) == {"ProductName": "macOS", "ProductVersion": "14.4.1",
                                            "BuildVersion": "23E224"}
    io = macos.parse_ioreg(IOREG)
    assert io["IOPlatformSerialNumber"] == "C02XYZ123ABC"
    assert io["model"] == "MacBookPro18,3"
    assert io["manufacturer"] == "Apple Inc."
    assert "#address-cells" not in io and "serial-number" not in io  # hex data is not text
    hardware, usb = macos.parse_system_profiler(profiler())
    assert hardware["machine_name"] == "MacBook Pro"
    assert usb == [{"bus": "usb", "kind": "usb", "name": "USB Receiver", "vendor": "Logitech"},
                   {"bus": "usb", "kind": "usb", "name": "Magic Keyboard", "vendor": "Apple Inc."},
                   {"bus": "usb", "kind": "usb", "name": "Cruzer Blade", "vendor": "SanDisk"}]
    _, host_usb = macos.parse_system_profiler(profiler("SPUSBHostDataType"))
    assert host_usb is not None and len(host_usb) == 3
    _, none = macos.parse_system_profiler(json.dumps({"SPHardwareDataType": []}))
    assert none is None


def test_all_sources() -> None:
    facts = facts_of(macos.parse_sw_vers(SW_VERS), macos.parse_ioreg(IOREG),
                     macos.parse_system_profiler(profiler()))
    assert facts["os.edition"].value == "macOS 14.4.1 Sonoma"
    assert facts["os.version"].value == "14.4.1"
    assert facts["os.build"].value == "23E224"
    assert facts["os.service_pack"].status == "unsupported"
    assert facts["machine.vendor"].value == "Apple Inc."
    assert facts["machine.model"].value == "MacBook Pro (MacBookPro18,3)"
    serial = facts["machine.serial"]
    assert (serial.value, serial.personal, serial.source) == ("C02XYZ123ABC", True, "ioreg IOPlatformSerialNumber")
    assert facts["machine.uuid"].personal
    assert facts["machine.firmware"].value == "10151.101.3"
    assert facts["machine.chassis"].value == "laptop"
    assert len(facts["peripherals"].value) == 3


def test_system_profiler_timed_out() -> None:
    slow = ProbeError("unavailable", "system_profiler did not answer within 6 s")
    facts = facts_of(macos.parse_sw_vers(SW_VERS), macos.parse_ioreg(IOREG), slow)
    assert facts["machine.serial"].value == "C02XYZ123ABC"  # ioreg alone is enough
    assert facts["machine.model"].value == "MacBook Pro (14-inch, 2021) (MacBookPro18,3)"
    assert facts["machine.firmware"].status == "unavailable"
    assert "did not answer" in (facts["machine.firmware"].detail or "")
    assert facts["peripherals"].status == "unavailable"


def test_placeholder_serial_and_missing_tools() -> None:
    io = macos.parse_ioreg(IOREG.replace("C02XYZ123ABC", "0"))
    missing_tool = ProbeError("unavailable", "sw_vers not found")
    facts = facts_of(missing_tool, io, macos.parse_system_profiler(profiler(serial_number="Not Available")))
    assert facts["machine.serial"].status == "unavailable"
    assert facts["machine.serial"].personal
    assert facts["os.edition"].status == "unavailable"
    assert facts["os.edition"].detail == "sw_vers not found"
    mac_mini = facts_of(macos.parse_sw_vers(SW_VERS), {}, macos.parse_system_profiler(
        profiler(machine_model="Macmini9,1", machine_name="Mac mini")))
    assert mac_mini["machine.chassis"].value == "mini PC"
    assert mac_mini["machine.vendor"].status == "unavailable"
