"""The Windows backend's parsers (agent/inventory/windows.py), on sample PowerShell output written here.

The samples follow what ``ConvertTo-Json`` prints: Windows PowerShell 5.1
writes dates as ``"/Date(ms)/"`` and one object bare where several make a
list; PowerShell 7 writes ISO dates.
"""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from agent.inventory import windows
from agent.inventory._probe import ProbeError
from wire.facts import Fact


def report(**overrides: Any) -> str:
    data: dict[str, Any] = {
        "schema": 1,
        "os": {"Caption": "Microsoft Windows 11 Pro", "Version": "10.0.22631", "BuildNumber": "22631",
               "CSDVersion": None, "ServicePackMajorVersion": 0, "OSArchitecture": "64-bit"},
        "current_version": {"DisplayVersion": "23H2", "UBR": 3880, "EditionID": "Professional"},
        "system": {"Manufacturer": "LENOVO", "Model": "20HRCTO1WW", "SystemFamily": "ThinkPad X1 Carbon 5th"},
        "product": {"UUID": "4C4C4544-0042-3510-8051-B7C04F4A4E32", "IdentifyingNumber": "PF0ABCDE",
                    "Vendor": "LENOVO", "Name": "20HRCTO1WW"},
        "bios": {"SerialNumber": "PF0ABCDE", "Manufacturer": "LENOVO", "SMBIOSBIOSVersion": "N1MET51W (1.36 )",
                 "ReleaseDate": "/Date(1557446400000)/"},
        "enclosure": {"ChassisTypes": [10]},
        "keyboards": {"Name": "Enhanced (101- or 102-key)", "Description": "Standard PS/2 Keyboard"},
        "pointers": [{"Name": "HID-compliant mouse", "Manufacturer": "Microsoft"},
                     {"Name": "Synaptics TouchPad", "Manufacturer": "(Standard system devices)"}],
        "devices": [{"Name": "Integrated Camera", "Manufacturer": "Microsoft", "PNPClass": "Camera"},
                    {"Name": "HP LaserJet M404", "Manufacturer": "Microsoft", "PNPClass": "Printer"}],
    }
    data.update(overrides)
    return "\ufeff" + json.dumps(data, separators=(",", ":")) + "\r\n"


def facts_of(text: str) -> dict[str, Fact]:
    return {f.key: f for f in windows.parse_report(text)}


def test_full_report() -> None:
    facts = facts_of(report())
    assert facts["os.edition"].value == "Microsoft Windows 11 Pro"
    assert facts["os.edition"].source == "Win32_OperatingSystem.Caption"
    assert facts["os.version"].value == "10.0.22631 (23H2)"
    assert facts["os.build"].value == "22631.3880"
    assert facts["os.service_pack"].value == "none"
    assert facts["machine.vendor"].value == "LENOVO"
    assert facts["machine.model"].value == "20HRCTO1WW"
    serial = facts["machine.serial"]
    assert (serial.value, serial.personal, serial.source) == ("PF0ABCDE", True, "Win32_BIOS.SerialNumber")
    assert facts["machine.uuid"].personal
    assert facts["machine.firmware"].value == "LENOVO N1MET51W (1.36 ) (2019-05-10)"
    assert facts["machine.chassis"].value == "notebook"
    peripherals = facts["peripherals"].value
    assert [(d["kind"], d["name"]) for d in peripherals] == [
        ("keyboard", "Enhanced (101- or 102-key)"), ("pointer", "HID-compliant mouse"),
        ("pointer", "Synaptics TouchPad"), ("camera", "Integrated Camera"), ("printer", "HP LaserJet M404")]
    assert "vendor" not in peripherals[2]  # "(Standard system devices)" is not a vendor
    assert set(facts) == {name for name, _ in windows._REPORT_FACTS}


def test_placeholders_and_service_pack() -> None:
    facts = facts_of(report(
        os={"Caption": "Microsoft Windows 7 Professional", "Version": "6.1.7601", "BuildNumber": "7601",
            "CSDVersion": "Service Pack 1", "ServicePackMajorVersion": 1},
        current_version={"UBR": None},
        system={"Manufacturer": "System manufacturer", "Model": "System Product Name"},
        bios={"SerialNumber": "To be filled by O.E.M.", "Manufacturer": "American Megatrends Inc.",
              "SMBIOSBIOSVersion": "1401", "ReleaseDate": "2019-05-10T00:00:00+02:00"},
        product={"UUID": "FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF"},
        enclosure={"ChassisTypes": [2]}))
    assert facts["os.service_pack"].value == "Service Pack 1"
    assert facts["os.build"].value == "7601"
    assert facts["os.version"].value == "6.1.7601"
    for key in ("machine.vendor", "machine.model", "machine.serial", "machine.uuid", "machine.chassis"):
        assert facts[key].status == "unavailable", key
        assert facts[key].value is None
    assert "To be filled by O.E.M" in (facts["machine.serial"].detail or "")
    assert facts["machine.serial"].personal
    assert facts["machine.firmware"].value == "American Megatrends Inc. 1401 (2019-05-10)"


