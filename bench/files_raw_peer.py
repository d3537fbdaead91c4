"""A bare file peer for bench/files_download.py, paired through the relay as an agent would:
what moving the same bytes through the same relay costs with nothing of ours around them.

    python bench/files_raw_peer.py RELAY_URL

Prints ``session code: …`` like the agent.  A technician paired with it may send:

* ``raw.download {path, chunk}``: the peer sends the file as ``raw.chunk`` events of
  *chunk* bytes (binary frames: the wire's prefix and a tiny JSON header, then the
  bytes), then answers the request with the size.  No journal, no hashing, no
  acknowledgement per chunk, compression off.
* ``raw.upload {path, offset}`` with bytes: written at *offset*; never answered.
* ``raw.upload_end {path}``: fsync and answer with the size written.

The relay decodes, logs and forwards every frame as it does ours, so the ratio
to our transfers is the cost of our agent and workbench, not of the relay.
Stops at ``bye`` or SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from wire import protocol


async def _download(ws: ClientConnection, request_id: str, params: dict[str, Any]) -> None:
    fd = os.open(str(params["path"]), os.O_RDONLY)
    try:
        chunk = int(params.get("chunk", 4 << 20))
        offset = 0
        while data := os.pread(fd, chunk, offset):
            await ws.send(protocol.encode(protocol.event("raw.chunk", {"offset": offset}, data)))
            offset += len(data)
        await ws.send(protocol.encode(protocol.response(request_id, {"size": offset})))
    finally:
        os.close(fd)


async def serve(url: str) -> None:
    uploads: dict[str, int] = {}
    async with connect(url, compression=None, max_size=None) as ws:
        await ws.send(protocol.encode(protocol.Message("hello", {"role": "agent", "consent": {"how": "bench"},
                                                                 "machine": {"hostname": "raw-peer"}})))
        try:
            async for frame in ws:
                message = protocol.decode(frame)
                if message.type == "welcome" and "code" in message.fields:
                    print(f"session code: {message['code']}", flush=True)
                elif message.type == "request":
                    method, params = message["method"], message["params"]
                    if method == "raw.download":
                        await _download(ws, message["id"], params)
                    elif method == "raw.upload":
                        path = str(params["path"])
                        fd = uploads.get(path)
                        if fd is None:
                            fd = uploads[path] = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                        view, offset = memoryview(message.data or b""), int(params["offset"])
                        while view:
                            written = os.pwrite(fd, view, offset)
                            view, offset = view[written:], offset + written
                    elif method == "raw.upload_end":
                        fd = uploads.pop(str(params["path"]))
                        os.fsync(fd)
                        size = os.fstat(fd).st_size
                        os.close(fd)
                        await ws.send(protocol.encode(protocol.response(message["id"], {"size": size})))
                    else:
                        await ws.send(protocol.encode(protocol.response(message["id"], {"pong": True})))
                elif message.type == "bye":
                    return
        finally:
            for fd in uploads.values():
                os.close(fd)


async def main(url: str) -> None:
    task = asyncio.ensure_future(serve(url))
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    with contextlib.suppress(asyncio.CancelledError):
        await task


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
    sys.exit(0)
