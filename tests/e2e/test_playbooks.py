"""Every playbook of notebooks/playbooks, run headless (``workbench playbook run``, papermill) against a real
agent on Xvfb whose machine the test first put into that playbook's fault; the fault is gone after, and
``--dry-run`` changed nothing (checksums before and after) and printed the planned changes.

Also: bad parameters stop the run before the agent sees any call; a playbook stopped by the customer
ending the session mid-way says where and leaves its changes undoable; the executed notebook is kept
in the session's record at the relay; and ``s.playbooks.run`` once live, through a kernel (nbclient).

One relay and one virtual screen for the module; one agent per run (a session code pairs once).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

from tests import requires
from tests.dconf_session import private_dconf_session
from tests.hive_factory import Node, build_hive
from tests.registry_support import regipy_values
from wire.chain import read_records
from workbench.lab import Proc, Xvfb, start_agent, start_relay

pytestmark = pytest.mark.e2e

RUN_KEY = "\\Microsoft\\Windows\\CurrentVersion\\Run"
REG_SZ = 1


# ------------------------------------------------------------------ fixtures and helpers


@pytest.fixture(scope="module")
def screen() -> Iterator[Xvfb]:
    requires.tool("Xvfb", "xvfb")
    display = Xvfb()
    try:
        yield display
    finally:
        display.stop()


@pytest.fixture(scope="module")
def relay_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    data = tmp_path_factory.mktemp("relay-data")
    proc, url = start_relay(data)
    try:
        yield url, data
    finally:
        proc.stop()


class Customer:
    """Starts agents on the virtual screen (one per session), as the customer *home* with *env* extras."""

    def __init__(self, screen: Xvfb, url: str, root: Path, procs: list[Proc], **env: str) -> None:
        self.screen, self.url, self.root, self.procs, self.env = screen, url, root, procs, env
        self.started = 0

    def agent(self, *extra: str) -> tuple[Proc, str, Path]:
        self.started += 1
        data = self.root / f"agent-{self.started}"
        proc, code = start_agent(self.url, data, *extra, env=self.screen.env(**self.env))
        self.procs.append(proc)
        return proc, code, data


def run_playbook(url: str, code: str, name: str, *parameters: tuple[str, str], dry_run: bool = False,
                 cwd: Path | None = None, out: Path | None = None) -> subprocess.CompletedProcess[str]:
    args = [sys.executable, "-m", "workbench.cli", "playbook", "run", name, "--code", code, "--relay", url]
    for key, value in parameters:
        args += ["-p", key, value]
    if dry_run:
        args.append("--dry-run")
    if out is not None:
        args += ["--out", str(out)]
    return subprocess.run(args, capture_output=True, text=True, timeout=600, cwd=cwd, check=False)


def checksums(*roots: Path) -> dict[str, str]:
    """Every file and folder under *roots*: its sha256 (or "folder")."""
    found: dict[str, str] = {}
    for root in roots:
        paths = [root] if root.is_file() else sorted(root.rglob("*"))
        for path in paths:
            found[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "folder"
    return found


def kept_notebooks(relay_data: Path, name: str) -> list[Path]:
    return sorted(relay_data.glob(f"sessions/*/playbooks/{name}-*.ipynb"))


def calls(agent_data: Path) -> list[dict[str, Any]]:
    return [r for journal in sorted((agent_data / "journals").glob("*.jsonl")) for r in read_records(journal)
            if r.get("kind") == "call"]


def assert_done(done: subprocess.CompletedProcess[str], name: str) -> None:
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"playbook {name}: done" in done.stdout
    assert "kept at the relay: sessions/" in done.stdout


def assert_dry_run(done: subprocess.CompletedProcess[str], name: str, planned: int) -> None:
    assert done.returncode == 0, done.stdout + done.stderr
    assert "(dry run: nothing will be changed)" in done.stdout
    head = f"planned changes ({planned}; nothing was changed)"
    assert head in done.stdout, done.stdout


# ------------------------------------------------------------------ bad parameters


def test_bad_parameters_are_refused_before_anything_runs(screen: Xvfb, relay_url: tuple[str, Path],
                                                         procs: list[Proc], tmp_path: Path) -> None:
    url, _ = relay_url
    agent, code, data = Customer(screen, url, tmp_path, procs).agent()
    unknown = run_playbook(url, code, "disk_full", ("nosuch", "1"))
    assert unknown.returncode == 2
    assert "has no parameter 'nosuch'" in unknown.stderr and "min_free_mb (float)" in unknown.stderr
    wrong_type = run_playbook(url, code, "disk_full", ("min_free_mb", "lots"))
    assert wrong_type.returncode == 2 and "min_free_mb must be a number" in wrong_type.stderr
    runner_own = run_playbook(url, code, "browser_proxy", ("dry_run", "true"))
    assert runner_own.returncode == 2 and "set by the runner" in runner_own.stderr
    no_such = run_playbook(url, code, "no_such_playbook")
    assert no_such.returncode == 2 and "there are: browser_proxy" in no_such.stderr
    assert "nothing ran" in unknown.stderr and "step 1" not in unknown.stdout
    assert calls(data) == []  # the agent never saw a call: the code is still unused
    assert agent.popen.poll() is None


# ------------------------------------------------------------------ disk full


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[Path]:
    """A small ext4 filesystem, loop-mounted and filled up: caches, trash, documents."""
    requires.root("mounting a loop filesystem")
    requires.tool("mkfs.ext4", "e2fsprogs")
    image, mount = tmp_path / "disk.img", tmp_path / "disk"
    with open(image, "wb") as f:
        f.truncate(12 * 1024 * 1024)
    subprocess.run(["mkfs.ext4", "-q", "-m", "0", str(image)], check=True)
    mount.mkdir()
    subprocess.run(["mount", "-o", "loop", str(image), str(mount)], check=True)
    try:
        home = mount / "alice"
        for folder in (".cache/thumbnails", ".local/share/Trash/files", ".local/share/Trash/info", "Documents"):
            (home / folder).mkdir(parents=True)
        (home / ".cache/thumbnails/big.png").write_bytes(os.urandom(3 * 1024 * 1024))
        (home / ".cache/pip.log").write_bytes(os.urandom(1024 * 1024))
        (home / ".local/share/Trash/files/old.iso").write_bytes(os.urandom(2 * 1024 * 1024))
        (home / ".local/share/Trash/info/old.iso.trashinfo").write_text("[Trash Info]\nPath=/old.iso\n")
        (home / "Documents/letter.txt").write_text("Dear Sir,\n")
        with open(home / "Documents/video.mp4", "wb") as f:  # fill what is left
            try:
                while True:
                    f.write(os.urandom(64 * 1024))
                    f.flush()
            except OSError:
                pass
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=False)


def test_disk_full(screen: Xvfb, relay_url: tuple[str, Path], procs: list[Proc], tmp_path: Path,
                   full_disk: Path) -> None:
    url, relay_data = relay_url
    customer = Customer(screen, url, tmp_path, procs)
    assert shutil.disk_usage(full_disk).free < 512 * 1024
    params = (("folder", str(full_disk)), ("min_free_mb", "4"))
    before = checksums(full_disk)
    _, code, _ = customer.agent()
    dry = run_playbook(url, code, "disk_full", *params, dry_run=True)
    assert_dry_run(dry, "disk_full", planned=4)
    assert checksums(full_disk) == before
    _, code, _ = customer.agent()
    done = run_playbook(url, code, "disk_full", *params)
    assert_done(done, "disk_full")
    assert "step 4 of 6: 4. Clean them" in done.stdout
    home = full_disk / "alice"
    assert not list((home / ".cache").iterdir()) and not list((home / ".local/share/Trash").iterdir())
    assert (home / "Documents/letter.txt").read_text() == "Dear Sir,\n" and (home / "Documents/video.mp4").exists()
    assert shutil.disk_usage(full_disk).free > 4 * 1024 * 1024
    assert kept_notebooks(relay_data, "disk_full")


# ------------------------------------------------------------------ browser proxy

PREFS = """// Mozilla User Preferences
user_pref("browser.startup.homepage", "https://start.example.org");
user_pref("network.proxy.http", "hijack.example.net");
user_pref("network.proxy.http_port", 3128);
user_pref("network.proxy.type", 1);
user_pref("privacy.donottrackheader.enabled", true);
"""


def test_browser_proxy(screen: Xvfb, relay_url: tuple[str, Path], procs: list[Proc], tmp_path: Path) -> None:
    url, relay_data = relay_url
    home = tmp_path / "home"
    profile = home / ".mozilla/firefox/x1y2z3.default-release"
    profile.mkdir(parents=True)
    (profile / "prefs.js").write_text(PREFS)
    (profile / "times.json").write_text("{}")
    customer = Customer(screen, url, tmp_path, procs, HOME=str(home))

    # The browser runs on that profile (a process named firefox, and the profile's lock): the playbook
    # refuses (its own check) and changes nothing.
    fake_firefox = tmp_path / "firefox"
    shutil.copy("/bin/sleep", fake_firefox)
    browser = subprocess.Popen([str(fake_firefox), "600"])
    (profile / "lock").symlink_to(f"127.0.0.1:+{browser.pid}")
    try:
        _, code, _ = customer.agent()
        refused = run_playbook(url, code, "browser_proxy", ("browser", "firefox"))
    finally:
        browser.kill()
        browser.wait()
        (profile / "lock").unlink()
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert ("failed at step 2 of 5 (2. Is the browser closed): CheckFailed: firefox is running on this profile"
            in refused.stderr)
    assert "no change was made" in refused.stderr

    before = checksums(home)
    _, code, _ = customer.agent()
    dry = run_playbook(url, code, "browser_proxy", ("browser", "firefox"), ("reset_homepage", "yes"), dry_run=True)
    assert_dry_run(dry, "browser_proxy", planned=1)
    assert "prefs.js" in dry.stdout.split("planned changes")[1]
    assert checksums(home) == before

    _, code, _ = customer.agent()
    done = run_playbook(url, code, "browser_proxy", ("browser", "firefox"), ("reset_homepage", "yes"))
    assert_done(done, "browser_proxy")
    prefs = (profile / "prefs.js").read_text()
    assert "network.proxy" not in prefs and "browser.startup.homepage" not in prefs
    assert 'user_pref("privacy.donottrackheader.enabled", true);' in prefs
    kept = max(kept_notebooks(relay_data, "browser_proxy"), key=lambda path: path.stat().st_mtime)
    executed = nbformat.read(kept, as_version=4)
    assert executed.cells[1].metadata.get("tags") == ["parameters"]
    assert any("injected-parameters" in cell.metadata.get("tags", []) for cell in executed.cells)
    session = json.loads((kept.parent.parent / "session.json").read_text())
    assert [p["name"] for p in session["playbooks"]] == ["browser_proxy"]


def test_browser_proxy_chromium(screen: Xvfb, relay_url: tuple[str, Path], procs: list[Proc],
                                tmp_path: Path) -> None:
    url, _ = relay_url
    home = tmp_path / "home"
    preferences = home / ".config/chromium/Default/Preferences"
    preferences.parent.mkdir(parents=True)
    preferences.write_text(json.dumps({"proxy": {"mode": "fixed_servers", "server": "hijack.example.net:3128"},
                                       "homepage": "https://start.example.org", "bookmark_bar": {"show": True}}))
    customer = Customer(screen, url, tmp_path, procs, HOME=str(home))
    _, code, _ = customer.agent()
    done = run_playbook(url, code, "browser_proxy", ("browser", "chromium"))
    assert_done(done, "browser_proxy")
    assert json.loads(preferences.read_text()) == {"homepage": "https://start.example.org",
                                                   "bookmark_bar": {"show": True}}


# ------------------------------------------------------------------ startup apps


def software_hive(path: Path) -> Path:
    """A SOFTWARE hive whose Run key starts a slow updater and a needed tool."""
    run = Node("Run", values=[("updater", REG_SZ, "C:\\Updater\\up.exe /silent\0".encode("utf-16-le")),
                              ("Tool", REG_SZ, "C:\\Tool\\tool.exe\0".encode("utf-16-le"))])
    tree = Node("ROOT", children=[Node("Microsoft", children=[Node("Windows", children=[
        Node("CurrentVersion", children=[run])])])])
    path.write_bytes(build_hive(tree, "SOFTWARE"))
    return path


def test_startup_apps(screen: Xvfb, relay_url: tuple[str, Path], procs: list[Proc], tmp_path: Path) -> None:
    url, _ = relay_url
    home = tmp_path / "home"
    autostart = home / ".config/autostart"
    autostart.mkdir(parents=True)
    (autostart / "updater.desktop").write_text("[Desktop Entry]\nType=Application\nName=Updater\nExec=updater\n")
    (autostart / "keep.desktop").write_text("[Desktop Entry]\nType=Application\nName=Keep\nExec=keep\n")
    hive = software_hive(tmp_path / "SOFTWARE")
    assert set(regipy_values(hive, RUN_KEY)) == {"updater", "Tool"}
    customer = Customer(screen, url, tmp_path, procs, HOME=str(home))
    params = (("hive", str(hive)), ("disable", '["updater"]'))

    before = checksums(home, hive)
    _, code, _ = customer.agent()
    dry = run_playbook(url, code, "startup_apps", *params, dry_run=True)
    assert_dry_run(dry, "startup_apps", planned=2)
    assert checksums(home, hive) == before

    _, code, _ = customer.agent()
    done = run_playbook(url, code, "startup_apps", *params)
    assert_done(done, "startup_apps")
    assert "Hidden=true" in (autostart / "updater.desktop").read_text().splitlines()
    assert "Hidden" not in (autostart / "keep.desktop").read_text()
    assert set(regipy_values(hive, RUN_KEY)) == {"Tool"}  # read back by an independent reader


# ------------------------------------------------------------------ hosts and DNS

HOSTS = """# hosts
127.0.0.1 localhos
::1 ip6-localhost
203.0.113.66 www.google.com google.com
this line is broken
192.168.1.10 printer.office
"""


def test_hosts_dns(screen: Xvfb, relay_url: tuple[str, Path], procs: list[Proc], tmp_path: Path) -> None:
    url, _ = relay_url
    etc = tmp_path / "etc"
    etc.mkdir()
    hosts, resolv = etc / "hosts", etc / "resolv.conf"
    hosts.write_text(HOSTS)
    resolv.write_text("search office.example\n")
    customer = Customer(screen, url, tmp_path, procs)
    params = (("hosts_file", str(hosts)), ("resolv_file", str(resolv)), ("nameserver", "192.0.2.53"))

    before = checksums(etc)
    _, code, _ = customer.agent()
    dry = run_playbook(url, code, "hosts_dns", *params, dry_run=True)
    assert_dry_run(dry, "hosts_dns", planned=2)
    assert checksums(etc) == before

    _, code, _ = customer.agent()
    done = run_playbook(url, code, "hosts_dns", *params)
    assert_done(done, "hosts_dns")
    lines = hosts.read_text().splitlines()
    assert lines[0] == "127.0.0.1 localhost" and "192.168.1.10 printer.office" in lines
    assert not [line for line in lines if line.startswith("203.0.113.66") or line.startswith("this line")]
    assert "nameserver 192.0.2.53" in resolv.read_text()


# ------------------------------------------------------------------ desktop setting (real dconf)


@pytest.fixture(scope="module")
def dconf_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A private session bus, and dconf's service started by it: the variables the agent needs."""
    with private_dconf_session(tmp_path_factory.mktemp("dconf-home")) as env:
        yield {name: env[name] for name in ("HOME", "XDG_CONFIG_HOME", "XDG_RUNTIME_DIR", "XDG_CACHE_HOME",
                                            "DBUS_SESSION_BUS_ADDRESS")}


