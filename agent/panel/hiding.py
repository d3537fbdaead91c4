"""C4 in the customer's window: hide a window or a whole monitor at any time, and show it again.

:class:`HidingSection` lists what is hidden (``policy.hidden``, an
:class:`agent.screen.hidden.HiddenRegions`: the command line's ``--hide-*`` rules too) and
offers two pickers: the windows on screen (the screen backend's ``list_windows``: the X11
tracker, or ``EnumWindows`` on Windows) and the monitors.  A choice goes straight into
``policy.hidden``, which the streamer reads before every capture, so the next frame and every
screenshot are filled there; the technician sees a grey box labelled "Hidden by the customer"
and is told that the customer hid part of the screen, never what or which window.  Each
choice is journaled through :attr:`SectionContext.changed` (``"hide_window"``,
``"hide_monitor"``, ``"show_window"``…), without the window's title.

The lists come from :class:`HidingSources`, given by the agent core (the window does not
import the screen package): blocking calls, run on a worker thread, their answer drawn on the
UI thread.  Monitors are numbered from 0, as the technician's side numbers them.

Widget paths (for tests and accessibility tools): the section's frame is named ``hiding``
inside the sections frame, with ``list``, ``hide_window``, ``hide_monitor``, ``show``; the
picker is the top-level ``.hide_picker`` with ``list``, ``note``, ``buttons.hide`` and
``buttons.cancel``.
"""

from __future__ import annotations

import logging
import threading
import tkinter as tk
from dataclasses import dataclass
from tkinter import ttk
from typing import Any, Final

from agent.panel.hiding_sources import HidingSources
from agent.panel.hiding_words import HidingWording
from agent.panel.model import one_line
from agent.panel.sections import SectionContext, plain_error

log = logging.getLogger(__name__)

PICKER_WIDGET: Final = ".hide_picker"


@dataclass(frozen=True)
class Choice:
    """One line of a picker: what it says, and what hiding it adds."""

    label: str
    kind: str  # "window" | "monitor"
    title: str = ""
    monitor: int = -1


def window_choices(windows: list[dict[str, Any]], already: set[str], own_title: str = "") -> list[Choice]:
    """The windows a customer may pick: titled, not hidden already, each title once, sorted."""
    titles = sorted({str(w.get("title", "")) for w in windows} - already - {"", own_title}, key=str.casefold)
    return [Choice(one_line(title), "window", title=title) for title in titles]


def monitor_choices(monitors: list[dict[str, Any]], already: set[int], words: HidingWording) -> list[Choice]:
    """The monitors a customer may pick (not hidden already), by their 0-based index."""
    found: list[Choice] = []
    for monitor in monitors:
        index = monitor.get("index")
        if not isinstance(index, int) or index in already:
            continue
        size = f"{monitor.get('width')}×{monitor.get('height')}"
        where = words.primary if monitor.get("primary") else ""
        found.append(Choice(words.monitor_choice.format(index=index, size=size, where=where), "monitor",
                            monitor=index))
    return found


def item_label(item: dict[str, Any], words: HidingWording, sizes: dict[int, str]) -> str:
    """How a hidden item (``HiddenRegions.items()``) reads in the section's list."""
    if item.get("kind") == "window":
        return words.item_window.format(title=one_line(str(item.get("title", ""))))
    if item.get("kind") == "monitor":
        index = int(item.get("monitor", 0))
        return words.item_monitor.format(index=index, size=sizes.get(index, "?")).replace(" (?)", "")
    return words.item_rect.format(x=item.get("x"), y=item.get("y"), w=item.get("w"), h=item.get("h"))


