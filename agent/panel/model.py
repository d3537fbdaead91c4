"""What the customer window shows, as plain data, and the queue that carries it.

The agent calls the panel from its asyncio thread, but only the UI thread may
touch widgets.  So every call becomes an immutable event, posted to an
:class:`Inbox` from any thread; the UI thread drains the inbox, applies each
event to a :class:`PanelState` and then draws.  Nothing here imports Tk, so the
queueing and the state are tested without a display.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

#: Activity lines kept in memory for the window; the journal on disk keeps all of them.
MAX_ACTIVITY_LINES = 10_000

T = TypeVar("T")


def format_code(code: str) -> str:
    """Return a session code grouped for reading aloud: ``"123456789"`` → ``"123 456 789"``.

    Spaces in *code* are ignored; a code of digits whose length is a multiple of
    three is grouped by three, anything else is returned stripped, unchanged.

    Raises:
        ValueError: *code* is empty or blank (a bug in the caller; there is nothing to show).
    """
    compact = "".join(code.split())
    if not compact:
        raise ValueError("empty session code")
    if compact.isdigit() and len(compact) % 3 == 0:
        return " ".join(compact[i : i + 3] for i in range(0, len(compact), 3))
    return code.strip()


# Characters that could forge a line or disguise a name: line breaks and other controls
# (a file name may hold "\nsession code: 111 111 111", or terminal escapes), and the
# bidirectional overrides that display "txt.exe" backwards.
_FORGERY = {c: " " for c in (*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0), 0x2028, 0x2029)}
_FORGERY.update({c: "\N{REPLACEMENT CHARACTER}" for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))})


def one_line(text: str) -> str:
    """*text* made safe to show as one line: control characters become spaces, and
    bidirectional overrides a visible replacement mark."""
    return text.translate(_FORGERY)


def clock(now: dt.datetime | None = None) -> str:
    """The local time as ``HH:MM:SS`` (now, or *now* when given)."""
    return (now or dt.datetime.now()).strftime("%H:%M:%S")


# -- events: one per thread-safe panel method -----------------------------------------


@dataclass(frozen=True)
class CodeShown:
    code: str  # already formatted by format_code


@dataclass(frozen=True)
class Connected:
    technician: str
    session_id: str


@dataclass(frozen=True)
class ActivityAdded:
    time: str  # HH:MM:SS, taken when the agent called add_activity, not when drawn
    line: str


@dataclass(frozen=True)
class ActivityUpdated:
    """The words of the line *key* changed (a transfer's progress); a line not seen yet is added."""

    key: str
    time: str  # used only when the line is new
    line: str


@dataclass(frozen=True)
class StatusShown:
    text: str


@dataclass(frozen=True)
class PlaybookShown:
    """A playbook's progress, one persistent line (the window words it in its language)."""

    name: str
    step: int
    total: int
    title: str
    state: str


@dataclass(frozen=True)
class EndedShown:
    reason: str


@dataclass(frozen=True)
class RetentionShown:
    """How long the support service keeps each class of the session's records (R7), from the relay."""

    periods: tuple[tuple[str, str], ...]  # (data class, period such as "90d" or "forever")


@dataclass(frozen=True)
class CloseRequested:
    pass


@dataclass(frozen=True)
class CallRequested:
    """Run *function* on the UI thread (for sections that need it)."""

    function: Callable[[], None]


PanelEvent = (CodeShown | Connected | ActivityAdded | ActivityUpdated | StatusShown | EndedShown | RetentionShown
              | CloseRequested | CallRequested | PlaybookShown)


class Inbox(Generic[T]):
    """A thread-safe FIFO of events, drained by the UI thread.

    :meth:`post` never blocks and never touches the UI.  After :meth:`close`,
    posts are dropped (the window is gone; nobody would drain them) and
    :meth:`post` returns False.
    """

    def __init__(self) -> None:
        self._items: deque[T] = deque()
        self._lock = threading.Lock()
        self._closed = False

    def post(self, item: T) -> bool:
        """Queue *item*; return False (and drop it) when the inbox is closed."""
        with self._lock:
            if self._closed:
                return False
            self._items.append(item)
            return True

    def drain(self, limit: int | None = None) -> list[T]:
        """Take up to *limit* items (all when None), oldest first."""
        with self._lock:
            count = len(self._items) if limit is None else min(limit, len(self._items))
            return [self._items.popleft() for _ in range(count)]

    def close(self) -> list[T]:
        """Refuse further posts and return what was still queued."""
        with self._lock:
            self._closed = True
            left = list(self._items)
            self._items.clear()
            return left

    @property
    def closed(self) -> bool:
        return self._closed

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)


