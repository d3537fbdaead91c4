"""The Linux backend (agent/inventory/linux.py): os-release, DMI, peripherals."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from agent.inventory import linux

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux backend")


def by_name(facts: list) -> dict:  # type: ignore[type-arg]
    return {f.key: f for f in facts}


def make_dmi(root: Path, **files: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (root / name).write_text(text + "\n")
    return root


def test_os_facts_match_platform() -> None:
    expected = platform.freedesktop_os_release()
    facts = by_name(linux.os_facts())
    assert facts["os.edition"].value == expected["PRETTY_NAME"]
    assert facts["os.edition"].source.endswith("PRETTY_NAME")
    if "VERSION_ID" in expected:
        assert facts["os.version"].value == expected["VERSION_ID"]
    build = expected.get("BUILD_ID") or platform.release()
    assert facts["os.build"].value == build
    assert facts["os.service_pack"].status == "unsupported"


def test_os_release_quoting_and_rolling_release(tmp_path: Path) -> None:
    path = tmp_path / "os-release"
    path.write_text('# comment\nNAME="Arch Linux"\nPRETTY_NAME=\'Arch Linux\'\nID=arch\nBUILD_ID=rolling\n'
                    'ANSI_COLOR="38;2;23;147;209"\nWEIRD="say \\"hi\\""\n')
    parsed = linux.parse_os_release(path.read_text())
    assert parsed["PRETTY_NAME"] == "Arch Linux"
    assert parsed["WEIRD"] == 'say "hi"'
    facts = by_name(linux.os_facts([path], kernel_release="6.9.1-arch1-1"))
    assert facts["os.edition"].value == "Arch Linux"
    assert facts["os.version"].status == "unavailable"
    assert "VERSION_ID" in (facts["os.version"].detail or "")
    assert facts["os.build"].value == "rolling"


def test_no_os_release(tmp_path: Path) -> None:
    facts = by_name(linux.os_facts([tmp_path / "a", tmp_path / "b"], kernel_release="6.1.0"))
    assert facts["os.edition"].status == "unavailable"
    assert "does not exist" in (facts["os.edition"].detail or "")
    assert facts["os.build"].value == "6.1.0"
    assert "kernel" in facts["os.build"].source


def test_dmi_real_values(tmp_path: Path) -> None:
    dmi = make_dmi(tmp_path / "dmi", sys_vendor="LENOVO", product_name="20HRCTO1WW", product_serial="PF0ABCDE",
                   product_uuid="4c4c4544-0042-3510-8051-b7c04f4a4e32", bios_vendor="LENOVO",
                   bios_version="N1MET51W (1.36 )", bios_date="05/10/2019", chassis_type="10")
    facts = by_name(linux.machine_facts(dmi))
    assert facts["machine.vendor"].value == "LENOVO"
    assert facts["machine.model"].value == "20HRCTO1WW"
    assert facts["machine.model"].source == str(dmi / "product_name")
    serial = facts["machine.serial"]
    assert (serial.value, serial.status, serial.personal) == ("PF0ABCDE", "ok", True)
    assert facts["machine.uuid"].personal
    assert facts["machine.firmware"].value == "LENOVO N1MET51W (1.36 ) (05/10/2019)"
    assert facts["machine.chassis"].value == "notebook"
    assert not facts["machine.model"].personal


def test_dmi_placeholders_become_unavailable(tmp_path: Path) -> None:
    dmi = make_dmi(tmp_path / "dmi", sys_vendor="Default string", product_name="To Be Filled By O.E.M.",
                   product_serial="System Serial Number", product_uuid="00000000-0000-0000-0000-000000000000",
                   bios_version="", chassis_type="2")
    facts = by_name(linux.machine_facts(dmi))
    for key, placeholder in [("machine.vendor", "Default string"), ("machine.model", "To Be Filled By O.E.M"),
                             ("machine.serial", "System Serial Number"), ("machine.uuid", "00000000")]:
        assert facts[key].status == "unavailable", key
        assert facts[key].value is None
        assert placeholder in (facts[key].detail or ""), key
    assert facts["machine.serial"].personal
    assert facts["machine.firmware"].status == "unavailable"
    assert facts["machine.chassis"].status == "unavailable"


def test_missing_dmi_table_and_device_tree(tmp_path: Path) -> None:
    tree = tmp_path / "dt"
    tree.mkdir()
    (tree / "model").write_bytes(b"Raspberry Pi 4 Model B Rev 1.4\x00")
    facts = by_name(linux.machine_facts(tmp_path / "no-dmi", tree))
    assert facts["machine.model"].value == "Raspberry Pi 4 Model B Rev 1.4"
    assert facts["machine.serial"].status == "unavailable"
    assert "no DMI table" in (facts["machine.vendor"].detail or "")
    assert set(facts) == {"machine.vendor", "machine.model", "machine.serial", "machine.uuid",
                          "machine.firmware", "machine.chassis"}


def test_this_machine_dmi() -> None:
    facts = by_name(linux.machine_facts())
    if not Path("/sys/class/dmi/id").is_dir():
        assert facts["machine.vendor"].status == "unavailable"
        assert "/sys/class/dmi/id" in (facts["machine.vendor"].detail or "")
        return
    raw = Path("/sys/class/dmi/id/product_name").read_text().strip()
    fact = facts["machine.model"]
    assert fact.value == raw if fact.ok else fact.detail


_DENIED_SCRIPT = """
import json, sys
from pathlib import Path
from agent.inventory import linux
print(json.dumps([f.to_wire() for f in linux.machine_facts(Path(sys.argv[1]))]))
"""


@pytest.mark.needs_root("to drop the capabilities that let root read any file")
@pytest.mark.needs("setpriv", "util-linux")
def test_root_only_serial_is_denied_for_an_ordinary_process(tmp_path: Path) -> None:
    """The kernel refuses the read; the same code path turns that into ``denied``.

    The child keeps uid 0 (the interpreter lives under /root) but loses the
    capabilities that let root read other users' files, and the serial file
    belongs to another user with mode 0400: exactly the position of an
    ordinary user before a root-only DMI file.
    """
    dmi = make_dmi(tmp_path / "dmi", sys_vendor="LENOVO", product_name="20HRCTO1WW", product_serial="PF0ABCDE",
                   product_uuid="4c4c4544-0042-3510-8051-b7c04f4a4e32")
    for name in ("product_serial", "product_uuid"):
        os.chown(dmi / name, 12345, 12345)
        os.chmod(dmi / name, 0o400)
    argv = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--inh-caps=-all",
            sys.executable, "-c", _DENIED_SCRIPT, str(dmi)]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=True).stdout
    facts = {f["name"]: f for f in json.loads(out)}
    assert facts["machine.serial"]["status"] == "denied"
    assert facts["machine.serial"]["value"] is None
    assert facts["machine.serial"]["personal"] is True
    assert "root only" in facts["machine.serial"]["detail"]
    assert facts["machine.uuid"]["status"] == "denied"
    assert facts["machine.model"]["value"] == "20HRCTO1WW"  # world-readable files still read
    # and the same tree, read with root's full powers, is ok: the difference is the permission
    assert {f.name: f.status for f in linux.machine_facts(dmi)}["machine.serial"] == "ok"


INPUT_DEVICES = """I: Bus=0019 Vendor=0000 Product=0001 Version=0000
N: Name="Power Button"
P: Phys=LNXPWRBN/button/input0
H: Handlers=kbd event0
B: EV=3