def dconf(env: dict[str, str], *args: str) -> str:
    return subprocess.run(["dconf", *args], env={**os.environ, **env}, capture_output=True, text=True,
                          check=True).stdout.strip()


def test_desktop_setting(screen: Xvfb, relay_url: tuple[str, Path], procs: list[Proc], tmp_path: Path,
                         dconf_env: dict[str, str]) -> None:
    url, _ = relay_url
    key = "/org/gnome/desktop/interface/gtk-theme"
    dconf(dconf_env, "write", key, "'HighContrastInverse'")
    customer = Customer(screen, url, tmp_path, procs, **dconf_env)
    _, code, _ = customer.agent()
    dry = run_playbook(url, code, "desktop_setting", dry_run=True)
    assert_dry_run(dry, "desktop_setting", planned=1)
    assert dconf(dconf_env, "read", key) == "'HighContrastInverse'"
    _, code, _ = customer.agent()
    done = run_playbook(url, code, "desktop_setting", ("value", "Adwaita"))
    assert_done(done, "desktop_setting")
    assert dconf(dconf_env, "read", key) == "'Adwaita'"


# ------------------------------------------------------------------ diagnostic bundle


def test_diagnostic_bundle(screen: Xvfb, relay_url: tuple[str, Path], procs: list[Proc], tmp_path: Path) -> None:
    url, _ = relay_url
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "app.log").write_text("ERROR disk\n" * 100)
    (logs / "setup.log").write_text("ok\n")
    syslog = tmp_path / "syslog"
    syslog.write_text("kernel: hello\n")
    bundle = tmp_path / "technician" / "bundle.zip"
    bundle.parent.mkdir()
    customer = Customer(screen, url, tmp_path, procs)
    before = checksums(logs, syslog)
    _, code, _ = customer.agent()
    done = run_playbook(url, code, "diagnostic_bundle", ("logs", json.dumps([str(logs), str(syslog)])),
                        ("bundle", str(bundle)))
    assert_done(done, "diagnostic_bundle")
    with zipfile.ZipFile(bundle) as archive:
        names = set(archive.namelist())
        assert {"inventory.json", "screen.png", "bundle.json"} <= names
        logged = sorted(n for n in names if n.startswith("logs/"))
        assert len(logged) == 3 and archive.read(next(n for n in logged if n.endswith("app.log"))) == \
            (logs / "app.log").read_bytes()
    assert checksums(logs, syslog) == before  # it only reads


