"""The agent's method table, and the one place where exceptions become wire errors.

A handler module describes its methods with :class:`Method` and lists them in a
module-level ``METHODS``.  :class:`Dispatcher` runs each request in order:

1. look the method up (``unknown_method``), check that the customer allowed
   its permission (``not_granted``);
2. write a ``call`` record to the journal and sync it, and tell the customer in
   plain words (:attr:`Method.describe`);
3. run the handler (in a worker thread when it blocks);
4. write an ``outcome`` record (``ok`` or the error code) and sync it;
5. reply.  Any :class:`~wire.errors.WorkbenchError` becomes an ``error`` reply
   with its code; any other exception becomes ``internal``.  The session goes on.

The promise holds for every method, to the letter: nothing a call does happens
before its ``call`` record is on disk, and it is not answered before its
``outcome`` record is — two syncs, one after the other, even for a read.  (A read
whose ``call`` record overlapped its run was tried and left out: the customer is
promised that the call is written *before* it runs, and a journal is worth what
its promises are.)

The journal's syncs are awaited (:meth:`agent.journal.Journal.append_async`):
concurrent calls share one sync (group commit).  On a fast disk the loop writes
the batch itself on its next turn (no thread hop; frames wait ~0.15 ms); on a slow
one a writer thread does, and frames keep moving while a record goes to disk.

A request id seen before is answered from a small cache without running again,
so a request re-sent after a reconnect is never executed twice.  A request the
link could not decode but could still name (:class:`~wire.errors.TooDeep`) is
refused by :meth:`Dispatcher.refuse`: journaled as a call and its error, answered
by its id.  What the journal keeps of parameters and details is bounded in depth,
entries and text (:func:`summarize`), whatever the technician sent.

A request with ``"preview": true`` is a dry run (:mod:`agent.preview`): a method
that changes nothing runs as usual, a changing method runs its planner instead
(the outcome record says ``planned``, the reply is the plan), anything else is
refused with :class:`~wire.errors.PreviewUnsupported`.  Its call record carries
``preview: true`` and the customer reads "Preview — nothing was changed: …".
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.panel.catalogue import Said, say
from agent.preview.plan import Plan, Previews
from agent.preview.words import preview_words
from wire import protocol
from wire.errors import InternalError, NotGranted, PreviewUnsupported, UnknownMethod, WorkbenchError

if TYPE_CHECKING:
    from agent.journal import Journal
    from agent.policy import Policy

log = logging.getLogger(__name__)

#: How many answered requests are remembered for replays after a reconnect.
REPLAY_CACHE_SIZE = 256
#: Most reply payload kept for those replays (file chunks are up to 4 MiB each); a re-sent
#: request whose answer was dropped from the cache runs again, which the data-returning methods allow.
REPLAY_CACHE_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class Reply:
    """A handler result that carries binary data besides its JSON value."""

    value: Any
    data: bytes | None = None


@dataclass
class CallContext:
    """What a handler receives: the call, and the agent's state it may use."""

    method: str
    params: dict[str, Any]
    data: bytes | None
    policy: Policy
    state_dir: Path
    #: Handlers add facts for the outcome record here (content hashes, sizes).
    journal_details: dict[str, Any] = field(default_factory=dict)
    #: Set by the dispatcher: tells the customer something in plain words.
    tell_customer: Callable[[str], None] = lambda line: None
    #: A dry run: the handler is a planner, which checks and answers a :class:`Plan`, changing nothing.
    preview: bool = False


Handler = Callable[[CallContext], Any]

#: How a service sends an event to the viewers or the technician: name, body, optional bytes.
SendEvent = Callable[[str, dict[str, Any], "bytes | None"], Awaitable[None]]


