"""The customer window: consent, the session code, what the technician does, and the stop button.

The agent core opens one panel with :func:`open_panel` and uses only the
:class:`CustomerPanel` methods.  Two implementations share that contract:

- :class:`agent.panel.window.TkPanel` (``window=True``): a Tk window, for X11,
  Windows and macOS.  Tk lives in the thread that opened the panel (the main
  thread); calls from other threads are queued and drawn by that thread.
- :class:`agent.panel.console.ConsolePanel` (``window=False``): plain lines on
  stdout, for headless machines and scripted labs.

Both print the line ``session code: 123 456 789`` on stdout (flushed), which
operators' scripts parse.

Typical use by the core::

    panel = open_panel(window=True, on_end=stop, journal_path=journal, policy=policy)
    terms = load_terms()                      # bundled terms, in the user's language
    if not panel.ask_consent(terms.text, terms.name):
        return                                # refused: nothing was connected
    accepted = panel.accepted_terms           # which text was accepted (the customer may switch language)
    start_agent_thread()                      # calls show_code(), add_activity()… from its thread
    panel.run()                               # until close(); the End button calls stop()

Errors raised here are local to the customer's machine and never cross the
wire: :class:`PanelUnavailable` (no display, no Tk) and :class:`ConsentUnavailable`
(a console panel with nobody at a terminal to ask).
"""

from __future__ import annotations

import hashlib
import locale
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple, Protocol, runtime_checkable

from agent.panel.model import format_code

if TYPE_CHECKING:
    from agent.policy import Policy

__all__ = [
    "DEFAULT_TITLE",
    "TERMS_DIR",
    "ConsentUnavailable",
    "CustomerPanel",
    "PanelUnavailable",
    "Terms",
    "available_terms",
    "format_code",
    "load_terms",
    "open_panel",
    "terms_language",
    "terms_variants",
]

#: Where the sample terms we ship live: ``terms.<language>.txt``.
TERMS_DIR = Path(__file__).resolve().parent.parent / "terms"
DEFAULT_TITLE = "Remote support"

_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}([-_][A-Za-z]{2,4})?$")
_VARIANT = re.compile(r"^(?P<stem>.+)\.(?P<lang>[A-Za-z]{2,3})\.txt$")


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

    def show_status(self, text: str) -> None:
        """Show a status line, e.g. ``Reconnecting to the support service…``."""
        ...

    def show_ended(self, reason: str) -> None:
        """Say the session is over, and why; disable the controls."""
        ...

    def close(self) -> None:
        """Close the panel; :meth:`run` returns.  Does not call ``on_end``."""
        ...


def terms_language(name: str) -> str | None:
    """The language code in a terms file name (``terms.fr.txt`` → ``"fr"``), else None."""
    match = _VARIANT.match(Path(name).name)
    return match.group("lang").lower() if match else None


def available_terms(directory: Path = TERMS_DIR) -> dict[str, Path]:
    """The bundled (or *directory*'s) ``terms.<language>.txt`` files, by language code."""
    found: dict[str, Path] = {}
    if directory.is_dir():
        for path in sorted(directory.glob("terms.*.txt")):
            language = terms_language(path.name)
            if language:
                found[language] = path
    return found


def _user_language() -> str | None:
    for variable in ("LC_ALL", "LC_MESSAGES", "LANG"):  # POSIX precedence: the first one set decides
        value = os.environ.get(variable)
        if value:
            return None if value in ("C", "POSIX") or value.startswith("C.") else value[:2].lower()
    try:
        code = locale.getlocale()[0]  # Windows and macOS set no variable
    except ValueError:
        return None
    return code[:2].lower() if code else None


def _read_terms(path: Path, name: str) -> Terms:
    raw = path.read_bytes()
    try:
        # utf-8-sig: an operator's file saved by Windows Notepad starts with a BOM
        text = raw.decode("utf-8-sig").replace("\r\n", "\n")
    except UnicodeDecodeError as err:
        raise ValueError(f"terms file {path} is not UTF-8 text: {err}") from err
    if not text.strip():
        raise ValueError(f"terms file {path} is empty")
    return Terms(text, name, hashlib.sha256(raw).hexdigest())


