"""The streamer side of the screen benchmark: a ScreenService behind a real websocket.

``python bench/screen_agent.py --display :N --port P`` serves one viewer at a
time on 127.0.0.1:P with the wire format of :mod:`wire.protocol` (binary
``screen.frame`` events; ``screen.ack`` events back), no permessage-deflate.
It prints ``listening P`` when ready and runs until terminated.

This is the "direct hop" of the benchmark: agent ⇄ viewer over one loopback
websocket, standing in for agent ⇄ relay ⇄ viewer.  To measure through the
relay once it exists, see :func:`run_via_relay`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
from typing import Any

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from agent.screen import HiddenRegions, ScreenService
from wire import protocol
from wire.errors import ProtocolError


class DirectHop:
    """Serves viewers itself and plays the relay's part: counts them, forwards their ``screen.*`` events."""

    def __init__(self, display: str, port: int) -> None:
        self.port = port
        self.viewer: ServerConnection | None = None
        self.service = ScreenService(HiddenRegions(), self.send_event, lambda line: None, display=display)

    async def send_event(self, name: str, body: dict[str, Any], data: bytes | None) -> None:
        viewer = self.viewer
        if viewer is not None:
            with contextlib.suppress(ConnectionClosed):
                await viewer.send(protocol.encode(protocol.event(name, body, data)))

    async def handle(self, connection: ServerConnection) -> None:
        if self.viewer is not None:
            await connection.close(1013, "one viewer at a time")
            return
        self.viewer = connection
        await self.service.on_event("relay.viewers", {"count": 1, "viewers": ["bench"]})
        try:
            async for frame in connection:
                try:
                    message = protocol.decode(frame)
                except ProtocolError:
                    continue
                if message.type == "event" and str(message["name"]).startswith("screen."):
                    await self.service.on_event(message["name"], {**message["body"], "viewer_id": "bench"})
        except ConnectionClosed:
            pass
        finally:
            self.viewer = None
            await self.service.on_event("relay.viewers", {"count": 0, "viewers": []})

    async def run(self) -> None:
        await self.service.start()
        stop = asyncio.get_running_loop().create_future()
        for signum in (signal.SIGTERM, signal.SIGINT):
            asyncio.get_running_loop().add_signal_handler(signum, stop.set_result, None)
        try:
            async with serve(self.handle, "127.0.0.1", self.port, compression=None,
                             max_size=protocol.MAX_MESSAGE_BYTES) as server:
                port = next(iter(server.sockets)).getsockname()[1]
                print("listening", port, flush=True)
                await stop
        finally:
            await self.service.stop()


async def run_via_relay(display: str, relay_url: str) -> None:
    """Hook for measuring through the relay (``workbench relay``), once the lead's relay and link exist.

    What it should do: start the agent's real link (``agent.link``) dialling
    *relay_url* with a ScreenService on *display*; the benchmark's viewer
    (bench/screen_client.py) then connects to the relay as a viewer with a
    token from ``relay.viewer_token`` instead of to this process.  Until
    then it raises NotImplementedError.
    """
    raise NotImplementedError("measuring through the relay needs relay.server and agent.link")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--display", required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--relay", help="measure through this relay URL instead (not wired yet)")
    args = parser.parse_args()
    if args.relay:
        asyncio.run(run_via_relay(args.display, args.relay))
    else:
        asyncio.run(DirectHop(args.display, args.port).run())


if __name__ == "__main__":
    main()
