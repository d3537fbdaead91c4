"""The agent's annotation service: marks from viewers and notebook cells onto the customer's screen.

:class:`AnnotationService` owns the marks (:class:`~agent.annotate.model.MarkSet`, touched only
on the event loop) and the overlay (:mod:`agent.annotate.overlay`, driven from a worker thread).
Every change is journaled (``annotate`` records), told to the customer in plain words, drawn,
and then announced to viewers as ``screen.marks``.  A laser is different: it fades by itself,
so each *burst* of laser marks is told once and journaled as one record when it ends.

Drawing is coalesced: while the overlay draws, further changes only bump a generation number,
and the next drawing shows the newest state (never a queue of stale pictures).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Final

from agent.annotate.base import NullOverlay, Overlay, OverlayError
from agent.annotate.model import (
    CLEARED_WORDS,
    LISTED_WORDS,
    REMOVED_WORDS,
    Mark,
    MarkSet,
    describe_add,
    describe_mark,
    parse_mark,
)
from agent.annotate.overlay import open_overlay
from agent.dispatch import CallContext, Method, SendEvent
from agent.panel.catalogue import say
from agent.params import get_str
from agent.screen.hidden import Rect
from wire.errors import NotFound, Unavailable, WorkbenchError

log = logging.getLogger(__name__)

OverlayFactory = Callable[["str | None"], Overlay]

#: Laser marks closer together than this belong to one burst: told once, journaled once.
LASER_BURST_GAP_SECONDS: Final = 2.0
#: How long a notebook call waits for its mark to be drawn.
CALL_TIMEOUT_SECONDS: Final = 30.0
NOT_SHOWN_WORDS: Final = say("annotate.not_shown")


@dataclass
class _LaserBurst:
    count: int
    bounds: Rect
    source: str
    viewer_id: str | None
    flush: asyncio.TimerHandle | None = None


class AnnotationService:
    """Marks on the customer's screen (T5), shown to the customer on screen and in words (C2).

    *send_event* sends an event to the viewers (``screen.marks``); *tell_customer* adds a line
    to the customer's window; *journal_append* is :meth:`wire.chain.Journal.append`; *display*
    is the X display (None: ``$DISPLAY``).  *permitted*, when given, says whether the customer
    allows annotations now (viewer events are refused otherwise; methods are checked by the
    dispatcher).  *overlay_factory* makes the overlay (tests pass a fake).
    """

    def __init__(self, send_event: SendEvent, tell_customer: Callable[[str], None],
                 journal_append: Callable[..., dict[str, Any]], display: str | None, *,
                 permitted: Callable[[], bool] | None = None, overlay_factory: OverlayFactory = open_overlay,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._send_event = send_event
        self._tell_customer = tell_customer
        self._journal_append = journal_append
        self._display = display
        self._permitted = permitted or (lambda: True)
        self._overlay_factory = overlay_factory
        self._clock = clock
        self._overlay: Overlay = NullOverlay("not started")
        self._marks = MarkSet()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._running = False
        self._generation = 0
        self._shown_generation = 0
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._drawer: asyncio.Task[None] | None = None
        self._fade_timer: asyncio.TimerHandle | None = None
        self._burst: _LaserBurst | None = None
        self._published: str | None = None
        #: When the overlay last finished drawing, ms since the epoch (frames captured since show it).
        self._shown_at: float | None = None
        self.METHODS: list[Method] = [
            Method("annotate.add", self._add, "annotate", describe_add),
            Method("annotate.remove", self._remove, "annotate", lambda params: REMOVED_WORDS),
            Method("annotate.clear", self._clear, "annotate", lambda params: CLEARED_WORDS),
            Method("annotate.list", self._list, "annotate", lambda params: LISTED_WORDS),
        ]

    @property
    def overlay(self) -> Overlay:
        return self._overlay

    # Life cycle.

    async def start(self) -> None:
        """Open the overlay (a null one where the screen cannot show marks)."""
        if self._running:
            return
        self._loop = asyncio.get_running_loop()
        self._overlay = await asyncio.to_thread(self._overlay_factory, self._display)
        self._running = True
        if isinstance(self._overlay, NullOverlay):
            log.info("marks are not drawn on this screen: %s", self._overlay.reason)

    async def stop(self) -> None:
        """Remove every mark and close the overlay; safe to call twice, and before :meth:`start`."""
        self._running = False
        if self._fade_timer is not None:
            self._fade_timer.cancel()
            self._fade_timer = None
        self._flush_burst()
        removed = self._marks.clear()
        if removed:
            self._journal("clear", source="agent", count=len(removed), words="the session ended: marks removed")
        if self._drawer is not None:
            with contextlib.suppress(Exception):
                await self._drawer
            self._drawer = None
        overlay, self._overlay = self._overlay, NullOverlay("stopped")
        await asyncio.to_thread(overlay.close)
        for _, waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._waiters.clear()

    def clear_from_customer(self) -> None:
        """Thread-safe: the customer removes every mark (a button in their window); journaled as theirs."""
        loop = self._loop
        if loop is not None and self._running:
            with contextlib.suppress(RuntimeError):  # the loop is closing: stop() removes them anyway
                loop.call_soon_threadsafe(self._clear_marks, "customer", None)

    # Viewer events (forwarded by the relay, with body.viewer_id).

    async def on_event(self, name: str, body: dict[str, Any]) -> None:
        """Handle ``annotate.mark``, ``annotate.remove``, ``annotate.clear`` (and ``relay.viewers``).

        Never raises, and never waits for drawing: a bad event is refused to the viewers with a
        ``screen.marks`` carrying ``refused``, and the session goes on.
        """
        if not self._running:
            return
        viewer_id = body.get("viewer_id") if isinstance(body.get("viewer_id"), str) else None
        if name == "relay.viewers":
            if isinstance(body.get("count"), int) and body["count"] > 0:
                self._published = None  # a new viewer gets the marks as they stand
                await self._publish()
            return
        raw_id = body.get("mark", {}).get("id") if isinstance(body.get("mark"), dict) else body.get("id")
        try:
            if not self._permitted():
                raise WorkbenchError("the customer does not allow drawing on their screen")
            if name == "annotate.mark":
                self._add_mark(parse_mark(body.get("mark")), "viewer", viewer_id)
            elif name == "annotate.remove":
                mark_id = get_str(body, "id", max_length=64)
                if self._remove_mark(mark_id, "viewer", viewer_id) is None:
                    return  # already gone (a laser that faded, another viewer's clear)
            elif name == "annotate.clear":
                self._clear_marks("viewer", viewer_id)
            else:
                log.debug("annotation service ignores event %s", name)
        except WorkbenchError as err:
            log.info("refused %s from viewer %s: %s", name, viewer_id, err.message)
            await self._publish(refused={"id": raw_id if isinstance(raw_id, str) else None,
                                         "message": err.message})

    # Methods (run by the dispatcher in its worker threads; the marks live on the loop).

    def _add(self, context: CallContext) -> dict[str, Any]:
        """``annotate.add {mark}`` → ``{"id"}`` once the mark is on screen; raises BadParams."""
        mark = parse_mark(context.params.get("mark"))
        self._on_loop(self._add_and_draw(mark))
        context.journal_details.update(id=mark.id, tool=mark.tool)
        return {"id": mark.id}

    def _remove(self, context: CallContext) -> dict[str, Any]:
        """``annotate.remove {id}``; raises NotFound when no such mark is on screen."""
        mark_id = get_str(context.params, "id", max_length=64)
        self._on_loop(self._remove_and_draw(mark_id))
        return {"id": mark_id}

    def _clear(self, context: CallContext) -> dict[str, Any]:
        """``annotate.clear`` → ``{"removed": n}``."""
        return {"removed": self._on_loop(self._clear_and_draw())}

    def _list(self, context: CallContext) -> dict[str, Any]:
        """``annotate.list`` → ``{"marks": [...], "overlay": backend}``."""
        listing: dict[str, Any] = self._on_loop(self._listing())
        return listing

    def _on_loop(self, work: Coroutine[Any, Any, Any]) -> Any:
        loop = self._loop
        if loop is None or not self._running:
            work.close()
            raise Unavailable("annotations are not available now")
        return asyncio.run_coroutine_threadsafe(work, loop).result(CALL_TIMEOUT_SECONDS)

    async def _add_and_draw(self, mark: Mark) -> None:
        await self._drawn(self._add_mark(mark, "notebook", None))

    async def _remove_and_draw(self, mark_id: str) -> None:
        generation = self._remove_mark(mark_id, "notebook", None)
        if generation is None:
            raise NotFound(f"no mark {mark_id!r} on the screen", id=mark_id)
        await self._drawn(generation)

    async def _clear_and_draw(self) -> int:
        generation, count = self._clear_marks("notebook", None)
        await self._drawn(generation)
        return count

    async def _listing(self) -> dict[str, Any]:
        return {"marks": self._marks.to_wire(), "overlay": self._overlay.name}

    # Changes (on the loop).  Each returns the generation that shows it.

    def _add_mark(self, mark: Mark, source: str, viewer_id: str | None) -> int:
        now = self._clock()
        self._marks.expire(now)
        self._marks.add(mark, now)
        if mark.tool == "laser":
            self._note_laser(mark, source, viewer_id)
        else:
            words = describe_mark(mark)
            bounds = mark.bounds()
            self._journal("add", source, viewer_id, id=mark.id, tool=mark.tool, colour=mark.colour,
                          width=mark.width, points=len(mark.points), text=mark.text or None,
                          bounds=[bounds.x, bounds.y, bounds.w, bounds.h], words=words)
            if source == "viewer":  # the dispatcher tells the customer of calls
                self._tell_customer(words)
        return self._changed()

    def _remove_mark(self, mark_id: str, source: str, viewer_id: str | None) -> int | None:
        mark = self._marks.remove(mark_id)
        if mark is None:
            return None
        if mark.tool != "laser":
            self._journal("remove", source, viewer_id, id=mark.id, tool=mark.tool, words=REMOVED_WORDS)
            if source == "viewer":
                self._tell_customer(REMOVED_WORDS)
        return self._changed()

    def _clear_marks(self, source: str, viewer_id: str | None) -> tuple[int, int]:
        removed = self._marks.clear()
        if removed:
            self._journal("clear", source, viewer_id, count=len(removed),
                          words=CLEARED_WORDS if source != "customer" else "the customer removed the marks")
            if source == "viewer":
                self._tell_customer(CLEARED_WORDS)
            elif source == "customer":
                self._tell_customer(say("annotate.customer_removed"))
        return self._changed(), len(removed)

    def _note_laser(self, mark: Mark, source: str, viewer_id: str | None) -> None:
        burst = self._burst
        if burst is None or (burst.source, burst.viewer_id) != (source, viewer_id):
            self._flush_burst()
            burst = self._burst = _LaserBurst(0, mark.bounds(), source, viewer_id)
            if source == "viewer":
                self._tell_customer(describe_mark(mark))
        burst.count += 1
        burst.bounds = burst.bounds.union(mark.bounds())
        if burst.flush is not None:
            burst.flush.cancel()
        if self._loop is not None:
            burst.flush = self._loop.call_later(LASER_BURST_GAP_SECONDS, self._flush_burst)

    def _flush_burst(self) -> None:
        burst, self._burst = self._burst, None
        if burst is None:
            return
        if burst.flush is not None:
            burst.flush.cancel()
        bounds = burst.bounds
        self._journal("point", burst.source, burst.viewer_id, tool="laser", count=burst.count,
                      bounds=[bounds.x, bounds.y, bounds.w, bounds.h],
                      words="The technician pointed at something on your screen")

    def _journal(self, action: str, source: str, viewer_id: str | None = None, **fields: Any) -> None:
        record = {"action": action, "by": source, **({"viewer_id": viewer_id} if viewer_id else {}),
                  **{k: v for k, v in fields.items() if v is not None}}
        try:
            self._journal_append("annotate", **record)
        except Exception:  # the journal's own failure is reported by the journal; marks go on
            log.exception("could not journal a mark")

    # Drawing (the overlay is driven from a worker thread; the newest state wins).

    def _changed(self) -> int:
        self._generation += 1
        if self._running and (self._drawer is None or self._drawer.done()) and self._loop is not None:
            self._drawer = self._loop.create_task(self._draw(), name="annotate-draw")
        return self._generation

    async def _drawn(self, generation: int) -> None:
        """Wait until the overlay shows *generation* (or a newer one)."""
        if self._shown_generation >= generation or not self._running:
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((generation, waiter))
        await waiter

    async def _draw(self) -> None:
        while self._shown_generation < self._generation:
            generation = self._generation
            now = self._clock()
            self._marks.expire(now)
            try:
                await asyncio.to_thread(self._overlay.show, self._marks.shown(now))
            except OverlayError as err:
                log.warning("marks cannot be drawn: %s", err)
                broken, self._overlay = self._overlay, NullOverlay(str(err))
                await asyncio.to_thread(broken.close)
                self._tell_customer(NOT_SHOWN_WORDS)
            self._shown_generation = generation
            self._shown_at = round(time.time() * 1000, 1)
            still_waiting = []
            for wanted, waiter in self._waiters:
                if wanted <= generation:
                    if not waiter.done():
                        waiter.set_result(None)
                else:
                    still_waiting.append((wanted, waiter))
            self._waiters = still_waiting
            await self._publish()
        self._schedule_fade()

    def _schedule_fade(self) -> None:
        if self._fade_timer is not None:
            self._fade_timer.cancel()
            self._fade_timer = None
        wait = self._marks.next_change(self._clock())
        if wait is not None and self._running and self._loop is not None:
            self._fade_timer = self._loop.call_later(wait + 0.01, self._changed)

    async def _publish(self, refused: dict[str, Any] | None = None) -> None:
        """Send ``screen.marks`` to the viewers when the marks changed (or to say a mark was refused).

        ``shown_at`` is when the overlay last finished drawing (ms since the epoch, the clock of
        the frames' ``captured_at``): a frame captured since shows these marks, so the widget
        can drop its previews once it has drawn one.
        """
        body: dict[str, Any] = {"marks": self._marks.to_wire(), "overlay": self._overlay.name}
        key = json.dumps(body, sort_keys=True)
        if refused is None and key == self._published:
            return
        self._published = key
        body["shown_at"] = self._shown_at
        if refused is not None:
            body["refused"] = refused
        try:
            await self._send_event("screen.marks", body, None)
        except Exception:  # a lost link: the next change or viewer sends the state again
            log.warning("sending screen.marks failed", exc_info=True)
