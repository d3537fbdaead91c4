"""What a peer that has not paired can make a real relay do: guess codes, hold memory, hold connections.

Each test runs ``workbench relay`` as its own process on loopback.  Linux routes the
whole of 127.0.0.0/8 to loopback, so a client binding 127.0.0.2 is, for the relay,
another address than the technician on 127.0.0.1: that is how one machine plays a
guesser and an honest technician at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed

from relay.cli import is_loopback
from relay.cli import main as relay_main
from relay.server import Limits, Relay
from wire import protocol
from workbench import connect
from workbench.lab import Proc, start_agent, start_relay

CONSENT = {"terms_sha256": "0" * 64, "how": "given outside the window (test)"}


@pytest.fixture
def procs() -> Iterator[list[Proc]]:
    started: list[Proc] = []
    try:
        yield started
    finally:
        for proc in started:
            proc.stop()


async def close_of(url: str, frame: str | bytes | None, source: str) -> tuple[int, str] | dict[str, Any]:
    """Connect from *source*, send *frame* (if any); the relay's close (code, reason), or its first reply."""
    ws = await ws_connect(url, compression=None, max_size=None, local_addr=(source, 0), close_timeout=2)
    try:
        if frame is not None:
            await ws.send(frame)
        return dict(json.loads(await ws.recv()))
    except ConnectionClosed as closed:
        assert closed.rcvd is not None, f"closed without a close frame: {closed}"
        return closed.rcvd.code, closed.rcvd.reason
    finally:
        with contextlib.suppress(Exception):
            ws.transport.abort()


def test_oversized_hellos_are_refused_and_the_relay_memory_stays_bounded(tmp_path: Path, procs: list[Proc]) -> None:
    """Ten 15 MiB agent hellos, at once, from ten addresses, on a relay with --technicians (issue 14, finding 3)."""
    listing = tmp_path / "technicians.json"
    listing.write_text(json.dumps({"Alice Martin": "correct horse"}))
    relay, url = start_relay(tmp_path / "relay", 0, "--technicians", str(listing))
    procs.append(relay)
    process = psutil.Process(relay.popen.pid)
    before = process.memory_info().rss
    hello = protocol.encode(protocol.Message("hello", {
        "role": "agent", "consent": CONSENT, "machine": {"hostname": "x" * (15 * 1024 * 1024)}}))

    async def all_at_once() -> list[tuple[int, str] | dict[str, Any]]:
        return await asyncio.gather(*(close_of(url, hello, f"127.0.0.{10 + n}") for n in range(10)))

    closes = asyncio.run(all_at_once())
    assert all(isinstance(c, tuple) and c[0] == 1009 and "exceeds limit of 65536 bytes" in c[1] for c in closes), \
        closes
    grown = process.memory_info().rss - before
    assert grown < 64 * 1024 * 1024, f"the relay grew by {grown >> 20} MiB"  # it took 450 MB before the limit
    # and a customer's agent still gets its code
    agent, code = start_agent(url, tmp_path / "agent")
    procs.append(agent)
    assert code


def test_unauthenticated_connections_are_limited_per_address_and_in_all(tmp_path: Path, procs: list[Proc]) -> None:
    relay, url = start_relay(tmp_path / "relay", 0, "--max-unauthenticated-per-address", "3",
                             "--max-unauthenticated", "5")
    procs.append(relay)
    agent_hello = protocol.encode(protocol.Message("hello", {"role": "agent", "consent": CONSENT}))

    async def scenario() -> None:
        held = [await ws_connect(url, local_addr=("127.0.0.20", 0)) for _ in range(3)]  # say nothing yet
        assert await close_of(url, agent_hello, "127.0.0.20") == (
            1013, "too many connections from your address are waiting to authenticate; try again later")
        waiting = await ws_connect(url, local_addr=("127.0.0.21", 0))  # another address is still welcome
        await waiting.send(agent_hello)
        assert protocol.decode(await waiting.recv()).type == "welcome"
        held.append(waiting)
        held.append(await ws_connect(url, local_addr=("127.0.0.22", 0)))
        assert await close_of(url, agent_hello, "127.0.0.23") == (
            1013, "too many connections are waiting to authenticate; try again later")
        await held.pop(0).close()  # one leaves: there is room again
        reply = await close_of(url, agent_hello, "127.0.0.20")
        assert isinstance(reply, dict) and reply["type"] == "welcome"
        for ws in held:
            await ws.close()

    asyncio.run(scenario())


