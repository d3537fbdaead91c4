"""``s.control``: the customer's mouse and keyboard from a notebook cell (T6).

:class:`ControlNamespace` turns each method into a call to the agent's
``control.*`` methods (see :mod:`agent.control`) through a
:class:`~workbench.calls.Caller`, which journals it and raises the agent's
error (a :class:`~wire.errors.WorkbenchError` subclass):

- ``NotGranted`` until the customer lets the technician use their mouse and
  keyboard (a button in their window, or ``workbench-agent --allow-control``),
  and as soon as they take control back;
- ``CustomerPriority`` when the customer kept using their own mouse or keyboard
  for the whole ``timeout``: their input always comes first, and the call waits
  until they have been idle for about 2 s (nothing is injected meanwhile);
- ``BadParams`` for a key the agent does not inject (the customer's take-back
  hotkeys, Ctrl+Alt+Backspace, Ctrl+Alt+F1…F12: see :mod:`agent.control`);
- ``Unavailable`` where the agent cannot inject input (no X11 session).

Coordinates are the customer's desktop pixels (``s.screenshot()`` has the same
ones).  A playbook::

    s.control.click(412, 230)                 # the search box
    s.control.type("imprimante réseau")       # accents land as typed, whatever the layout
    s.control.key("Enter")
    s.control.key("ctrl+s")
"""

from __future__ import annotations

from typing import Any

from workbench.calls import Caller

DEFAULT_TIMEOUT_S = 10.0
#: Seconds beyond the agent's own wait that the call may take to come back.
_ROUND_TRIP_MARGIN_S = 20.0


class ControlNamespace:
    """The customer's mouse and keyboard (``s.control``), under the customer's grant and priority."""

    def __init__(self, caller: Caller) -> None:
        self._caller = caller

    def _call(self, method: str, timeout: float, **params: Any) -> dict[str, Any]:
        params["timeout"] = timeout
        result = self._caller.call(f"control.{method}", params, timeout=timeout + _ROUND_TRIP_MARGIN_S)
        return dict(result.value)

    def click(self, x: int, y: int, button: int = 1, double: bool = False,
              timeout: float = DEFAULT_TIMEOUT_S) -> dict[str, Any]:
        """Click at (x, y): *button* 1 left, 2 middle, 3 right; *double* for a double click.

        Waits up to *timeout* seconds while the customer uses their computer, then
        raises CustomerPriority.  Raises NotGranted, BadParams, Unavailable.
        """
        return self._call("click", timeout, x=x, y=y, button=button, double=double)

    def move(self, x: int, y: int, timeout: float = DEFAULT_TIMEOUT_S) -> dict[str, Any]:
        """Move the pointer to (x, y).  Same errors as :meth:`click`."""
        return self._call("move", timeout, x=x, y=y)

    def drag(self, start: tuple[int, int], end: tuple[int, int], button: int = 1,
             timeout: float = DEFAULT_TIMEOUT_S) -> dict[str, Any]:
        """Press *button* at *start*, move to *end*, release.  Same errors as :meth:`click`."""
        return self._call("drag", timeout, button=button, **{"from": list(start), "to": list(end)})

    def scroll(self, x: int, y: int, dx: int = 0, dy: int = 1, timeout: float = DEFAULT_TIMEOUT_S) -> dict[str, Any]:
        """Turn the wheel at (x, y): *dy* notches down (negative: up), *dx* right (negative: left).

        Same errors as :meth:`click`.
        """
        return self._call("scroll", timeout, x=x, y=y, dx=dx, dy=dy)

    def type(self, text: str, timeout: float = DEFAULT_TIMEOUT_S) -> dict[str, Any]:
        """Type *text* where the customer's keyboard focus is; accents and any script land as typed.

        ``"\\n"`` presses Enter, ``"\\t"`` Tab.  If the customer starts using their
        computer mid-text, typing pauses and goes on once they are idle (within
        *timeout*; after it, CustomerPriority says how many characters were typed).
        The customer's window shows how many characters were typed, not the text;
        the session journal keeps the text.  Same errors as :meth:`click`.
        """
        return self._call("type", timeout, text=text)

    def key(self, combo: str, timeout: float = DEFAULT_TIMEOUT_S) -> dict[str, Any]:
        """Press a key or a combination: ``"Enter"``, ``"F5"``, ``"ctrl+s"``, ``"ctrl+alt+t"``, ``"shift+Tab"``.

        Names: the DOM names (``"ArrowLeft"``, ``"PageDown"``, ``"Escape"``), the X
        keysym names, or one character; modifiers ``ctrl``, ``alt``, ``shift``,
        ``meta`` (Super / Windows key), ``altgr``.  Same errors as :meth:`click`.
        """
        return self._call("key", timeout, combo=combo)

    def __repr__(self) -> str:
        return "<s.control: click, move, drag, scroll, type, key>"
