"""``workbench demo``: everything on one machine, for a first look.

A relay on 127.0.0.1, a virtual screen (Xvfb) when there is no display, a
real program on it, a customer agent on that screen (consent given on the
command line, as a lab does; journaled as such), and JupyterLab on
``notebooks/quickstart.ipynb``.  Whenever a session ends, a new agent starts
with a new code, written to ``<data>/code.txt`` where the quickstart finds it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

from workbench.lab import Proc, Xvfb, python_env, start_agent, start_relay

CODE_FILE_VARIABLE = "WORKBENCH_DEMO_CODE_FILE"
RELAY_VARIABLE = "WORKBENCH_RELAY"
CUSTOMER_FOLDER_VARIABLE = "WORKBENCH_DEMO_CUSTOMER_FOLDER"

APP_SETTINGS = """# Invoicing app settings
[network]
proxy = on
proxy_host = 10.0.0.1
[display]
theme = dark
"""


def code_from_demo() -> str | None:
    """The session code of the demo's current agent, or None outside the demo."""
    path = os.environ.get(CODE_FILE_VARIABLE)
    if not path:
        return None
    with contextlib.suppress(OSError):
        return Path(path).read_text(encoding="utf-8").strip() or None
    return None


def relay_from_demo(default: str = "ws://127.0.0.1:8765") -> str:
    """The demo relay's address (or *default*)."""
    return os.environ.get(RELAY_VARIABLE, default)


def customer_folder_from_demo(default: str = "~") -> str:
    """The demo customer's folder of app files (or *default*, the customer's home)."""
    return os.environ.get(CUSTOMER_FOLDER_VARIABLE, default)


def seed_customer_folder(folder: Path) -> Path:
    """Make a small customer folder for the playbooks: an app's settings, its log, and a private folder.

    Returns the private folder, which the demo customer forbids (``--forbid``).
    """
    (folder / "logs").mkdir(parents=True, exist_ok=True)
    (folder / "settings.ini").write_text(APP_SETTINGS, encoding="utf-8")
    (folder / "logs" / "app.log").write_text(
        "".join(f"2026-11-26 09:{i // 60:02d}:{i % 60:02d} ERROR proxy 10.0.0.1 unreachable\n" for i in range(500)),
        encoding="utf-8")
    private = folder / "Private"
    private.mkdir(exist_ok=True)
    (private / "bank.txt").write_text("the customer's own business\n", encoding="utf-8")
    return private


class _AgentSupervisor(threading.Thread):
    """Keeps one customer agent waiting for a technician, one session after another."""

    def __init__(self, relay_url: str, data: Path, env: dict[str, str], forbid: Path) -> None:
        super().__init__(name="demo-agents", daemon=True)
        self.relay_url, self.data, self.env, self.forbid = relay_url, data, env, forbid
        self.code_file = data / "code.txt"
        self.current: Proc | None = None
        self.stopping = threading.Event()
        self.failed = False

    def run(self) -> None:
        try:
            self._serve_customers()
        except (RuntimeError, TimeoutError) as err:
            print(f"the demo's customer agent could not start; stopping the demo:\n{err}", file=sys.stderr, flush=True)
            self.failed = True
            self.stopping.set()

    def _serve_customers(self) -> None:
        while not self.stopping.is_set():
            agent, code = start_agent(self.relay_url, self.data / "agent", "--forbid", str(self.forbid),
                                      window=True, env=self.env)
            self.current = agent
            tmp = self.code_file.with_suffix(".tmp")
            tmp.write_text(code + "\n", encoding="utf-8")
            tmp.replace(self.code_file)
            print(f"customer agent ready: session code {code} (also in {self.code_file})", flush=True)
            agent.wait(None)  # type: ignore[arg-type]

    def stop(self) -> None:
        self.stopping.set()
        if self.current is not None:
            self.current.stop()


def run_demo(port: int = 8765, data: Path = Path("demo-data"), lab: bool = True, lab_port: int = 8888) -> int:
    """Run the demo until Ctrl-C; return the exit status."""
    data = data.resolve()
    data.mkdir(parents=True, exist_ok=True)
    screen: Xvfb | None = None
    started: list[Proc] = []
    extra_env: dict[str, str] = {}
    if not os.environ.get("DISPLAY"):
        screen = Xvfb(1600, 900)
        extra_env["DISPLAY"] = screen.display
        print(f"virtual screen started on display {screen.display}", flush=True)
    env = python_env(**extra_env)
    relay, url = start_relay(data / "relay", port)
    started.append(relay)
    print(f"relay listening on {url}", flush=True)
    if shutil.which("xterm"):
        started.append(Proc(["xterm", "-geometry", "100x30+40+40", "-xrm", "XTerm*allowSendEvents: true",
                             "-title", "customer terminal"], env=env, name="xterm"))
    customer_folder = data / "customer"
    private = seed_customer_folder(customer_folder)
    supervisor = _AgentSupervisor(url, data, env, private)
    supervisor.start()
    lab_proc: subprocess.Popen[bytes] | None = None
    try:
        if lab:
            notebooks = Path(__file__).resolve().parent.parent / "notebooks"
            lab_args = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1", f"--port={lab_port}",
                        f"--ServerApp.root_dir={notebooks}", "quickstart.ipynb"]
            if hasattr(os, "geteuid") and os.geteuid() == 0:
                lab_args.append("--allow-root")
            lab_env = {**env, CODE_FILE_VARIABLE: str(supervisor.code_file), RELAY_VARIABLE: url,
                       CUSTOMER_FOLDER_VARIABLE: str(customer_folder)}
            lab_proc = subprocess.Popen(lab_args, env=lab_env, cwd=notebooks)
            print("JupyterLab is starting: open the URL with the token printed below, then run quickstart.ipynb",
                  flush=True)
            while lab_proc.poll() is None and not supervisor.stopping.wait(1.0):
                pass
        else:
            supervisor.stopping.wait()
    except KeyboardInterrupt:
        pass
    finally:
        if lab_proc is not None and lab_proc.poll() is None:
            lab_proc.terminate()
            lab_proc.wait(20)
        supervisor.stop()
        for proc in reversed(started):
            proc.stop()
        if screen is not None:
            screen.stop()
    return 1 if supervisor.failed else 0
