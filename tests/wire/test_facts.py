"""The Fact record and its honesty rules (agent/inventory/facts.py)."""

from __future__ import annotations

import pytest

from wire.facts import Fact, chassis_fact, missing, ok, placeholder_reason, text_fact


@pytest.mark.parametrize("raw", [
    "To Be Filled By O.E.M.", "to be filled by o.e.m.", "Default string", "System Serial Number", "0123456789",
    "00000000-0000-0000-0000-000000000000", "FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF", "Not Specified", "  ", "",
    "\x00\x00", "System Product Name", "None", "N/A", "000000", "XXXXXXXXXX",
])
def test_placeholders_are_refused(raw: str) -> None:
    assert placeholder_reason(raw) is not None
    fact = text_fact("machine.serial", raw, "/sys/class/dmi/id/product_serial", personal=True)
    assert fact.status == "unavailable"
    assert fact.value is None
    assert fact.personal
    assert fact.detail


@pytest.mark.parametrize("raw", ["PF0ABCDE", "LENOVO", "20HRCTO1WW", "VMware-56 4d 12", "4C4C4544-0042-3510-8051"])
def test_real_values_pass(raw: str) -> None:
    assert placeholder_reason(raw) is None
    assert text_fact("machine.serial", raw, "src").value == raw


def test_placeholder_is_named_in_the_detail() -> None:
    fact = text_fact("machine.vendor", "To Be Filled By O.E.M.\n", "/sys/class/dmi/id/sys_vendor")
    assert "To Be Filled By O.E.M" in (fact.detail or "")
    assert text_fact("machine.model", "", "x").detail == "empty value"


def test_text_is_trimmed_and_nul_free() -> None:
    assert text_fact("machine.model", "  ThinkPad\x00  T480 \n", "x").value == "ThinkPad T480"


@pytest.mark.parametrize("kwargs", [
    {"name": "os.build", "value": "", "status": "ok", "source": "x"},
    {"name": "os.build", "value": None, "status": "ok", "source": "x"},
    {"name": "os.build", "value": "1", "status": "unavailable", "source": "x", "detail": "why"},
    {"name": "os.build", "value": None, "status": "denied", "source": "x"},
    {"name": "os.build", "value": "1", "status": "maybe", "source": "x"},
    {"name": "os.build", "value": "1", "status": "ok", "source": ""},
    {"name": "OS Build", "value": "1", "status": "ok", "source": "x"},
    {"name": "disk.free", "value": "1", "status": "ok", "source": "x", "subject": ""},
])
def test_dishonest_facts_cannot_be_built(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        Fact(**kwargs)  # type: ignore[arg-type]


def test_missing_refuses_ok() -> None:
    with pytest.raises(ValueError):
        missing("os.build", "ok", "x", "why")


def test_wire_round_trip_and_key() -> None:
    fact = ok("disk.free", {"free_bytes": 1, "total_bytes": 2}, "psutil.disk_usage", subject="/", note="n")
    assert fact.key == "disk.free[/]"
    body = fact.to_wire()
    assert body == {"name": "disk.free", "subject": "/", "value": {"free_bytes": 1, "total_bytes": 2},
                    "status": "ok", "source": "psutil.disk_usage", "personal": False, "detail": "n"}
    assert Fact.from_wire(body) == fact
    serial = missing("machine.serial", "denied", "/sys", "root only", personal=True)
    assert serial.key == "machine.serial"
    assert Fact.from_wire(serial.to_wire()) == serial


@pytest.mark.parametrize("body", [
    None, [], {"name": "os.build"}, {"name": "os.build", "status": "ok", "source": "x", "personal": "yes", "value": 1},
    {"name": "os.build", "status": "ok", "source": "x", "personal": False, "value": ""},
    {"name": "os.build", "status": "ok", "source": "x", "personal": False, "value": 1, "detail": 3},
])
def test_from_wire_rejects_malformed(body: object) -> None:
    with pytest.raises(ValueError):
        Fact.from_wire(body)


def test_chassis_codes() -> None:
    assert chassis_fact(10, "x").value == "notebook"
    assert chassis_fact(3, "x").value == "desktop"
    unknown = chassis_fact(2, "x")
    assert unknown.status == "unavailable"
    assert "Unknown" in (unknown.detail or "")
    assert chassis_fact(99, "x").status == "unavailable"
    assert chassis_fact(None, "x").status == "unavailable"
