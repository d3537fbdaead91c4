"""Profiling for the click benchmark: the relay or the agent, with time stamps on a press's path.

    python bench/control_trace.py relay|agent ARGS...

runs ``workbench relay ARGS`` or ``workbench-agent ARGS`` unchanged, except that a few
functions on the path of a ``control.pointer`` press are wrapped to append
``STAGE TIME_NS`` lines (``time.time_ns()``) to the file named by ``$CONTROL_TRACE``:

- relay: ``relay.decoded`` (the viewer's frame read and decoded), ``relay.sent`` (the
  frame handed to the agent's socket);
- agent: ``agent.decoded`` (the frame read and decoded), ``agent.on_event`` (the control
  service is given the event), ``agent.inject`` (the injection thread starts the
  action), ``agent.injected`` (XTEST requests written to the X socket).

Each wrapper costs a few microseconds; the product's files are not touched.  Used by
``bench/control_click.py --trace``.
"""

from __future__ import annotations

import functools
import os
import re
import sys
import time
from collections.abc import Callable
from typing import Any

PRESS = re.compile(rb'"name":"control\.pointer".*"action":"down"')


class Trace:
    def __init__(self, path: str) -> None:
        self._file = open(path, "a", buffering=1)  # noqa: SIM115 - open for the process's life, line-buffered

    def stamp(self, stage: str) -> None:
        self._file.write(f"{stage} {time.time_ns()}\n")


def is_press(frame: Any) -> bool:
    data = frame.encode() if isinstance(frame, str) else frame
    return isinstance(data, bytes) and len(data) < 4096 and PRESS.search(data) is not None


def wrap_decode(trace: Trace, stage: str) -> None:
    """Stamp *stage* after each decode of a press (the first thing done with a frame read from a socket)."""
    from wire import protocol

    original = protocol.decode

    @functools.wraps(original)
    def decode(frame: str | bytes) -> protocol.Message:
        message = original(frame)
        if is_press(frame):
            trace.stamp(stage)
        return message

    protocol.decode = decode


def relay(trace: Trace) -> Callable[[list[str]], int]:
    from relay.server import Relay
    from workbench import cli

    wrap_decode(trace, "relay.decoded")
    original = Relay._send

    @functools.wraps(original)
    async def send(self: Relay, conn: str, frame: str | bytes) -> None:
        await original(self, conn, frame)
        if is_press(frame):  # only the agent is sent presses (from a viewer)
            trace.stamp("relay.sent")

    Relay._send = send  # type: ignore[method-assign]
    return lambda argv: cli.main(["relay", *argv])


def agent(trace: Trace) -> Callable[[list[str]], int]:
    from agent import cli
    from agent.control import actions
    from agent.control._x11_inject import X11Injector
    from agent.control.service import ControlService

    wrap_decode(trace, "agent.decoded")
    on_event = ControlService.on_event

    @functools.wraps(on_event)
    async def traced_on_event(self: ControlService, name: str, body: dict[str, Any]) -> None:
        if name == "control.pointer" and body.get("action") == "down":
            trace.stamp("agent.on_event")
        await on_event(self, name, body)

    ControlService.on_event = traced_on_event  # type: ignore[method-assign]
    perform = X11Injector.perform

    @functools.wraps(perform)
    def traced_perform(self: X11Injector, action: actions.Action, start: int, may_inject: Callable[[], bool]) -> int:
        press = isinstance(action, actions.Button) and action.down
        if press:
            trace.stamp("agent.inject")
        done = perform(self, action, start, may_inject)
        if press:
            trace.stamp("agent.injected")
        return done

    X11Injector.perform = traced_perform  # type: ignore[method-assign]
    return cli.main


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in ("relay", "agent"):
        print(__doc__, file=sys.stderr)
        return 2
    trace = Trace(os.environ["CONTROL_TRACE"])
    run = relay(trace) if sys.argv[1] == "relay" else agent(trace)
    return run(sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
