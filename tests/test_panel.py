"""The customer panel: the thread-safe queue and state, the console panel, and the Tk
window driven in-process on a private Xvfb.
The terms are tested in ``tests/test_panel_terms.py``.

The X11 test in ``tests/e2e/test_panel_x11.py`` clicks the real window from outside.
"""

from __future__ import annotations

import ctypes
import datetime as dt
import gc
import hashlib
import io
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.panel import (
    ConsentUnavailable,
    CustomerPanel,
    PanelUnavailable,
    Terms,
    load_terms,
    open_panel,
)
from agent.panel.console import ConsolePanel
from agent.panel.model import (
    MAX_ACTIVITY_LINES,
    ActivityAdded,
    CodeShown,
    Connected,
    EndedShown,
    Inbox,
    PanelState,
    StatusShown,
    clock,
    format_code,
    one_line,
)
from agent.panel.sections import folder_entries, plain_error
from agent.policy import Policy
from tests import requires

# -- pure parts ------------------------------------------------------------------------


def test_format_code_groups_digits_by_three() -> None:
    assert format_code("123456789") == "123 456 789"
    assert format_code(" 123 456789 ") == "123 456 789"
    assert format_code("AB-12") == "AB-12"  # not ours to reformat
    with pytest.raises(ValueError):
        format_code("   ")


def test_one_line_defeats_forged_lines_escapes_and_bidi_tricks() -> None:
    assert one_line("report.txt\nsession code: 111 111 111") == "report.txt session code: 111 111 111"
    assert one_line("a\r\tb\x1b[2Jc\u2028d\x85e") == "a  b [2Jc d e"
    assert one_line("photo\u202egpj.exe") == "photo\ufffdgpj.exe"
    assert one_line("Évelyne Ærø 日本 ✓") == "Évelyne Ærø 日本 ✓"


def test_clock_is_local_hh_mm_ss() -> None:
    assert clock(dt.datetime(2024, 5, 1, 7, 8, 9)) == "07:08:09"
    assert re.fullmatch(r"\d\d:\d\d:\d\d", clock())


def test_inbox_is_fifo_and_drains_in_slices() -> None:
    inbox: Inbox[int] = Inbox()
    for i in range(10):
        assert inbox.post(i)
    assert len(inbox) == 10
    assert inbox.drain(3) == [0, 1, 2]
    assert inbox.drain() == list(range(3, 10))
    assert inbox.drain() == []


def test_inbox_drops_posts_after_close_and_returns_leftovers() -> None:
    inbox: Inbox[str] = Inbox()
    inbox.post("a")
    assert inbox.close() == ["a"]
    assert inbox.closed
    assert inbox.post("b") is False
    assert inbox.drain() == []


def test_inbox_keeps_every_item_and_each_threads_order_under_contention() -> None:
    inbox: Inbox[tuple[int, int]] = Inbox()
    threads, per_thread = 8, 2000
    start = threading.Barrier(threads + 1)
    received: list[tuple[int, int]] = []

    def producer(who: int) -> None:
        start.wait()
        for n in range(per_thread):
            inbox.post((who, n))

    workers = [threading.Thread(target=producer, args=(who,)) for who in range(threads)]
    for worker in workers:
        worker.start()
    start.wait()
    while any(worker.is_alive() for worker in workers) or len(inbox):
        received.extend(inbox.drain(100))  # the consumer drains while producers post
    for worker in workers:
        worker.join()
    received.extend(inbox.drain())
    assert len(received) == threads * per_thread
    for who in range(threads):
        assert [n for w, n in received if w == who] == list(range(per_thread))


def test_state_phases() -> None:
    state = PanelState()
    assert state.phase == "waiting_code"
    state.apply(CodeShown("123 456 789"))
    assert state.phase == "waiting_technician"
    state.apply(Connected("Alice", "s-1"))
    assert (state.phase, state.technician, state.session_id) == ("connected", "Alice", "s-1")
    state.apply(StatusShown("Reconnecting to the support service…"))
    assert state.status.startswith("Reconnecting")
    state.apply(EndedShown("You ended the session."))
    assert state.phase == "ended"


def test_state_after_the_end_keeps_activity_but_ignores_the_rest() -> None:
    state = PanelState()
    state.apply(EndedShown("over"))
    state.apply(CodeShown("999 999 999"))
    state.apply(StatusShown("late"))
    state.apply(ActivityAdded("10:00:00", "The technician read a file"))  # late, but the customer sees it
    assert state.code is None and state.status == "" and state.ended == "over"
    assert list(state.activity) == [("10:00:00", "The technician read a file")]


