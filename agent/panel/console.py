"""The headless customer panel: plain lines on stdout.

Used when there is no display (a server, a container, a scripted lab).  Lines
it prints, one per call, flushed at once::

    session code: 123 456 789
    technician connected: Alice (session 5f0c…)
    [14:02:07] The technician read your system information
    [14:02:09] The technician started copying the file /home/a/big.iso from your computer
    (updated) [14:02:09] The technician copied the file /home/a/big.iso from your computer: done, 300.0 MiB
    status: Reconnecting to the support service…
    session ended: The technician closed the session

The ``session code:`` line is exact: operators' scripts parse it.  A line updated in place in
the window (a transfer's) is printed once, and again with ``(updated)`` only when what it says
changes in kind (begun → done, failed or cancelled), not at every step of its progress.
"""

from __future__ import annotations

import hashlib
import sys
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from agent.panel.base import DEFAULT_TITLE, ConsentUnavailable, Terms
from agent.panel.catalogue import Said, catalogue_for
from agent.panel.model import clock, format_code, one_line
from agent.panel.playbook_words import playbook_line
from agent.panel.wording import wording_for

if TYPE_CHECKING:
    from agent.policy import Policy

SIGNAL_CHECK_S = 0.25
"""How long a Ctrl-C caught by another thread can wait before its handler runs on this one."""

_YES = frozenset({"yes", "y", "accept", "oui", "o", "accepter"})


class ConsolePanel:
    """A :class:`agent.panel.CustomerPanel` that writes to a text stream.

    Every method except :meth:`ask_consent` and :meth:`run` may be called from
    any thread; lines never interleave.
    """

    def __init__(
        self,
        *,
        on_end: Callable[[], None],
        journal_path: Path,
        policy: Policy,
        title: str = DEFAULT_TITLE,
        output: TextIO | None = None,
        input_stream: TextIO | None = None,
        on_control: Callable[[bool], None] | None = None,
        language: str | None = None,
    ) -> None:
        """*language* (``"fr"``…): the language of the lines the customer reads; English when None."""
        self.accepted_terms: Terms | None = None
        self._catalogue = catalogue_for(language)
        self._wording = wording_for(language)
        self._on_end = on_end
        self._journal_path = journal_path
        self._policy = policy
        self._title = title
        self._output = output
        self._input = input_stream
        # no button here: control is granted with --allow-control and taken back with the hotkey
        self._on_control = on_control
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._ended = False
        self._end_called = False
        self._keyed: dict[str, str] = {}  # key → the message id last printed for that line

    def _print(self, line: str) -> None:
        # Looked up at each call: under pythonw (Windows, no console) sys.stdout is None.
        stream = self._output if self._output is not None else sys.stdout
        if stream is None:
            return
        with self._lock:
            stream.write(line + "\n")
            stream.flush()

    def ask_consent(self, terms_text: str, terms_name: str) -> bool:
        """Print the terms and ask at the terminal; True only for an explicit yes.

        Accepted answers: ``yes``, ``y``, ``accept``, ``oui``, ``o``.  End of
        input is a refusal.  On True, :attr:`accepted_terms` names the text.

        Raises:
            ConsentUnavailable: the input is not an interactive terminal, so
                nobody can answer (the core must require ``--accept-terms``).
        """
        stream = self._input if self._input is not None else sys.stdin
        if stream is None or not stream.isatty():
            raise ConsentUnavailable(
                "the console panel cannot ask for consent without a terminal; give it with --accept-terms"
            )
        self._print(f"{self._title}: terms of use ({terms_name})\n")
        self._print(terms_text.rstrip("\n") + "\n")
        self._print("Nothing is connected and nothing is shared until you accept.")
        self._print("Type 'yes' to accept these terms, anything else to refuse: ")
        answer = stream.readline()
        accepted = answer.strip().lower() in _YES
        if accepted:
            self.accepted_terms = Terms(terms_text, terms_name, hashlib.sha256(terms_text.encode()).hexdigest())
        self._print("consent: accepted" if accepted else "consent: refused")
        return accepted

    def run(self) -> None:
        """Block until :meth:`close`.  Ctrl-C here ends the session (``on_end``, once) and returns."""
        self._print(f"journal: {self._journal_path}")
        try:
            # In slices: the kernel may hand Ctrl-C to any of the agent's threads, where it only trips
            # Python's flag; the handler runs when this (main) thread next runs Python code.  One
            # unbounded wait kept the customer's Ctrl-C pending until another signal came here.
            # (Blocking the signals in the other threads would also block them in every program
            # those threads start: a signal mask survives exec.)
            while not self._closed.wait(SIGNAL_CHECK_S):
                pass
        except KeyboardInterrupt:
            self._print("status: ending the session (Ctrl-C)")
            self._call_on_end()

    def _call_on_end(self) -> None:
        with self._lock:
            if self._end_called or self._ended:
                return
            self._end_called = True
        self._on_end()

    def show_code(self, code: str) -> None:
        """Print ``session code: 123 456 789``.

        Raises:
            ValueError: *code* is blank.
        """
        self._print(f"session code: {one_line(format_code(code))}")

    def show_connected(self, technician: str, session_id: str) -> None:
        self._print(f"technician connected: {one_line(technician)} (session {one_line(session_id)})")

    def add_activity(self, line: str) -> None:
        self._print(f"[{clock()}] {one_line(self._catalogue.render(line))}")

    def update_activity(self, key: str, line: str) -> None:
        kind = line.key if isinstance(line, Said) else line
        if kind.endswith(".progress") and key in self._keyed:
            return  # how far a transfer is: the window shows it; a console would print a line per chunk
        with self._lock:
            before = self._keyed.get(key)
            self._keyed[key] = kind
        if before is None:
            self.add_activity(line)
        elif before != kind:
            self._print(f"(updated) [{clock()}] {one_line(self._catalogue.render(line))}")

    def show_status(self, text: str) -> None:
        self._print(f"status: {one_line(self._wording.core_line(text))}")

    def show_retention(self, periods: Mapping[str, str]) -> None:
        self._print(f"[{clock()}] {self._wording.retention_text(periods.items())}")

    def show_playbook(self, name: str, step: int, total: int, title: str, state: str) -> None:
        self._print(f"[{clock()}] {one_line(playbook_line(self._wording.playbook, name, step, total, title, state))}")

    def show_ended(self, reason: str) -> None:
        with self._lock:
            self._ended = True
        self._print(f"session ended: {one_line(self._wording.core_line(self._catalogue.render(reason)))}")

    def close(self) -> None:
        self._closed.set()
