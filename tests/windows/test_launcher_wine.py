"""The download's launcher, ``workbench-agent.cmd``, run for real by Wine's ``cmd /c`` (as a double-click does).

It must take the Linux ``workbench-agent``'s options and print the same ``session code: 123 456 789``
line. What Wine cannot show: Explorer's double-click itself, SmartScreen's warning on a downloaded
``.cmd``, and a console window's look (Wine's console is not Windows'): those need a real Windows machine.
"""

from __future__ import annotations

import re
from pathlib import Path

from agent import __version__
from agent.cli import build_parser
from tests.windows.wine import WineHost, windows_path
from wire.chain import read_records
from workbench import connect
from workbench.lab import Proc


def test_the_launcher_connects_and_prints_the_code_line(wine_host: WineHost, relay: tuple[Proc, str, Path],
                                                         procs: list[Proc], tmp_path: Path) -> None:
    _, url, _ = relay
    data = tmp_path / "agent"
    agent = wine_host.start_launcher("--relay", url, "--accept-terms", "--no-window", "--data", windows_path(data),
                                     "--hide-rect", "0,0,10,10", "--hide-window", "Secret notes")
    procs.append(agent)
    code = agent.wait_for(r"^session code: (\d{3} \d{3} \d{3})$", timeout=90).group(1)
    s = connect(code, relay=url, name="Alice")
    assert s.ping() > 0
    s.close()
    assert agent.wait(60) == 0
    (journal,) = (data / "journals").glob("*.jsonl")
    records = read_records(journal)
    assert records[0]["kind"] == "consent" and "--accept-terms" in records[0]["how"]
    changes = [r.get("change") for r in records if r["kind"] == "policy"]
    assert changes == ["hide_rect", "hide_window"], changes


def test_the_launcher_takes_the_linux_options(wine_host: WineHost) -> None:
    """``--help`` under Wine lists every option of the Linux parser; ``--version`` is the agent's."""
    shown = wine_host.run_launcher("--help")
    assert shown.returncode == 0, shown.stdout
    linux_options = {option for action in build_parser()._actions for option in action.option_strings}
    windows_options = set(re.findall(r"(?<![\w-])(--?[a-z][\w-]*)", shown.stdout))
    assert linux_options <= windows_options, linux_options - windows_options
    version = wine_host.run_launcher("--version")
    assert version.returncode == 0 and version.stdout.strip() == f"workbench-agent {__version__}", version.stdout


def test_a_refused_option_says_why_and_fails(wine_host: WineHost) -> None:
    done = wine_host.run_launcher("--no-window", "--relay", "ws://127.0.0.1:9")
    assert done.returncode == 2, done.stdout
    assert "--accept-terms" in done.stdout  # the same words as on Linux: no window, no consent asked


def test_the_download_says_what_to_do(wine_host: WineHost) -> None:
    readme = (wine_host.download / "README.txt").read_bytes().decode("utf-8")
    assert "workbench-agent.cmd" in readme and "\r\n" in readme  # Notepad of old Windows wants CRLF
    launcher = (wine_host.download / "workbench-agent.cmd").read_bytes()
    assert b"\r\n" in launcher and b"\n" not in launcher.replace(b"\r\n", b"")
