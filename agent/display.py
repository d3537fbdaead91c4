"""Which graphical session the agent runs in: the one test every per-platform choice shares.

Screen watching, window tracking, control and the overlay each choose their backend in
one place (``agent/screen/backend.py``, ``agent/screen/tracking.py``,
``agent/control/backend.py``, ``agent/annotate/overlay.py``); they all ask this module
whether an X11 session is there, so that no two of them disagree.  Nothing here imports
an X library: it is safe on every platform.
"""

from __future__ import annotations

import importlib
import os
import sys
from types import ModuleType
from typing import Final

#: ``sys.platform`` prefixes whose desktops are X11 (or XWayland) sessions.
X11_PLATFORMS: Final = ("linux", "freebsd", "openbsd", "netbsd")


def is_x11_platform() -> bool:
    """True on the systems whose desktop is an X server (Linux and the BSDs)."""
    return sys.platform.startswith(X11_PLATFORMS)


def has_x11_display(display: str | None) -> bool:
    """True on an X11 platform where *display*, or else ``$DISPLAY``, names a display to open.

    It does not open the display: a backend that then fails to connect says why.
    """
    return is_x11_platform() and bool(display or os.environ.get("DISPLAY"))


def x11_backend(module: str, display: str | None) -> ModuleType:
    """Import the X11 backend *module* (``agent.screen._x11``…) for *display*, on an X11 platform.

    Raises :class:`OSError` when no display is named (``$DISPLAY`` unset) or python-xlib
    cannot be imported (it is a Linux dependency; a BSD may lack it): the caller decides
    whether that means "absent" or "unavailable".
    """
    if not has_x11_display(display):
        raise OSError("no X display (DISPLAY is not set)")
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise OSError(f"python-xlib is not installed: {err}") from err