def test_failed_sections() -> None:
    facts = facts_of(report(
        bios={"error": "Access denied "}, enclosure={"error": "Invalid class "}, keyboards=None,
        pointers={"error": "Invalid namespace"}, devices=[]))
    assert facts["machine.serial"].status == "denied"
    assert "Win32_BIOS: Access denied" in (facts["machine.serial"].detail or "")
    assert facts["machine.firmware"].status == "denied"
    assert facts["machine.chassis"].status == "unavailable"
    assert facts["peripherals"].ok
    assert facts["peripherals"].value == []
    assert "Invalid namespace" in (facts["peripherals"].detail or "")
    assert facts["os.edition"].ok


def test_output_that_is_not_json() -> None:
    facts = windows.parse_report("Get-CimInstance : The term is not recognized\r\n")
    assert {f.status for f in facts} == {"unavailable"}
    assert all("not the expected JSON" in (f.detail or "") for f in facts)
    assert {f.name for f in facts if f.personal} == {"machine.serial", "machine.uuid"}


def test_cim_dates() -> None:
    assert windows.cim_date("/Date(1557446400000)/") == "2019-05-10"
    assert windows.cim_date("\\/Date(1557446400000)\\/") == "2019-05-10"
    assert windows.cim_date("2019-05-10T00:00:00") == "2019-05-10"
    assert windows.cim_date({"value": "/Date(0)/", "DateTime": "Thursday, January 1, 1970"}) == "1970-01-01"
    assert windows.cim_date(None) is None
    assert windows.cim_date("yesterday") is None


def test_browsers_from_app_paths_and_versions() -> None:
    app_paths = {
        "chrome.exe": (r"C:\Program Files\Chromium\Application\chrome.exe",
                       r"HKCU\SOFTWARE\Microsoft\Windows\CurrentVersion\App Paths\chrome.exe"),
        "msedge.exe": (r"C:\Program Files (x86)\Microsoft\Edge\Application\msedge.exe",
                       r"HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\App Paths\msedge.exe"),
        "firefox.exe": (r"C:\Program Files\Mozilla Firefox\firefox.exe",
                        r"HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\App Paths\firefox.exe"),
    }
    output = json.dumps([
        {"path": r"C:\Program Files\Chromium\Application\chrome.exe", "version": "123.0.6312.58",
         "product": "Chromium"},
        {"path": r"C:\Program Files (x86)\Microsoft\Edge\Application\msedge.exe", "version": "124.0.2478.51",
         "product": "Microsoft Edge"},
        {"path": r"C:\Program Files\Mozilla Firefox\firefox.exe", "error": "Cannot find path"},
    ])
    installs = {b.id: b for b in windows.browsers_from_app_paths(app_paths, windows.parse_versions(output))}
    assert set(installs) == {"chromium", "microsoft-edge", "firefox"}
    assert installs["chromium"].version == "123.0.6312.58"  # chrome.exe, but Chromium's version resource
    assert installs["chromium"].found_in.startswith("HKCU")
    assert installs["microsoft-edge"].name == "Microsoft Edge"
    assert installs["firefox"].version is None
    assert installs["firefox"].version_detail == "Cannot find path"
    failed = windows.browsers_from_app_paths(app_paths, None, "PowerShell did not answer within 8 s")
    assert {b.version_detail for b in failed} == {"PowerShell did not answer within 8 s"}


def test_one_version_is_still_a_list() -> None:
    single = '{"path":"C:\\\\x\\\\chrome.exe","version":"1.2.3","product":"Google Chrome"}'
    assert windows.parse_versions(single) == {"c:\\x\\chrome.exe": json.loads(single)}
    with pytest.raises(ValueError):
        windows.parse_versions("oops")


def test_script_is_encoded_for_powershell() -> None:
    encoded = base64.b64encode(windows.REPORT_SCRIPT.encode("utf-16-le")).decode("ascii")
    assert base64.b64decode(encoded).decode("utf-16-le") == windows.REPORT_SCRIPT
    assert "wmic" not in windows.REPORT_SCRIPT.lower()
    for cim_class in ("Win32_BIOS", "Win32_ComputerSystem", "Win32_OperatingSystem"):
        assert f"Get-CimInstance -ClassName {cim_class}" in windows.REPORT_SCRIPT
    assert "ConvertTo-Json" in windows.REPORT_SCRIPT


@pytest.mark.skipif(sys.platform == "win32", reason="Windows always has PowerShell")
def test_without_powershell_every_fact_says_why(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # whatever this machine has installed
    with pytest.raises(ProbeError):
        windows.powershell_executable()
    facts = windows.platform_facts(timeout=1)
    assert {f.status for f in facts} == {"unavailable"}
    assert all("PowerShell not found" in (f.detail or "") for f in facts)
    assert windows.read_app_paths() == {}
