"""The control capability's seam: what a backend provides, and the one place it is chosen.

A backend is two objects built together by a :data:`BackendFactory`: an
:class:`InputBackend` that injects actions, and a :class:`Watch` that reports
every device event the system processes (so the customer's input wins, C1)
and the take-back hotkeys.  :func:`open_backend` picks this system's; a new
system adds ``agent/control/_<system>.py`` with an ``open_backend`` of the
same signature, and one branch here.

Availability: X11 (Linux, BSD) with python-xlib and the XTEST, RECORD and
XKEYBOARD extensions (:mod:`agent.control._x11`); Windows with SendInput and
low-level hooks (:mod:`agent.control._windows`).  Elsewhere
:func:`open_backend` raises :class:`wire.errors.Unsupported`; the service then
starts, reports control as unavailable, and every call fails with
``unavailable``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from agent.control.base import BackendFactory, InputBackend, Watch
from agent.control.ledger import DeviceEvent, InjectionLedger
from agent.display import is_x11_platform, x11_backend
from wire.errors import Unsupported

__all__ = ["BackendFactory", "InputBackend", "Watch", "open_backend"]


def open_backend(display: str | None, ledger: InjectionLedger, on_event: Callable[[DeviceEvent], None],
                 on_ready: Callable[[bool], None], on_hotkey: Callable[[str], None]) -> tuple[InputBackend, Watch]:
    """This system's injector and watch (a :data:`BackendFactory`).

    Raises :class:`Unsupported` on a system without a control backend, and
    :class:`OSError` where there is one but it cannot run (no display,
    python-xlib missing, an X extension missing; no ``user32.dll``).
    """
    if is_x11_platform():
        x11 = x11_backend("agent.control._x11", display)
        backend: tuple[InputBackend, Watch] = x11.open_backend(display, ledger, on_event, on_ready, on_hotkey)
        return backend
    if sys.platform == "win32":
        from agent.control import _windows

        chosen: tuple[InputBackend, Watch] = _windows.open_backend(display, ledger, on_event, on_ready, on_hotkey)
        return chosen
    raise Unsupported(f"the technician cannot use the mouse and keyboard on {sys.platform} yet")