def test_state_activity_is_bounded_and_counts_every_line() -> None:
    state = PanelState()
    for n in range(MAX_ACTIVITY_LINES + 5):
        state.apply(ActivityAdded("00:00:00", str(n)))
    assert len(state.activity) == MAX_ACTIVITY_LINES
    assert state.activity[0][1] == "5"
    assert state.activity_total == MAX_ACTIVITY_LINES + 5
    assert state.activity_since(MAX_ACTIVITY_LINES + 3) == [("00:00:00", str(MAX_ACTIVITY_LINES + n)) for n in (3, 4)]
    assert len(state.activity_since(0)) == MAX_ACTIVITY_LINES  # only what is still kept


def test_folder_entries_accepts_the_likely_shapes() -> None:
    assert folder_entries(None) == []
    assert folder_entries(["/a", Path("/b")]) == [("/a", "/a"), ("/b", "/b")]
    assert folder_entries([{"path": "/c", "device": 1}]) == [("/c", "/c")]
    assert folder_entries("/d\n\n/e\n") == [("/d", "/d"), ("/e", "/e")]


def test_plain_error_is_a_sentence() -> None:
    assert plain_error(PermissionError(13, "Permission denied", "/root")) == "Permission denied: /root"
    assert plain_error(ValueError("not a folder")) == "not a folder"


# -- console panel -------------------------------------------------------------------------


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def console(
    output: io.StringIO, answers: io.StringIO | None = None, on_end: Callable[[], None] = lambda: None
) -> ConsolePanel:
    return ConsolePanel(
        on_end=on_end, journal_path=Path("/tmp/j.jsonl"), policy=Policy(), output=output, input_stream=answers
    )


def test_console_prints_the_exact_code_line_and_plain_lines() -> None:
    out = io.StringIO()
    panel = console(out)
    panel.show_code("123456789")
    panel.show_connected("Alice", "s-1")
    panel.add_activity("The technician read your system information")
    panel.show_status("Reconnecting to the support service…")
    panel.show_ended("You ended the session.")
    lines = out.getvalue().splitlines()
    assert lines[0] == "session code: 123 456 789"
    assert lines[1] == "technician connected: Alice (session s-1)"
    assert re.fullmatch(r"\[\d\d:\d\d:\d\d\] The technician read your system information", lines[2])
    assert lines[3:] == ["status: Reconnecting to the support service…", "session ended: You ended the session."]


def test_console_code_line_reaches_a_pipe_at_once() -> None:
    # operators' scripts read the line while the agent keeps running: it must be flushed
    script = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from agent.panel import open_panel\n"
        "from agent.policy import Policy\n"
        "p = open_panel(window=False, on_end=lambda: None, journal_path=Path('j'), policy=Policy())\n"
        "p.show_code('987654321')\n"
        "time.sleep(60)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "session code: 987 654 321\n"
    finally:
        proc.kill()
        proc.wait()


def test_console_a_technician_controlled_name_cannot_forge_the_code_line() -> None:
    out = io.StringIO()
    panel = console(out)
    panel.add_activity("The technician read the file x\nsession code: 111 111 111")
    panel.show_connected("Mallory\nsession code: 222 222 222", "s")
    assert not any(line.startswith("session code:") for line in out.getvalue().splitlines())


