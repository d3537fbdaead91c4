"""Open a file with the customer's own default application, or save a copy of it where they choose.

Availability: Windows (``os.startfile``), macOS (``open``), other systems
(``xdg-open``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path


def open_with_system(path: Path) -> subprocess.Popen[bytes] | None:
    """Ask the operating system to open *path* in the user's default application.

    Returns the opener's process, which the caller waits for (off the UI
    thread) to learn whether it worked: a non-zero exit means no application
    took the file.  Returns None on Windows, where ``os.startfile`` returns
    once the file is handed over.

    Raises:
        OSError: there is no opener on this system (``FileNotFoundError``), or
            the system refused to start it.
    """
    if sys.platform == "win32":
        os.startfile(path)
        return None
    command = "open" if sys.platform == "darwin" else "xdg-open"
    executable = shutil.which(command)
    if executable is None:
        raise FileNotFoundError(f"{command} is not installed")
    return subprocess.Popen(
        [executable, str(path)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # a Ctrl-C meant for the agent must not close the customer's viewer
    )


def save_copy(source: Path, target: Path) -> None:
    """Copy *source* to *target* whole or not at all: a temporary file beside it, fsynced, renamed.

    Raises OSError (the target's folder cannot be written, the disk is full…); nothing is left behind.
    """
    partial = target.with_name(f".{target.name}.part")
    try:
        with source.open("rb") as reading, partial.open("wb") as writing:
            shutil.copyfileobj(reading, writing)
            writing.flush()
            os.fsync(writing.fileno())
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
