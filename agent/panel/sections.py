"""The customer's own controls in the session window, one section each.

A section is a small object that builds its widgets once, refreshes them from
the live :class:`agent.policy.Policy` about once a second, and is disabled
when the session ends.  The window lays sections out in order, so the later
ones (hidden screen regions, granting control) are one more class here and one
more entry in :data:`default_sections`.

Sections run on the UI thread only.  They change the policy through its
objects (``policy.forbidden_folders``…), which the agent's handlers read, and
tell the customer what they did through :attr:`SectionContext.note`.
"""

from __future__ import annotations

import logging
import os
import threading
import tkinter as tk
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from tkinter import filedialog, messagebox, ttk
from typing import TYPE_CHECKING, Protocol

from agent.panel.wording import Wording

if TYPE_CHECKING:
    from agent.policy import Policy

log = logging.getLogger(__name__)

ALLOWED_COLOUR = "#17692b"
NOT_ALLOWED_COLOUR = "#5a5a5a"


@dataclass(frozen=True)
class SectionContext:
    """What a section may use.  Everything here is for the UI thread."""

    root: tk.Tk
    policy: Policy
    wording: Wording
    #: add a line to the activity list (the customer's own actions, in plain words)
    note: Callable[[str], None]
    #: run a function on the UI thread; the one thing a section's worker thread may call
    call_soon: Callable[[Callable[[], None]], None]
    #: tell the agent core what the customer changed (``"forbid_folder"``, ``"unforbid_folder"``…),
    #: never which folder: the journal goes to the relay, and the technician may know only that a rule exists
    changed: Callable[[str], None]
    #: the customer grants (True) or takes back (False) control of their mouse and keyboard; the
    #: agent's control service flips ``policy.permissions.control`` and journals it.  None: no button.
    control: Callable[[bool], None] | None = None


class ForbiddenFoldersLike(Protocol):
    """What the window uses of :class:`agent.forbidden.ForbiddenFolders`."""

    def add(self, path: str) -> object: ...

    def remove(self, path: str) -> object: ...

    def describe(self) -> object: ...


class PanelSection(Protocol):
    #: the Tk widget name of the section's frame (tests find widgets by it)
    name: str

    def build(self, parent: tk.Misc, context: SectionContext) -> tk.Widget:
        """Create the section's widgets inside *parent* and return its frame."""
        ...

    def refresh(self) -> None:
        """Redraw from the live policy; cheap when nothing changed."""
        ...

    def set_enabled(self, enabled: bool) -> None:
        """Enable or disable the section's controls (disabled once the session ended)."""
        ...


def plain_error(error: BaseException) -> str:
    """A short sentence for *error*, without a traceback."""
    message = getattr(error, "message", None)  # WorkbenchError carries a clean message
    if isinstance(message, str) and message:
        return message
    if isinstance(error, OSError) and error.strerror:
        return f"{error.strerror}: {error.filename}" if error.filename else error.strerror
    return str(error) or type(error).__name__


def folder_entries(described: object) -> list[tuple[str, str]]:
    """``(label, path)`` pairs from whatever ``ForbiddenFolders.describe()`` returns.

    Accepted shapes: an iterable of paths (``str`` or path-like) or of mappings
    with a ``"path"`` key; a single string with one folder per line.  The path
    is what :meth:`remove` receives back.
    """
    if described is None:
        return []
    items: Iterable[object]
    if isinstance(described, str):
        items = [line for line in described.splitlines() if line.strip()]
    elif isinstance(described, Iterable):
        items = described
    else:
        items = [described]
    entries: list[tuple[str, str]] = []
    for item in items:
        if isinstance(item, Mapping):
            path = str(item.get("path", item.get("folder", item)))
        elif isinstance(item, (str, os.PathLike)):
            path = str(os.fspath(item))
        else:
            path = str(item)
        entries.append((path, path))
    return entries


