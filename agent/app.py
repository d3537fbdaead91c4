"""The agent program: consent first, then the link, the dispatcher and the customer window.

Threads: the customer window (Tk wants the main thread) or the console panel
runs in the main thread; the asyncio loop that talks to the relay runs in a
second thread.  They meet only through the panel's thread-safe methods and
:meth:`AgentApp.request_end`.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import signal
import ssl
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from agent import files, inventory, preview, registry
from agent.annotate import AnnotationService
from agent.control import ControlService
from agent.dispatch import Dispatcher, MethodTable
from agent.forbidden import ForbiddenFolders
from agent.journal import Journal
from agent.limits import known_limits
from agent.link import AgentLink, LinkCallbacks
from agent.panel import CustomerPanel, Terms, open_panel, terms_language
from agent.panel.catalogue import plural_key, say
from agent.panel.hiding_sources import HidingSources
from agent.policy import Permissions, Policy
from agent.screen import HiddenRegions, ScreenService
from agent.screen.service import list_monitors
from agent.screen.tracking import list_windows
from agent.session import AgentSession, PlaybookStep
from wire.errors import Unavailable, Unsupported, WorkbenchError

log = logging.getLogger(__name__)

#: The status line while the relay records the session (R5): one line, kept for the whole session.
RECORDED_STATUS = {
    "connected": "Connected. This session is recorded.",
    "reconnecting": "The connection dropped; reconnecting… This session is recorded.",
}

END_WORDS = {
    "customer_ended": "You ended the session.",
    "technician_closed": "The technician ended the session.",
}


@dataclass
class AgentConfig:
    """Everything the command line (or a test) chooses."""

    relay_url: str
    data_dir: Path
    terms: Terms
    accept_terms: bool = False
    window: bool = False
    #: the full window stays hidden until a technician connects (then the session bar shows): ``--start-hidden``
    start_hidden: bool = False
    forbid: list[str] = field(default_factory=list)
    hide_rects: list[tuple[int, int, int, int]] = field(default_factory=list)
    hide_windows: list[str] = field(default_factory=list)
    #: whole monitors hidden from the start, by 0-based index (``--hide-monitor``)
    hide_monitors: list[int] = field(default_factory=list)
    allow_control: bool = False
    cafile: Path | None = None
    display: str | None = None


class AgentApp:
    """One agent run: at most one session, from consent to its end."""

    def __init__(self, config: AgentConfig) -> None:
        self.config = config
        #: the relay records this session (its ``paired`` says ``"recording": "all"``)
        self._recorded = False
        self.policy = Policy(permissions=Permissions(control=config.allow_control))
        self._no_folders_reason = ""
        try:
            self.policy.forbidden_folders = ForbiddenFolders()
        except Unsupported as err:  # no walk on this platform: the files methods answer `unsupported` too
            self.policy.forbidden_folders = None
            self._no_folders_reason = err.message
        self.policy.hidden = HiddenRegions()
        self.state_dir = config.data_dir / "state"
        self.state_dir.mkdir(parents=True, exist_ok=True)
        if self.policy.forbidden_folders is not None:
            try:
                self.policy.forbidden_folders.add_private(str(config.data_dir))  # the journal and backups, too
            except Unsupported as err:  # the platform's file calls are missing (Windows imitated on Linux)
                self.policy.forbidden_folders = None
                self._no_folders_reason = err.message
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
        self.journal_path = config.data_dir / "journals" / f"{stamp}-{secrets.token_hex(4)}.jsonl"
        display = config.display
        hiding = HidingSources(windows=lambda: list_windows(display), monitors=lambda: list_monitors(display))
        self.panel: CustomerPanel = open_panel(window=config.window, on_end=self.request_end,
                                               journal_path=self.journal_path, policy=self.policy,
                                               on_change=self._customer_changed, on_control=self._customer_control,
                                               hiding=hiding, language=terms_language(config.terms.name),
                                               start_hidden=config.start_hidden)
        if self.policy.forbidden_folders is not None:
            self.policy.forbidden_folders.on_notice = self._protected_folder_followed
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ending = False
        self._end_requested = threading.Event()

    def run(self) -> int:
        """Ask for consent, then serve until the session ends; return the exit status.

        Returns 3 when the customer refuses the terms (nothing was connected),
        2 when a ``--forbid`` folder cannot be protected, 0 after a session
        that ended normally.
        """
        for folder in self.config.forbid:  # before consent: a folder that cannot be protected stops everything
            if self.policy.forbidden_folders is None:
                print(f"workbench-agent: cannot protect {folder}: {self._no_folders_reason}", file=sys.stderr,
                      flush=True)
                return 2
            try:
                self.policy.forbidden_folders.add(folder)
            except WorkbenchError as err:
                print(f"workbench-agent: cannot protect {folder}: {err.message}", file=sys.stderr, flush=True)
                return 2
        missing = self._missing_monitors()
        if missing:  # a hiding rule that hides nothing must not pass for one (1-based counting, say)
            print(f"workbench-agent: cannot hide monitor {missing}: {self._monitor_words()}", file=sys.stderr,
                  flush=True)
            return 2
        if self.config.accept_terms:
            how = "given outside the window (--accept-terms)"
        elif self.panel.ask_consent(self.config.terms.text, self.config.terms.name):
            how = "accepted in the customer window"
            chosen: Terms | None = getattr(self.panel, "accepted_terms", None)
            if chosen is not None:  # the customer may have switched language: record what they read
                self.config.terms = chosen
        else:
            print("The terms were refused: nothing was connected and nothing was collected.", flush=True)
            return 3
        self.journal = Journal(self.journal_path)
        self.session = AgentSession(self.journal, self.policy, self.config.terms, how)
        self.session.record_consent()
        for _folder in self.config.forbid:
            self.journal.append("policy", change="forbid_folder", by="customer (--forbid)")
        for x, y, w, h in self.config.hide_rects:
            self.policy.hidden.add_rect(x, y, w, h)
            self.journal.append("policy", change="hide_rect", by="customer (--hide-rect)")
        for title in self.config.hide_windows:
            self.policy.hidden.add_window(title)
            self.journal.append("policy", change="hide_window", by="customer (--hide-window)")
        for index in self.config.hide_monitors:
            self.policy.hidden.add_monitor(index)
            self.journal.append("policy", change="hide_monitor", monitor=index, by="customer (--hide-monitor)")
        if self.config.allow_control:
            self.journal.append("policy", change="grant_control", by="customer (--allow-control)")
        loop_thread = threading.Thread(target=self._run_loop, name="agent-loop", daemon=True)
        loop_thread.start()
        previous = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            self.panel.run()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        self.request_end()
        loop_thread.join(timeout=15)
        return 0

    def _screen_monitors(self) -> list[dict[str, Any]] | None:
        """This machine's monitors now, or None when the screen cannot be read (nothing to hide then)."""
        try:
            return list_monitors(self.config.display)
        except Unavailable:
            return None

    def _missing_monitors(self) -> str:
        """The ``--hide-monitor`` numbers this machine has no monitor for, as words ("" when none)."""
        if not self.config.hide_monitors:
            return ""
        monitors = self._screen_monitors()
        if monitors is None:
            return ""
        missing = sorted({index for index in self.config.hide_monitors if index >= len(monitors)})
        return ", ".join(str(index) for index in missing)

    def _monitor_words(self) -> str:
        monitors = self._screen_monitors() or []
        if len(monitors) == 1:
            return "this computer has one monitor, number 0"
        return f"this computer has {len(monitors)} monitors, numbered 0 to {len(monitors) - 1} (0 is the first)"

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.request_end()

    def request_end(self) -> None:
        """Thread-safe: the customer ends the session (button, window closed, Ctrl-C)."""
        if self._end_requested.is_set():
            return
        self._end_requested.set()
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(lambda: loop.create_task(self._end_by_customer()))
        else:
            self.panel.close()

    def _run_loop(self) -> None:
        try:
            asyncio.run(self._serve())
        except Exception:
            log.exception("the agent's loop failed")
        finally:
            self.panel.close()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.screen = ScreenService(self.policy.hidden, self._send_event, self.panel.add_activity, self.config.display)
        self.annotate = AnnotationService(self._send_event, self.panel.add_activity, self.journal.append,
                                          self.config.display,
                                          permitted=lambda: self.policy.permissions.allows("annotate"))
        self.control = ControlService(self.policy, self._send_event, self.panel.add_activity, self.journal.append,
                                      self.config.display)
        table = MethodTable([*self.session.methods(self._show_playbook), *inventory.METHODS, *files.METHODS,
                             *registry.METHODS, *self.screen.METHODS, *self.annotate.METHODS, *self.control.METHODS])
        self.dispatcher = Dispatcher(table, self.journal, self.policy, self.state_dir, self.panel.add_activity,
                                     previews=preview.previews(), update_customer=self.panel.update_activity)
        ssl_context = ssl.create_default_context(cafile=str(self.config.cafile)) if self.config.cafile else None
        callbacks = LinkCallbacks(on_code=self._on_code, on_paired=self._on_paired, on_status=self._on_status,
                                  on_event=self._on_event,
                                  on_ended=self._on_ended_by_technician, on_journal_alert=self._on_journal_alert)
        self.link = AgentLink(self.config.relay_url, self.session.hello_fields(), self.dispatcher, self.journal,
                              callbacks, ssl_context)
        self.journal.on_append = lambda record: self.link.journal_appended()
        if self._end_requested.is_set():
            await self._end_by_customer()
        await self.screen.start()
        await self.annotate.start()
        await self.control.start()
        for line in known_limits():  # what this system cannot do yet, said before anything is asked
            self.panel.add_activity(line)
        self._clean_leftovers()
        try:
            reason = await self.link.run()
        finally:
            await self.control.stop()  # releases any key or button the technician held
            await self.annotate.stop()  # every mark goes with the session: the overlay never outlives it
            await self.screen.stop()
            self.dispatcher.close()
            self._close_transfers()  # no .part file of an unfinished upload outlives its session
            registry.REGISTRY.close_all()  # a hive handle never outlives its session
        if self.session.record_end(reason, by="relay"):  # the link ended without a goodbye
            self.journal.append("note", words="the relay refused to resume; the session is over")
        self.panel.show_ended(END_WORDS.get(reason) or say("app.session_ended_other", reason=reason))
        self.panel.add_activity(say("app.journal_kept", path=str(self.journal_path)))
        self.journal.close()

    def _show_playbook(self, step: PlaybookStep) -> None:
        self.panel.show_playbook(step.name, step.step, step.total, step.title, step.state)

    def _clean_leftovers(self) -> None:
        """Remove the unfinished uploads' files an earlier run left in the customer's folders (it crashed)."""
        try:
            removed = files.clean_leftovers(self.state_dir)
        except (OSError, WorkbenchError) as err:
            log.warning("could not clean the files left by an earlier run: %s", err)
            return
        for where in removed:
            self.panel.add_activity(say("app.leftover_removed", path=str(where)))
        if removed:
            self.journal.append("note", words=f"removed {len(removed)} unfinished upload file(s) left by an "
                                "earlier run")

    def _close_transfers(self) -> None:
        try:
            closed = files.close_transfers(self.state_dir)
        except (OSError, WorkbenchError) as err:
            log.warning("could not close the open transfers: %s", err)
            return
        if closed:
            self.panel.add_activity(say(plural_key("app.transfers_stopped", closed), count=closed))

    async def _end_by_customer(self) -> None:
        if self._ending:
            return
        self._ending = True
        self.session.record_end("customer_ended", by="customer")
        await self.link.end("customer_ended")

    def _customer_changed(self, change: str) -> None:
        """On the window's thread: the customer changed a rule (``forbid_folder``, ``unforbid_folder``,
        ``hide_window``, ``hide_monitor``, ``show_window``, ``show_monitor``, ``show_rect``)."""
        journal: Journal | None = getattr(self, "journal", None)
        if journal is not None:
            journal.append("policy", change=change, by="customer (window)")

    def _protected_folder_followed(self, words: str) -> None:
        """Any thread: a protected folder vanished or was replaced, and its rule followed its path (C3)."""
        self.panel.add_activity(words)
        journal: Journal | None = getattr(self, "journal", None)
        if journal is not None:  # the words name the folder: they stay in the window, not in the relay's copy
            journal.append("policy", change="forbid_folder_followed", by="agent (the folder's path)")

    def _customer_control(self, granted: bool) -> None:
        """On the window's thread: the customer lets the technician take control, or takes it back."""
        control: ControlService | None = getattr(self, "control", None)
        if control is None:
            return
        if granted:
            control.grant(by="customer (window)")
        else:
            control.revoke(by="customer (window)")

    def _on_ended_by_technician(self, reason: str) -> None:
        self.session.record_end(reason, by="technician")

    def _on_journal_alert(self, at: int, words: str) -> None:
        """The relay's copy of the journal and this journal disagree: tell the customer, and journal it."""
        self.panel.add_activity(say("app.journal_alert", path=str(self.journal_path)))  # the journal keeps *words*
        self.journal.append("journal_alert", at=at, words=words)

    def _on_code(self, code: str) -> None:
        self.session.record_code(code.replace(" ", ""))
        self.panel.show_code(code)

    def _on_paired(self, paired: dict[str, Any]) -> None:
        self.session.record_paired(paired)
        self.panel.show_connected(str(paired.get("technician", "")), str(paired["session_id"]))
        # R5: the relay records this session (``workbench relay --record all``, the default the terms
        # state); the status line says so for the whole session, whatever else it says.
        self._recorded = paired.get("recording") == "all"
        if self._recorded:
            self.panel.show_status(RECORDED_STATUS["connected"])
        retention = paired.get("retention")
        if isinstance(retention, dict):  # what the service keeps and for how long (R7), in the customer's words
            self.panel.show_retention({str(k): str(v) for k, v in retention.items()})

    def _on_status(self, status: str) -> None:
        words = {"connected": "Connected to the support service.",
                 "reconnecting": "The connection dropped; reconnecting to the support service…"}
        table = RECORDED_STATUS if self._recorded else words
        self.panel.show_status(table.get(status, status))

    async def _send_event(self, name: str, body: dict[str, Any], data: bytes | None) -> None:
        await self.link.send_event(name, body, data)

    async def _on_event(self, name: str, body: dict[str, Any], data: bytes | None) -> None:
        """Events from the relay and the viewers, to the service they are for."""
        if name.startswith("annotate."):
            await self.annotate.on_event(name, body)
        elif name.startswith("control."):
            await self.control.on_event(name, body)
        elif name.startswith("screen.") or name == "relay.viewers":
            await self.screen.on_event(name, body)
            if name == "relay.viewers":  # a viewer that joins gets the marks and the control state
                await self.annotate.on_event(name, body)
                await self.control.on_event(name, body)
        else:
            log.debug("event %s ignored", name)
