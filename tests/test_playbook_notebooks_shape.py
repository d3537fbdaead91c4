"""The playbooks' shape (what the runner relies on) and the parameter checks, without a session."""

from __future__ import annotations

import nbformat
import pytest

from wire.errors import BadParams, NotFound
from workbench.playbooks.notebook import Playbook, playbooks_folder

PLAYBOOKS = ["browser_proxy", "desktop_setting", "diagnostic_bundle", "disk_full", "hosts_dns", "startup_apps"]


@pytest.mark.parametrize("name", PLAYBOOKS)
def test_each_playbook_says_what_it_does_and_ends_with_its_plan(name: str) -> None:
    playbook = Playbook.load(name)
    notebook = nbformat.read(playbook.path, as_version=4)
    intro = notebook.cells[0]
    assert intro.cell_type == "markdown" and "**Undo**" in intro.source and "**Touches**" in intro.source
    assert notebook.cells[1].metadata["tags"] == ["parameters"]
    assert {"session_code", "relay", "dry_run"} <= set(playbook.parameters)
    assert "s = attach(session_code, relay, dry_run=dry_run)" in notebook.cells[2].source
    assert len(playbook.steps) >= 3
    assert all(step.title for step in playbook.steps)
    assert "check(" in notebook.cells[playbook.steps[-2].cell_index].source
    assert "s.planned_changes" in notebook.cells[playbook.steps[-1].cell_index].source


def test_parameters_are_typed_by_their_defaults() -> None:
    playbook = Playbook.load("disk_full")
    assert playbook.check({"min_free_mb": "2.5", "depth": "3", "clean": '[".cache"]'}, from_text=True) == \
        {"min_free_mb": 2.5, "depth": 3, "clean": [".cache"]}
    assert playbook.check({"min_free_mb": 2}) == {"min_free_mb": 2.0}
    assert Playbook.load("browser_proxy").check({"reset_homepage": "yes"}, from_text=True) == {"reset_homepage": True}
    for given, from_text, words in [({"depth": "deep"}, True, "depth must be a whole number"),
                                    ({"depth": True}, False, "depth must be a whole number"),
                                    ({"clean": "x"}, False, "clean must be a list"),
                                    ({"folders": "/"}, True, "has no parameter 'folders'"),
                                    ({"relay": "ws://x"}, True, "set by the runner")]:
        with pytest.raises(BadParams, match=words):
            playbook.check(given, from_text=from_text)


def test_an_unknown_playbook_names_those_there_are() -> None:
    with pytest.raises(NotFound, match="there are: browser_proxy, desktop_setting"):
        Playbook.load("printer")
    with pytest.raises(BadParams, match="no cell tagged 'parameters'"):
        Playbook.load(playbooks_folder() / "network_proxy.ipynb")