def load_terms(path_or_lang: str | os.PathLike[str] | None = None) -> Terms:
    """Load terms of use: the bundled sample in a language, or an operator's file.

    *path_or_lang* is ``None`` (the bundled sample in the user's language,
    English when there is none), a language code such as ``"fr"``, or the path
    of a UTF-8 text file.

    Raises:
        ValueError: unknown language (the message lists those available), or a
            file that is empty or not UTF-8.
        OSError: the file cannot be read (``FileNotFoundError`` when absent).
    """
    bundled = available_terms()
    if path_or_lang is None:
        language = _user_language()
        path_or_lang = language if language in bundled else "en"
    if isinstance(path_or_lang, str) and _LANGUAGE.match(path_or_lang) and not Path(path_or_lang).exists():
        language = path_or_lang[:2].lower() if len(path_or_lang) > 3 else path_or_lang.lower()
        if language not in bundled:
            raise ValueError(f"no terms in language {path_or_lang!r}; available: {', '.join(sorted(bundled))}")
        return _read_terms(bundled[language], bundled[language].name)
    path = Path(path_or_lang).expanduser().resolve()
    name = path.name if path.parent == TERMS_DIR else str(path)
    return _read_terms(path, name)


def terms_variants(terms_text: str, terms_name: str) -> dict[str, Terms]:
    """The other languages of the terms being shown, by language code.

    Variants are the sibling files ``<stem>.<language>.txt`` of *terms_name*
    (bundled names resolve to :data:`TERMS_DIR`).  They are offered only when
    *terms_text* is exactly the text of the file *terms_name* names, so a text
    the core built itself is never swapped for another.  Unreadable siblings
    are left out.  Returns ``{}`` when there is nothing to choose.
    """
    match = _VARIANT.match(Path(terms_name).name)
    if not match:
        return {}
    directory = Path(terms_name).parent if Path(terms_name).is_absolute() else TERMS_DIR
    variants: dict[str, Terms] = {}
    for path in sorted(directory.glob(f"{glob_escape(match.group('stem'))}.*.txt")):
        language = terms_language(path.name)
        sibling = _VARIANT.match(path.name)
        if not language or not sibling or sibling.group("stem") != match.group("stem"):
            continue
        name = path.name if directory == TERMS_DIR else str(path)
        try:
            variants[language] = _read_terms(path, name)
        except (OSError, ValueError):
            continue
    shown = terms_language(terms_name)
    if shown not in variants or variants[shown].text != terms_text.replace("\r\n", "\n"):
        return {}
    return variants if len(variants) > 1 else {}


def glob_escape(text: str) -> str:
    """*text* with glob wildcards escaped (``[``, ``*``, ``?``)."""
    return re.sub(r"([\[\]*?])", r"[\1]", text)


def open_panel(
    *,
    window: bool,
    on_end: Callable[[], None],
    journal_path: Path,
    policy: Policy,
    title: str = DEFAULT_TITLE,
    on_change: Callable[[str], None] | None = None,
    on_control: Callable[[bool], None] | None = None,
) -> CustomerPanel:
    """Open the customer panel; call it from the main thread.

    ``on_end`` is called once, from the panel's thread, when the customer ends
    the session (End button, closing the window, Ctrl-C during :meth:`run`);
    it must return quickly (e.g. ``loop.call_soon_threadsafe``).  ``on_change``
    (optional) is called the same way after the customer changed a rule in the
    window, with what changed: ``"forbid_folder"`` or ``"unforbid_folder"``
    (never the folder itself), for the core to journal.  ``on_control`` (optional)
    is called the same way when the customer presses the control button: True to
    let the technician use their mouse and keyboard, False to take control back;
    the core passes it to :meth:`agent.control.ControlService.grant` / ``revoke``,
    which flip ``policy.permissions.control`` and journal it.  The window shows the
    button only when ``on_control`` is given; the console panel has no button.

    Raises:
        PanelUnavailable: ``window=True`` but no window can be shown (no
            display, Tk not installed).
    """
    if not window:
        from agent.panel.console import ConsolePanel

        return ConsolePanel(on_end=on_end, journal_path=journal_path, policy=policy, title=title,
                            on_control=on_control)
    try:
        from agent.panel.window import TkPanel
    except ImportError as err:  # Python built without tkinter
        raise PanelUnavailable(f"Tk is not available: {err}") from err
    return TkPanel(on_end=on_end, journal_path=journal_path, policy=policy, title=title, on_change=on_change,
                   on_control=on_control)
