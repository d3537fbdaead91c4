"""The customer window, in Tk: works on X11, Windows and macOS.

Two screens in one window (drawn by :mod:`agent.panel.views`).  The consent
screen shows the terms (scrollable, with a language choice when the terms
exist in several) and Refuse / Accept.  The session screen shows the session
code, the technician once connected, what the technician does (newest line at
the bottom), End session, Open journal, and the customer's own controls
(:mod:`agent.panel.sections`).

Threads: Tk lives in the thread that created the panel.  The thread-safe
methods turn each call into an event in an :class:`~agent.panel.model.Inbox`
that this thread drains every :attr:`TkPanel.POLL_MS` with ``after()``; no
other thread ever touches a widget.

Widgets have fixed Tk names so that tests (and accessibility tools) can find
them; their paths are the ``*_WIDGET`` constants below.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import subprocess
import sys
import threading
import tkinter as tk
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, TextIO

from agent.panel.bar import SessionBar
from agent.panel.base import DEFAULT_TITLE, PanelUnavailable, Terms
from agent.panel.catalogue import Catalogue, Said, catalogue_for
from agent.panel.hiding import HidingSection
from agent.panel.hiding_sources import HidingSources
from agent.panel.model import (
    ActivityAdded,
    ActivityUpdated,
    CallRequested,
    CloseRequested,
    CodeShown,
    Connected,
    EndedShown,
    Inbox,
    PanelEvent,
    PanelState,
    PlaybookShown,
    RetentionShown,
    StatusShown,
    clock,
    format_code,
    one_line,
)
from agent.panel.opener import open_with_system, save_copy
from agent.panel.sections import PanelSection, SectionContext, default_sections
from agent.panel.terms import terms_language, terms_variants
from agent.panel.views import SessionView, build_consent, setup_style, show_path_dialog
from agent.panel.wording import Wording, wording_for

if TYPE_CHECKING:
    from agent.policy import Policy

log = logging.getLogger(__name__)

CONSENT_WIDGET = ".consent"
CONSENT_TEXT_WIDGET = ".consent.text"
CONSENT_LANGUAGE_WIDGET = ".consent.language"  # radio buttons .consent.language.en, .fr…
ACCEPT_WIDGET = ".consent.buttons.accept"
REFUSE_WIDGET = ".consent.buttons.refuse"
SESSION_WIDGET = ".session"
HEADLINE_WIDGET = ".session.headline"
STATUS_WIDGET = ".session.status"
CODE_WIDGET = ".session.main.code"
TECHNICIAN_WIDGET = ".session.main.technician"
ACTIVITY_WIDGET = ".session.main.activity.log"
END_WIDGET = ".session.side.end"
JOURNAL_WIDGET = ".session.side.journal"
SECTIONS_WIDGET = ".session.side.sections"  # each section's frame is named by PanelSection.name
JOURNAL_PATH_DIALOG = ".journal_path"  # its entry: .journal_path.!frame.path


@dataclass
class _ConsentRequest:
    """ask_consent() from another thread, waiting for the UI thread's answer."""

    text: str
    name: str
    done: threading.Event = field(default_factory=threading.Event)
    accepted: bool = False

    def answer(self, accepted: bool) -> None:
        self.accepted = accepted
        self.done.set()


@dataclass
class _Consent:
    """The consent question on screen."""

    terms: Terms
    variants: dict[str, Terms]
    decided: Callable[[bool], None]


class _Root(tk.Tk):
    """The Tk root, routing exceptions raised in callbacks (Ctrl-C included) to the panel."""

    on_callback_error: Callable[[type[BaseException], BaseException, TracebackType | None], None] | None = None

    def report_callback_exception(self, exc: type[BaseException], val: BaseException, tb: TracebackType | None) -> None:
        if self.on_callback_error is not None:
            self.on_callback_error(exc, val, tb)
        else:
            super().report_callback_exception(exc, val, tb)