class ForbiddenFoldersSection:
    """C3: the folders the technician may never open; add with a folder picker, remove."""

    name = "forbidden"

    def __init__(self) -> None:
        self._context: SectionContext | None = None
        self._entries: list[tuple[str, str]] = []
        self._enabled = True
        self._busy = False  # a folder is being added or removed

    @property
    def context(self) -> SectionContext:
        if self._context is None:
            raise RuntimeError("section used before build()")
        return self._context

    def build(self, parent: tk.Misc, context: SectionContext) -> tk.Widget:
        self._context = context
        words = context.wording
        frame = ttk.LabelFrame(parent, name=self.name, text=words.forbidden_caption, padding=8)
        frame.columnconfigure(0, weight=1)
        self._list = tk.Listbox(frame, name="list", height=4, activestyle="none", exportselection=False, width=36)
        scroll = ttk.Scrollbar(frame, orient="vertical", command=self._list.yview)
        self._list.configure(yscrollcommand=scroll.set)
        self._list.grid(row=0, column=0, columnspan=2, sticky="nsew")
        scroll.grid(row=0, column=2, sticky="ns")
        self._add = ttk.Button(frame, name="add", text=words.forbidden_add, command=self.add_folder)
        self._remove = ttk.Button(frame, name="remove", text=words.forbidden_remove, command=self.remove_selected)
        self._add.grid(row=1, column=0, sticky="w", pady=(6, 0))
        self._remove.grid(row=1, column=1, columnspan=2, sticky="e", pady=(6, 0))
        self._hint = ttk.Label(frame, name="hint", text=words.forbidden_hint, wraplength=400)
        self._hint.grid(row=2, column=0, columnspan=3, sticky="w", pady=(6, 0))
        self._list.bind("<<ListboxSelect>>", lambda _event: self._update_buttons())
        self.refresh()
        return frame

    def _folders(self) -> ForbiddenFoldersLike | None:
        folders: ForbiddenFoldersLike | None = self.context.policy.forbidden_folders
        return folders

    def refresh(self) -> None:
        folders = self._folders()
        if folders is None:
            self._hint.configure(text=self.context.wording.forbidden_unavailable)
            entries: list[tuple[str, str]] = []
        else:
            if not self._busy:
                self._hint.configure(text=self.context.wording.forbidden_hint)
            try:
                entries = folder_entries(folders.describe())
            except Exception:  # a bug in the rule's description must not take the window down
                log.exception("forbidden_folders.describe() failed")
                entries = self._entries
        if entries != self._entries:
            self._entries = entries
            self._list.delete(0, "end")
            for label, _path in entries:
                self._list.insert("end", label)
            if not entries:
                self._list.insert("end", self.context.wording.forbidden_none)
        self._update_buttons()

    def _update_buttons(self) -> None:
        usable = self._enabled and not self._busy and self._folders() is not None
        self._add.state(["!disabled"] if usable else ["disabled"])
        selected = bool(self._selection()) and bool(self._entries)
        self._remove.state(["!disabled"] if usable and selected else ["disabled"])

    def _selection(self) -> tuple[int, ...]:
        selection: tuple[int, ...] = self._list.curselection()  # type: ignore[no-untyped-call]  # untyped in typeshed
        return selection

    def set_enabled(self, enabled: bool) -> None:
        self._enabled = enabled
        self._list.configure(state="normal" if enabled else "disabled")
        self._update_buttons()

    def _in_background(self, work: Callable[[], object], done: Callable[[BaseException | None], None]) -> None:
        """Run *work* in a thread (protecting a big folder indexes it: seconds), then *done* on the UI thread."""
        self._busy = True
        self._update_buttons()

        def worker() -> None:
            error: BaseException | None = None
            try:
                work()
            except Exception as err:  # shown to the customer; the window stays up
                error = err
            self.context.call_soon(lambda: self._finish(done, error))

        threading.Thread(target=worker, name="forbidden-folders", daemon=True).start()

    def _finish(self, done: Callable[[BaseException | None], None], error: BaseException | None) -> None:
        self._busy = False
        done(error)
        self.refresh()

    def add_folder(self) -> None:
        """Ask for a folder with the system's picker, and protect it."""
        folders, words = self._folders(), self.context.wording
        if folders is None or not self._enabled or self._busy:
            return
        chosen = filedialog.askdirectory(parent=self.context.root, title=words.forbidden_pick_title, mustexist=True)
        if not chosen:  # cancelled: "" (or () on some platforms)
            return
        path = str(chosen)
        self._hint.configure(text=words.forbidden_working)

        def done(error: BaseException | None) -> None:
            if error is not None:
                log.info("could not protect %s: %s", path, error)
                messagebox.showerror(
                    words.forbidden_caption,
                    words.forbidden_add_failed.format(error=plain_error(error)),
                    parent=self.context.root,
                )
                return
            self.context.note(words.forbidden_added.format(path=path))
            self.context.changed("forbid_folder")

        self._in_background(lambda: folders.add(path), done)

    def remove_selected(self) -> None:
        """Remove the protection of the selected folder, once the customer confirms."""
        folders, words = self._folders(), self.context.wording
        selection = self._selection()
        if folders is None or not self._enabled or self._busy or not selection or not self._entries:
            return
        label, path = self._entries[selection[0]]
        if not messagebox.askyesno(
            words.forbidden_caption, words.forbidden_confirm_remove.format(path=label), parent=self.context.root
        ):
            return

        def done(error: BaseException | None) -> None:
            if error is not None:
                log.info("could not unprotect %s: %s", path, error)
                messagebox.showerror(
                    words.forbidden_caption,
                    words.forbidden_remove_failed.format(error=plain_error(error)),
                    parent=self.context.root,
                )
                return
            self.context.note(words.forbidden_removed.format(path=label))
            self.context.changed("unforbid_folder")

        self._in_background(lambda: folders.remove(path), done)