@dataclass
class PanelState:
    """What the customer should be seeing, updated only on the UI thread."""

    code: str | None = None
    technician: str | None = None
    session_id: str | None = None
    status: str = ""
    #: the playbook the technician runs, as last announced
    playbook: PlaybookShown | None = None
    ended: str | None = None  # the reason, once the session is over
    #: the newest MAX_ACTIVITY_LINES lines, as (HH:MM:SS, line)
    activity: deque[tuple[str, str]] = field(default_factory=lambda: deque(maxlen=MAX_ACTIVITY_LINES))
    #: how many lines were ever added (the deque forgets the oldest)
    activity_total: int = 0
    #: the lines that can be updated in place: key → the line's number (0-based, counted like activity_total)
    keyed: dict[str, int] = field(default_factory=dict)
    #: lines updated in place since the window last drew them: their numbers
    changed: set[int] = field(default_factory=set)

    def line(self, number: int) -> tuple[str, str] | None:
        """Line *number* (0-based, as counted by activity_total), or None when forgotten."""
        index = number - (self.activity_total - len(self.activity))
        return self.activity[index] if 0 <= index < len(self.activity) else None

    @property
    def latest(self) -> str | None:
        """The newest line's words, or None."""
        return self.activity[-1][1] if self.activity else None

    def activity_since(self, total: int) -> list[tuple[str, str]]:
        """The lines added after the first *total* ones (those still kept)."""
        count = min(self.activity_total - total, len(self.activity))
        return [self.activity[i] for i in range(len(self.activity) - count, len(self.activity))]

    @property
    def recorded(self) -> bool:
        """Whether the core said the session is recorded (its status lines say so: agent.app.RECORDED_STATUS)."""
        return "This session is recorded." in self.status

    @property
    def phase(self) -> str:
        """One of ``waiting_code``, ``waiting_technician``, ``connected``, ``ended``."""
        if self.ended is not None:
            return "ended"
        if self.technician is not None:
            return "connected"
        if self.code is not None:
            return "waiting_technician"
        return "waiting_code"

    def apply(self, event: PanelEvent) -> None:
        """Record *event*.  Nothing changes after the session ended, except that a
        late activity line is still kept: the customer must see every action (C2)."""
        if isinstance(event, ActivityAdded):
            self.activity.append((event.time, event.line))
            self.activity_total += 1
            return
        if isinstance(event, ActivityUpdated):
            number = self.keyed.get(event.key)
            index = -1 if number is None else number - (self.activity_total - len(self.activity))
            if number is None or not 0 <= index < len(self.activity):  # new, or forgotten already: add it
                self.keyed[event.key] = self.activity_total
                self.activity.append((event.time, event.line))
                self.activity_total += 1
                while len(self.keyed) > MAX_ACTIVITY_LINES:
                    self.keyed.pop(next(iter(self.keyed)))
            else:
                self.activity[index] = (self.activity[index][0], event.line)
                self.changed.add(number)
            return
        if self.ended is not None:
            return
        if isinstance(event, CodeShown):
            self.code = event.code
        elif isinstance(event, Connected):
            self.technician, self.session_id = event.technician, event.session_id
        elif isinstance(event, StatusShown):
            self.status = event.text
        elif isinstance(event, PlaybookShown):
            self.playbook = event
        elif isinstance(event, EndedShown):
            self.ended = event.reason
