"""What the customer window's implementations and the agent core share: the panel contract,
its errors, and the :class:`Terms` record.

Kept in its own module so that :mod:`agent.panel.console` and :mod:`agent.panel.window`
(which :mod:`agent.panel` imports to open a panel) do not import the package they belong to.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple, Protocol, runtime_checkable

DEFAULT_TITLE = "Remote support"


class PanelUnavailable(RuntimeError):
    """The customer window cannot be shown here (no display, Tk missing).

    The core may fall back to ``open_panel(window=False, …)``, but only with
    consent given another way (``--accept-terms``).
    """


class ConsentUnavailable(RuntimeError):
    """Nobody can be asked: the console panel has no interactive terminal.

    The core must not start a session; consent must then be given with
    ``--accept-terms``.
    """


class Terms(NamedTuple):
    """A terms-of-use text as the customer reads it.

    ``name`` identifies the file: ``terms.en.txt`` for the bundled sample, the
    absolute path for an operator's file.  ``sha256`` is the hex digest of the
    file's bytes (of the UTF-8 text when it came from no file), so a journal
    record names exactly what was accepted.
    """

    text: str
    name: str
    sha256: str


@runtime_checkable
class CustomerPanel(Protocol):
    """What the agent core calls.  ``ask_consent`` and ``run`` belong to the
    thread that opened the panel; every other method may be called from any thread."""

    #: The terms the customer accepted (after ``ask_consent`` returned True), else None.
    accepted_terms: Terms | None

    def ask_consent(self, terms_text: str, terms_name: str) -> bool:
        """Show the terms; block until Accept (True) or Refuse / window closed (False)."""
        ...

    def run(self) -> None:
        """Run the UI until :meth:`close` or the customer closes it; then return."""
        ...

    def show_code(self, code: str) -> None:
        """Show the session code, big; print ``session code: 123 456 789`` on stdout."""
        ...

    def show_connected(self, technician: str, session_id: str) -> None:
        """Say which technician is connected, and the session id."""
        ...

    def add_activity(self, line: str) -> None:
        """Add a plain-words line, prefixed with the local time ``HH:MM:SS``."""
        ...

    def update_activity(self, key: str, line: str) -> None:
        """Set the words of the activity line *key* in place (a transfer's progress), or add it when new."""
        ...

    def show_status(self, text: str) -> None:
        """Show a status line, e.g. ``Reconnecting to the support service…``."""
        ...

    def show_ended(self, reason: str) -> None:
        """Say the session is over, and why; disable the controls."""
        ...

    def show_playbook(self, name: str, step: int, total: int, title: str, state: str) -> None:
        """Keep one line for the technician's playbook: "playbook: … — step 3 of 7: …", or how it ended."""
        ...

    def show_retention(self, periods: Mapping[str, str]) -> None:
        """Say what the support service keeps and for how long (data class → ``"90d"``/``"forever"``)."""
        ...

    def close(self) -> None:
        """Close the panel; :meth:`run` returns.  Does not call ``on_end``."""
        ...
