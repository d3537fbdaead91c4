"""``workbench demo``: everything on one machine, for a first look.

A virtual screen (Xvfb) with a believable customer desktop on it (:mod:`workbench.desktop`:
twm, an editor on an application's settings, a terminal, a file manager, the customer's
files and a protected folder), a relay on 127.0.0.1, customer agents on that screen
(consent given on the command line, as a lab does; journaled as such), and JupyterLab on a
work copy of the notebooks, opened on ``quickstart.ipynb``.

One customer always waits for a technician: when a notebook pairs with the waiting agent,
another starts with a new code, written to ``<data>/code.txt`` where the notebooks find it
(:func:`code_from_demo`), so each notebook gets its own customer.  Everything the demo
writes stays under ``<data>`` (git-ignored ``demo-data/`` by default): the work copies of
the notebooks and what they download, JupyterLab's settings and logs, the agents' journals.

It ends on Ctrl-C (or SIGTERM) with status 0: JupyterLab, then the agents (each journals
the end), the desktop, the relay and the screen, in that order.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from types import FrameType

from workbench.desktop import Desktop, seed_app_folder, seed_customer_home
from workbench.lab import Proc, Xvfb, free_port, python_env, start_agent, start_relay

CODE_FILE_VARIABLE = "WORKBENCH_DEMO_CODE_FILE"
RELAY_VARIABLE = "WORKBENCH_RELAY"
CUSTOMER_FOLDER_VARIABLE = "WORKBENCH_DEMO_CUSTOMER_FOLDER"
NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
#: The customer's screen: a laptop's.
SCREEN = (1280, 800)
#: Most customers the demo keeps at once (waiting or in a session).
MAX_CUSTOMERS = 6
#: How JupyterLab is told not to show its news pop-up over the quickstart.
LAB_NOTIFICATION_SETTINGS = '{"fetchNews": "false", "checkForUpdates": false}'


def code_from_demo(wait: float = 60.0) -> str | None:
    """The session code of the demo's waiting customer, or None outside the demo.

    Between a pairing and the next customer's code the file is absent: wait for it (up to
    *wait* seconds), so that a notebook started meanwhile gets the next customer, not the
    code that was just used.
    """
    path = os.environ.get(CODE_FILE_VARIABLE)
    if not path:
        return None
    deadline = time.monotonic() + wait
    while True:
        with contextlib.suppress(OSError):
            return Path(path).read_text(encoding="utf-8").strip() or None
        if time.monotonic() > deadline:
            return None
        time.sleep(0.2)


def relay_from_demo(default: str = "ws://127.0.0.1:8765") -> str:
    """The demo relay's address (or *default*)."""
    return os.environ.get(RELAY_VARIABLE, default)


def customer_folder_from_demo(default: str = "~") -> str:
    """The demo customer's folder of app files (or *default*, the customer's home)."""
    return os.environ.get(CUSTOMER_FOLDER_VARIABLE, default)


def seed_customer_folder(folder: Path) -> Path:
    """The invoicing app's folder in *folder* (:func:`workbench.desktop.seed_app_folder`); returns its
    private folder, which the demo customer forbids."""
    return seed_app_folder(folder)