class HidingSection:
    """The "hidden from the technician" section: the list, two pickers, and Show again."""

    name = "hiding"

    def __init__(self, sources: HidingSources) -> None:
        self._sources = sources
        self._context: SectionContext | None = None
        self._items: list[dict[str, Any]] = []
        self._shown_key: object = None
        self._monitor_sizes: dict[int, str] = {}
        self._enabled = True
        self._picker: tk.Toplevel | None = None
        self._choices: list[Choice] = []

    @property
    def context(self) -> SectionContext:
        if self._context is None:
            raise RuntimeError("section used before build()")
        return self._context

    @property
    def words(self) -> HidingWording:
        return self.context.wording.hiding

    def _hidden(self) -> Any:
        return self.context.policy.hidden

    def build(self, parent: tk.Misc, context: SectionContext) -> tk.Widget:
        self._context = context
        words = self.words
        frame = ttk.LabelFrame(parent, name=self.name, text=words.caption, padding=8)
        frame.columnconfigure(0, weight=1)
        self._list = tk.Listbox(frame, name="list", height=3, activestyle="none", exportselection=False, width=36)
        self._list.grid(row=0, column=0, columnspan=3, sticky="nsew")
        self._hide_window = ttk.Button(frame, name="hide_window", text=words.hide_window,
                                       command=lambda: self.open_picker("window"))
        self._hide_monitor = ttk.Button(frame, name="hide_monitor", text=words.hide_monitor,
                                        command=lambda: self.open_picker("monitor"))
        self._show = ttk.Button(frame, name="show", text=words.show_again, command=self.show_selected)
        self._hide_window.grid(row=1, column=0, sticky="w", pady=(6, 0))
        self._hide_monitor.grid(row=1, column=1, sticky="w", padx=(6, 0), pady=(6, 0))
        self._show.grid(row=1, column=2, sticky="e", padx=(6, 0), pady=(6, 0))
        ttk.Label(frame, name="hint", text=words.hint, wraplength=400, style="Muted.TLabel").grid(
            row=2, column=0, columnspan=3, sticky="w", pady=(6, 0))
        self._list.bind("<<ListboxSelect>>", lambda _event: self._update_buttons())
        self.refresh()
        return frame

    # -- the list ---------------------------------------------------------------------

    def refresh(self) -> None:
        hidden = self._hidden()
        items: list[dict[str, Any]] = hidden.items() if hidden is not None else []
        key = (repr(items), tuple(sorted(self._monitor_sizes.items())))
        if key != self._shown_key:
            self._shown_key = key
            self._items = items
            self._list.delete(0, "end")
            for item in items:
                self._list.insert("end", item_label(item, self.words, self._monitor_sizes))
            if not items:
                self._list.insert("end", self.words.nothing_hidden)
        self._update_buttons()

    def _update_buttons(self) -> None:
        usable = self._enabled and self._hidden() is not None
        for button in (self._hide_window, self._hide_monitor):
            button.state(["!disabled"] if usable else ["disabled"])
        selected = bool(self._list.curselection()) and bool(self._items)  # type: ignore[no-untyped-call]
        self._show.state(["!disabled"] if usable and selected else ["disabled"])

    def set_enabled(self, enabled: bool) -> None:
        self._enabled = enabled
        self._list.configure(state="normal" if enabled else "disabled")
        if not enabled:
            self.close_picker()
        self._update_buttons()

    def show_selected(self) -> None:
        """Stop hiding the selected item (the customer's own choice: no confirmation needed)."""
        selection: tuple[int, ...] = self._list.curselection()  # type: ignore[no-untyped-call]
        hidden = self._hidden()
        if not selection or not self._items or hidden is None or not self._enabled:
            return
        item = self._items[selection[0]]
        try:
            hidden.remove(item["id"])
        except KeyError:  # removed meanwhile
            self.refresh()
            return
        what = item_label(item, self.words, self._monitor_sizes)
        self.context.note(self.words.item_shown.format(what=what))
        self.context.changed(f"show_{item.get('kind', 'area')}")
        self.refresh()

    # -- the pickers ------------------------------------------------------------------

    def open_picker(self, kind: str) -> None:
        """Open the window (``kind="window"``) or monitor picker; its list fills in the background."""
        if not self._enabled or self._hidden() is None:
            return
        self.close_picker()
        words, root = self.words, self.context.root
        picker = tk.Toplevel(root, name=PICKER_WIDGET.lstrip("."))
        picker.title(words.picker_window_title if kind == "window" else words.picker_monitor_title)
        picker.transient(root)
        picker.columnconfigure(0, weight=1)
        picker.rowconfigure(1, weight=1)
        picker.protocol("WM_DELETE_WINDOW", self.close_picker)
        note = ttk.Label(picker, name="note", text=words.picker_loading, wraplength=460, padding=(10, 8))
        note.grid(row=0, column=0, sticky="w")
        choices = tk.Listbox(picker, name="list", height=10, width=50, activestyle="none", exportselection=False)
        choices.grid(row=1, column=0, sticky="nsew", padx=10)
        buttons = ttk.Frame(picker, name="buttons", padding=10)
        buttons.grid(row=2, column=0, sticky="e")
        hide = ttk.Button(buttons, name="hide", text=words.picker_hide, command=self.hide_chosen)
        ttk.Button(buttons, name="cancel", text=words.picker_cancel, command=self.close_picker).pack(side="right")
        hide.pack(side="right", padx=(0, 8))
        hide.state(["disabled"])
        choices.bind("<<ListboxSelect>>", lambda _event: hide.state(
            ["!disabled"] if choices.curselection() else ["disabled"]))  # type: ignore[no-untyped-call]
        choices.bind("<Double-Button-1>", lambda _event: self.hide_chosen())
        choices.bind("<Return>", lambda _event: self.hide_chosen())
        picker.bind("<Escape>", lambda _event: self.close_picker())
        self._picker, self._picker_list, self._picker_note, self._choices = picker, choices, note, []
        own_title = root.title()
        source = self._sources.windows if kind == "window" else self._sources.monitors

        def work() -> None:
            try:
                found: list[dict[str, Any]] | BaseException = source()
            except Exception as err:  # shown in the picker; the window stays up
                found = err
            self.context.call_soon(lambda: self._fill(picker, kind, found, own_title))

        threading.Thread(target=work, name=f"hide-{kind}-list", daemon=True).start()

    def _fill(self, picker: tk.Toplevel, kind: str, found: list[dict[str, Any]] | BaseException,
              own_title: str) -> None:
        if picker is not self._picker:  # closed, or another picker opened since
            return
        words = self.words
        if isinstance(found, BaseException):
            log.info("the %s list could not be read: %s", kind, found)
            self._picker_note.configure(text=words.picker_failed.format(error=plain_error(found)))
            return
        items = self._hidden().items()
        if kind == "window":
            already = {str(i["title"]) for i in items if i.get("kind") == "window"}
            self._choices = window_choices(found, already, own_title)
        else:
            self._monitor_sizes = {int(m["index"]): f"{m.get('width')}×{m.get('height')}" for m in found
                                   if isinstance(m.get("index"), int)}
            already_monitors = {int(i["monitor"]) for i in items if i.get("kind") == "monitor"}
            self._choices = monitor_choices(found, already_monitors, words)
        for choice in self._choices:
            self._picker_list.insert("end", choice.label)
        if self._choices:
            self._picker_note.configure(text=words.picker_window_title if kind == "window"
                                        else words.picker_monitor_title)
            self._picker_list.focus_set()
        else:
            self._picker_note.configure(text=words.picker_empty_windows if kind == "window"
                                        else words.picker_empty_monitors)
        self.refresh()

    def hide_chosen(self) -> None:
        """Hide what is selected in the picker, tell the customer, journal it, close the picker."""
        if self._picker is None or not self._enabled:
            return
        selection: tuple[int, ...] = self._picker_list.curselection()  # type: ignore[no-untyped-call]
        hidden = self._hidden()
        if not selection or selection[0] >= len(self._choices) or hidden is None:
            return
        choice = self._choices[selection[0]]
        if choice.kind == "window":
            hidden.add_window(choice.title)
            self.context.note(self.words.window_hidden.format(title=choice.label))
        else:
            hidden.add_monitor(choice.monitor)
            self.context.note(self.words.monitor_hidden.format(index=choice.monitor))
        self.context.changed(f"hide_{choice.kind}")
        self.close_picker()
        self.refresh()

    def close_picker(self) -> None:
        picker, self._picker = self._picker, None
        if picker is not None:
            picker.destroy()