# ------------------------------------------------------------------ stopped by the customer

STOPPABLE = {
    "params": 'folder = ""\ngo = ""\n',
    "steps": [
        ("1. Leave a note", 'print(s.files.write(f"{folder}/note.txt", "first change"))'),
        ("2. Wait for the customer", 'import time\nfrom pathlib import Path\n'
         'while not Path(go).exists():\n    time.sleep(0.1)\n'
         's.files.write(f"{folder}/second.txt", "never made")'),
        ("3. Never reached", 'check(False, "not reached")'),
    ],
}


def stoppable_playbook(path: Path) -> Path:
    """A playbook whose step 2 waits for the test (a local file) before its call."""
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

    parameters = new_code_cell('session_code = ""\nrelay = ""\ndry_run = False\n' + STOPPABLE["params"])
    parameters.metadata["tags"] = ["parameters"]
    cells = [new_markdown_cell("# Playbook: stopped half-way"), parameters,
             new_code_cell("from workbench.playbooks import attach, check\n"
                           "s = attach(session_code, relay, dry_run=dry_run)")]
    for title, code in STOPPABLE["steps"]:
        cells += [new_markdown_cell(f"## {title}"), new_code_cell(code)]
    notebook = new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, path)
    return path


def test_a_playbook_stopped_by_the_customer(screen: Xvfb, relay_url: tuple[str, Path], procs: list[Proc],
                                            tmp_path: Path) -> None:
    url, _ = relay_url
    folder = tmp_path / "customer"
    folder.mkdir()
    go = tmp_path / "go"
    notebook = stoppable_playbook(tmp_path / "stoppable.ipynb")
    agent, code, data = Customer(screen, url, tmp_path, procs).agent()
    run = Proc([sys.executable, "-m", "workbench.cli", "playbook", "run", str(notebook), "--code", code,
                "--relay", url, "-p", "folder", str(folder), "-p", "go", str(go), "--out",
                str(tmp_path / "executed.ipynb")], name="playbook")
    procs.append(run)
    run.wait_for(r"step 2 of 3: 2\. Wait for the customer", timeout=300)
    agent.signal(signal.SIGINT)  # the customer ends the session (Ctrl-C at the agent)
    assert agent.wait(60) == 0
    go.touch()
    assert run.wait(300) == 1
    output = "\n".join(run.lines)
    assert "stopped by the customer at step 2 of 3 (2. Wait for the customer): SessionEnded" in output
    assert f"files.write {folder}/note.txt" in output and "s.files.undo()" in output
    assert (folder / "note.txt").read_text() == "first change" and not (folder / "second.txt").exists()
    assert "not kept at the relay" in output and (tmp_path / "executed.ipynb").exists()
    # The change made stays undoable: the agent kept its change record and the old state.
    assert [c["method"] for c in calls(data) if c["method"].startswith("files.")] == ["files.write"]
    assert len(list((data / "state" / "files" / "changes").iterdir())) == 1  # its change record, for files.undo


