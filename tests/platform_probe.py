"""Import every module the agent loads as if on another platform; print what failed, as JSON.

Run by ``tests/test_platform_imports.py`` in a subprocess (it changes ``sys.platform``,
``os`` and ``sys.modules`` for good)::

    python -m tests.platform_probe win32|darwin|linux [extra.module ...]

How a platform is imitated on this Linux machine, and where the imitation stops:

1. **The libraries are imported first, on the real platform.**  Every module of
   ``agent`` and ``wire`` is imported once as they are here, which loads the
   standard library and third-party modules they use; then ``agent*``,
   ``wire*`` and ``Xlib*`` are dropped from ``sys.modules``.  The agent's own
   code is what is under test: the standard library cannot be re-imported as
   Windows' (``subprocess`` would want ``_winapi``), and ``os.name``,
   ``os.sep`` and ``os.path`` stay POSIX (``pathlib.Path()`` cannot make
   Windows paths here).
2. **X11 is gone on every target** (python-xlib raises ImportError): on
   Windows and macOS it does not exist, and a Linux agent without a display
   must not need it.
3. **What the target lacks is removed**: ``sys.platform`` is set, the
   :data:`ABSENT` names of ``os``, ``signal``, ``select`` and ``socket`` are
   deleted, and the :data:`POSIX_ONLY` modules (``fcntl``, ``pwd``…) raise
   ImportError on Windows.  :data:`WINDOWS_ONLY` standard modules (``winreg``,
   ``msvcrt``) exist on Windows, so there they are empty stand-ins: importing
   them works, their contents are not imitated.
4. **Every module is imported again**, except those whose names say they are
   another platform's backend (:func:`other_platforms_backend`); each failure
   is reported with its last traceback line.  On Windows a module may also
   *decline* to load by raising ``ImportError("<module> is POSIX-only")`` from
   its first lines (the POSIX layers of ``agent.files`` and ``agent.forbidden``
   do): that is reported apart, as ``declined``, and is no failure — unless
   ``agent.app`` needs it, which then fails in its own right.  Then the per-platform choices are
   asked what they chose (screen watcher, window tracker, overlay, control).
"""

from __future__ import annotations

import builtins
import importlib
import importlib.abc
import importlib.machinery
import json
import os
import pkgutil
import re
import select
import signal
import socket
import sys
import traceback
import types
from collections.abc import Sequence
from typing import Any

#: The packages whose code is imported under the imitated platform.
OURS = ("agent", "wire")
#: X11 libraries: absent on every target.
X11_LIBRARIES = ("Xlib",)

#: Standard modules that exist only on POSIX systems (absent on Windows).
POSIX_ONLY = ("fcntl", "pwd", "grp", "termios", "tty", "pty", "resource", "posix", "_posixsubprocess", "syslog",
              "crypt", "spwd", "nis", "_posixshmem", "readline", "curses", "_curses")
#: Standard modules that exist only on Windows (empty stand-ins there).
WINDOWS_ONLY = ("winreg", "msvcrt", "_winapi", "winsound", "_overlapped")

