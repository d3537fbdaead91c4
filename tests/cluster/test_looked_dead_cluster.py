"""A relay that only *looked* dead (stopped with SIGSTOP, then continued) loses no session.

Killed, a relay is gone for good and the others take its sessions over.  Stopped for longer than
``LIVENESS`` (on a loaded machine: starved of CPU), it looks just as dead to the others, and then
comes back still holding what it held.  Each side must then reach the one relay that serves its
session: else the agent, which only answers, waits for ever on a connection nobody serves, and the
technician's calls are never answered.  Seen at 200 sessions in ``bench/cluster_load.py``'s kill
phase: 2 sessions stalled for good.

Two relays, H and P, one NATS; the processes are real, the stops are real signals.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.cluster.conftest import StartRelay
from tests.cluster.test_failover_cluster import check_the_records
from tests.e2e.test_files_registry_e2e import Background, relay_copy_caught_up, wait_until
from workbench import connect
from workbench.lab import Proc, start_agent
from workbench.proxy import Session

#: Bound on a call that must be answered once the cluster has sorted itself out (seconds).
ANSWERED_WITHIN = 120


@contextmanager
def stopped(relay: Proc) -> Iterator[None]:
    """*relay* stopped (SIGSTOP) inside the block, continued (SIGCONT) on the way out, whatever happens."""
    relay.signal(signal.SIGSTOP)
    try:
        yield
    finally:
        relay.signal(signal.SIGCONT)


def session_held_by_h_with_the_technician_on_p(
        start: StartRelay, procs: list[Proc], tmp_path: Path) -> tuple[Proc, Proc, Proc, Session]:
    """H holds the session (its agent paired there); the technician's connection crosses NATS from P."""
    (h, url_h), (p, url_p) = start(), start()
    agent, code = start_agent(f"{url_h},{url_p}", tmp_path / "agent")
    procs.append(agent)
    s = connect(code, relay=[url_p], name="Alice")
    agent.wait_for(r"technician connected: Alice")
    assert s.ping() > 0
    return h, p, agent, s


def test_a_holder_that_only_looked_dead_lets_the_relay_that_took_over_have_the_session(
        cluster: tuple[Path, StartRelay], procs: list[Proc], tmp_path: Path) -> None:
    data, start = cluster
    h, p, agent, s = session_held_by_h_with_the_technician_on_p(start, procs, tmp_path)
    with stopped(h):
        # P sees H's heartbeat stop, closes the technician's proxied connection; the technician
        # resumes on P, which takes the session over.  The ping is sent again there, by its id.
        ping = Background(s.ping)
        p.wait_for(f"took over session {s.session_id}", timeout=60)
    # H is back, still holding the session with the agent on it: two holders, one side each.
    assert ping.result(ANSWERED_WITHIN) > 0  # answered: H let the session go, the agent resumed, through H to P
    assert any(f"gave session {s.session_id} up" in line for line in h.lines)
    assert s.ping() > 0
    s.close()
    assert agent.wait(30) == 0
    check_the_records(tmp_path / "agent", data)


def test_a_relay_the_holder_only_thought_dead_is_told_to_close_what_the_holder_forgot(
        cluster: tuple[Path, StartRelay], procs: list[Proc], tmp_path: Path) -> None:
    data, start = cluster
    h, p, agent, s = session_held_by_h_with_the_technician_on_p(start, procs, tmp_path)
    with stopped(h):  # as above: P holds the session now, and the agent comes to it through H
        ping = Background(s.ping)
        p.wait_for(f"took over session {s.session_id}", timeout=60)
    assert ping.result(ANSWERED_WITHIN) > 0  # so the agent's connection crosses NATS from H to P now
    # The agent has nothing left to send (its journal is all in the copy): nothing it sends later can
    # tell it, by the way, that its connection leads nowhere.
    wait_until(lambda: relay_copy_caught_up(tmp_path / "agent", data), timeout=30, what="the shared journal copy")
    with stopped(h):
        # P, the holder, sees H's heartbeat stop and forgets the agent's connection through H.  The
        # agent, which only answers, hears nothing of it while H is stopped.
        p.wait_for(r"relay \S+ looks dead: forgetting 1 of its connections", timeout=60)
    # H is back and still carries the agent's connection, which P no longer serves: P told H to
    # close it, so the agent resumes, and the technician's next call is answered.
    assert Background(s.ping).result(ANSWERED_WITHIN) > 0
    s.close()
    assert agent.wait(30) == 0
    check_the_records(tmp_path / "agent", data)
