"""The viewer side of the screen benchmark, for our streamer: decode, ack, observe.

``python bench/screen_client.py --url ws://127.0.0.1:P --marker X,Y,W,H --region X,Y,W,H``
connects, draws every ``screen.frame`` on a canvas (like the widget), acks
it once drawn, and after each frame records an observation: the time it was
drawn (``time.monotonic()``, comparable across processes on Linux), the
bytes received so far, the marker's mean colour and a checksum of the
region.  It stops when stdin closes and prints the observations as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import TextIO

from screen_observe import Observer, parse_rect
from websockets.asyncio.client import connect

from agent.screen.decode import Canvas, read_frame
from wire import protocol


async def run(url: str, observer: Observer, max_fps: int, log: TextIO | None) -> None:
    canvas = Canvas()
    received = 0
    loop = asyncio.get_running_loop()
    stdin_closed = loop.run_in_executor(None, sys.stdin.read)
    async with connect(url, compression=None, max_size=protocol.MAX_MESSAGE_BYTES, proxy=None) as ws:
        async def receive() -> None:
            nonlocal received
            async for frame in ws:
                received += len(frame)
                message = protocol.decode(frame)
                if message.type != "event" or message["name"] != "screen.frame":
                    continue
                body, data = read_frame(message["body"], message.data or b"", canvas.stream)
                canvas.apply(body, data)
                await ws.send(protocol.encode(protocol.event("screen.ack", {"seq": body["seq"]})))
                observer.observe(time.monotonic(), received, canvas.pixels, len(body["rects"]) > 0)
                if log is not None:
                    log.write(json.dumps({"t": time.monotonic(), "bytes": len(frame), "rects": body["rects"]}) + "\n")

        configure: dict[str, object] = {"copy": True}
        if max_fps:
            configure["max_fps"] = max_fps
        await ws.send(protocol.encode(protocol.event("screen.configure", configure)))
        task = asyncio.create_task(receive())
        await stdin_closed
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--marker", type=parse_rect, required=True)
    parser.add_argument("--region", type=parse_rect, required=True)
    parser.add_argument("--max-fps", type=int, default=0, help="ask for this frame-rate cap (default: the agent's)")
    parser.add_argument("--log", type=argparse.FileType("w"), help="write each frame's rectangles here (JSON lines)")
    args = parser.parse_args()
    observer = Observer(args.marker, args.region)
    asyncio.run(run(args.url, observer, args.max_fps, args.log))
    json.dump(observer.result(), sys.stdout)


if __name__ == "__main__":
    main()
