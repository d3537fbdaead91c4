"""The technician's websocket to the relay, on a loop of its own.

A Jupyter kernel already runs an asyncio loop, and a cell that blocks on it
would deadlock.  :class:`RelayClient` therefore runs its own loop in a daemon
thread; plain calls wait on a :class:`concurrent.futures.Future`, async code
awaits the same future wrapped for its loop.  Neither ever blocks the
kernel's loop, and browser messages keep flowing while a call waits.

Requests stay pending until answered: after a dropped link the client
reconnects with backoff, resumes the session, and re-sends them with the same
ids (the agent answers a repeat from its cache, so nothing runs twice).

An answer is checked on arrival: its objects are :class:`AnswerObject`, so a
field the agent left out is a :class:`~wire.errors.ProtocolError` naming the call
and the field (code ``bad_message``), not a bare ``KeyError`` deep in a namespace.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import ssl
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from wire import protocol
from wire.backoff import backoff
from wire.errors import (
    BadParams,
    ConnectionLost,
    PairingFailed,
    ProtocolError,
    SessionEnded,
    Timeout,
    WorkbenchError,
    error_from_wire,
)
from workbench.calls import CallResult

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 60.0
PAIRING_TIMEOUT = 20.0


class AnswerObject(dict[str, Any]):
    """A JSON object in an agent's answer; reading a field it lacks raises :class:`ProtocolError`."""

    def __init__(self, fields: dict[str, Any], where: str) -> None:
        super().__init__(fields)
        self.where = where

    def __missing__(self, key: str) -> Any:
        raise ProtocolError(f"the agent's answer to {self.where} has no {key!r}: not what this workbench "
                            "understands (a different agent version, or not an agent)", missing=str(key))


class AnswerList(list[Any]):
    """A JSON array in an agent's answer; reading past its end raises :class:`ProtocolError`."""

    def __init__(self, items: list[Any], where: str) -> None:
        super().__init__(items)
        self.where = where

    def __getitem__(self, index: Any) -> Any:
        try:
            return super().__getitem__(index)
        except IndexError:
            raise ProtocolError(f"the agent's answer to {self.where} has no item {index!r}") from None


def checked_answer(value: Any, where: str) -> Any:
    """*value* with its objects and arrays made :class:`AnswerObject` and :class:`AnswerList`.

    Decoded values are at most :data:`wire.protocol.MAX_DEPTH` deep, so the recursion is bounded.
    """
    if isinstance(value, dict):
        return AnswerObject({k: checked_answer(v, where) for k, v in value.items()}, where)
    if isinstance(value, list):
        return AnswerList([checked_answer(v, where) for v in value], where)
    return value


@dataclass
class _Pending:
    frame: str | bytes
    future: concurrent.futures.Future[CallResult]
    timer: asyncio.TimerHandle | None = None
    method: str = "a call"


