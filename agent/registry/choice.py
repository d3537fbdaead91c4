"""The registry's backends for this OS, chosen here and only here (psutil's model: absent beats fake).

=========  ==============================  ==============================================
OS         live backend                    offline hive files
=========  ==============================  ==============================================
Windows    ``winreg_backend`` (winreg)     ``_windows_hive_io`` through the guard
Linux      ``dconf`` (dconf command)       ``_posix_hive_io`` through the guard
macOS      ``defaults`` (defaults command) ``_posix_hive_io`` through the guard
=========  ==============================  ==============================================

Each backend module is imported only when chosen, so nothing is loaded on an
OS where it has no use or cannot load: ``winreg`` only on Windows, the
POSIX descriptor I/O of hives never there (it refuses to load on Windows), the
Windows one nowhere else.  Both reach the file through :class:`agent.forbidden.Guard`;
where the guard has no walk yet it raises ``Unsupported`` at the first operation,
so no hive is ever read unguarded.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from agent.forbidden import Guard
from agent.registry.backend import Backend
from agent.registry.hive import HiveStore


def live_backend(platform: str = sys.platform) -> Backend:
    """The live backend for *platform* (a ``sys.platform`` value).

    Raises ImportError on Windows when ``winreg`` is missing (it never is there).
    """
    if platform == "win32":
        from agent.registry.winreg_backend import WinregBackend

        return WinregBackend()
    if platform == "darwin":
        from agent.registry.defaults import DefaultsBackend

        return DefaultsBackend()
    from agent.registry.dconf import DconfBackend

    return DconfBackend()


def open_hive_file(path: str, guard: Callable[[], Guard], platform: str = sys.platform) -> HiveStore:
    """The hive file at *path*, to be reached through a fresh ``guard()`` at every operation.

    Nothing is read yet, nothing raised here: each operation raises what
    ``guard()`` raises (``Unsupported`` where the platform has no walk).

    Availability: Linux, macOS, Windows.
    """
    if platform == "win32":
        from agent.registry._windows_hive_io import HiveFile as WindowsHiveFile

        return WindowsHiveFile(path, guard)
    from agent.registry._posix_hive_io import HiveFile

    return HiveFile(path, guard)