@dataclass(frozen=True)
class Method:
    """One method the technician may call.

    ``permission`` names the power it needs (see :class:`agent.policy.Permissions`);
    ``describe`` turns the parameters into a plain sentence for the customer,
    e.g. ``"The technician read the file C:\\notes.txt"``; ``blocking`` handlers
    run in a worker thread so the event loop keeps moving frames and messages.
    ``journal_params`` says whether the parameters go into the journal as they
    are (set it to False for methods whose parameters carry bulk data).
    ``tell`` is False for the steps of an action the customer was already told
    about (a transfer's chunks, its close): they are journaled with their words
    like any call, but the customer's feed keeps the one line the action began
    with, instead of one line per chunk; a failed step is told.
    ``describe`` returns a :class:`agent.panel.catalogue.Said` (``say("files.read", path=…)``):
    the journal keeps its English words, the customer window says it in the customer's language.
    ``progress`` (optional) keeps an action's one line up to date: after each call it
    gets the parameters, the reply's value (None when the call failed) and the
    error (or None), and returns a :class:`Progress` saying which action the call
    belongs to and the line's new words (how far, done, failed, cancelled).
    """

    name: str
    handler: Handler
    permission: str
    describe: Callable[[dict[str, Any]], str]
    blocking: bool = True
    journal_params: bool = True
    tell: bool = True
    progress: Callable[[dict[str, Any], Any, WorkbenchError | None], Progress | None] | None = None


@dataclass(frozen=True)
class Progress:
    """How a call moved a long action on (a transfer), for its one line in the customer's feed.

    ``action`` names the action across its calls (e.g. ``download:<id>``); ``opens``: this call's
    own line becomes the action's line; ``words``: the line's new words (None: unchanged);
    ``ends``: the action is over (done, failed, cancelled), its line is not updated any more.
    """

    action: str
    words: str | None = None
    opens: bool = False
    ends: bool = False


def error_words(err: WorkbenchError) -> Said:
    """Why something did not happen, in the customer's words (by the error's code; the journal keeps the rest)."""
    try:
        return say(f"error.{err.code}")
    except KeyError:
        return say("error.error")


#: What the customer is told when their rule stopped the technician, by method family.
REFUSAL_WORDS = {
    "files": say("refused.files"),
    "registry": say("refused.registry"),
    "screen": say("refused.screen"),
    "": say("refused.other"),
}


class MethodTable:
    """Methods by name; built once at start-up from the handler modules."""

    def __init__(self, methods: Iterable[Method] = ()) -> None:
        self._methods: dict[str, Method] = {}
        for method in methods:
            self.add(method)

    def add(self, method: Method) -> None:
        """Register *method*; raises ValueError on a duplicate name."""
        if method.name in self._methods:
            raise ValueError(f"method {method.name!r} registered twice")
        self._methods[method.name] = method

    def get(self, name: str) -> Method:
        """Return the method called *name*; raises :class:`UnknownMethod`."""
        try:
            return self._methods[name]
        except KeyError:
            raise UnknownMethod(f"no method {name!r}") from None

    def names(self) -> list[str]:
        return sorted(self._methods)


#: What the journal keeps of a value: this many levels, entries per level, characters per text.
SUMMARY_DEPTH = 8
SUMMARY_ENTRIES = 64
SUMMARY_TEXT = 512


def summarize(value: Any, limit: int = SUMMARY_TEXT, depth: int = SUMMARY_DEPTH) -> Any:
    """Keep journal records small: long texts, long lists and objects, and deep nesting are cut, and say so.

    Recurses at most *depth* levels, so any value is safe to summarize.
    """
    if isinstance(value, str):
        return value if len(value) <= limit else value[:limit] + f"…(+{len(value) - limit} characters)"
    if isinstance(value, dict | list) and depth <= 0:
        return f"…({type(value).__name__} of {len(value)} nested deeper than {SUMMARY_DEPTH} levels)"
    if isinstance(value, dict):
        kept = {summarize(str(k), 128, 0): summarize(v, limit, depth - 1)
                for k, v in list(value.items())[:SUMMARY_ENTRIES]}
        if len(value) > SUMMARY_ENTRIES:
            kept["…"] = f"+{len(value) - SUMMARY_ENTRIES} entries"
        return kept
    if isinstance(value, list):
        items = [summarize(v, limit, depth - 1) for v in value[:SUMMARY_ENTRIES]]
        if len(value) > SUMMARY_ENTRIES:
            items.append(f"…(+{len(value) - SUMMARY_ENTRIES} items)")
        return items
    return value




