"""Windows facts from the registry and RtlGetVersion, fed with the values Windows documents (no Windows needed)."""

from __future__ import annotations

from agent.inventory import windows
from agent.inventory._probe import ProbeError
from agent.inventory.windows_native import facts_from_registry, merge

#: HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion of a Windows 11 23H2 Pro, and its BIOS key.
WINDOWS_11 = {"ProductName": "Windows 10 Pro", "EditionID": "Professional", "DisplayVersion": "23H2",
              "CurrentBuild": "22631", "UBR": 3155}
BIOS = {"SystemManufacturer": "LENOVO", "SystemProductName": "20XW0055FR", "BIOSVendor": "LENOVO",
        "BIOSVersion": "N32ET86W (1.62 )", "BIOSReleaseDate": "02/21/2023"}


def test_a_windows_11_machine_from_its_registry() -> None:
    facts = facts_from_registry(WINDOWS_11, BIOS, (10, 0, 22631, ""))
    assert facts["os.edition"].value == "Windows 10 Pro (Professional)"  # Windows 11 still says 10 there
    assert facts["os.version"].value == "10.0.22631 (23H2)"
    assert facts["os.build"].value == "22631.3155"
    assert facts["os.service_pack"].value == "none"
    assert facts["machine.vendor"].value == "LENOVO" and facts["machine.model"].value == "20XW0055FR"
    assert facts["machine.firmware"].value == "LENOVO N32ET86W (1.62 ) (02/21/2023)"
    assert all(fact.source for fact in facts.values())


def test_windows_7_sp1_says_its_service_pack() -> None:
    facts = facts_from_registry({"ProductName": "Windows 7 Professional", "CurrentBuildNumber": "7601",
                                 "CSDVersion": "Service Pack 1"}, {}, (6, 1, 7601, "Service Pack 1"))
    assert facts["os.service_pack"].value == "Service Pack 1"
    assert facts["os.build"].value == "7601"
    vendor = facts["machine.vendor"]
    assert vendor.status == "unavailable" and "SystemManufacturer" in str(vendor.detail)


def test_unreadable_keys_are_unavailable_with_the_reason() -> None:
    facts = facts_from_registry(None, None, None, why="access denied")
    assert {fact.status for fact in facts.values()} == {"unavailable"}
    assert all(fact.detail == "access denied" for fact in facts.values())


def test_what_cim_could_not_give_comes_from_the_registry_and_says_so() -> None:
    cim = windows.report_failed(ProbeError("unavailable", "PowerShell not found"))
    merged = {fact.name: fact for fact in merge(cim, facts_from_registry(WINDOWS_11, BIOS, (10, 0, 22631, "")))}
    assert merged["os.edition"].ok and "PowerShell not found" in str(merged["os.edition"].detail)
    assert merged["machine.serial"].status == "unavailable"  # not in the registry: CIM's reason stays
    assert merged["machine.serial"].personal
    assert len(merged) == len(cim)