class PermissionsSection:
    """What the customer allows, as it stands (``policy.permissions``), and the control button.

    The button (when the window has a ``control`` callback) lets the technician use
    the mouse and keyboard, or takes control back; the agent's control service
    flips ``policy.permissions.control``, so the window shows whatever decided it
    last: this button, the take-back hotkey, or ``--allow-control``.
    """

    name = "permissions"

    def __init__(self) -> None:
        self._context: SectionContext | None = None
        self._shown: dict[str, bool] = {}
        self._rows: dict[str, tuple[ttk.Label, ttk.Label]] = {}
        self._button: ttk.Button | None = None
        self._hint: ttk.Label | None = None
        self._enabled = True

    def build(self, parent: tk.Misc, context: SectionContext) -> tk.Widget:
        self._context = context
        self._frame = ttk.LabelFrame(parent, name=self.name, text=context.wording.permissions_caption, padding=8)
        self._frame.columnconfigure(0, weight=1)
        if context.control is not None:
            self._button = ttk.Button(self._frame, name="control_button", command=self.toggle_control)
            self._button.grid(row=100, column=0, columnspan=2, sticky="ew", pady=(8, 0))
            self._hint = ttk.Label(self._frame, name="control_hint", wraplength=400, style="Muted.TLabel")
            self._hint.grid(row=101, column=0, columnspan=2, sticky="w", pady=(4, 0))
        self.refresh()
        return self._frame

    def toggle_control(self) -> None:
        """The button: grant control when it is not granted, take it back when it is."""
        context = self._context
        if context is None or context.control is None or not self._enabled:
            return
        try:
            context.control(not context.policy.permissions.control)
        except Exception:  # the window stays up; the state shown is the policy's
            log.exception("the control callback failed")
        self.refresh()

    def refresh(self) -> None:
        if self._context is None:
            return
        words = self._context.wording
        permissions = self._context.policy.permissions.to_dict()
        if permissions == self._shown:
            return
        for power, allowed in permissions.items():
            if power not in self._rows:
                row = len(self._rows)
                what = ttk.Label(
                    self._frame, name=f"{power}_what", text=words.powers.get(power, power.replace("_", " "))
                )
                answer = ttk.Label(self._frame, name=power)
                what.grid(row=row, column=0, sticky="w")
                answer.grid(row=row, column=1, sticky="e", padx=(12, 0))
                self._rows[power] = (what, answer)
            self._rows[power][1].configure(
                text=words.allowed if allowed else words.not_allowed,
                foreground=ALLOWED_COLOUR if allowed else NOT_ALLOWED_COLOUR,
            )
        granted = bool(permissions.get("control"))
        if self._button is not None:
            self._button.configure(text=words.control_take_back if granted else words.control_grant)
        if self._hint is not None:
            self._hint.configure(text=words.control_hint_on if granted else words.control_hint_off)
        self._shown = dict(permissions)

    def set_enabled(self, enabled: bool) -> None:
        self._enabled = enabled
        if self._button is not None:
            self._button.state(["!disabled"] if enabled else ["disabled"])


def default_sections() -> list[PanelSection]:
    """The sections of the session window, top to bottom."""
    return [ForbiddenFoldersSection(), PermissionsSection()]