I: Bus=0011 Vendor=0001 Product=0001 Version=ab41
N: Name="AT Translated Set 2 keyboard"
H: Handlers=sysrq kbd leds event3
B: EV=120013

I: Bus=0003 Vendor=046d Product=c52b Version=0111
N: Name="Logitech USB Receiver Mouse"
H: Handlers=mouse0 event5
"""


def test_parse_input_devices() -> None:
    devices = linux.parse_input_devices(INPUT_DEVICES)
    assert [(d["name"], d["kind"]) for d in devices] == [
        ("Power Button", "input"), ("AT Translated Set 2 keyboard", "keyboard"),
        ("Logitech USB Receiver Mouse", "pointer")]
    assert devices[2]["id"] == "046d:c52b"
    assert "id" not in devices[0]


def test_peripherals_from_fake_sysfs(tmp_path: Path) -> None:
    usb = tmp_path / "usb"
    for dev, attrs in {"usb1": {"product": "xHCI Host Controller", "bDeviceClass": "09"},
                       "1-1": {"product": "USB2.0 Hub", "bDeviceClass": "09"},
                       "1-1.2": {"idVendor": "046d", "idProduct": "0825", "product": "Webcam C270",
                                 "manufacturer": "Logitech", "bDeviceClass": "ef"},
                       "1-1.2:1.0": {"bInterfaceClass": "0e"},
                       "1-3": {"idVendor": "0781", "idProduct": "5583", "bDeviceClass": "00"}}.items():
        (usb / dev).mkdir(parents=True)
        for name, text in attrs.items():
            (usb / dev / name).write_text(text + "\n")
    inputs = tmp_path / "devices"
    inputs.write_text(INPUT_DEVICES)
    fact = linux.peripheral_fact(usb, inputs)
    assert fact.ok
    usb_found = [d for d in fact.value if d["bus"] == "usb"]
    assert usb_found == [
        {"bus": "usb", "kind": "usb", "name": "Webcam C270", "vendor": "Logitech", "id": "046d:0825"},
        {"bus": "usb", "kind": "usb", "name": "USB device 0781:5583", "id": "0781:5583"}]
    assert len(fact.value) == 5
    assert str(usb) in fact.source and str(inputs) in fact.source


def test_peripherals_without_any_source(tmp_path: Path) -> None:
    fact = linux.peripheral_fact(tmp_path / "no-usb", tmp_path / "no-input")
    assert fact.status == "unavailable"
    assert "no-usb" in (fact.detail or "") and "no-input" in (fact.detail or "")


def test_this_machine_input_devices_match_proc() -> None:
    path = Path("/proc/bus/input/devices")
    lines = path.read_text().splitlines() if path.exists() else []  # a kernel without input devices lists none
    names = [line for line in lines if line.startswith("N: Name=")]
    fact = linux.peripheral_fact()
    assert fact.ok or not path.exists()
    assert len([d for d in (fact.value if fact.ok else []) if d["bus"] == "input"]) == len(names)
