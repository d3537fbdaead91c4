"""The parameters of ``control.*`` calls and viewer events, checked: numbers, points, buttons, text, keys.

Every function raises :class:`wire.errors.BadParams` naming the parameter,
except :func:`notches`, which turns nonsense into 0 (a viewer's wheel event
is dropped, not refused).
"""

from __future__ import annotations

import math
from typing import Any

from agent.control.keys import Combo, KeyNameError, char_keysym, parse_combo, refusal
from wire.errors import BadParams

#: Default seconds a notebook call waits while the customer has priority.
DEFAULT_TIMEOUT_S = 10.0
MAX_TIMEOUT_S = 300.0
BUTTONS = (1, 2, 3)


def number(params: dict[str, Any], name: str, default: float | None = None) -> float:
    """*params[name]* as a finite number; raises :class:`BadParams`."""
    value = params.get(name, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise BadParams(f"{name!r} must be a number", param=name)
    return float(value)


def coordinate(params: dict[str, Any], name: str) -> int:
    """*params[name]* as a whole pixel coordinate; raises :class:`BadParams`."""
    value = number(params, name)
    if abs(value) > 1_000_000:
        raise BadParams(f"{name!r} is out of range", param=name)
    return round(value)


def point(params: dict[str, Any], name: str) -> tuple[int, int]:
    """*params[name]* as ``[x, y]``; raises :class:`BadParams`."""
    value = params.get(name)
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise BadParams(f"{name!r} must be [x, y]", param=name)
    return coordinate({"x": value[0]}, "x"), coordinate({"y": value[1]}, "y")


def button(params: dict[str, Any]) -> int:
    """The ``button`` parameter (1 when absent); raises :class:`BadParams`."""
    value = params.get("button", 1)
    if isinstance(value, bool) or value not in BUTTONS:
        raise BadParams("'button' must be 1 (left), 2 (middle) or 3 (right)", param="button")
    return int(value)


def timeout(params: dict[str, Any]) -> float:
    """The ``timeout`` parameter in seconds (the default when absent); raises :class:`BadParams`."""
    value = number(params, "timeout", DEFAULT_TIMEOUT_S)
    if not 0 <= value <= MAX_TIMEOUT_S:
        raise BadParams(f"'timeout' must be between 0 and {MAX_TIMEOUT_S:g} seconds", param="timeout")
    return value


def notches(value: Any, limit: int) -> int:
    """Wheel notches from a viewer's delta, at most *limit* either way (0 for nonsense); never raises."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value == 0:
        return 0
    count = max(1, round(abs(value)))
    return int(math.copysign(min(count, limit), value))


def text(value: Any, limit: int, param: str = "text") -> str:
    """Text to type, at most *limit* characters, each typeable; raises :class:`BadParams`."""
    if not isinstance(value, str):
        raise BadParams(f"{param!r} must be a string", param=param)
    typed = value.replace("\r\n", "\n")
    if len(typed) > limit:
        raise BadParams(f"{param!r} is longer than {limit} characters", param=param)
    for char in typed:
        try:
            char_keysym(char)
        except KeyNameError as err:
            raise BadParams(str(err), param=param) from err
    return typed


def combo(value: Any) -> Combo:
    """A key combination such as ``"ctrl+s"`` that may be injected; raises :class:`BadParams`."""
    if not isinstance(value, str):
        raise BadParams("'combo' must be a string such as \"ctrl+s\"", param="combo")
    try:
        parsed = parse_combo(value)
    except KeyNameError as err:
        raise BadParams(str(err), param="combo") from err
    why = refusal(parsed.modifiers, parsed.key.keysym)
    if why:
        raise BadParams(f"{parsed.label} is not injected: {why}", param="combo")
    return parsed