class RelayClient:
    """One technician connection to one session; thread-safe public methods."""

    def __init__(self, url: str, ssl_context: ssl.SSLContext | None = None,
                 on_event: Callable[[str, dict[str, Any]], None] | None = None,
                 on_ended: Callable[[str], None] | None = None) -> None:
        self.url = url
        self.ssl_context = ssl_context
        self.on_event = on_event
        self.on_ended = on_ended
        self.paired: dict[str, Any] = {}
        self.ended_reason: str | None = None
        self.agent_connected = True
        #: errors the relay sent that answer no request (a frame it could not read)
        self.unsolicited_errors: list[WorkbenchError] = []
        #: the relay's journal alerts: the agent's journal and the relay's copy disagree (time, at, reason)
        self.journal_alerts: list[dict[str, Any]] = []
        self._resume_token: str | None = None
        self._pending: dict[str, _Pending] = {}
        self._ws: ClientConnection | None = None
        self._closing = False
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="workbench-relay", daemon=True)
        self._thread.start()
        self._runner: concurrent.futures.Future[None] | None = None

    # -- public, thread-safe ---------------------------------------------

    def pair(self, code: str, name: str, key: str | None) -> dict[str, Any]:
        """Pair with the agent showing *code*; return the relay's ``paired`` message fields.

        Raises :class:`~wire.errors.PairingFailed` (or BadCode, CodeExpired,
        CodeBurned, Unauthorized) with the relay's reason, ConnectionLost when
        the relay cannot be reached.
        """
        hello = {"role": "technician", "code": code, "name": name}
        if key is not None:
            hello["key"] = key
        paired = asyncio.run_coroutine_threadsafe(self._first_connection(hello), self._loop)
        try:
            fields = paired.result(PAIRING_TIMEOUT + 5)
        except WorkbenchError as err:
            self._stop_loop()
            # raised again here, in the caller's thread: the client's loop and futures are no business of theirs
            raise err.with_traceback(None) from None
        except concurrent.futures.TimeoutError:
            self._stop_loop()
            raise PairingFailed(f"the relay at {self.url} did not answer the pairing in time") from None
        except BaseException:
            self._stop_loop()
            raise
        self._runner = asyncio.run_coroutine_threadsafe(self._stay_connected(), self._loop)
        return fields

    def submit(self, method: str, params: dict[str, Any] | None = None, data: bytes | None = None,
               *, timeout: float | None = None, preview: bool = False) -> concurrent.futures.Future[CallResult]:
        """Send a request (a dry run's with *preview*); the future gives its :class:`CallResult` or raises
        the agent's error."""
        future: concurrent.futures.Future[CallResult] = concurrent.futures.Future()
        if self.ended_reason is not None:
            future.set_exception(SessionEnded(f"the session has ended ({self.ended_reason})"))
            return future
        request_id = uuid.uuid4().hex
        try:
            frame = protocol.encode(protocol.request(request_id, method, dict(params or {}), data, preview=preview))
        except WorkbenchError as err:  # too large, or not JSON-serialisable: fails here, nothing is sent
            future.set_exception(err)
            return future
        self._loop.call_soon_threadsafe(self._send_request, request_id, frame, future, timeout or DEFAULT_TIMEOUT,
                                        method)
        return future

    def close(self, reason: str = "technician_closed") -> None:
        """End the session for everyone (the agent journals it) and stop the thread."""
        if self._loop.is_closed():
            return
        if self.ended_reason is None:
            with contextlib.suppress(concurrent.futures.TimeoutError, RuntimeError):
                asyncio.run_coroutine_threadsafe(self._say_bye(reason), self._loop).result(10)
        self._stop_loop()

    # -- the loop's side -------------------------------------------------

    async def _open(self) -> ClientConnection:
        try:
            tls: dict[str, Any] = {"ssl": self.ssl_context} if self.ssl_context else {}  # wss:// alone: system CAs
            return await connect(self.url, **tls, compression=None, open_timeout=10,
                                 max_size=4 * protocol.MAX_MESSAGE_BYTES, max_queue=64)
        except InvalidURI as err:
            raise BadParams(f"not a relay address: {self.url}") from err

    async def _first_connection(self, hello: dict[str, Any]) -> dict[str, Any]:
        try:
            ws = await self._open()
        except (OSError, InvalidHandshake, TimeoutError) as err:
            raise ConnectionLost(f"cannot reach the relay at {self.url}: {err}") from err
        try:
            await ws.send(protocol.encode(protocol.Message("hello", hello)))
            reply = protocol.decode(await asyncio.wait_for(ws.recv(), PAIRING_TIMEOUT))
        except (ConnectionClosed, TimeoutError) as err:
            await ws.close()
            raise PairingFailed(f"the relay did not answer the pairing: {err}") from err
        if reply.type == "error":
            await ws.close()
            raise error_from_wire(reply.fields)
        if reply.type != "paired":
            await ws.close()
            raise PairingFailed(f"unexpected answer from the relay: {reply.type}")
        self.paired = dict(reply.fields)
        self._resume_token = str(reply.get("resume_token", ""))
        self._ws = ws
        return {k: v for k, v in reply.fields.items() if k != "resume_token"}

    async def _stay_connected(self) -> None:
        delays = backoff()
        while not self._closing and self.ended_reason is None:
            ws = self._ws
            if ws is None:
                try:
                    ws = await self._resume()
                except (OSError, InvalidHandshake, TimeoutError, ConnectionClosed) as err:
                    log.info("relay unreachable (%s); retrying", err)
                    await asyncio.sleep(next(delays))
                    continue
                if ws is None:
                    return
                delays = backoff()
            try:
                await self._read(ws)
            except ConnectionClosed:
                pass
            finally:
                self._ws = None

    async def _resume(self) -> ClientConnection | None:
        ws = await self._open()
        hello = {"role": "technician", "resume": {"session_id": self.paired.get("session_id"),
                                                  "token": self._resume_token}}
        await ws.send(protocol.encode(protocol.Message("hello", hello)))
        reply = protocol.decode(await asyncio.wait_for(ws.recv(), PAIRING_TIMEOUT))
        if reply.type == "error":
            await ws.close()
            self._ended(f"the relay refused to resume: {reply.get('message')}")
            return None
        self.agent_connected = bool(reply.get("agent_connected", True))
        self._ws = ws
        for pending in list(self._pending.values()):  # same ids: the agent will not run them twice
            await ws.send(pending.frame)
        return ws

    async def _read(self, ws: ClientConnection) -> None:
        async for frame in ws:
            try:
                message = protocol.decode(frame)
            except WorkbenchError as err:
                log.warning("bad message from the relay: %s", err)
                continue
            if message.type in ("response", "error"):
                self._settle(message)
            elif message.type == "event":
                name, body = str(message["name"]), dict(message["body"])
                if name == "relay.agent":
                    self.agent_connected = bool(body.get("connected"))
                elif name == "relay.journal_alert":
                    self.journal_alerts.append(body)
                    log.warning("JOURNAL ALERT: the customer's journal and the relay's copy disagree: %s",
                                body.get("reason"))
                if self.on_event is not None:
                    with contextlib.suppress(Exception):
                        self.on_event(name, body)
            elif message.type == "bye":
                self._ended(str(message["reason"]))
                return

    def _settle(self, message: protocol.Message) -> None:
        request_id = message.get("id")
        pending = self._pending.pop(str(request_id), None) if request_id is not None else None
        if pending is None:
            if message.type == "error" and request_id is None:
                err = error_from_wire(message.fields)
                self.unsolicited_errors.append(err)
                log.warning("the relay could not read a message: %s", err)
            return  # an answer to a request already answered (a replay after resume)
        if pending.timer is not None:
            pending.timer.cancel()
        if pending.future.done():
            return
        if message.type == "response" and "result" not in message.fields:
            pending.future.set_exception(ProtocolError(f"the agent's answer to {pending.method} has no result"))
        elif message.type == "response":
            pending.future.set_result(CallResult(checked_answer(message["result"], pending.method), message.data))
        else:
            pending.future.set_exception(error_from_wire(message.fields))

    def _send_request(self, request_id: str, frame: str | bytes, future: concurrent.futures.Future[CallResult],
                      timeout: float, method: str = "a call") -> None:
        if self.ended_reason is not None:
            future.set_exception(SessionEnded(f"the session has ended ({self.ended_reason})"))
            return
        pending = _Pending(frame, future, method=method)
        pending.timer = self._loop.call_later(timeout, self._time_out, request_id, timeout)
        self._pending[request_id] = pending
        ws = self._ws
        if ws is not None:  # otherwise it is sent on resuming
            self._loop.create_task(self._send_quietly(ws, frame))

    async def _send_quietly(self, ws: ClientConnection, frame: str | bytes) -> None:
        with contextlib.suppress(ConnectionClosed):
            await ws.send(frame)

    def _time_out(self, request_id: str, timeout: float) -> None:
        pending = self._pending.pop(request_id, None)
        if pending is None or pending.future.done():
            return
        if self._ws is None:
            pending.future.set_exception(ConnectionLost(
                f"no answer within {timeout:g} s: the link to the relay is down and still retrying"))
        elif not self.agent_connected:
            pending.future.set_exception(Timeout(
                f"no answer within {timeout:g} s: the customer's agent is disconnected from the relay"))
        else:
            pending.future.set_exception(Timeout(f"no answer from the agent within {timeout:g} s"))

    def _ended(self, reason: str) -> None:
        if self.ended_reason is None and self.on_ended is not None:
            with contextlib.suppress(Exception):
                self.on_ended(reason)
        self.ended_reason = reason
        for pending in self._pending.values():
            if pending.timer is not None:
                pending.timer.cancel()
            if not pending.future.done():
                pending.future.set_exception(SessionEnded(f"the session has ended ({reason})"))
        self._pending.clear()

    async def _say_bye(self, reason: str) -> None:
        self._closing = True
        ws = self._ws
        if ws is not None:
            with contextlib.suppress(ConnectionClosed):
                await ws.send(protocol.encode(protocol.bye(reason)))
                await ws.close()
        self._ended(reason)

    def _stop_loop(self) -> None:
        async def shutdown() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        if self._loop.is_running():
            with contextlib.suppress(concurrent.futures.TimeoutError):
                asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(5)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)
        if not self._loop.is_running():
            self._loop.close()