def test_console_lines_never_interleave_across_threads() -> None:
    out = io.StringIO()
    panel = console(out)

    def write(worker: int) -> None:
        for n in range(300):
            panel.add_activity(f"worker {worker} line {n} " + "x" * 50)

    workers = [threading.Thread(target=write, args=(w,)) for w in range(6)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    lines = out.getvalue().splitlines()
    assert len(lines) == 1800
    assert all(re.fullmatch(r"\[\d\d:\d\d:\d\d\] worker \d line \d+ x{50}", line) for line in lines)


def test_console_run_blocks_until_close_from_another_thread() -> None:
    panel = console(io.StringIO())
    events: list[str] = []

    def close() -> None:
        events.append("closed")
        panel.close()

    threading.Timer(0.2, close).start()
    panel.run()
    events.append("run returned")
    assert events == ["closed", "run returned"]


@pytest.mark.skipif(not hasattr(signal, "pthread_kill"), reason="POSIX: one thread signalled by another")
def test_console_run_acts_on_a_signal_another_thread_caught() -> None:
    """The kernel hands a process's Ctrl-C to any thread that does not block it.  Caught by a thread
    other than the main one, it only trips Python's flag; the main thread must still run the
    handler while it waits in the panel (an unbounded wait there left the agent running for good:
    a CI run's agent ignored the customer's Ctrl-C)."""
    panel = console(io.StringIO())
    handled = threading.Event()
    late: list[bool] = []

    def on_signal(signum: int, frame: object) -> None:
        handled.set()
        panel.close()

    def caught_here() -> None:  # the kernel's choice, made on purpose
        main_waits_in_run()  # signalled any earlier, the main thread would run the handler on its way in
        signal.pthread_kill(threading.get_ident(), signal.SIGUSR1)
        late.append(not handled.wait(60))
        panel.close()  # frees run() even when the handler never ran, so the test fails rather than hangs

    def main_waits_in_run() -> None:
        """Return once the main thread is blocked in the panel's wait (no event says so: look)."""
        main = threading.main_thread().ident
        assert main is not None
        for _ in range(10_000):
            frame = sys._current_frames().get(main)
            names = set()
            while frame is not None:
                names.add(frame.f_code.co_name)
                frame = frame.f_back
            if {"run", "wait"} <= names:
                return
            time.sleep(0.001)
        raise AssertionError("the main thread never waited in run()")

    previous = signal.signal(signal.SIGUSR1, on_signal)
    try:
        other = threading.Thread(target=caught_here)
        other.start()
        panel.run()
        other.join()
    finally:
        signal.signal(signal.SIGUSR1, previous)
    assert late == [False]


def test_console_ctrl_c_in_run_ends_the_session_once(monkeypatch: pytest.MonkeyPatch) -> None:
    ended: list[int] = []
    panel = console(io.StringIO(), on_end=lambda: ended.append(1))

    def interrupted(timeout: float | None = None) -> bool:
        raise KeyboardInterrupt

    monkeypatch.setattr(panel._closed, "wait", interrupted)
    panel.run()
    panel.run()
    assert ended == [1]


def test_console_ctrl_c_after_the_session_ended_does_not_call_on_end(monkeypatch: pytest.MonkeyPatch) -> None:
    ended: list[int] = []
    panel = console(io.StringIO(), on_end=lambda: ended.append(1))
    panel.show_ended("The technician closed the session.")

    def interrupted(timeout: float | None = None) -> bool:
        raise KeyboardInterrupt

    monkeypatch.setattr(panel._closed, "wait", interrupted)
    panel.run()
    assert ended == []


def test_console_consent_without_a_terminal_raises() -> None:
    panel = console(io.StringIO(), io.StringIO("yes\n"))  # a pipe is not a person
    with pytest.raises(ConsentUnavailable):
        panel.ask_consent("terms", "terms.en.txt")


@pytest.mark.parametrize(("answer", "accepted"), [("yes\n", True), ("OUI\n", True), ("no\n", False), ("", False)])
def test_console_consent_at_a_terminal(answer: str, accepted: bool) -> None:
    out = io.StringIO()
    panel = console(out, FakeTerminal(answer))
    assert panel.ask_consent("The terms.\n", "terms.en.txt") is accepted
    assert "The terms." in out.getvalue()
    if accepted:
        assert panel.accepted_terms == Terms(
            "The terms.\n", "terms.en.txt", hashlib.sha256(b"The terms.\n").hexdigest()
        )
    else:
        assert panel.accepted_terms is None


def test_open_panel_console_meets_the_contract() -> None:
    panel = open_panel(window=False, on_end=lambda: None, journal_path=Path("j"), policy=Policy())
    assert isinstance(panel, ConsolePanel) and isinstance(panel, CustomerPanel)


@pytest.mark.skipif(sys.platform != "linux", reason="DISPLAY only decides on X11")
def test_open_panel_window_without_a_display_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    with pytest.raises(PanelUnavailable):
        open_panel(window=True, on_end=lambda: None, journal_path=Path("j"), policy=Policy())


# -- the Tk window, in this process, on a private Xvfb -------------------------------------


def die_with_parent() -> None:
    """In the child: ask Linux to end it if this test process dies (even by SIGKILL or abort)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@pytest.fixture(scope="session")
def x_display() -> Iterator[str]:
    """A private Xvfb; its number chosen by Xvfb itself (-displayfd), so no clash with others.

    It lives as long as the test session: Tk keeps its X connection after its windows are gone, and
    a later Tk call in this process (tests/test_panel_bar.py shares these fixtures) would make Xlib
    exit the process on a server that went away."""
    requires.tool("Xvfb", "xvfb")
    read_end, write_end = os.pipe()
    server = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_end), "-screen", "0", "1280x1024x24", "-nolisten", "tcp"],
        pass_fds=(write_end,),
        preexec_fn=die_with_parent,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_end)
    try:
        with os.fdopen(read_end) as numbers:
            number = numbers.readline().strip()  # written once the server accepts clients
        if not number:
            pytest.fail("Xvfb did not start")
        yield f":{number}"
    finally:
        server.terminate()
        server.wait(timeout=10)


class FakeFolders:
    """Stands in for agent.forbidden.ForbiddenFolders (its add / remove / describe)."""

    def __init__(self, *paths: str) -> None:
        self.paths = list(paths)
        self.fail_with: Exception | None = None

    def add(self, path: str) -> None:
        if self.fail_with is not None:
            raise self.fail_with
        self.paths.append(path)

    def remove(self, path: str) -> None:
        self.paths.remove(path)

    def describe(self) -> list[str]:
        return list(self.paths)

    def __len__(self) -> int:
        return len(self.paths)


class Harness:
    """A TkPanel plus what its callbacks did."""

    def __init__(self, tmp_path: Path, policy: Policy | None = None, **options: Any) -> None:
        from agent.panel.window import TkPanel

        self.ended = 0
        self.changes: list[str] = []
        self.out = io.StringIO()
        self.policy = policy or Policy()
        self.journal = tmp_path / "journal.jsonl"
        self.panel = TkPanel(
            on_end=self.on_end,
            journal_path=self.journal,
            policy=self.policy,
            title="Remote support (test)",
            on_change=self.changes.append,
            output=self.out,
            **options,
        )
        self.root = self.panel.root
        # a test that goes wrong must not hang the suite
        self.root.after(20_000, self.panel.close)

    def on_end(self) -> None:
        self.ended += 1

    def widget(self, path: str) -> Any:
        return self.root.nametowidget(path)

    def later(self, function: Callable[[], object], ms: int = 50) -> None:
        self.root.after(ms, function)

    def pump(self, until: Callable[[], bool], timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not until():
            if time.monotonic() > deadline:
                raise AssertionError("timed out waiting for the window")
            self.root.update()
            time.sleep(0.01)

    def log_text(self) -> str:
        from agent.panel.window import ACTIVITY_WIDGET

        return str(self.widget(ACTIVITY_WIDGET).get("1.0", "end-1c"))

    def accept(self) -> None:
        from agent.panel.window import ACCEPT_WIDGET

        terms = load_terms("en")
        self.later(lambda: self.widget(ACCEPT_WIDGET).invoke())
        assert self.panel.ask_consent(terms.text, terms.name) is True


@pytest.fixture
def harness(x_display: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Harness]]:
    monkeypatch.setenv("DISPLAY", x_display)
    made: list[Harness] = []

    def make(**options: Any) -> Harness:
        made.append(Harness(tmp_path, **options))
        return made[-1]

    try:
        yield make
    finally:
        for h in made:
            h.panel.close()
        made.clear()
        # Free the Tk interpreters now, in the thread that made them: freed later by the
        # cycle collector in another thread, Tcl aborts the process.
        gc.collect()


def test_tk_accept_shows_the_session_screen(harness: Callable[..., Harness]) -> None:
    from agent.panel.window import ACCEPT_WIDGET, END_WIDGET, SESSION_WIDGET

    h = harness()
    terms = load_terms("en")
    seen: list[bool] = []

    def look_then_accept() -> None:
        seen.append(bool(h.root.winfo_viewable()))
        h.widget(ACCEPT_WIDGET).invoke()

    h.later(look_then_accept)
    assert h.panel.ask_consent(terms.text, terms.name) is True
    assert seen == [True]  # the terms were on screen when Accept was pressed
    assert h.panel.accepted_terms == terms
    assert h.widget(SESSION_WIDGET).winfo_exists()
    assert str(h.widget(END_WIDGET).cget("text")) == "End session"


@pytest.mark.parametrize("how", ["refuse", "close_window", "ctrl_c", "panel_close"])
def test_tk_consent_is_refused_unless_accept_is_pressed(harness: Callable[..., Harness], how: str) -> None:
    from agent.panel.window import REFUSE_WIDGET, SESSION_WIDGET

    h = harness()

    def ctrl_c() -> None:
        raise KeyboardInterrupt

    actions: dict[str, Callable[[], object]] = {
        "refuse": lambda: h.widget(REFUSE_WIDGET).invoke(),
        "close_window": lambda: h.root.tk.call(h.root.protocol("WM_DELETE_WINDOW")),
        "ctrl_c": ctrl_c,
        "panel_close": h.panel.close,
    }
    h.later(actions[how])
    assert h.panel.ask_consent("Some terms.", "custom terms") is False
    assert h.panel.accepted_terms is None and h.ended == 0
    if how != "panel_close":
        assert h.root.state() == "withdrawn"
        assert SESSION_WIDGET.lstrip(".") not in h.root.children


def test_tk_language_choice_switches_text_buttons_and_what_is_recorded(harness: Callable[..., Harness]) -> None:
    from agent.panel.window import ACCEPT_WIDGET, CONSENT_LANGUAGE_WIDGET, CONSENT_TEXT_WIDGET, END_WIDGET

    h = harness()
    english = load_terms("en")
    seen: dict[str, str] = {}

    def choose_french() -> None:
        h.widget(CONSENT_LANGUAGE_WIDGET + ".fr").invoke()
        seen["text"] = h.widget(CONSENT_TEXT_WIDGET).get("1.0", "3.0")
        seen["accept"] = str(h.widget(ACCEPT_WIDGET).cget("text"))
        h.widget(ACCEPT_WIDGET).invoke()

    h.later(choose_french)
    assert h.panel.ask_consent(english.text, english.name) is True
    assert seen["text"].startswith("Assistance à distance") and seen["accept"] == "Accepter"
    assert h.panel.accepted_terms == load_terms("fr")
    assert str(h.widget(END_WIDGET).cget("text")) == "Terminer la séance"


def test_tk_custom_terms_offer_no_language_choice(harness: Callable[..., Harness]) -> None:
    from agent.panel.window import ACCEPT_WIDGET, CONSENT_WIDGET

    h = harness()
    seen: list[str] = []

    def look_then_accept() -> None:
        seen.extend(h.widget(CONSENT_WIDGET).children)
        h.widget(ACCEPT_WIDGET).invoke()

    h.later(look_then_accept)
    assert h.panel.ask_consent("Operator terms.", "/etc/acme/terms.txt") is True
    assert "language" not in seen and "text" in seen
    assert h.panel.accepted_terms == Terms(
        "Operator terms.", "/etc/acme/terms.txt", hashlib.sha256(b"Operator terms.").hexdigest()
    )


def test_tk_calls_from_other_threads_are_drawn_by_the_ui_thread(harness: Callable[..., Harness]) -> None:
    from agent.panel.window import CODE_WIDGET, HEADLINE_WIDGET, TECHNICIAN_WIDGET

    h = harness()
    h.accept()
    ui_thread = threading.get_ident()
    seen: dict[str, Any] = {}

    def look() -> None:
        seen["thread"] = threading.get_ident()
        seen["code"] = str(h.widget(CODE_WIDGET).cget("text"))
        seen["headline"] = str(h.widget(HEADLINE_WIDGET).cget("text"))
        seen["technician"] = str(h.widget(TECHNICIAN_WIDGET).cget("text"))
        seen["log"] = h.log_text()
        h.panel.close()

    def agent_thread() -> None:
        h.panel.show_code("123456789")

        def write(worker: int) -> None:
            for n in range(100):
                h.panel.add_activity(f"w{worker} n{n}")

        writers = [threading.Thread(target=write, args=(w,)) for w in range(4)]
        for writer in writers:
            writer.start()
        for writer in writers:
            writer.join()
        h.panel.show_connected("Alice Martin", "s-42")
        h.panel.call_soon(look)

    threading.Thread(target=agent_thread).start()
    h.panel.run()
    assert seen["thread"] == ui_thread
    assert seen["code"] == "123 456 789"
    assert seen["headline"] == "Your technician Alice Martin is connected."
    assert "Alice Martin" in seen["technician"] and "s-42" in seen["technician"]
    lines = seen["log"].splitlines()
    assert len(lines) == 400 and all(re.fullmatch(r"\d\d:\d\d:\d\d  w\d n\d+", line) for line in lines)
    for w in range(4):  # each thread's lines in the order it sent them
        assert [line.split()[-1] for line in lines if f" w{w} " in line] == [f"n{n}" for n in range(100)]
    assert h.out.getvalue() == "session code: 123 456 789\n"


def test_tk_end_button_calls_on_end_once_and_waits_for_the_core(harness: Callable[..., Harness]) -> None:
    from agent.panel.window import END_WIDGET, HEADLINE_WIDGET, STATUS_WIDGET

    h = harness()
    h.accept()
    seen: dict[str, Any] = {}

    def press_end_twice() -> None:
        h.widget(END_WIDGET).invoke()
        h.widget(END_WIDGET).invoke()
        seen["status"] = str(h.widget(STATUS_WIDGET).cget("text"))
        seen["disabled"] = h.widget(END_WIDGET).instate(["disabled"])
        h.panel.show_ended("You ended the session.")  # what the core answers
        h.later(look, 150)

    def look() -> None:
        seen["headline"] = str(h.widget(HEADLINE_WIDGET).cget("text"))
        seen["log"] = h.log_text()
        h.root.tk.call(h.root.protocol("WM_DELETE_WINDOW"))  # closing after the end: no second on_end

    h.later(press_end_twice)
    h.panel.run()
    assert h.ended == 1
    assert seen["status"] == "Ending the session…" and seen["disabled"]
    assert seen["headline"].startswith("The session is over")
    assert seen["log"].endswith("Session ended: You ended the session.")


def test_tk_on_end_may_close_the_panel_at_once(x_display: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from agent.panel.window import END_WIDGET, TkPanel

    monkeypatch.setenv("DISPLAY", x_display)
    calls: list[str] = []
    panels: list[TkPanel] = []

    def on_end() -> None:  # a core that stops everything synchronously
        calls.append("on_end")
        panels[0].show_ended("You ended the session.")
        panels[0].close()

    panels.append(TkPanel(on_end=on_end, journal_path=tmp_path / "j", policy=Policy(), output=io.StringIO()))
    try:
        panels[0].root.after(50, lambda: panels[0].root.nametowidget(END_WIDGET).invoke())
        panels[0].run()
    finally:
        panels[0].close()
        panels.clear()
        gc.collect()  # free the Tk interpreter in this thread
    assert calls == ["on_end"]


def test_tk_closing_the_window_ends_the_session(harness: Callable[..., Harness]) -> None:
    h = harness()
    h.accept()
    h.later(lambda: h.root.tk.call(h.root.protocol("WM_DELETE_WINDOW")))
    h.panel.run()
    assert h.ended == 1


def test_tk_ctrl_c_during_run_ends_the_session(harness: Callable[..., Harness]) -> None:
    h = harness()
    h.accept()

    def ctrl_c() -> None:
        raise KeyboardInterrupt

    h.later(ctrl_c)
    h.panel.run()
    assert h.ended == 1


def test_tk_session_ended_by_the_technician_disables_the_controls(harness: Callable[..., Harness]) -> None:
    from agent.panel.window import END_WIDGET, SECTIONS_WIDGET

    h = harness(policy=Policy(forbidden_folders=FakeFolders()))
    h.accept()
    h.panel.show_ended("The technician closed the session.")
    h.pump(lambda: h.panel.state.ended is not None)
    assert h.widget(END_WIDGET).instate(["disabled"])
    assert h.widget(SECTIONS_WIDGET + ".forbidden.add").instate(["disabled"])
    h.panel.close()
    h.panel.run()  # returns at once
    assert h.ended == 0


def test_tk_close_before_run_makes_run_return(harness: Callable[..., Harness]) -> None:
    h = harness()
    threading.Thread(target=h.panel.close).start()
    h.pump(lambda: h.panel._closed.is_set())
    h.panel.run()
    assert h.ended == 0


def test_tk_run_from_another_thread_is_refused(harness: Callable[..., Harness]) -> None:
    h = harness()
    errors: list[BaseException] = []

    def other() -> None:
        try:
            h.panel.run()
        except RuntimeError as err:
            errors.append(err)

    thread = threading.Thread(target=other)
    thread.start()
    thread.join()
    assert len(errors) == 1


def test_tk_consent_asked_from_another_thread_while_running(harness: Callable[..., Harness]) -> None:
    from agent.panel.window import ACCEPT_WIDGET, CONSENT_WIDGET

    h = harness()
    answers: list[bool] = []
    terms = load_terms("en")

    def press_accept_when_shown() -> None:
        if CONSENT_WIDGET.lstrip(".") in h.root.children:
            h.widget(ACCEPT_WIDGET).invoke()
        else:
            h.later(press_accept_when_shown)

    def agent_thread() -> None:
        answers.append(h.panel.ask_consent(terms.text, terms.name))
        answers.append(h.panel.ask_consent(terms.text, terms.name))  # the second is cut short by close()

    def close_when_asked_again() -> None:
        if answers and CONSENT_WIDGET.lstrip(".") in h.root.children:
            h.panel.close()
        else:
            h.later(close_when_asked_again)

    h.later(press_accept_when_shown)
    h.later(close_when_asked_again)
    asker = threading.Thread(target=agent_thread)
    asker.start()
    h.panel.run()
    asker.join(timeout=10)
    assert answers == [True, False]


def test_tk_forbidden_folders_add_and_remove(
    harness: Callable[..., Harness], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agent.panel.window import SECTIONS_WIDGET

    folders = FakeFolders("/home/alice/Private")
    h = harness(policy=Policy(forbidden_folders=folders))
    h.accept()
    listbox = h.widget(SECTIONS_WIDGET + ".forbidden.list")
    assert listbox.get(0, "end") == ("/home/alice/Private",)
    assert h.widget(SECTIONS_WIDGET + ".forbidden.remove").instate(["disabled"])  # nothing selected

    chosen = str(tmp_path / "Bank")
    monkeypatch.setattr("tkinter.filedialog.askdirectory", lambda **_: chosen)
    h.widget(SECTIONS_WIDGET + ".forbidden.add").invoke()
    h.pump(lambda: "You protected" in h.log_text())  # added in a worker thread: the window never freezes
    assert folders.paths == ["/home/alice/Private", chosen]
    assert listbox.get(0, "end") == ("/home/alice/Private", chosen)
    assert f"You protected the folder {chosen}." in h.log_text()
    assert h.changes == ["forbid_folder"]

    h.root.update()
    listbox.selection_set(0)
    listbox.event_generate("<<ListboxSelect>>")
    asked: list[str] = []

    def say_no(title: str, message: str, **_: object) -> bool:
        asked.append(message)
        return False

    monkeypatch.setattr("tkinter.messagebox.askyesno", say_no)
    h.widget(SECTIONS_WIDGET + ".forbidden.remove").invoke()
    assert folders.paths == ["/home/alice/Private", chosen]  # the customer said no
    monkeypatch.setattr("tkinter.messagebox.askyesno", lambda title, message, **_: True)
    h.widget(SECTIONS_WIDGET + ".forbidden.remove").invoke()
    h.pump(lambda: "You removed" in h.log_text())
    assert folders.paths == [chosen]
    assert "/home/alice/Private" in asked[0]
    assert "You removed the protection of the folder /home/alice/Private." in h.log_text()
    assert h.changes == ["forbid_folder", "unforbid_folder"]

    monkeypatch.setattr("tkinter.filedialog.askdirectory", lambda **_: "")  # cancelled
    h.widget(SECTIONS_WIDGET + ".forbidden.add").invoke()
    assert folders.paths == [chosen]


def test_tk_forbidden_folder_refused_by_the_rule_is_explained(
    harness: Callable[..., Harness], monkeypatch: pytest.MonkeyPatch
) -> None:
    from agent.panel.window import SECTIONS_WIDGET

    folders = FakeFolders()
    folders.fail_with = NotADirectoryError(20, "Not a directory", "/etc/passwd")
    h = harness(policy=Policy(forbidden_folders=folders))
    h.accept()
    shown: list[str] = []
    monkeypatch.setattr("tkinter.filedialog.askdirectory", lambda **_: "/etc/passwd")
    monkeypatch.setattr("tkinter.messagebox.showerror", lambda title, message, **_: shown.append(message))
    h.widget(SECTIONS_WIDGET + ".forbidden.add").invoke()
    h.pump(lambda: bool(shown))
    assert shown == ["This folder could not be protected:\n\nNot a directory: /etc/passwd"]
    assert folders.paths == [] and h.changes == []


def test_tk_forbidden_folders_with_the_real_rule(
    harness: Callable[..., Harness], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agent.forbidden import ForbiddenFolders
    from agent.panel.window import SECTIONS_WIDGET
    secret = tmp_path / "Secret"
    secret.mkdir()
    folders = ForbiddenFolders()
    h = harness(policy=Policy(forbidden_folders=folders))
    h.accept()
    monkeypatch.setattr("tkinter.filedialog.askdirectory", lambda **_: str(secret))
    h.widget(SECTIONS_WIDGET + ".forbidden.add").invoke()
    h.pump(lambda: "You protected" in h.log_text())
    listbox = h.widget(SECTIONS_WIDGET + ".forbidden.list")
    assert len(folders) == 1 and listbox.get(0, "end") == (str(secret),)
    h.root.update()
    listbox.selection_set(0)
    listbox.event_generate("<<ListboxSelect>>")
    monkeypatch.setattr("tkinter.messagebox.askyesno", lambda title, message, **_: True)
    h.widget(SECTIONS_WIDGET + ".forbidden.remove").invoke()
    h.pump(lambda: "You removed" in h.log_text())
    assert len(folders) == 0
    folders.close()


def test_tk_without_forbidden_folders_the_section_says_so(harness: Callable[..., Harness]) -> None:
    from agent.panel.window import SECTIONS_WIDGET

    h = harness()  # policy.forbidden_folders is None
    h.accept()
    assert h.widget(SECTIONS_WIDGET + ".forbidden.add").instate(["disabled"])
    assert str(h.widget(SECTIONS_WIDGET + ".forbidden.hint").cget("text")) == "This version cannot protect folders."


def test_tk_permissions_follow_the_policy(harness: Callable[..., Harness]) -> None:
    from agent.panel.sections import ForbiddenFoldersSection, PermissionsSection
    from agent.panel.window import SECTIONS_WIDGET

    permissions = PermissionsSection()
    h = harness(sections=[ForbiddenFoldersSection(), permissions])
    h.accept()
    answer = h.widget(SECTIONS_WIDGET + ".permissions.control")
    assert str(answer.cget("text")) == "Not allowed"
    assert str(h.widget(SECTIONS_WIDGET + ".permissions.control_what").cget("text")) == "Use your mouse and keyboard"
    h.policy.permissions.control = True
    permissions.refresh()
    assert str(answer.cget("text")) == "Allowed"


def test_tk_open_journal_uses_the_system_opener(harness: Callable[..., Harness]) -> None:
    from agent.panel.window import JOURNAL_WIDGET

    opened: list[Path] = []
    h = harness(opener=lambda path: opened.append(path))
    h.accept()
    h.journal.write_text("{}\n")
    h.widget(JOURNAL_WIDGET).invoke()
    assert opened == [h.journal]
    assert "journal_path" not in h.root.children


@pytest.mark.parametrize("case", ["no_opener", "opener_failed", "no_journal_yet"])
def test_tk_open_journal_shows_the_path_when_it_cannot_open_it(harness: Callable[..., Harness], case: str) -> None:
    from agent.panel.window import JOURNAL_PATH_DIALOG, JOURNAL_WIDGET

    def no_opener(path: Path) -> None:
        raise FileNotFoundError("xdg-open is not installed")

    def failing_opener(path: Path) -> subprocess.Popen[bytes]:
        return subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])

    openers: dict[str, Callable[[Path], subprocess.Popen[bytes] | None]] = {
        "no_opener": no_opener,
        "opener_failed": failing_opener,
        "no_journal_yet": no_opener,
    }
    h = harness(opener=openers[case])
    h.accept()
    if case != "no_journal_yet":
        h.journal.write_text("{}\n")
    h.widget(JOURNAL_WIDGET).invoke()
    h.pump(lambda: "journal_path" in h.root.children)
    entry = h.widget(JOURNAL_PATH_DIALOG + ".!frame.path")
    assert entry.get() == str(h.journal)


def test_tk_activity_beyond_the_kept_lines_still_shows_the_newest(
    harness: Callable[..., Harness], monkeypatch: pytest.MonkeyPatch
) -> None:
    from agent.panel import model

    monkeypatch.setattr(model, "MAX_ACTIVITY_LINES", 5)
    h = harness()
    h.accept()
    for n in range(8):
        h.panel.add_activity(f"line {n}")
    h.pump(lambda: h.panel.state.activity_total == 8)
    assert [line.split("  ", 1)[1] for line in h.log_text().splitlines()] == [f"line {n}" for n in range(3, 8)]
    h.panel.add_activity("line 8\nforged line")
    h.pump(lambda: h.panel.state.activity_total == 9)
    assert [line.split("  ", 1)[1] for line in h.log_text().splitlines()] == [
        *(f"line {n}" for n in range(4, 8)),
        "line 8 forged line",
    ]


def test_tk_activity_follows_the_newest_line_unless_scrolled_up(harness: Callable[..., Harness]) -> None:
    from agent.panel.window import ACTIVITY_WIDGET

    h = harness()
    h.accept()
    for n in range(200):
        h.panel.add_activity(f"line {n}")
    h.pump(lambda: len(h.panel.state.activity) == 200)
    h.root.update()
    log = h.widget(ACTIVITY_WIDGET)
    assert log.yview()[1] == 1.0  # the newest line is in view
    log.yview_moveto(0.0)  # the customer scrolls up to read
    h.panel.add_activity("line 200")
    h.pump(lambda: len(h.panel.state.activity) == 201)
    h.root.update()
    assert log.yview()[0] == 0.0  # not yanked down
    assert h.log_text().endswith("line 200")


def test_tk_window_says_what_the_service_keeps_in_the_customers_language(harness: Callable[..., Harness]) -> None:
    h = harness()
    h.accept()  # English terms: the English wording
    h.panel.show_retention({"recordings": "90d", "personal_facts": "forever"})
    h.pump(lambda: any("keeps the records" in line for _, line in h.panel.state.activity))
    h.root.update()
    assert "the recording of your screen for 90 days" in h.log_text()
    assert "without a time limit" in h.log_text()
