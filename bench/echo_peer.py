"""A bare websocket peer for the benchmarks: pairs through the relay as an agent
would, then answers every request at once, with no dispatch and no journal.

Run by bench/proxy_roundtrip.py; prints ``session code: …`` like the agent.
"""

from __future__ import annotations

import asyncio
import sys

from websockets.asyncio.client import connect

from wire import protocol


async def main(url: str) -> None:
    async with connect(url, compression=None, max_size=None) as ws:
        await ws.send(protocol.encode(protocol.Message("hello", {"role": "agent", "consent": {"how": "bench"},
                                                                 "machine": {"hostname": "echo"}})))
        async for frame in ws:
            message = protocol.decode(frame)
            if message.type == "welcome" and "code" in message.fields:
                print(f"session code: {message['code']}", flush=True)
            elif message.type == "request":
                await ws.send(protocol.encode(protocol.response(message["id"], {"pong": True})))
            elif message.type == "bye":
                return


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
