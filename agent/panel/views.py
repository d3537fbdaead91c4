"""What the customer window draws: its style, the consent screen, the session screen.

These build and update widgets and nothing else; :class:`agent.panel.window.TkPanel`
decides when (threads, consent flow, lifecycle).  Everything here runs on the
UI thread.  Widget names are fixed (see the ``*_WIDGET`` paths in
:mod:`agent.panel.window`) so that tests and accessibility tools find them.
"""

from __future__ import annotations

import tkinter as tk
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from tkinter import font as tkfont
from tkinter import ttk

from agent.panel.base import Terms
from agent.panel.model import PanelState
from agent.panel.playbook_words import playbook_line
from agent.panel.sections import PanelSection, SectionContext
from agent.panel.wording import Wording, wording_for

END_COLOUR, END_ACTIVE_COLOUR = "#b3261e", "#8c1d18"
MUTED_COLOUR = "#5a5a5a"
USED_CODE_COLOUR = "#8c8c8c"


@dataclass(frozen=True)
class Fonts:
    """Named fonts live as long as these objects: keep this for the window's lifetime."""

    heading: tkfont.Font
    bold: tkfont.Font
    code: tkfont.Font


def setup_style(root: tk.Tk) -> Fonts:
    """Legible sizes (12 pt text, a 30 pt session code) and the window's ttk styles."""
    # One theme everywhere: X11's default looks broken to most people, and the native themes of
    # Windows ("vista") and macOS ("aqua") ignore a button's background, which drew End session's
    # white label on a white button under Windows. "clam" ships with every Tk.
    ttk.Style(root).theme_use("clam")
    for name in ("TkDefaultFont", "TkTextFont", "TkMenuFont", "TkFixedFont"):
        tkfont.nametofont(name, root=root).configure(size=12)
    family = tkfont.nametofont("TkDefaultFont", root=root).actual("family")
    fixed = tkfont.nametofont("TkFixedFont", root=root).actual("family")
    fonts = Fonts(
        heading=tkfont.Font(root=root, family=family, size=15, weight="bold"),
        bold=tkfont.Font(root=root, family=family, size=12, weight="bold"),
        code=tkfont.Font(root=root, family=fixed, size=30, weight="bold"),
    )
    style = ttk.Style(root)
    style.configure("Headline.TLabel", font=fonts.heading)
    style.configure("Muted.TLabel", foreground=MUTED_COLOUR)
    style.configure("Code.TLabel", font=fonts.code)
    style.configure("CodeUsed.TLabel", font=fonts.code, foreground=USED_CODE_COLOUR)
    style.configure("Accept.TButton", font=fonts.bold, padding=(18, 8))
    style.configure("TButton", padding=(12, 6))
    style.configure("End.TButton", font=fonts.bold, padding=(18, 10), foreground="white", background=END_COLOUR)
    style.map(
        "End.TButton",
        background=[("disabled", "#c9c9c9"), ("active", END_ACTIVE_COLOUR)],
        foreground=[("disabled", "#6d6d6d")],
    )
    style.configure("TLabelframe.Label", font=fonts.bold)
    return fonts


def show_content(root: tk.Tk, frame: ttk.Frame) -> None:
    """Make *frame* the window's one screen, removing the other."""
    for child in root.winfo_children():
        if child is not frame and child.winfo_name() in ("consent", "session"):
            child.destroy()
    frame.grid(row=0, column=0, sticky="nsew")


def build_consent(
    root: tk.Tk,
    terms: Terms,
    language: str | None,
    variants: Sequence[str],
    decide: Callable[[bool], None],
    choose_language: Callable[[str], None],
) -> ttk.Frame:
    """The consent screen (``.consent``): the terms, a language choice when
    *variants* holds several, Refuse and Accept.  Enter does not accept."""
    words = wording_for(language)
    frame = ttk.Frame(root, name="consent", padding=16)
    frame.columnconfigure(0, weight=1)
    frame.rowconfigure(3, weight=1)
    ttk.Label(frame, name="heading", text=words.consent_heading, style="Headline.TLabel").grid(
        row=0, column=0, columnspan=2, sticky="w"
    )
    ttk.Label(frame, name="note", text=words.consent_note, wraplength=700).grid(
        row=1, column=0, columnspan=2, sticky="w", pady=(4, 8)
    )
    if variants:
        choice = ttk.Frame(frame, name="language")
        ttk.Label(choice, text=words.language_label).pack(side="left")
        selected = tk.StringVar(frame, language or "")
        for code in sorted(variants):
            ttk.Radiobutton(
                choice,
                name=code,
                text=wording_for(code).language_name,
                value=code,
                variable=selected,
                command=lambda: choose_language(selected.get()),  # the closure keeps the variable alive
            ).pack(side="left", padx=(8, 0))
        choice.grid(row=2, column=0, columnspan=2, sticky="w", pady=(0, 8))
    text = tk.Text(
        frame,
        name="text",
        wrap="word",
        width=80,
        height=22,
        padx=10,
        pady=8,
        font=tkfont.nametofont("TkTextFont", root=root),
        relief="solid",
        borderwidth=1,
    )
    scroll = ttk.Scrollbar(frame, orient="vertical", command=text.yview)
    text.configure(yscrollcommand=scroll.set)
    text.insert("1.0", terms.text)
    text.configure(state="disabled")  # read-only, still selectable and scrollable
    text.grid(row=3, column=0, sticky="nsew")
    scroll.grid(row=3, column=1, sticky="ns")
    buttons = ttk.Frame(frame, name="buttons")
    ttk.Button(buttons, name="accept", text=words.accept, style="Accept.TButton", command=lambda: decide(True)).pack(
        side="right"
    )
    ttk.Button(buttons, name="refuse", text=words.refuse, command=lambda: decide(False)).pack(
        side="right", padx=(0, 12)
    )
    buttons.grid(row=4, column=0, columnspan=2, sticky="e", pady=(12, 0))
    show_content(root, frame)
    text.focus_set()  # arrow keys and Page Down scroll the terms
    return frame


