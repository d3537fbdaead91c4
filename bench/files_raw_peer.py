"""A bare websocket file server for bench/files_download.py: the peer our download is measured against.

    python bench/files_raw_peer.py FILE [--chunk-mib 4]

Listens on 127.0.0.1 (a free port, printed as ``listening on ws://127.0.0.1:PORT``),
and to each client sends FILE in binary messages of ``--chunk-mib`` MiB, then a
text message with the size, and closes.  No relay, no JSON, no journal, no
hashing, compression off: what a websocket copy of the same bytes costs.
Stops after serving one client, or on SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys

from websockets.asyncio.server import ServerConnection, serve


async def main(path: str, chunk: int) -> None:
    served = asyncio.Event()

    async def send_file(ws: ServerConnection) -> None:
        fd = os.open(path, os.O_RDONLY)
        try:
            size = os.fstat(fd).st_size
            offset = 0
            while offset < size:
                data = os.pread(fd, min(chunk, size - offset), offset)
                if not data:
                    break
                await ws.send(data)
                offset += len(data)
            await ws.send(str(offset))
        finally:
            os.close(fd)
            served.set()

    async with serve(send_file, "127.0.0.1", 0, compression=None, max_size=None) as server:
        port = server.sockets[0].getsockname()[1]
        print(f"listening on ws://127.0.0.1:{port}", flush=True)
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, served.set)
        await served.wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("file")
    parser.add_argument("--chunk-mib", type=int, default=4)
    args = parser.parse_args()
    asyncio.run(main(args.file, args.chunk_mib * 1024 * 1024))
    sys.exit(0)
