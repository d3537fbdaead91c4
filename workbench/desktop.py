"""A believable customer desktop on a virtual screen, for the demo and for labs.

What a technician meets on a home PC: a window manager with title bars (twm), a text editor
open on an application's settings file (mousepad), a terminal in the customer's home
(xterm), and a file manager showing their folders (pcmanfm), over the customer's own files:
documents, an invoicing application's settings and log, and a private folder the customer
protects (``--forbid``).  Each program is a real Debian package (``scripts/setup`` installs
them); one that is missing is left out and named in :attr:`Desktop.missing`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from workbench.lab import Proc

APP_SETTINGS = """# Invoicing app settings
[network]
proxy = on
proxy_host = 10.0.0.1
[display]
theme = dark
"""

#: twm with title bars and no interactive placement (a new window would otherwise wait for a click).
TWMRC = """RandomPlacement
NoGrabServer
DecorateTransients
TitleFont "-adobe-helvetica-bold-r-normal--*-120-*-*-*-*-*-*"
IconManagerDontShow
Color
{
    BorderColor "slategrey"
    DefaultBackground "#2e3440"
    DefaultForeground "#eceff4"
    TitleBackground "#4c566a"
    TitleForeground "#eceff4"
    MenuBackground "#3b4252"
    MenuForeground "#eceff4"
}
Button1 = : root : f.menu "desktop"
menu "desktop"
{
    "Desktop"   f.title
    "Terminal"  f.exec "xterm &"
    "Files"     f.exec "pcmanfm &"
}
"""


def seed_app_folder(app: Path) -> Path:
    """An invoicing application's folder in *app*: ``settings.ini`` (with an old proxy the playbook turns
    off), ``logs/app.log``, and ``Private/``, which the demo customer forbids; returns that private folder.
    Existing files are left as they are."""
    (app / "logs").mkdir(parents=True, exist_ok=True)
    private = app / "Private"
    private.mkdir(exist_ok=True)
    _write_missing({
        app / "settings.ini": APP_SETTINGS,
        app / "logs" / "app.log": "".join(f"2026-11-26 09:{i // 60:02d}:{i % 60:02d} ERROR proxy 10.0.0.1 unreachable\n"
                                          for i in range(500)),
        private / "bank.txt": "the customer's own business\n",
    })
    return private


def seed_customer_home(home: Path) -> tuple[Path, Path]:
    """Fill *home* with a customer's files: documents, downloads, and the invoicing app's folder
    (:func:`seed_app_folder`); return (the app's folder, its private folder)."""
    app = home / "InvoiceApp"
    private = seed_app_folder(app)
    documents = home / "Documents"
    documents.mkdir(exist_ok=True)
    (home / "Downloads").mkdir(exist_ok=True)
    _write_missing({
        documents / "shopping list.txt": "bread\nmilk\nprinter paper\n",
        documents / "letter to the insurer.txt": "Dear Sir or Madam,\n\nplease find attached…\n",
    })
    return app, private


def _write_missing(files: dict[Path, str]) -> None:
    for path, text in files.items():
        if not path.exists():
            path.write_text(text, encoding="utf-8")


@dataclass
class Desktop:
    """The programs of a customer desktop on *display*; :meth:`stop` ends them (each by its PID)."""

    display: str
    home: Path
    programs: list[Proc] = field(default_factory=list)
    #: programs not installed on this machine (the desktop runs without them)
    missing: list[str] = field(default_factory=list)

    def start(self, settings_file: Path) -> None:
        """Start the window manager, then the terminal, the file manager and the editor on *settings_file*."""
        env = self._env()
        config = self.home / ".twmrc"
        config.write_text(TWMRC, encoding="utf-8")
        self._start(["twm", "-f", str(config)], env)
        if shutil.which("xsetroot"):  # after twm: the X server resets when its only client leaves
            subprocess.run(["xsetroot", "-solid", "#5e81ac"], env=env, check=False, stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self._start(["xterm", "-geometry", "90x22+650+470", "-title", "Terminal", "-xrm",
                     "XTerm*allowSendEvents: true"], env)
        if self._start(["pcmanfm", "--no-desktop", str(self.home)], env):
            self._place("pcmanfm", (40, 40, 560, 400), env)
        if self._start(["mousepad", str(settings_file)], env):
            self._place("mousepad", (420, 120, 640, 420), env)

    def _env(self) -> dict[str, str]:
        """The customer's session: their home, their display, GTK without accessibility bus noise."""
        return {**os.environ, "DISPLAY": self.display, "HOME": str(self.home), "NO_AT_BRIDGE": "1",
                "XDG_CONFIG_HOME": str(self.home / ".config"), "XDG_DATA_HOME": str(self.home / ".local/share"),
                "XDG_CACHE_HOME": str(self.home / ".cache"), "GTK_A11Y": "none"}

    def _start(self, args: list[str], env: dict[str, str]) -> bool:
        if shutil.which(args[0]) is None:
            self.missing.append(args[0])
            return False
        self.programs.append(Proc(args, env=env, name=args[0], own_group=True, cwd=self.home))
        return True

    def _place(self, window_class: str, box: tuple[int, int, int, int], env: dict[str, str]) -> None:
        """Move the program's window to *box* (x, y, width, height) once it shows: GTK programs take no
        geometry option, and twm would put them anywhere.  A window that never shows stays unplaced."""
        if shutil.which("xdotool") is None:
            return
        x, y, width, height = box
        with contextlib.suppress(subprocess.TimeoutExpired):
            subprocess.run(["xdotool", "search", "--sync", "--onlyvisible", "--classname", window_class,
                            "windowsize", "%@", str(width), str(height), "windowmove", "%@", str(x), str(y)],
                           env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=30, check=False)

    def stop(self) -> None:
        for program in reversed(self.programs):
            with contextlib.suppress(OSError):
                program.stop(5)
        self.programs.clear()