class _Customers(threading.Thread):
    """Keeps one customer agent waiting for a technician: when the waiting one is paired, the next starts."""

    def __init__(self, relay_url: str, data: Path, env: dict[str, str], forbid: Path) -> None:
        super().__init__(name="demo-customers", daemon=True)
        self.relay_url, self.data, self.env, self.forbid = relay_url, data, env, forbid
        self.code_file = data / "code.txt"
        self.agents: list[Proc] = []
        self.first_code = threading.Event()
        self.stopping = threading.Event()
        self.failure: str | None = None
        self._lock = threading.Lock()
        self._count = 0

    def run(self) -> None:
        try:
            while not self.stopping.is_set():
                agent_data = self._start_one()
                if agent_data is None:
                    return
                # Poll the waiting agent's journal: it says when a technician paired (session_start).
                while not self.stopping.wait(0.5) and not _paired(agent_data):
                    if self._waiting_agent_ended():
                        break
                with contextlib.suppress(FileNotFoundError):  # that code is taken: no notebook may read it now
                    self.code_file.unlink()
                self._forget_ended()
                while not self.stopping.is_set() and len(self.agents) >= MAX_CUSTOMERS:
                    self.stopping.wait(1.0)
                    self._forget_ended()
        except (RuntimeError, TimeoutError, OSError) as err:
            self.failure = f"a customer agent could not start: {err}"
            self.stopping.set()
            self.first_code.set()

    def _start_one(self) -> Path | None:
        self._count += 1
        agent_data = self.data / "agents" / str(self._count)
        # The customers after the first wait with their window hidden (their session bar shows once a notebook
        # pairs): real customers each have a screen of their own, here they share one, and a waiting
        # customer's window would cover the desktop the technician is looking at.
        hidden = ("--start-hidden",) if self._count > 1 else ()
        agent, code = start_agent(self.relay_url, agent_data, "--forbid", str(self.forbid), *hidden, window=True,
                                  env=self.env, own_group=True)
        with self._lock:
            if self.stopping.is_set():
                agent.stop()
                return None
            self.agents.append(agent)
        tmp = self.code_file.with_suffix(".tmp")
        tmp.write_text(code + "\n", encoding="utf-8")
        tmp.replace(self.code_file)
        if self.first_code.is_set():
            print(f"A new customer is waiting: session code {code}", flush=True)
        self.first_code.set()
        return agent_data

    def _waiting_agent_ended(self) -> bool:
        with self._lock:
            return bool(self.agents) and self.agents[-1].popen.poll() is not None

    def _forget_ended(self) -> None:
        with self._lock:
            self.agents = [a for a in self.agents if a.popen.poll() is None]

    def stop(self) -> None:
        """Stop every agent (each ends its session and journals it); no new one starts."""
        self.stopping.set()
        with self._lock:
            agents, self.agents = self.agents, []
        for agent in agents:
            agent.stop(15)
        self.join(30)


def _paired(agent_data: Path) -> bool:
    for journal in (agent_data / "journals").glob("*.jsonl"):
        with contextlib.suppress(OSError):
            if '"kind":"session_start"' in journal.read_text(encoding="utf-8", errors="replace"):
                return True
    return False


def work_copy_of_notebooks(target: Path) -> Path:
    """Copy the tracked notebooks to *target* (only those not there yet: a technician's edits are kept).

    JupyterLab autosaves and notebooks download next to themselves: in the work copy, the
    clone stays clean.
    """
    for source in NOTEBOOKS.rglob("*.ipynb"):
        if ".ipynb_checkpoints" in source.parts:
            continue
        copy = target / source.relative_to(NOTEBOOKS)
        if not copy.exists():
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, copy)
    return target


class _Lab:
    """JupyterLab on the work copy, with its settings, workspaces and log under the demo's data."""

    def __init__(self, notebooks: Path, data: Path, port: int, env: dict[str, str]) -> None:
        self.token = secrets.token_hex(16)
        self.port = port if port and _port_is_free(port) else free_port()
        self.log_path = data / "jupyterlab.log"
        settings = data / "lab" / "settings"
        notification = settings / "@jupyterlab/apputils-extension/notification.jupyterlab-settings"
        notification.parent.mkdir(parents=True, exist_ok=True)
        notification.write_text(LAB_NOTIFICATION_SETTINGS, encoding="utf-8")
        lab_env = {**env, "JUPYTERLAB_SETTINGS_DIR": str(settings),
                   "JUPYTERLAB_WORKSPACES_DIR": str(data / "lab" / "workspaces")}
        args = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1", f"--port={self.port}",
                "--ServerApp.port_retries=0", f"--IdentityProvider.token={self.token}",
                f"--ServerApp.root_dir={notebooks}", "--LabApp.news_url=None",
                # window.jupyterapp: the screen widget's Pop out runs "Create New View for Cell Output" with it.
                "--LabApp.expose_app_in_browser=True"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            args.append("--allow-root")
        with open(self.log_path, "w", encoding="utf-8") as log:
            self.popen = subprocess.Popen(args, env=lab_env, cwd=notebooks, stdin=subprocess.DEVNULL, stdout=log,
                                          stderr=subprocess.STDOUT, start_new_session=os.name == "posix")
        self.base = f"http://127.0.0.1:{self.port}"

    @property
    def quickstart_url(self) -> str:
        return f"{self.base}/lab/tree/quickstart.ipynb?token={self.token}"

    def wait_ready(self, stopping: threading.Event, timeout: float = 120.0) -> None:
        """Return once JupyterLab answers; raises RuntimeError (naming its log) when it ended or never answered."""
        waited = 0.0
        while waited < timeout:
            if self.popen.poll() is not None:
                raise RuntimeError(f"JupyterLab ended (status {self.popen.returncode}); see {self.log_path}")
            try:
                with urllib.request.urlopen(f"{self.base}/api/status?token={self.token}", timeout=2):
                    return
            except OSError:
                pass
            if stopping.wait(0.5):
                return
            waited += 0.5
        raise RuntimeError(f"JupyterLab did not answer within {timeout:.0f} s; see {self.log_path}")

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(30)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()