class Dispatcher:
    """Runs requests against a :class:`MethodTable`, journaling each one."""

    def __init__(self, table: MethodTable, journal: Journal, policy: Policy, state_dir: Path,
                 tell_customer: Callable[[str], None], workers: int = 4,
                 previews: Previews | None = None,
                 update_customer: Callable[[str, str], None] | None = None) -> None:
        """*tell_customer* adds a line to the customer's feed; *update_customer* (optional) sets the
        words of the feed line with a key, adding it when new: a long action's one line, kept up to date."""
        self.table = table
        #: What a dry run does with each method; without it every dry run is refused.
        self.previews = previews if previews is not None else Previews()
        self.journal = journal
        self.policy = policy
        self.state_dir = state_dir
        self.tell_customer = tell_customer
        self.update_customer = update_customer
        #: the feed line of each long action under way (Progress.action → the line's key)
        self._action_lines: dict[str, str] = {}
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="agent-call")
        self._answered: OrderedDict[str, protocol.Message] = OrderedDict()
        self._answered_bytes = 0
        self._running: dict[str, asyncio.Future[protocol.Message]] = {}

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def handle(self, message: protocol.Message) -> protocol.Message:
        """Answer one ``request`` message with a ``response`` or ``error``; never raises."""
        request_id: str = message["id"]
        cached = self._answered.get(request_id)
        if cached is not None:
            return cached
        running = self._running.get(request_id)
        if running is not None:  # re-sent while still running: answer once it ends
            return await asyncio.shield(running)
        future: asyncio.Future[protocol.Message] = asyncio.get_running_loop().create_future()
        self._running[request_id] = future
        try:
            reply = await self._run(request_id, message["method"], message["params"], message.data,
                                    protocol.is_preview(message))
        finally:
            del self._running[request_id]
        future.set_result(reply)
        self._remember(request_id, reply)
        return reply

    def refuse(self, request_id: str, method: str, err: WorkbenchError) -> protocol.Message:
        """Answer a request that could be named but not read (*err*, e.g. TooDeep): journaled, never run.

        The journal gets a ``call`` record (its parameters omitted, since they could not be
        read) and an ``outcome`` record with the error's code; a repeat gets the same answer.
        """
        cached = self._answered.get(request_id)
        if cached is not None:
            return cached
        self.journal.append("call", request=request_id, method=summarize(method, 100),
                            params={"omitted": summarize(err.message)},
                            words="The technician sent a request this agent could not read; it was refused")
        reply = self._fail(request_id, method, err, time.monotonic())
        self._remember(request_id, reply)
        return reply

    def _remember(self, request_id: str, reply: protocol.Message) -> None:
        self._answered[request_id] = reply
        self._answered_bytes += len(reply.data or b"")
        while len(self._answered) > REPLAY_CACHE_SIZE or self._answered_bytes > REPLAY_CACHE_BYTES:
            _, dropped = self._answered.popitem(last=False)
            self._answered_bytes -= len(dropped.data or b"")

    async def _run(self, request_id: str, name: str, params: dict[str, Any], data: bytes | None,
                   preview: bool = False) -> protocol.Message:
        started = time.monotonic()
        method: Method | None = None
        marks = {"preview": True} if preview else {}
        try:
            method = self.table.get(name)
        except UnknownMethod as err:
            await self.journal.append_async("call", request=request_id, method=summarize(name, 100),
                                            params=summarize(params), **marks,
                                            words="The technician asked for something this agent does not do")
            return await self._fail_async(request_id, name, err, started)
        mode = self.previews.mode(name) if preview else "run"
        words = self._describe(method, params)
        if mode == "plan":
            words = preview_words(words)
        told = False
        await self.journal.append_async("call", request=request_id, method=name,
                                        params=summarize(params) if method.journal_params else {"omitted": True},
                                        data_bytes=len(data) if data is not None else None, words=words, **marks)
        try:
            if not self.policy.permissions.allows(method.permission):
                raise NotGranted(f"the customer has not allowed {method.permission}", permission=method.permission)
            if mode == "refuse":
                raise PreviewUnsupported(f"{name} cannot be previewed: in a dry run it is refused, not run",
                                         method=name)
            if method.tell:
                if method.progress is not None and self.update_customer is not None:
                    self.update_customer(f"call:{request_id}", words)
                else:
                    self.tell_customer(words)
                told = True
            context = CallContext(name, params, data, self.policy, self.state_dir, tell_customer=self.tell_customer,
                                  preview=mode == "plan")
            handler = self.previews.planners[name] if mode == "plan" else method.handler
            if method.blocking:
                loop = asyncio.get_running_loop()
                result = await loop.run_in_executor(self._pool, handler, context)
            else:
                result = handler(context)
            if mode == "plan" and not isinstance(result, Plan):
                raise InternalError(f"the planner of {name} answered no plan")
        except WorkbenchError as err:
            if self._progress(method, request_id, params, None, err):  # its line says it failed
                return await self._fail_async(request_id, name, err, started)
            return await self._fail_async(request_id, name, err, started, told, None if method.tell else words)
        except Exception as err:  # the one place where any failure becomes a wire error
            log.exception("handler %s failed", name)
            failure = InternalError(f"{type(err).__name__}: {err}")
            if self._progress(method, request_id, params, None, failure):
                return await self._fail_async(request_id, name, failure, started)
            return await self._fail_async(request_id, name, failure, started, told, None if method.tell else words)
        if isinstance(result, Plan):
            await self.journal.append_async("outcome", request=request_id, method=name, outcome="planned",
                                            duration_ms=round((time.monotonic() - started) * 1000, 3),
                                            summary=summarize(result.summary), **summarize(context.journal_details))
            return protocol.response(request_id, result.to_wire())
        reply = result if isinstance(result, Reply) else Reply(result)
        self._progress(method, request_id, params, reply.value, None)
        await self.journal.append_async("outcome", **self._success_record(name, request_id, context, reply, started))
        return protocol.response(request_id, reply.value, reply.data)

    @staticmethod
    def _success_record(name: str, request_id: str, context: CallContext, reply: Reply,
                        started: float) -> dict[str, Any]:
        return {"request": request_id, "method": name, "outcome": "ok",
                "duration_ms": round((time.monotonic() - started) * 1000, 3),
                "data_bytes": len(reply.data) if reply.data is not None else None,
                **summarize(context.journal_details)}

    def _describe(self, method: Method, params: dict[str, Any]) -> str:
        try:
            return method.describe(params)
        except Exception:  # a describe bug must not hide the call from the customer
            return say("call.used", method=method.name)

    def _progress(self, method: Method, request_id: str, params: dict[str, Any], value: Any,
                  err: WorkbenchError | None) -> bool:
        """Update a long action's feed line after one of its calls; True when the line now tells of *err*."""
        if method.progress is None or self.update_customer is None:
            return False
        try:
            progress = method.progress(params, value, err)
        except Exception:  # the words must never change what the call answers
            log.exception("progress words of %s failed", method.name)
            return False
        if progress is None:
            return False
        if progress.opens:
            self._action_lines[progress.action] = f"call:{request_id}"
        line = self._action_lines.pop(progress.action, None) if progress.ends else \
            self._action_lines.get(progress.action)
        if line is None or progress.words is None:
            return False
        self.update_customer(line, progress.words)
        return err is not None and err.code != "forbidden"

    def _fail(self, request_id: str, name: str, err: WorkbenchError, started: float,
              told: bool = False, quiet_words: str | None = None) -> protocol.Message:
        """Journal a failed call's outcome (blocking until it is on disk) and make its answer."""
        self.journal.append("outcome", **self._failure_record(name, request_id, err, started))
        return self._failed_reply(request_id, name, err, told, quiet_words)

    async def _fail_async(self, request_id: str, name: str, err: WorkbenchError, started: float,
                          told: bool = False, quiet_words: str | None = None) -> protocol.Message:
        """:meth:`_fail`, awaiting the journal's sync instead of blocking the event loop."""
        await self.journal.append_async("outcome", **self._failure_record(name, request_id, err, started))
        return self._failed_reply(request_id, name, err, told, quiet_words)

    @staticmethod
    def _failure_record(name: str, request_id: str, err: WorkbenchError, started: float) -> dict[str, Any]:
        return {"request": request_id, "method": summarize(name, 100), "outcome": "error", "code": err.code,
                "message": summarize(err.message), "duration_ms": round((time.monotonic() - started) * 1000, 3)}

    def _failed_reply(self, request_id: str, name: str, err: WorkbenchError, told: bool,
                      quiet_words: str | None = None) -> protocol.Message:
        if err.code == "forbidden":
            self.tell_customer(REFUSAL_WORDS.get(name.split(".", 1)[0], REFUSAL_WORDS[""]))
        elif told:  # the customer read what was attempted; say it did not happen (the journal keeps why exactly)
            self.tell_customer(say("outcome.not_done", reason=error_words(err)))
        elif quiet_words is not None and err.code != "not_granted":  # a quiet step failed: say which, and why
            action: Said | str = quiet_words
            self.tell_customer(say("outcome.step_failed", action=action if isinstance(action, Said) else
                                   say("call.used", method=name), reason=error_words(err)))
        return protocol.error(request_id, err.to_wire())