def test_a_connection_that_never_says_hello_is_closed(tmp_path: Path) -> None:
    async def scenario() -> tuple[int, str] | dict[str, Any]:
        relay = Relay(tmp_path, limits=Limits(hello_timeout=0.5))
        server = await relay.serve("127.0.0.1", 0)
        async with server:
            port = server.sockets[0].getsockname()[1]
            return await close_of(f"ws://127.0.0.1:{port}", None, "127.0.0.1")

    assert asyncio.run(scenario()) == (1008, "no hello within 0.5 s")


def test_a_guesser_burns_no_code_and_a_technician_still_pairs(tmp_path: Path, procs: list[Proc]) -> None:
    """A guessing loop on 127.0.0.2 hammers an open relay while Alice pairs from 127.0.0.1 (issue 14, finding 1)."""
    relay, url = start_relay(tmp_path / "relay", 0)
    procs.append(relay)
    agent, code = start_agent(url, tmp_path / "agent")
    procs.append(agent)
    limited = threading.Event()
    answers: list[dict[str, Any]] = []

    async def guess() -> None:
        for n in range(60):
            guess = f"{n:09d}" if f"{n:09d}" != code.replace(" ", "") else "999999999"
            hello = protocol.encode(protocol.Message("hello", {"role": "technician", "code": guess, "name": "M"}))
            reply = await close_of(url, hello, "127.0.0.2")
            assert isinstance(reply, dict)
            answers.append(reply)
            if reply["code"] == "rate_limited":
                limited.set()

    guesser = threading.Thread(target=asyncio.run, args=(guess(),))
    guesser.start()
    try:
        assert limited.wait(60)
        s = connect(code, relay=url, name="Alice")  # while the guesser goes on
        assert s.ping() > 0
        # once paired, the limits on unauthenticated peers are lifted: 1 MiB goes through
        assert s.call("session.ping", data=b"x" * (1 << 20)).value == {"pong": True}
        s.close()
    finally:
        guesser.join(120)
    codes = [a["code"] for a in answers]
    assert codes[:10] == ["bad_code"] * 10 and set(codes[10:]) == {"rate_limited"}, codes
    assert all(a["details"]["retry_after"] > 0 for a in answers[10:])
    assert sum("session code:" in line for line in agent.lines) == 1  # the customer's code was never re-issued


def test_a_relay_beyond_loopback_needs_tls_and_a_technicians_list(tmp_path: Path, procs: list[Proc],
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert relay_main(["--host", "0.0.0.0", "--port", "0", "--data", str(tmp_path / "d")]) == 2
    refused = capsys.readouterr().err
    assert "--certfile" in refused and "--insecure-no-tls" in refused
    assert "--technicians" in refused and "--insecure-open" in refused
    relay, _ = start_relay(tmp_path / "relay", 0, "--host", "0.0.0.0", "--insecure-no-tls", "--insecure-open")
    procs.append(relay)
    warnings = [line for line in relay.lines if "WARNING" in line]
    assert any("--insecure-no-tls" in w for w in warnings) and any("--insecure-open" in w for w in warnings)


def test_loopback_is_told_apart_from_the_network() -> None:
    assert all(is_loopback(host) for host in ("127.0.0.1", "127.0.0.2", "::1", "localhost"))
    assert not any(is_loopback(host) for host in ("0.0.0.0", "::", "", "192.0.2.1", "2001:db8::1"))