#: Names each target's modules lack, as of Python 3.11 (``fchmod`` and ``get_blocking`` came to Windows later).
ABSENT: dict[str, dict[Any, tuple[str, ...]]] = {
    "win32": {
        os: ("O_NOFOLLOW", "O_DIRECTORY", "O_CLOEXEC", "O_NONBLOCK", "O_NOCTTY", "O_SYNC", "O_DSYNC", "O_RSYNC",
             "O_NDELAY", "O_ASYNC", "O_PATH", "O_TMPFILE", "O_NOATIME", "O_DIRECT", "O_LARGEFILE",
             "getuid", "geteuid", "getgid", "getegid", "getgroups", "getresuid", "getresgid", "setuid", "setgid",
             "seteuid", "setegid", "initgroups", "getpgid", "setpgid", "getsid", "setsid", "killpg", "getpgrp",
             "chown", "fchown", "lchown", "fchmod", "fchdir", "chroot", "statvfs", "fstatvfs", "sync", "fdatasync",
             "fork", "forkpty", "openpty", "wait3", "wait4", "waitid", "WNOHANG", "uname", "mkfifo", "mknod",
             "major", "minor", "makedev", "pipe2", "getloadavg", "nice", "pread", "pwrite", "sendfile",
             "posix_fallocate", "posix_fadvise", "sched_getaffinity", "sched_setaffinity", "getxattr", "setxattr",
             "listxattr", "removexattr", "memfd_create", "eventfd", "splice", "copy_file_range", "pidfd_open",
             "getrandom", "ttyname", "ctermid", "get_blocking", "set_blocking", "sysconf", "fpathconf", "pathconf",
             "confstr", "getpriority", "setpriority"),
        signal: ("SIGHUP", "SIGQUIT", "SIGKILL", "SIGUSR1", "SIGUSR2", "SIGPIPE", "SIGALRM", "SIGCHLD", "SIGCONT",
                 "SIGSTOP", "SIGTSTP", "SIGWINCH", "alarm", "pause", "setitimer", "getitimer", "siginterrupt",
                 "pthread_kill", "pthread_sigmask", "sigwait", "sigpending"),
        select: ("poll", "epoll", "kqueue", "devpoll"),
        socket: ("AF_UNIX", "SO_REUSEPORT", "MSG_NOSIGNAL", "sethostname"),
    },
    "darwin": {
        os: ("O_PATH", "O_TMPFILE", "O_NOATIME", "O_DIRECT", "O_LARGEFILE", "O_RSYNC", "pipe2", "memfd_create",
             "eventfd", "splice", "copy_file_range", "sched_getaffinity", "sched_setaffinity", "getxattr",
             "setxattr", "listxattr", "removexattr", "posix_fallocate", "posix_fadvise", "fdatasync", "pidfd_open",
             "getrandom", "getresuid", "getresgid"),
        select: ("epoll",),
        socket: ("MSG_NOSIGNAL",),
    },
    "linux": {},
}

#: A backend module's name (its last part, without a leading ``_``, before any ``_``) -> the platforms it loads on.
#: ``x11`` loads only with a display, so on none of the targets (the e2e tests import it on Xvfb).
BACKEND_PLATFORMS: dict[str, frozenset[str]] = {
    "x11": frozenset(),
    "posix": frozenset({"linux", "darwin"}),
    "linux": frozenset({"linux"}),
    "dconf": frozenset({"linux"}),
    "macos": frozenset({"darwin"}),
    "darwin": frozenset({"darwin"}),
    "defaults": frozenset({"darwin"}),
    "windows": frozenset({"win32"}),
    "win32": frozenset({"win32"}),
    "winreg": frozenset({"win32"}),
}


def other_platforms_backend(module: str, target: str) -> bool:
    """True when *module*'s name says it is a backend of platforms other than *target*.

    ``agent.screen._x11_windows`` -> ``x11``; ``agent.registry.winreg_backend`` -> ``winreg``;
    ``agent.inventory.linux`` -> ``linux``.
    """
    stem = module.rsplit(".", 1)[-1].lstrip("_").split("_", 1)[0]
    platforms = BACKEND_PLATFORMS.get(stem)
    return platforms is not None and target not in platforms


class _Absent(importlib.abc.MetaPathFinder):
    """Makes the named modules (and their submodules) raise ImportError, as where they do not exist."""

    def __init__(self, names: Sequence[str]) -> None:
        self.names = tuple(names)

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> None:
        if fullname.split(".", 1)[0] in self.names:
            raise ImportError(f"No module named {fullname!r} (not on this platform)", name=fullname)
        return None


def _ours(name: str) -> bool:
    return name.split(".", 1)[0] in OURS


