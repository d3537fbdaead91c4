"""What a control backend provides: the contract between the service and each platform's backend.

Kept apart from the choice (:mod:`agent.control.backend`) so that a backend
module imports its contract without importing the module that chooses it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from agent.control.actions import Action
from agent.control.ledger import DeviceEvent, InjectionLedger


class InputBackend(Protocol):
    """Injects actions; every method is called from the service's one injection thread."""

    def perform(self, action: Action, start: int, may_inject: Callable[[], bool]) -> int:
        """Inject *action* from step *start*, asking ``may_inject()`` before each step.

        Returns the number of steps done in all (``steps(action)`` when finished).
        Raises :class:`wire.errors.WorkbenchError` (Unavailable: no key can type a
        character; BadParams) — nothing of the failing step was injected.
        """
        ...

    def held(self) -> bool:
        """True while a key or button the agent pressed is still down."""
        ...

    def release_all(self) -> None:
        """Release every key and button the agent holds down (never gated)."""
        ...

    def maintain(self) -> None:
        """Housekeeping between actions (undo temporary key bindings no longer in use)."""
        ...

    def close(self) -> None:
        """Release everything, undo every temporary binding, close the connection."""
        ...


class Watch(Protocol):
    """What the service needs of the backend's watch (RECORD and hotkeys on X11)."""

    def start(self) -> None: ...

    def set_watching(self, on: bool) -> None: ...

    def close(self) -> None: ...


#: Builds the backend: (display, ledger, on_event, on_ready, on_hotkey) -> (injector, watch).
#: Runs in a worker thread; raises OSError or Unsupported where control is not available.
BackendFactory = Callable[
    [str | None, InjectionLedger, Callable[[DeviceEvent], None], Callable[[bool], None], Callable[[str], None]],
    tuple[InputBackend, Watch],
]
