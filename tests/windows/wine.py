"""The customer's Windows download, run for real under Wine on an Xvfb screen.

:class:`WineHost` builds ``dist/workbench-agent-win64.zip`` with ``scripts/build-windows-agent``
(the very file a customer downloads), unzips it, boots a private Wine prefix on its own Xvfb,
and runs the download's embeddable CPython there: a script, or the agent itself against a
relay on this machine's loopback. Everything it starts is stopped by its own PID, and the
prefix's wineserver with ``wineserver -k`` (which touches only that prefix).

The traps of ``../shared/notes/windows-under-wine.md`` are handled here once:
the Windows Python's stdout is always a pipe (a regular file kills it at start), Wine's
debugger is disabled and every run has a timeout, the prefix is booted before the first run,
and output is UTF-8.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path, PurePath

from workbench.lab import Proc, Xvfb

ROOT = Path(__file__).resolve().parents[2]


def windows_path(path: PurePath) -> str:
    """The Wine name of a Linux path: Wine maps the Linux root to drive ``Z:``."""
    return "Z:" + str(path).replace("/", "\\")


class WineHost:
    """A Wine prefix, its Xvfb, and the unzipped Windows download, under *workdir*."""

    def __init__(self, workdir: Path, width: int = 1280, height: int = 1024) -> None:
        if shutil.which("wine") is None:
            raise FileNotFoundError("wine is not installed (apt-get install wine wine64)")
        self.workdir = workdir
        self.zip_path = self._build()
        self.root = workdir / "unzipped"
        with zipfile.ZipFile(self.zip_path) as archive:
            archive.extractall(self.root)
        self.download = self.root / "workbench-agent-win64"
        self.python = self.download / "python" / "python.exe"
        self.prefix = workdir / "prefix"
        self.xvfb = Xvfb(width, height)
        self._boot()

    def _build(self) -> Path:
        out = self.workdir / "dist"
        # The builder runs with this interpreter: a worktree has no .venv of its own.
        done = subprocess.run([str(ROOT / "scripts" / "build-windows-agent"), "--out", str(out)],
                              capture_output=True, text=True, timeout=600, check=False,
                              env={**os.environ, "PYTHON": sys.executable})
        if done.returncode != 0:
            raise RuntimeError(f"scripts/build-windows-agent failed:\n{done.stdout}\n{done.stderr}")
        return out / "workbench-agent-win64.zip"

    def env(self, **extra: str) -> dict[str, str]:
        """The environment every Wine run gets."""
        return {
            **os.environ,
            "WINEPREFIX": str(self.prefix),
            "WINEDEBUG": "-all",
            "WINEARCH": "win64",
            "DISPLAY": self.xvfb.display,
            "PYTHONIOENCODING": "utf-8",
            "PYTHONUNBUFFERED": "1",
            # No Mono/Gecko installer prompts, and no debugger that would never exit.
            "WINEDLLOVERRIDES": "mscoree,mshtml=;winedbg.exe=d",
            **extra,
        }

    def _boot(self) -> None:
        # The first run in a new prefix starts Wine's services; they would inherit a pipe.
        subprocess.run(["wine", "wineboot", "--init"], env=self.env(), stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=180, check=False)

    def run_python(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Run the download's python.exe with *args*; stdout and stderr are pipes, merged."""
        return subprocess.run(["timeout", str(int(timeout)), "wine", str(self.python), *args],
                              env=self.env(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, encoding="utf-8", errors="replace",
                              check=False)

    def start_agent(self, relay_url: str, data: Path, *extra: str, window: bool = False,
                    accept_terms: bool = True) -> tuple[Proc, str]:
        """Start the download's ``workbench-agent.cmd`` options through its python.exe.

        Returns the process and the session code it printed. Raises TimeoutError or
        RuntimeError (with the output) when no code comes.
        """
        args = ["timeout", "600", "wine", str(self.python), "-m", "agent.cli", "--relay", relay_url,
                "--data", windows_path(data), "--window" if window else "--no-window", *extra]
        if accept_terms:
            args.insert(args.index("--relay"), "--accept-terms")
        proc = Proc(args, env=self.env(), name="agent.exe")
        try:
            code = proc.wait_for(r"session code: (\d{3} \d{3} \d{3})", timeout=90).group(1)
        except BaseException:
            proc.stop()
            raise
        return proc, code

    def run_launcher(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Run the download's ``workbench-agent.cmd`` with *args* through Wine's ``cmd /c``, to its end."""
        return subprocess.run(["timeout", str(int(timeout)), *self.launcher_command(*args)], env=self.env(),
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, encoding="utf-8", errors="replace", check=False)

    def launcher_command(self, *args: str) -> list[str]:
        """The command line that runs ``workbench-agent.cmd`` as a double-click does (``cmd /c``)."""
        return ["wine", "cmd", "/c", windows_path(self.download / "workbench-agent.cmd"), *args]

    def start_launcher(self, *args: str, name: str = "workbench-agent.cmd") -> Proc:
        """Start ``workbench-agent.cmd`` with *args* (stopped by the caller, by its PID)."""
        return Proc(["timeout", "600", *self.launcher_command(*args)], env=self.env(), name=name)

    def close(self) -> None:
        """Stop everything in this prefix, then its Xvfb."""
        subprocess.run(["wineserver", "-k"], env=self.env(), stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60, check=False)
        self.xvfb.stop()
