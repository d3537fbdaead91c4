"""Screen frames across relays: a slow viewer on relay B of an agent on relay A.

The agent streams its synthetic screen (``--synthetic-screen``: a generated picture changing 20
times a second, no X server); the viewer's frames cross NATS on the session's subjects.  The
viewer acks late on purpose, counting from the first frame it gets (:mod:`tests.slow_viewer`):
at no moment may more than two of its frames be unacked (the agent's credits hold end to end,
across its join too), and the frame that comes after a late ack is a picture taken after that
ack (the newest wins: nothing older was queued on the way).
"""

from __future__ import annotations

from pathlib import Path

from tests.cluster.conftest import StartRelay
from tests.slow_viewer import join, watch_slowly
from workbench import connect
from workbench.lab import Proc, start_agent


def test_a_slow_viewer_on_another_relay_never_has_more_than_two_frames_in_flight_and_gets_the_newest(
        cluster: tuple[Path, StartRelay], procs: list[Proc], tmp_path: Path) -> None:
    _, start = cluster
    (_, url_a), (_, url_b) = start(), start()
    agent, code = start_agent(url_a, tmp_path / "agent", "--synthetic-screen", "20")
    procs.append(agent)
    s = connect(code, relay=url_a, name="Alice")
    token = str(s.call("relay.viewer_token").value["token"])
    with join(url_b, s.session_id, token) as ws:
        watch_slowly(ws)
    s.close()
    assert agent.wait(30) == 0
