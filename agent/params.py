"""Checked access to request parameters, which arrive from the untrusted side.

Every getter raises :class:`~wire.errors.BadParams` (code ``bad_params``)
naming the parameter when it is missing or of the wrong type or size.
"""

from __future__ import annotations

from typing import Any, Final

from wire.errors import BadParams

MAX_TEXT: Final = 1024 * 1024
_MISSING: Final = object()


def _lookup(params: dict[str, Any], name: str, default: Any) -> tuple[bool, Any]:
    """(present, value): the parameter, or *default* when absent and given; raises :class:`BadParams` when required."""
    if name in params:
        return True, params[name]
    if default is _MISSING:
        raise BadParams(f"missing parameter {name!r}", param=name)
    return False, default


def get_str(params: dict[str, Any], name: str, default: Any = _MISSING, *, max_length: int = 4096,
            allow_nul: bool = False) -> str:
    """Return the string parameter *name* (a default when given and absent)."""
    present, value = _lookup(params, name, default)
    if not present:
        return value  # type: ignore[no-any-return]
    if not isinstance(value, str):
        raise BadParams(f"{name!r} must be a string, not {type(value).__name__}", param=name)
    if len(value) > max_length:
        raise BadParams(f"{name!r} is longer than {max_length} characters", param=name)
    if not allow_nul and "\x00" in value:
        raise BadParams(f"{name!r} contains a NUL character", param=name)
    return value


def get_int(params: dict[str, Any], name: str, default: Any = _MISSING, *, minimum: int | None = None,
            maximum: int | None = None) -> int:
    """Return the integer parameter *name*; booleans are refused."""
    present, value = _lookup(params, name, default)
    if not present:
        return value  # type: ignore[no-any-return]
    if not isinstance(value, int) or isinstance(value, bool):
        raise BadParams(f"{name!r} must be an integer, not {type(value).__name__}", param=name)
    if minimum is not None and value < minimum:
        raise BadParams(f"{name!r} must be at least {minimum}", param=name)
    if maximum is not None and value > maximum:
        raise BadParams(f"{name!r} must be at most {maximum}", param=name)
    return value


def get_float(params: dict[str, Any], name: str, default: Any = _MISSING, *, minimum: float | None = None,
              maximum: float | None = None) -> float:
    """Return the number parameter *name* as a float; booleans are refused."""
    present, value = _lookup(params, name, default)
    if not present:
        return value  # type: ignore[no-any-return]
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value != value:
        raise BadParams(f"{name!r} must be a number", param=name)
    if minimum is not None and value < minimum:
        raise BadParams(f"{name!r} must be at least {minimum}", param=name)
    if maximum is not None and value > maximum:
        raise BadParams(f"{name!r} must be at most {maximum}", param=name)
    return float(value)


def get_bool(params: dict[str, Any], name: str, default: Any = _MISSING) -> bool:
    """Return the boolean parameter *name*."""
    present, value = _lookup(params, name, default)
    if not present:
        return value  # type: ignore[no-any-return]
    if not isinstance(value, bool):
        raise BadParams(f"{name!r} must be true or false", param=name)
    return value


def get_choice(params: dict[str, Any], name: str, choices: frozenset[str] | set[str], default: Any = _MISSING) -> str:
    """Return the string parameter *name*, which must be one of *choices*."""
    value = get_str(params, name, default)
    if value not in choices:
        raise BadParams(f"{name!r} must be one of {sorted(choices)}", param=name)
    return value


def get_list(params: dict[str, Any], name: str, default: Any = _MISSING, *, max_items: int = 10_000) -> list[Any]:
    """Return the list parameter *name*."""
    present, value = _lookup(params, name, default)
    if not present:
        return value  # type: ignore[no-any-return]
    if not isinstance(value, list):
        raise BadParams(f"{name!r} must be a list", param=name)
    if len(value) > max_items:
        raise BadParams(f"{name!r} has more than {max_items} items", param=name)
    return value
