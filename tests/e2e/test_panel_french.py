"""A French customer on the demo's desktop (twm, mousepad on an app's settings): the real agent with its
window, started in French, through a session that touches files, the registry, the inventory, a download,
a protected folder and control.

Checked from outside the agent: every line its window shows (read from the Tk widgets through the X
server) is the rendering of a French catalogue entry and of no English one; the download is one line that
ends saying it is done, with its size; once connected, the window is a small session bar at the top of the
screen, seen in an independent capture of the root window (ImageMagick's ``import``), not overlapping the
editor the technician works in, and still on top after another window is raised over it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from agent.panel.wording import FRENCH
from agent.registry.regf_edit import new_hive
from tests.e2e.panel_reader import ENGLISH_LINE, bar_on_screen, french_window_patterns, geometry, overlap, read_widgets
from tests.e2e.x11tools import need, run_x
from workbench import Forbidden, connect
from workbench.desktop import Desktop, seed_customer_home
from workbench.lab import Proc, Xvfb, start_agent

pytestmark = pytest.mark.e2e

MIB = 1024 * 1024
LOG = ".session.main.activity.log get 1.0 end-1c"


@pytest.fixture
def desktop(tmp_path: Path) -> Iterator[tuple[Xvfb, Path, Path]]:
    """The demo's customer desktop at 1280×800: its screen, the customer's home and protected folder."""
    for tool, package in (("Xvfb", "xvfb"), ("twm", "twm"), ("mousepad", "mousepad"), ("xdotool", "xdotool"),
                          ("xwininfo", "x11-utils")):
        need(tool, package)
    screen = Xvfb(1280, 800, reset=False)
    home = tmp_path / "client"
    home.mkdir()
    app, private = seed_customer_home(home)
    customer = Desktop(screen.display, home)
    try:
        customer.start(next(app.glob("*.ini")))
        yield screen, home, private
    finally:
        customer.stop()
        screen.stop()


def wait_until(check: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def test_a_french_customer_reads_only_french_and_keeps_a_small_bar_on_top(
        desktop: tuple[Xvfb, Path, Path], relay: tuple[Proc, str, Path], procs: list[Proc], tmp_path: Path) -> None:
    screen, home, private = desktop
    display = screen.display
    _, url, _ = relay
    big = home / "Documents" / "image disque.bin"
    with open(big, "wb") as sparse:
        sparse.truncate(24 * MIB)
    hive = home / "registre.hiv"
    hive.write_bytes(new_hive("ROOT", "SOFTWARE"))
    agent, code = start_agent(url, tmp_path / "agent", "--lang", "fr", "--forbid", str(private), "--allow-control",
                              window=True, env=screen.env())
    procs.append(agent)
    editor = geometry(display, "--onlyvisible", "--classname", "mousepad")

    s = connect(code, relay=url, name="Julie")
    s.ping()
    s.inventory()
    s.files.list(str(home / "Documents"))
    s.files.read(str(home / "Documents" / "shopping list.txt"))
    with pytest.raises(Forbidden):
        s.files.list(str(private))
    with s.registry.open_hive(str(hive)) as opened:
        opened.set("Editeur\\Appli", "Couleur", "bleu")
        opened.values("Editeur\\Appli")
    s.files.download(str(big), tmp_path / "copie.bin", progress=False)
    s.control.click(1270, 790)
    s.ping()  # the last line, once shown, says every earlier one was drawn

    def window() -> dict[str, str | None]:
        apps = read_widgets(display, {"log": LOG, "headline": ".session.headline cget -text",
                                      "status": ".session.status cget -text",
                                      "who": ".bar.frame.who cget -text", "state": ".bar.frame.state cget -text",
                                      "latest": ".bar.frame.latest cget -text"})
        assert len(apps) == 1, apps
        return next(iter(apps.values()))

    seen: dict[str, str | None] = {}

    def pinged_twice() -> bool:
        seen.update(window())
        return (seen["log"] or "").count("Le technicien a vérifié que la connexion fonctionne") == 2

    wait_until(pinged_twice, "the window to show the last ping")
    lines = [line.split("  ", 1)[1] for line in (seen["log"] or "").splitlines()]
    french = french_window_patterns()
    not_french = [line for line in lines if not french.fullmatch(line)]
    assert not not_french, "lines that are no French catalogue entry:\n" + "\n".join(not_french)
    english = [line for line in lines if ENGLISH_LINE.fullmatch(line)]
    assert not english, english
    for expected in ("Le technicien a lu les informations de votre système",
                     "Le technicien a été empêché d'ouvrir un dossier que vous avez protégé",
                     "Le technicien a cliqué en (1270, 790)"):
        assert expected in lines, lines
    assert any(line.startswith("Le technicien a changé la valeur « Couleur » dans le fichier de registre")
               for line in lines), lines
    about_the_download = [line for line in lines if "image disque.bin" in line]
    assert about_the_download == [f"Le technicien a copié le fichier {big} depuis votre ordinateur : terminé, "
                                  "24,0 Mio"]
    assert seen["headline"] == FRENCH.headline_connected.format(technician="Julie")
    assert seen["status"] in FRENCH.core_lines.values()
    assert seen["who"] == FRENCH.bar_connected.format(technician="Julie")
    assert seen["state"] in {f"{FRENCH.bar_recorded} · {FRENCH.bar_control_on}",  # --allow-control, relay records
                             f"{FRENCH.bar_not_recorded} · {FRENCH.bar_control_on}"}
    latest = seen["latest"] or ""  # the newest line, cut to the bar's width
    assert latest == lines[-1] or (latest.endswith("…") and lines[-1].startswith(latest[:-1])), (latest, lines[-1])

    # The bar, seen by an independent X client: small, at the top, off the editor, on top of the others.
    bar = geometry(display, "--name", "^Assistance ")  # the bar: FRENCH.bar_title (xdotool's regex is ASCII)
    assert bar[2] <= 420 and bar[3] <= 60 and bar[1] <= 4, bar
    assert not overlap(bar, editor), (bar, editor)
    centre = (640 - 200, 400 - 150, 400, 300)
    assert not overlap(bar, centre)
    shot = tmp_path / "screen.png"
    assert bar_on_screen(display, shot, bar)
    if os.environ.get("PANEL_BAR_SCREENSHOT"):  # to look at the bar on the desktop
        shutil.copy(shot, os.environ["PANEL_BAR_SCREENSHOT"])
    full = subprocess.run(["xdotool", "search", "--onlyvisible", "--name", "^Remote support$"], capture_output=True,
                          text=True, env={"DISPLAY": display, "PATH": "/usr/bin:/bin"}, timeout=20, check=False)
    assert full.stdout.strip() == ""  # the full window collapsed into the bar
    terminal = run_x(display, "xdotool", "search", "--onlyvisible", "--classname", "xterm").split()[0]
    run_x(display, "xdotool", "windowmove", "--sync", terminal, str(bar[0]), "0", "windowraise", terminal)
    wait_until(lambda: bar_on_screen(display, shot, bar), "the bar to come back over a raised window", 20)
    s.close()
    assert agent.wait(30) == 0