# ------------------------------------------------------------------ live, in a kernel

LIVE = """
from workbench import connect
s = connect({code!r}, relay={url!r}, name="Live technician")
print(repr(s.playbooks))
result = s.playbooks.run("hosts_dns", hosts_file={hosts!r}, resolv_file={resolv!r})
print(repr(result))
try:
    s.playbooks.run("hosts_dns", hosts_fil="typo")
except Exception as err:
    print("refused:", type(err).__name__, err)
s.close()
"""


def test_live_run_in_a_kernel(screen: Xvfb, relay_url: tuple[str, Path], procs: list[Proc],
                              tmp_path: Path) -> None:
    url, relay_data = relay_url
    hosts, resolv = tmp_path / "hosts", tmp_path / "resolv.conf"
    hosts.write_text(HOSTS)
    resolv.write_text("nameserver 192.0.2.1\n")
    _, code, _ = Customer(screen, url, tmp_path, procs).agent()
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        LIVE.format(code=code, url=url, hosts=str(hosts), resolv=str(resolv)))])
    NotebookClient(notebook, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = notebook.cells[0].outputs
    assert not [o for o in outputs if o.output_type == "error"], outputs
    text = "".join(o.get("text", "") for o in outputs)
    assert "  disk_full: Playbook: a disk (or a folder) is full" in text
    assert "<PlaybookRun hosts_dns: done>" in text and "  2. 2. Repair the hosts file: done" in text
    assert "refused: BadParams playbook 'hosts_dns' has no parameter 'hosts_fil'" in text
    assert hosts.read_text().splitlines()[0] == "127.0.0.1 localhost"
    assert list((tmp_path / "playbook-runs").glob("hosts_dns-*.ipynb"))
    assert kept_notebooks(relay_data, "hosts_dns")
    assert any(o.output_type == "display_data" and "application/vnd.jupyter.widget-view+json" in o.data
               for o in outputs)  # the progress bar and the step list
