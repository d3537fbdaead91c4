"""T6 Control, under C1 (the customer's input always wins) and C2 (the customer sees it all).

:class:`ControlService` is what the agent wires in: its :attr:`~ControlService.METHODS`
(``control.click``, ``control.move``, ``control.drag``, ``control.scroll``,
``control.type``, ``control.key``; permission ``control``), its
:meth:`~ControlService.on_event` for the widget's ``control.pointer`` /
``control.key`` / ``control.text`` events (and ``relay.viewers``), and
:meth:`~ControlService.grant` / :meth:`~ControlService.revoke` for the customer
window.  The contract is ``docs/control-protocol.md``.

The rules it keeps
------------------
- **View-only until granted.**  ``policy.permissions.control`` is flipped only by
  :meth:`~ControlService.grant` and :meth:`~ControlService.revoke` (under
  ``policy.lock``), each journaled as ``policy`` ``grant_control`` /
  ``revoke_control`` with who did it, and told to the widgets with
  ``screen.control``.  Without the grant, calls fail with ``not_granted`` and
  viewer input is dropped.
- **The customer's input wins (C1).**  While control is granted the agent
  records every device event the X server processes (RECORD extension) and
  accounts for the events it injected itself (:mod:`agent.control.ledger`):
  every injected event is written down before it is sent, and any recorded
  event beyond those is the customer's, whatever the device it came from (a
  real mouse, or another program using XTEST, as the tests' "customer" does).
  The pointer position is never used to guess.  On the customer's first event
  the agent releases every key and button it holds, drops queued technician
  input, and suspends injection until the customer has been idle for
  ``grace_s`` (2 s): viewer input arriving meanwhile is dropped (not queued), a
  notebook call waits up to its ``timeout`` and then fails with
  ``customer_priority``.  Widgets receive ``screen.control {"granted": true,
  "customer_active": true, "resume_in": 2.0}`` and, on resuming,
  ``"customer_active": false``.  Nothing is injected while the record is not
  running (no watch, no injection).
- **Taking back.**  The customer window's button, and the hotkeys
  **Ctrl+Alt+Shift+Space** and **Pause**, grabbed on the root window while
  control is granted, so they work whatever has the focus and while the
  technician moves the pointer or holds a modifier down (Pause is grabbed with
  any modifiers; pressing anything suspends the technician anyway).  A hotkey
  another program already grabbed cannot work; the agent logs it.
- **Transparency (C2).**  Live input is journaled in bursts (``control``
  records: one per device family per second at most, with the positions, the
  keys, and the typed text) and told to the customer in plain words ("The
  technician moved the pointer and clicked at (412, 230)", "The technician
  typed 12 characters").  Notebook calls are journaled by the dispatcher like
  every call.
- **Typed text**: the journal keeps it verbatim, because it is the evidence of
  what the technician did (and the dispatcher journals ``control.type``
  parameters verbatim anyway); the customer window says only how many
  characters, because it is on the customer's screen, which is streamed and
  recorded, and the text may be a password typed into a masked field.

Key combinations that cannot be injected
----------------------------------------
Refused by the agent (``bad_params`` for a call, dropped for live input):

- the customer's take-back hotkeys, Ctrl+Alt+Shift+Space and Pause: only the
  customer presses them;
- Ctrl+Alt+Backspace and ``Terminate_Server``: they kill the X server and with it
  the customer's whole desktop;
- Ctrl+Alt+F1…F12 and ``XF86Switch_VT_*``: virtual terminal switches, which would
  take the shared screen away to a text console.

Impossible by nature (nothing the agent sends reaches them):

- Ctrl+Alt+Del on Windows: the secure attention sequence is handled by the
  kernel before any application; injected input never produces it (only a
  system service may call ``SendSAS``), so the Windows backend refuses it with
  ``input_blocked`` and says so.  On X11, Ctrl+Alt+Del is ordinary keys
  and is injected; what it does is the desktop's choice;
- Windows' secure desktop (a UAC prompt, the Ctrl+Alt+Del or lock screen) and
  windows of higher integrity than the agent (UIPI: a program run as
  administrator): ``input_blocked`` with the reason, when Windows lets the agent
  see it (the input desktop's name, ``SendInput`` taking fewer events than
  given); UIPI may also drop input silently;
- the Linux magic SysRq keys (Alt+SysRq+…), handled by the kernel's own
  keyboard driver; the laptop ``Fn`` key and keys handled by the firmware
  (brightness, radio on some models), which send no key event at all;
- keys grabbed by another program while it holds a keyboard grab (a screen
  locker, a menu): injected keys go where the server sends real keys, i.e.
  to that program;
- Wayland sessions: XTEST reaches only XWayland applications.  Not supported.

Platforms: X11 (python-xlib, with the XTEST, RECORD and XKEYBOARD extensions),
and Windows (``SendInput`` with the agent's mark in ``dwExtraInfo``, low-level
hooks that tell the customer's own input: neither injected nor marked; see
:mod:`agent.control._windows`), chosen in :mod:`agent.control.backend`.  Elsewhere the service starts, reports
``unavailable``, and every call fails with ``unavailable``.
"""

from __future__ import annotations

from agent.control.keys import HOTKEYS
from agent.control.service import ControlService

__all__ = ["HOTKEYS", "ControlService"]
