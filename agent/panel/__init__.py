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

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from agent.panel.base import DEFAULT_TITLE, ConsentUnavailable, CustomerPanel, PanelUnavailable, Terms
from agent.panel.model import format_code
from agent.panel.terms import TERMS_DIR, available_terms, load_terms, terms_language, terms_variants

if TYPE_CHECKING:
    from agent.panel.hiding_sources import HidingSources
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


def open_panel(
    *,
    window: bool,
    on_end: Callable[[], None],
    journal_path: Path,
    policy: Policy,
    title: str = DEFAULT_TITLE,
    on_change: Callable[[str], None] | None = None,
    on_control: Callable[[bool], None] | None = None,
    hiding: HidingSources | None = None,
    language: str | None = None,
    start_hidden: bool = False,
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
    ``hiding`` (optional) lists the windows and monitors for the window's "hidden from
    the technician" section (:mod:`agent.panel.hiding`), which changes ``policy.hidden``
    and reports each choice through ``on_change`` (``"hide_window"``, ``"hide_monitor"``,
    ``"show_window"``…); without it the window has no such section.  ``language`` (optional,
    ``"fr"``…) is the window's language when consent is given another way (``--accept-terms``).
    ``start_hidden`` keeps the full window hidden until a technician connects (the session bar
    shows then); the console panel ignores it.

    Raises:
        PanelUnavailable: ``window=True`` but no window can be shown (no
            display, Tk not installed).
    """
    if not window:
        from agent.panel.console import ConsolePanel

        return ConsolePanel(on_end=on_end, journal_path=journal_path, policy=policy, title=title,
                            on_control=on_control, language=language)
    try:
        from agent.panel.window import TkPanel
    except ImportError as err:  # Python built without tkinter
        raise PanelUnavailable(f"Tk is not available: {err}") from err
    return TkPanel(on_end=on_end, journal_path=journal_path, policy=policy, title=title, on_change=on_change,
                   on_control=on_control, hiding=hiding, language=language, start_hidden=start_hidden)