class SessionView:
    """The session screen (``.session``): headline and status, the code, the
    technician, the activity list, End session, Open journal, and the sections."""

    def __init__(
        self,
        root: tk.Tk,
        words: Wording,
        sections: Sequence[PanelSection],
        context: SectionContext,
        *,
        end: Callable[[], None],
        open_journal: Callable[[], None],
        save_journal: Callable[[], None] | None = None,
    ) -> None:
        self.words = words
        self.sections = sections
        self._shown_lines = 0  # lines of the state's activity already in the widget (its running total)
        frame = ttk.Frame(root, name="session", padding=14)
        frame.columnconfigure(0, weight=1)
        frame.rowconfigure(2, weight=1)
        self.headline = ttk.Label(frame, name="headline", style="Headline.TLabel", wraplength=760)
        self.status = ttk.Label(frame, name="status", style="Muted.TLabel", wraplength=760)
        self.headline.grid(row=0, column=0, columnspan=2, sticky="w")
        self.status.grid(row=1, column=0, columnspan=2, sticky="w", pady=(2, 10))

        main = ttk.Frame(frame, name="main")
        main.columnconfigure(0, weight=1)
        main.rowconfigure(4, weight=1)
        ttk.Label(main, name="code_caption", text=words.code_caption).grid(row=0, column=0, sticky="w")
        self.code = ttk.Label(main, name="code", style="Code.TLabel")
        self.code.grid(row=1, column=0, sticky="w")
        self.code_hint = ttk.Label(main, name="code_hint", style="Muted.TLabel")
        self.code_hint.grid(row=2, column=0, sticky="w")
        self.technician = ttk.Label(main, name="technician")
        self.technician.grid(row=3, column=0, sticky="w", pady=(4, 8))
        activity = ttk.LabelFrame(main, name="activity", text=words.activity_caption, padding=6)
        activity.columnconfigure(0, weight=1)
        activity.rowconfigure(0, weight=1)
        text_font = tkfont.nametofont("TkTextFont", root=root)
        self.log = tk.Text(
            activity,
            name="log",
            wrap="word",
            width=46,
            height=14,
            padx=6,
            pady=4,
            relief="flat",
            font=text_font,
            state="disabled",
        )
        self.log.tag_configure("time", foreground=MUTED_COLOUR)
        self.log.tag_configure("empty", foreground=MUTED_COLOUR)
        # a wrapped line continues under its text, not under its time
        self.log.tag_configure("entry", lmargin2=text_font.measure("00:00:00  "))
        log_scroll = ttk.Scrollbar(activity, orient="vertical", command=self.log.yview)
        self.log.configure(yscrollcommand=log_scroll.set)
        self.log.grid(row=0, column=0, sticky="nsew")
        log_scroll.grid(row=0, column=1, sticky="ns")
        activity.grid(row=4, column=0, sticky="nsew")
        # one line for a playbook the technician runs, replaced at each step (empty when there is none)
        self.playbook = ttk.Label(main, name="playbook", wraplength=560)
        self.playbook.grid(row=5, column=0, sticky="w", pady=(6, 0))
        main.grid(row=2, column=0, sticky="nsew")

        side = ttk.Frame(frame, name="side")
        side.columnconfigure(0, weight=1)
        self.end = ttk.Button(side, name="end", text=words.end_session, style="End.TButton", command=end)
        self.end.grid(row=0, column=0, sticky="ew")
        ttk.Button(side, name="journal", text=words.open_journal, command=open_journal).grid(
            row=1, column=0, sticky="ew", pady=(10, 0)
        )
        if save_journal is not None:  # the customer's own copy, wherever they choose (R7)
            ttk.Button(side, name="save_journal", text=words.save_journal, command=save_journal).grid(
                row=2, column=0, sticky="ew", pady=(4, 0)
            )
        ttk.Label(side, name="journal_hint", text=words.journal_hint, wraplength=340, style="Muted.TLabel").grid(
            row=3, column=0, sticky="w", pady=(2, 6)
        )
        holder = ttk.Frame(side, name="sections")
        holder.columnconfigure(0, weight=1)
        for row, section in enumerate(sections):
            section.build(holder, context).grid(row=row, column=0, sticky="ew", pady=(8, 0))
        holder.grid(row=4, column=0, sticky="new")
        side.grid(row=2, column=1, sticky="ns", padx=(18, 0))
        show_content(root, frame)

    def draw_header(self, state: PanelState, *, ending: bool) -> None:
        """Headline, status, code and technician from *state*; *ending*: End was pressed."""
        words, phase = self.words, state.phase
        if phase == "waiting_code":
            self.headline.configure(text=words.headline_waiting_code)
        elif phase == "waiting_technician":
            self.headline.configure(text=words.headline_waiting_technician)
        elif phase == "connected":
            self.headline.configure(text=words.headline_connected.format(technician=state.technician))
        else:
            self.headline.configure(text=words.headline_ended)
        if state.code is None:
            self.code.configure(text=words.code_waiting, style="TLabel")
        else:  # big and dark while it is to be read aloud, greyed once used
            style = "Code.TLabel" if phase == "waiting_technician" else "CodeUsed.TLabel"
            self.code.configure(text=state.code, style=style)
        self.code_hint.configure(text=words.code_used if phase == "connected" else "")
        if state.technician is not None:
            self.technician.configure(
                text=words.technician_line.format(technician=state.technician, session_id=state.session_id)
            )
        shown = state.playbook
        self.playbook.configure(text="" if shown is None else playbook_line(
            words.playbook, shown.name, shown.step, shown.total, shown.title, shown.state))
        status = words.core_line(state.status)
        if state.ended is not None:
            status = words.core_line(state.ended)
        elif ending:
            status = words.ending
        self.status.configure(text=status)
        self.end.state(["disabled"] if ending or state.ended is not None else ["!disabled"])

    def draw_new_lines(self, state: PanelState) -> None:
        """Append the activity lines not drawn yet, and redraw the lines updated in place; follow the
        newest unless the customer scrolled up."""
        new = state.activity_since(self._shown_lines)
        # Whether the newest line is on screen now.  dlineinfo brings the layout up to date first;
        # yview() may still hold the fractions of before the last lines were drawn (under load,
        # several draws can come before Tk's idle layout), and the log would stop following.
        # A log not on screen yet (the window still withdrawn) follows too.
        at_bottom = (not self.log.winfo_viewable() or self.log.yview()[1] >= 0.999
                     or self.log.dlineinfo("end-1c") is not None)
        self.log.configure(state="normal")
        keyed = set(state.keyed.values())
        for number in sorted(state.changed):
            updated = state.line(number)
            ranges = self.log.tag_ranges(f"line{number}")
            if updated is not None and ranges and number < self._shown_lines:
                start, end = ranges[0], ranges[-1]
                self.log.delete(start, end)
                self.log.insert(start, f"{updated[0]}  ", ("time", "entry", f"line{number}"), updated[1],
                                ("entry", f"line{number}"))
        state.changed.clear()
        if state.activity_total == 0:
            self.log.delete("1.0", "end")
            self.log.insert("end", self.words.activity_empty, ("empty",))
        elif new:
            if self._shown_lines == 0:
                self.log.delete("1.0", "end")  # the "Nothing yet." placeholder
            first = state.activity_total - len(new)
            for offset, (time, line) in enumerate(new):
                # a line that may be updated in place (a transfer's) carries a tag with its number
                tags: tuple[str, ...] = (f"line{first + offset}",) if first + offset in keyed else ()
                if self.log.compare("end-1c", "!=", "1.0"):
                    self.log.insert("end", "\n")
                self.log.insert("end", f"{time}  ", ("time", "entry", *tags))
                self.log.insert("end", line, ("entry", *tags))  # one line: one_line() removed any line break
            # keep what the state keeps; the journal on disk has everything
            excess = int(self.log.index("end-1c").split(".")[0]) - len(state.activity)
            if excess > 0:
                self.log.delete("1.0", f"{excess + 1}.0")
        self.log.configure(state="disabled")
        if at_bottom:
            self.log.see("end")
        self._shown_lines = state.activity_total


def show_path_dialog(root: tk.Tk, name: str, title: str, message: str, path: str) -> None:
    """A small dialog (Tk name *name*) with *path* selectable for copying; replaces an earlier one."""
    if name in root.children:
        root.children[name].destroy()
    dialog = tk.Toplevel(root, name=name)
    dialog.title(title)
    dialog.transient(root)
    frame = ttk.Frame(dialog, padding=14)
    frame.pack(fill="both", expand=True)
    ttk.Label(frame, text=message, wraplength=520).pack(anchor="w")
    entry = ttk.Entry(frame, name="path", width=70)
    entry.insert(0, path)
    entry.configure(state="readonly")
    entry.pack(fill="x", pady=10)
    ttk.Button(frame, name="close", text="OK", command=dialog.destroy).pack(anchor="e")
    entry.focus_set()
    entry.selection_range(0, "end")
