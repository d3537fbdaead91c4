"""The control backend on X11: XTEST to inject, RECORD to see every input, a passive grab for the hotkey.

Three X connections, each used by one thread:

- :class:`~agent.control._x11_inject.X11Injector` (the service's injection thread) sends XTEST fake
  input.  Before sending an event it writes it in the
  :class:`~agent.control.ledger.InjectionLedger`.  Characters are typed by
  keysym: the key that gives the character in the current layout and group
  (with Shift when needed), else a spare key code (one with no keysym)
  temporarily bound to it with ChangeKeyboardMapping.  A binding stays until
  it has been unused for :data:`RESTORE_AFTER_S` (the application must have
  read its key event by then: a client translates a key with the mapping of
  the moment it reads the event, so undoing at once would turn "é" into
  nothing), and is undone when control stops.
- :class:`~agent.control._x11_watch.X11Watch` owns two connections.  Its *record* thread enables a
  RECORD context of core device events (key, button, motion), only while
  control is granted, and hands each event to the service (the watch thread
  makes a round trip every :data:`NUDGE_S` meanwhile, because the server sends
  recorded data only when it flushes output to some client); its *watch*
  thread grabs the customer's take-back hotkeys on the root window, also only
  while control is granted (so the customer's applications keep Pause the
  rest of the time), and manages the RECORD context's life.

Availability: X11 with the XTEST, RECORD and XKEYBOARD extensions (every
Xorg and Xvfb has them), and python-xlib.  Chosen by :mod:`agent.control.backend`;
the keyboard mapping both use is :mod:`agent.control._x11_keymap`.  Raises :class:`OSError`
where the display or an extension is missing.
On a Wayland session XTEST reaches only XWayland applications: not supported.
"""

from __future__ import annotations

from collections.abc import Callable

from agent.control._x11_inject import X11Injector
from agent.control._x11_watch import X11Watch
from agent.control.base import InputBackend, Watch
from agent.control.ledger import DeviceEvent, InjectionLedger

__all__ = ["X11Injector", "X11Watch", "open_backend"]


def open_backend(display: str | None, ledger: InjectionLedger, on_event: Callable[[DeviceEvent], None],
                 on_ready: Callable[[bool], None], on_hotkey: Callable[[str], None]) -> tuple[InputBackend, Watch]:
    """XTEST injection, RECORD watch, grabbed hotkeys on *display*.  Raises OSError."""
    injector = X11Injector(display, ledger)
    try:
        watch = X11Watch(display, on_event, on_ready, on_hotkey)
    except OSError:
        injector.close()
        raise
    return injector, watch