class TkPanel:
    """The customer window; see :class:`agent.panel.CustomerPanel` for the contract.

    Create it, and call :meth:`ask_consent` and :meth:`run`, in one thread (the
    main thread: Tk on macOS accepts no other).  :meth:`show_code`,
    :meth:`show_connected`, :meth:`add_activity`, :meth:`show_status`,
    :meth:`show_ended`, :meth:`close` and :meth:`call_soon` may be called from
    any thread, before or during :meth:`run`.
    """

    #: how often the UI thread looks for events from other threads (ms)
    POLL_MS = 40
    #: how often sections re-read the policy (ms)
    REFRESH_MS = 1000
    #: events handled per tick; the rest follow at once, so a flood never freezes the window
    EVENTS_PER_TICK = 500

    def __init__(
        self,
        *,
        on_end: Callable[[], None],
        journal_path: Path,
        policy: Policy,
        title: str = DEFAULT_TITLE,
        on_change: Callable[[str], None] | None = None,
        on_control: Callable[[bool], None] | None = None,
        sections: list[PanelSection] | None = None,
        hiding: HidingSources | None = None,
        opener: Callable[[Path], subprocess.Popen[bytes] | None] = open_with_system,
        output: TextIO | None = None,
        language: str | None = None,
        start_hidden: bool = False,
    ) -> None:
        """Create the (hidden) window.  With *start_hidden* it stays hidden until a technician
        connects (then the session bar shows), unless consent is asked in it.  *language*
        (``"fr"``…) is the window's language when consent is given another way
        (``--accept-terms``); otherwise that of the terms the customer accepts.

        Raises:
            PanelUnavailable: Tk cannot open a display here.
        """
        self.accepted_terms: Terms | None = None
        self._start_hidden = start_hidden
        self.state = PanelState()
        self._on_end = on_end
        self._journal_path = journal_path
        self._policy = policy
        self._on_change = on_change
        self._on_control = on_control
        self._sections = default_sections() if sections is None else sections
        if hiding is not None:  # after the forbidden folders: what the customer keeps to themselves
            self._sections.insert(min(1, len(self._sections)), HidingSection(hiding))
        self._opener = opener
        self._output = output
        self._thread = threading.get_ident()
        self._inbox: Inbox[PanelEvent | _ConsentRequest] = Inbox()
        self._print_lock = threading.Lock()
        self._closed = threading.Event()
        self._destroyed = False
        self._end_called = False
        self._consent: _Consent | None = None
        self._wording: Wording = wording_for(language)
        self._catalogue: Catalogue = catalogue_for(language)
        self._view: SessionView | None = None
        self._bar: SessionBar | None = None
        self._full_window = True  # the full window is shown (not only the session bar)
        self._bar_control = False  # the control state the bar shows
        if sys.platform == "win32":
            import ctypes

            with contextlib.suppress(AttributeError, OSError):  # sharp text on scaled displays, not a blurry stretch
                ctypes.windll.shcore.SetProcessDpiAwareness(1)
        try:
            self.root = _Root(className="RemoteSupport")
        except tk.TclError as err:
            raise PanelUnavailable(f"cannot open the customer window: {err}") from err
        self.root.on_callback_error = self._on_callback_error
        self.root.withdraw()
        self.root.title(title)
        self.root.protocol("WM_DELETE_WINDOW", self._on_window_close)
        self.root.columnconfigure(0, weight=1)
        self.root.rowconfigure(0, weight=1)
        self._fonts = setup_style(self.root)
        self._drain_job: str | None = self.root.after(self.POLL_MS, self._drain)
        self._refresh_job: str | None = self.root.after(self.REFRESH_MS, self._refresh)

    # -- thread-safe API ------------------------------------------------------------

    def show_code(self, code: str) -> None:
        """Show *code* big; print ``session code: 123 456 789`` on stdout at once.

        Raises:
            ValueError: *code* is blank.
        """
        formatted = one_line(format_code(code))
        self._print(f"session code: {formatted}")
        self._inbox.post(CodeShown(formatted))

    def show_connected(self, technician: str, session_id: str) -> None:
        self._inbox.post(Connected(one_line(technician), one_line(session_id)))

    def add_activity(self, line: str) -> None:
        # stamped now, in the caller's thread: the time the agent reported it, not when it was drawn;
        # a Said sentence is rendered in the customer's language when drawn
        self._inbox.post(ActivityAdded(clock(), line if isinstance(line, Said) else one_line(line)))

    def update_activity(self, key: str, line: str) -> None:
        """Set the words of the activity line *key* in place (a transfer's progress); add it when new."""
        self._inbox.post(ActivityUpdated(key, clock(), line if isinstance(line, Said) else one_line(line)))

    def show_status(self, text: str) -> None:
        self._inbox.post(StatusShown(one_line(text)))

    def show_ended(self, reason: str) -> None:
        self._inbox.post(EndedShown(reason if isinstance(reason, Said) else one_line(reason)))

    def show_playbook(self, name: str, step: int, total: int, title: str, state: str) -> None:
        self._inbox.post(PlaybookShown(one_line(name), step, total, one_line(title), state))

    def show_retention(self, periods: Mapping[str, str]) -> None:
        self._inbox.post(RetentionShown(tuple((str(k), str(v)) for k, v in periods.items())))

    def call_soon(self, function: Callable[[], None]) -> None:
        """Run *function* on the UI thread, after what was posted before it is drawn."""
        self._inbox.post(CallRequested(function))

    def close(self) -> None:
        """Close the window; :meth:`run` returns, a pending consent is refused.  Never calls ``on_end``."""
        self._closed.set()
        if threading.get_ident() == self._thread:
            self._shutdown()
        else:
            self._inbox.post(CloseRequested())

    # -- UI thread API --------------------------------------------------------------

    def ask_consent(self, terms_text: str, terms_name: str) -> bool:
        """Show the terms with Refuse and Accept; block until the customer answers.

        Returns True on Accept (then :attr:`accepted_terms` names the text read,
        in the language chosen, and the window shows the session screen); False
        on Refuse, on closing the window, on Ctrl-C, or when the panel is closed.

        From the panel's thread this runs Tk's event loop until the answer.  From
        another thread it waits for :meth:`run`, which must be running, to ask.
        """
        if threading.get_ident() != self._thread:
            request = _ConsentRequest(terms_text, terms_name)
            if not self._inbox.post(request):
                return False
            request.done.wait()
            return request.accepted
        if self._destroyed or self._closed.is_set():
            return False
        answer = tk.StringVar(self.root, "")
        self._begin_consent(terms_text, terms_name, lambda accepted: answer.set("yes" if accepted else "no"))
        self.root.wait_variable(answer)
        return answer.get() == "yes" and not self._destroyed

    def run(self) -> None:
        """Show the window and run Tk until :meth:`close` or the customer closes it.

        Ctrl-C while running ends the session like the End button (``on_end``
        once) and closes the window.

        Raises:
            RuntimeError: called from another thread than the one that opened the panel.
        """
        if threading.get_ident() != self._thread:
            raise RuntimeError("TkPanel.run() must be called from the thread that opened the panel")
        if self._destroyed:
            return
        if self._closed.is_set():
            self._shutdown()
            return
        if self._consent is None and self._view is None:
            self._build_session()  # consent was given another way (--accept-terms)
        if not (self._start_hidden and self._consent is None):  # a question is always shown
            self._show_window()
        try:
            self.root.mainloop()
        except KeyboardInterrupt:
            self._request_end()
        finally:
            self._shutdown()

    # -- drawing --------------------------------------------------------------------

    def _print(self, line: str) -> None:
        stream = self._output if self._output is not None else sys.stdout
        if stream is None:  # pythonw on Windows has no stdout
            return
        with self._print_lock:
            stream.write(line + "\n")
            stream.flush()

    def _show_window(self) -> None:
        self.root.deiconify()
        self.root.lift()

    def _begin_consent(self, terms_text: str, terms_name: str, decided: Callable[[bool], None]) -> None:
        if self._consent is not None:  # one question at a time: the older one is refused
            self._consent.decided(False)
        variants = terms_variants(terms_text, terms_name)
        language = terms_language(terms_name)
        if variants and language in variants:
            terms = variants[language]
        else:
            terms = Terms(terms_text, terms_name, hashlib.sha256(terms_text.encode()).hexdigest())
        self._consent = _Consent(terms, variants, decided)
        self._draw_consent()
        self.root.bind("<Escape>", lambda _event: self._decide(False))
        self._show_window()

    def _draw_consent(self) -> None:
        if self._consent is not None:
            consent = self._consent
            language = terms_language(consent.terms.name)
            build_consent(
                self.root, consent.terms, language, list(consent.variants), self._decide, self._switch_language
            )

    def _switch_language(self, language: str) -> None:
        if self._consent is not None and language in self._consent.variants:
            self._consent.terms = self._consent.variants[language]
            self._draw_consent()

    def _decide(self, accepted: bool) -> None:
        consent, self._consent = self._consent, None
        if consent is None:
            return
        self.root.unbind("<Escape>")
        if accepted:
            self.accepted_terms = consent.terms
            self._wording = wording_for(terms_language(consent.terms.name))
            self._catalogue = catalogue_for(terms_language(consent.terms.name))
            self._build_session()
        else:
            self.root.withdraw()
        consent.decided(accepted)

    def _build_session(self) -> None:
        context = SectionContext(
            root=self.root,
            policy=self._policy,
            wording=self._wording,
            note=self._note,
            call_soon=self.call_soon,
            changed=self._changed,
            control=self._on_control,
        )
        self._view = SessionView(
            self.root, self._wording, self._sections, context, end=self._request_end, open_journal=self._open_journal,
            save_journal=self._save_journal
        )
        self._draw(header=True, lines=True)
        if self.state.ended is not None:
            self._disable_controls()

    def _draw(self, *, header: bool, lines: bool) -> None:
        if self._view is None or self._destroyed:
            return
        if header:
            self._view.draw_header(self.state, ending=self._end_called)
        if lines:
            self._view.draw_new_lines(self.state)
        if header or lines:
            self._draw_bar()

    # -- the session bar ----------------------------------------------------------------

    def _draw_bar(self) -> None:
        """Once connected: the session bar, and the full window collapsed into it (the first time);
        once ended: no bar, the full window back (it says how the session ended)."""
        phase = self.state.phase
        if phase == "ended":
            if self._bar is not None:
                self._bar.destroy()
                self._bar = None
                self._set_full_window(True)
            return
        if phase != "connected":
            return
        if self._bar is None:
            self._bar = SessionBar(self.root, self._wording, end=self._request_end, toggle_window=self._toggle_window)
            self._bar.show()
            self._set_full_window(False)
        self._bar_control = self._policy.permissions.control
        self._bar.draw(self.state, control=self._bar_control, full_window=self._full_window,
                       ending=self._end_called, latest=self.state.latest)

    def _set_full_window(self, shown: bool) -> None:
        self._full_window = shown
        if shown:
            self._show_window()
        else:
            self.root.withdraw()
        if self._bar is not None:
            self._bar.draw(self.state, control=self._policy.permissions.control, full_window=shown,
                           ending=self._end_called, latest=self.state.latest)

    def _toggle_window(self) -> None:
        """The bar's Open window / Hide window button."""
        self._set_full_window(not self._full_window)

    def _disable_controls(self) -> None:
        for section in self._sections:
            try:
                section.set_enabled(False)
            except Exception:
                log.exception("section %s could not be disabled", section.name)

    # -- events from other threads ----------------------------------------------------

    def _drain(self) -> None:
        self._drain_job = None
        if self._destroyed:
            return
        header = lines = False
        for event in self._inbox.drain(self.EVENTS_PER_TICK):
            if isinstance(event, CloseRequested):
                self._shutdown()
                return
            if isinstance(event, _ConsentRequest):
                self._begin_consent(event.text, event.name, event.answer)
            elif isinstance(event, CallRequested):
                self._draw(header=header, lines=lines)  # the function sees the window as the agent left it
                header = lines = False
                try:
                    event.function()
                except Exception:
                    log.exception("call_soon function failed")
                if self._destroyed:
                    return
            else:
                was_ended = self.state.ended is not None
                event = self._rendered(event)
                self.state.apply(event)
                if isinstance(event, ActivityAdded | ActivityUpdated):
                    lines = True
                else:
                    header = True
                if isinstance(event, RetentionShown):
                    self.state.apply(ActivityAdded(clock(), self._wording.retention_text(event.periods)))
                    lines = True
                if isinstance(event, EndedShown) and not was_ended:
                    reason = self._wording.core_line(event.reason)
                    self.state.apply(ActivityAdded(clock(), self._wording.ended_line.format(reason=reason)))
                    lines = True
                    self._disable_controls()
        self._draw(header=header, lines=lines)
        self._drain_job = self.root.after(0 if len(self._inbox) else self.POLL_MS, self._drain)

    def _rendered(self, event: PanelEvent) -> PanelEvent:
        """*event* with its Said sentence in the customer's language (kept as one safe line)."""
        if isinstance(event, ActivityAdded) and isinstance(event.line, Said):
            return ActivityAdded(event.time, one_line(self._catalogue.render(event.line)))
        if isinstance(event, ActivityUpdated) and isinstance(event.line, Said):
            return ActivityUpdated(event.key, event.time, one_line(self._catalogue.render(event.line)))
        if isinstance(event, EndedShown) and isinstance(event.reason, Said):
            return EndedShown(one_line(self._catalogue.render(event.reason)))
        return event

    def _refresh(self) -> None:
        self._refresh_job = None
        if self._destroyed:
            return
        if self._bar is not None and self._policy.permissions.control != self._bar_control:
            self._draw_bar()  # control was granted or taken back meanwhile
        if self._view is not None:
            for section in self._sections:
                try:
                    section.refresh()
                except Exception:
                    log.exception("section %s could not refresh", section.name)
        self._refresh_job = self.root.after(self.REFRESH_MS, self._refresh)

    # -- the customer's actions -------------------------------------------------------

    def _note(self, line: str) -> None:
        self.state.apply(ActivityAdded(clock(), one_line(line)))
        self._draw(header=False, lines=True)

    def _changed(self, what: str) -> None:
        if self._on_change is not None:
            try:
                self._on_change(what)
            except Exception:
                log.exception("on_change(%r) failed", what)

    def _request_end(self) -> None:
        """End session: call ``on_end`` once; the window stays until the core says the session ended."""
        if self._end_called or self.state.ended is not None or self._destroyed:
            return
        self._end_called = True
        self._draw(header=True, lines=False)
        try:
            self._on_end()
        except Exception:
            log.exception("on_end failed")

    def _on_window_close(self) -> None:
        if self._consent is not None:
            self._decide(False)  # closing the terms is refusing them
            return
        if self._view is not None:
            self._request_end()
        self._shutdown()

    def _on_callback_error(self, exc: type[BaseException], val: BaseException, tb: TracebackType | None) -> None:
        if issubclass(exc, KeyboardInterrupt):  # Ctrl-C lands in whichever callback runs
            if self._consent is not None:
                self._decide(False)
            else:
                self._request_end()
                self._shutdown()
            return
        log.error("error in the customer window", exc_info=(exc, val, tb))

    def _open_journal(self) -> None:
        words, path = self._wording, self._journal_path
        if not path.exists():
            self._show_path(words.journal_not_yet)
            return
        try:
            process = self._opener(path)
        except OSError as err:
            log.info("cannot open the journal with the system: %s", err)
            self._show_path(words.journal_where)
            return
        if process is not None:
            threading.Thread(target=self._watch_opener, args=(process,), name="journal-opener", daemon=True).start()

    def _save_journal(self) -> None:
        """Copy the journal where the customer chooses: theirs to keep, whatever the service keeps."""
        from tkinter import filedialog

        words, path = self._wording, self._journal_path
        if not path.exists():
            self._show_path(words.journal_not_yet)
            return
        target = filedialog.asksaveasfilename(parent=self.root, title=words.save_journal,
                                              initialfile=path.name, defaultextension=".jsonl")
        if not target:
            return
        try:
            save_copy(path, Path(target))
        except OSError as err:
            self.state.apply(ActivityAdded(clock(), f"{words.save_journal} {err.strerror or err}"))
        else:
            self.state.apply(ActivityAdded(clock(), words.journal_saved.format(path=target)))
        self._draw(header=False, lines=True)

    def _watch_opener(self, process: subprocess.Popen[bytes]) -> None:
        # off the UI thread: xdg-open may wait for the viewer; a failure comes back through the inbox
        if process.wait() != 0:
            self.call_soon(lambda: self._show_path(self._wording.journal_where))

    def _show_path(self, message: str) -> None:
        if not self._destroyed:
            name = JOURNAL_PATH_DIALOG.lstrip(".")
            show_path_dialog(self.root, name, self._wording.open_journal, message, str(self._journal_path))

    def _shutdown(self) -> None:
        if self._destroyed:
            return
        self._closed.set()
        for leftover in self._inbox.close():
            if isinstance(leftover, _ConsentRequest):
                leftover.answer(False)
        if self._consent is not None:
            consent, self._consent = self._consent, None
            consent.decided(False)
        self._destroyed = True
        for job in (self._drain_job, self._refresh_job):
            if job is not None:
                self.root.after_cancel(job)
        self.root.destroy()
        # Break the panel <-> root cycle: a Tk interpreter freed by the cycle collector in
        # another thread aborts the process (Tcl_AsyncDelete); freed by refcount, it dies here.
        self.root.on_callback_error = None