def _port_is_free(port: int) -> bool:
    import socket

    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _stop_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def run_demo(port: int = 8765, data: Path = Path("demo-data"), lab: bool = True, lab_port: int = 8888) -> int:
    """Run the demo until Ctrl-C or SIGTERM; return the exit status (0, or 1 when something could not start)."""
    data = data.resolve()
    data.mkdir(parents=True, exist_ok=True)
    previous_sigterm = signal.signal(signal.SIGTERM, _stop_on_sigterm)
    status = 0
    with contextlib.ExitStack() as running:  # stops what started, last first, however the demo ends
        try:
            status = _run(running, port, data, lab, lab_port)
        except KeyboardInterrupt:
            print("\nStopping the demo…", flush=True)
        except (RuntimeError, TimeoutError, OSError) as err:
            print(f"The demo could not start: {err}", file=sys.stderr, flush=True)
            status = 1
        finally:
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the stopping short
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, previous_sigterm)
    return status


def _run(running: contextlib.ExitStack, port: int, data: Path, lab: bool, lab_port: int) -> int:
    screen = Xvfb(*SCREEN, reset=False)
    running.callback(screen.stop)
    relay, url = start_relay(data / "relay", port, own_group=True)
    running.callback(relay.stop)
    home = data / "customer"
    home.mkdir(exist_ok=True)
    app_folder, private = seed_customer_home(home)
    desktop = Desktop(screen.display, home)
    running.callback(desktop.stop)
    desktop.start(app_folder / "settings.ini")
    env = python_env(DISPLAY=screen.display)
    customers = _Customers(url, data, env, private)
    running.callback(customers.stop)
    customers.start()
    lab_server: _Lab | None = None
    if lab:
        notebooks = work_copy_of_notebooks(data / "notebooks")
        lab_env = {**env, CODE_FILE_VARIABLE: str(customers.code_file), RELAY_VARIABLE: url,
                   CUSTOMER_FOLDER_VARIABLE: str(app_folder)}
        lab_server = _Lab(notebooks, data, lab_port, lab_env)
        running.callback(lab_server.stop)
        lab_server.wait_ready(customers.stopping)
    while not customers.first_code.wait(1.0):  # in slices, so a Ctrl-C caught by another thread runs here
        pass
    if customers.failure is not None:
        raise RuntimeError(customers.failure)
    missing = f" (not installed: {', '.join(desktop.missing)}; run scripts/setup)" if desktop.missing else ""
    print(f"\nThe demo is running{missing}. Ctrl-C stops it.\n", flush=True)
    print(f"Customer screen  DISPLAY={screen.display} ({SCREEN[0]}×{SCREEN[1]}, "
          f"files in {home})", flush=True)
    print(f"Relay            {url}", flush=True)
    print(f"Session code     {code_from_file(customers.code_file)}  (each notebook takes the waiting "
          f"customer's code from {customers.code_file})", flush=True)
    print(f"JupyterLab       {lab_server.quickstart_url if lab_server else 'not started (--no-lab)'}", flush=True)
    while not customers.stopping.wait(1.0):
        if lab_server is not None and lab_server.popen.poll() is not None:
            raise RuntimeError(f"JupyterLab ended; see {lab_server.log_path}")
    if customers.failure is not None:
        raise RuntimeError(customers.failure)
    return 0


def code_from_file(path: Path) -> str:
    return path.read_text(encoding="utf-8").strip()
