"""The control backend on Windows: SendInput to inject, low-level hooks to see every input, the hotkeys in the hook.

- :class:`~agent.control._windows_inject.WindowsInjector` (the service's injection thread)
  injects with ``SendInput``; every event carries the agent's *mark* in ``dwExtraInfo``.
- :class:`~agent.control._windows_watch.WindowsWatch` (its own thread, with a message loop)
  installs ``WH_MOUSE_LL`` and ``WH_KEYBOARD_LL`` while control is granted and reports the
  customer's own events: neither injected nor carrying the mark.  It also sees the
  take-back hotkeys.

The mark is a random number drawn when the backend opens, so no other program sends it
by chance.  Unlike X11 there is nothing to account for: Windows tells each event's origin,
so the service's :class:`~agent.control.ledger.InjectionLedger` is not written to and
counts every event the watch reports as the customer's.

Availability: Windows (``user32.dll``), no administrator rights.  Chosen by
:mod:`agent.control.backend`; the key names are mapped in :mod:`agent.control._windows_keymap`.
Raises :class:`OSError` where the Win32 API cannot be loaded.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

from agent.control import _windows_api as w
from agent.control._windows_inject import WindowsInjector
from agent.control._windows_watch import WindowsWatch
from agent.control.base import InputBackend, Watch
from agent.control.ledger import DeviceEvent, InjectionLedger

__all__ = ["WindowsInjector", "WindowsWatch", "new_mark", "open_backend"]


def new_mark() -> int:
    """A random, non-zero ``dwExtraInfo`` value that fits a ``ULONG_PTR``."""
    bits = w.EXTRA_INFO_BITS - 1  # positive even when read as a signed LPARAM
    return secrets.randbits(bits) | (1 << (bits - 1))


def open_backend(display: str | None, ledger: InjectionLedger, on_event: Callable[[DeviceEvent], None],
                 on_ready: Callable[[bool], None], on_hotkey: Callable[[str], None]) -> tuple[InputBackend, Watch]:
    """SendInput injection and low-level hooks; *display* and *ledger* are X11's and unused.  Raises OSError."""
    api = w.load()
    mark = new_mark()
    return WindowsInjector(mark, api), WindowsWatch(mark, on_event, on_ready, on_hotkey, api)
