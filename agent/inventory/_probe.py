"""Reading files and running programs for the collectors, with bounded cost.

Every failure becomes a :class:`ProbeError` carrying the fact status it means
(``unavailable`` or ``denied``) and a short reason; collectors turn it into a
fact with :meth:`ProbeError.fact`.  This is the one edge where OS errors of
the inventory become statuses.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from wire.facts import Fact, Status, missing

#: Largest file a collector reads whole.
MAX_FILE_BYTES = 4 * 1024 * 1024
#: Largest output kept from a program.
MAX_OUTPUT_BYTES = 8 * 1024 * 1024


class ProbeError(Exception):
    """A source could not be read; ``status`` is what that means for the fact."""

    def __init__(self, status: Status, detail: str) -> None:
        super().__init__(detail)
        self.status: Status = status
        self.detail = detail

    def fact(self, name: str, source: str, *, personal: bool = False, subject: str | None = None) -> Fact:
        """Return the fact *name* without a value, saying why."""
        return missing(name, self.status, source, self.detail, personal=personal, subject=subject)


def os_error_reason(err: OSError, path: Path | str) -> ProbeError:
    """Translate *err* met while reading *path*; raises nothing."""
    if isinstance(err, PermissionError):
        return ProbeError("denied", f"{path}: permission denied for this user{_owner_hint(path)}")
    if isinstance(err, FileNotFoundError):
        return ProbeError("unavailable", f"{path} does not exist")
    return ProbeError("unavailable", f"{path}: {err.strerror or err}")


def _owner_hint(path: Path | str) -> str:
    try:
        st = os.stat(path)
    except OSError:
        return ""
    owner = "root" if st.st_uid == 0 else f"uid {st.st_uid}"
    return f" (mode {st.st_mode & 0o777:04o}, owner {owner})"


def read_bytes(path: Path, limit: int = MAX_FILE_BYTES) -> bytes:
    """Return up to *limit* bytes of *path*.

    Raises ProbeError: ``denied`` when the OS refuses, ``unavailable`` when the
    file is absent or unreadable.
    """
    try:
        with open(path, "rb") as f:
            return f.read(limit)
    except OSError as err:
        raise os_error_reason(err, path) from err


def read_text(path: Path, limit: int = MAX_FILE_BYTES) -> str:
    """Return the text of *path* (UTF-8, bad bytes replaced); raises ProbeError like :func:`read_bytes`."""
    return read_bytes(path, limit).decode("utf-8", errors="replace")


def quiet_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """Return an environment in which a GUI program cannot open a window on the customer's screen."""
    env = dict(os.environ if base is None else base)
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "DBUS_SESSION_BUS_ADDRESS"):
        env.pop(name, None)
    env["LC_ALL"] = "C"
    return env


def run(argv: Sequence[str], *, timeout: float, env: Mapping[str, str] | None = None) -> str:
    """Run *argv* without a shell and return its standard output (UTF-8, bad bytes replaced).

    The program gets no standard input; on POSIX it runs in its own session so
    that a timeout kills it with its children.

    Raises ProbeError: ``unavailable`` when the program is missing, exits with a
    non-zero status or does not answer within *timeout* seconds, ``denied``
    when the OS refuses to run it.
    """
    what = Path(argv[0]).name
    posix = sys.platform != "win32"
    creationflags = getattr(subprocess, "CREATE_NO_WINDOW", 0) if not posix else 0
    try:
        proc = subprocess.Popen(
            list(argv), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=dict(env) if env is not None else None, start_new_session=posix, creationflags=creationflags,
        )
    except PermissionError as err:
        raise ProbeError("denied", f"{what}: not allowed to run it") from err
    except FileNotFoundError as err:
        raise ProbeError("unavailable", f"{what} not found") from err
    except OSError as err:
        raise ProbeError("unavailable", f"{what}: {err.strerror or err}") from err
    try:
        out, err_out = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired as err:
        _kill(proc)
        raise ProbeError("unavailable", f"{what} did not answer within {timeout:g} s") from err
    finally:
        if proc.poll() is None:  # an exception other than the timeout: leave nothing behind
            _kill(proc)
    if proc.returncode != 0:
        first = next((line.strip() for line in err_out.decode("utf-8", "replace").splitlines() if line.strip()), "")
        reason = f"{what} exited with status {proc.returncode}"
        raise ProbeError("unavailable", f"{reason}: {first[:200]}" if first else reason)
    return out[:MAX_OUTPUT_BYTES].decode("utf-8", errors="replace")


def _kill(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(OSError):
        if sys.platform == "win32":
            proc.kill()
        else:  # the program's own session: its children go too
            os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.communicate(timeout=2)


def home_relative(path: Path | str, home: Path | None = None) -> str:
    """Return *path* with the user's home folder written ``~``, so a value does not carry the user name."""
    text = str(path)
    base = str(home if home is not None else Path.home())
    if base and base not in ("/", "\\") and (text == base or text.startswith(base.rstrip("/\\") + os.sep)):
        return "~" + text[len(base.rstrip("/\\")):]
    return text