#: How a POSIX-only module declines to load on Windows (its own words, raised from its first lines).
DECLINED = re.compile(r"^ImportError: (agent|wire)(\.\w+)+ is POSIX-only$")


def walk(target: str | None, extra: Sequence[str]) -> tuple[list[str], dict[str, str], dict[str, str]]:
    """Import every module of :data:`OURS` (less other platforms' backends) and *extra*.

    Returns (imported, failed, declined): *declined* holds, on Windows only, the modules
    that refused to load with the POSIX-only declaration (:data:`DECLINED`).
    """
    imported: list[str] = []
    failed: dict[str, str] = {}
    declined: dict[str, str] = {}

    def load(name: str) -> types.ModuleType | None:
        try:
            module = importlib.import_module(name)
        except BaseException as err:
            said = "".join(traceback.format_exception_only(type(err), err)).strip()
            if target == "win32" and name != "agent.app" and DECLINED.match(said):
                declined[name] = said
            else:
                failed[name] = said
            return None
        imported.append(name)
        return module

    pending = list(OURS)
    while pending:
        name = pending.pop(0)
        module = load(name)
        path = getattr(module, "__path__", None)
        if path is None:
            continue
        for info in pkgutil.iter_modules(path, name + "."):
            if target is not None and other_platforms_backend(info.name, target):
                continue
            pending.append(info.name)
    for name in extra:
        load(name)
    if target is not None:
        load("agent.app")  # the agent itself, named once more in case the walk above ever misses it
    return imported, failed, declined


def imitate(target: str) -> None:
    """Turn this interpreter into *target* as far as the agent's own imports can tell (see the module docstring)."""
    for name in list(sys.modules):
        if _ours(name) or name.split(".", 1)[0] in X11_LIBRARIES:
            del sys.modules[name]
    gone = list(X11_LIBRARIES)
    if target == "win32":
        gone += POSIX_ONLY
        for name in list(sys.modules):
            if name.split(".", 1)[0] in POSIX_ONLY:
                del sys.modules[name]
        for name in WINDOWS_ONLY:
            sys.modules.setdefault(name, types.ModuleType(name))
    sys.meta_path.insert(0, _Absent(gone))
    for module, names in ABSENT[target].items():
        for attribute in names:
            if hasattr(module, attribute):
                delattr(module, attribute)
    sys.platform = target
    os.environ.pop("DISPLAY", None)
    os.environ.pop("WAYLAND_DISPLAY", None)


def choices() -> dict[str, str]:
    """What each per-platform choice gives here: a backend's class name, None, or the error it raises."""

    def outcome(call: Any) -> str:
        try:
            result = call()
        except Exception as err:
            return f"raises {type(err).__name__}"
        return "None" if result is None else type(result).__name__

    from agent.annotate.overlay import open_overlay
    from agent.control.backend import open_backend
    from agent.control.ledger import InjectionLedger
    from agent.screen.backend import open_watcher
    from agent.screen.tracking import list_windows, open_window_tracker

    def nothing(*args: Any) -> None:
        return None

    return {
        "screen watcher": outcome(lambda: open_watcher(None)),
        "window tracker": outcome(lambda: open_window_tracker(None)),
        "window list": outcome(lambda: list_windows(None)),
        "overlay": outcome(lambda: open_overlay(None)),
        "control": outcome(lambda: open_backend(None, InjectionLedger(), nothing, nothing, nothing)),
    }


def main(argv: Sequence[str]) -> int:
    target, extra = argv[0], list(argv[1:])
    real = sys.platform
    walk(None, [])  # the libraries, on the real platform
    imitate(target)
    imported, failed, declined = walk(target, extra)
    try:
        chosen = choices()
    except Exception as err:
        chosen = {"error": repr(err)}
    builtins.print(json.dumps({"real": real, "platform": sys.platform, "imported": imported, "failed": failed,
                               "declined": declined, "choices": chosen}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
