"""Every sentence the customer reads exists in English and French, with the same placeholders, and every
describe / notice path of the agent produces a sentence the catalogues know.

Fails on a missing translation: an English id without a French entry (or the other way round), a French
entry with other placeholders, a method whose words are not a catalogue sentence, a sentence whose French
rendering is still the English one.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest

from agent import files, inventory, registry
from agent.annotate import AnnotationService
from agent.annotate.model import COLOUR_NAMES, Tool, describe_add
from agent.control import ControlService
from agent.control.bursts import Burst
from agent.control.service import HOTKEY_WORDS
from agent.dispatch import REFUSAL_WORDS, Dispatcher, Method, error_words
from agent.forbidden.follow import follow
from agent.forbidden.rules import Identity
from agent.limits import LIMITS
from agent.panel import catalogue_en, catalogue_fr
from agent.panel.catalogue import ENGLISH, FRENCH, Bytes, Said, UnknownMessage, catalogue_for, placeholders, say
from agent.policy import Policy
from agent.screen import HiddenRegions, ScreenService
from wire import errors

ROOT = Path(__file__).resolve().parents[1]


def test_every_english_sentence_has_a_french_one_with_the_same_placeholders() -> None:
    missing = sorted(set(catalogue_en.MESSAGES) - set(catalogue_fr.MESSAGES))
    extra = sorted(set(catalogue_fr.MESSAGES) - set(catalogue_en.MESSAGES))
    assert not missing, f"no French for {missing}"
    assert not extra, f"French sentences with no English id: {extra}"
    different = {key: (placeholders(english), placeholders(catalogue_fr.MESSAGES[key]))
                 for key, english in catalogue_en.MESSAGES.items()
                 if placeholders(english) != placeholders(catalogue_fr.MESSAGES[key])}
    assert not different, different


def test_every_literal_message_id_in_the_agent_is_in_the_catalogue() -> None:
    used: set[tuple[str, str]] = set()
    for path in (ROOT / "agent").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "say"
                    and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
                used.add((str(path.relative_to(ROOT)), node.args[0].value))
    assert len(used) > 60  # the walk found the agent's sentences
    unknown = sorted((where, key) for where, key in used if key not in catalogue_en.MESSAGES)
    assert not unknown, unknown


def test_a_missing_id_fails_loudly_and_a_broken_catalogue_never_hides_a_line() -> None:
    with pytest.raises(UnknownMessage):
        say("no.such.sentence")
    said = say("files.read", path="/x")
    broken = Said.__new__(Said, "files.read", {"path": "/x"})
    broken.key = "gone"
    assert FRENCH.render(broken) == "The technician read the file /x"  # the English words, not nothing
    assert FRENCH.render("a plain line") == "a plain line"
    assert catalogue_for("fr_FR") is FRENCH and catalogue_for(None) is ENGLISH and catalogue_for("de") is ENGLISH
    assert said == "The technician read the file /x" and isinstance(said, str)  # the journal keeps English


def test_sizes_lists_and_nested_sentences_in_each_language() -> None:
    said = say("transfer.download.done", path="/a/b.iso", size=Bytes(300 * 1024 * 1024))
    assert said == "The technician copied the file /a/b.iso from your computer: done, 300.0 MiB"
    assert FRENCH.render(said) == ("Le technicien a copié le fichier /a/b.iso depuis votre ordinateur : terminé, "
                                   "300,0 Mio")
    assert ENGLISH.size(512) == "512 B" and FRENCH.size(1536) == "1,5 Kio"
    keys = say("control.part.pressed", keys=("Ctrl+C", "Enter", "Tab"))
    assert keys == "pressed Ctrl+C, Enter and Tab" and FRENCH.render(keys) == "a appuyé sur Ctrl+C, Enter et Tab"


def _services() -> list[Method]:
    async def send(name: str, body: dict[str, Any], data: bytes | None) -> None:
        return None

    def told(line: str) -> None:
        return None

    def journal(kind: str, **fields: Any) -> dict[str, Any]:
        return {}

    policy = Policy()
    screen = ScreenService(HiddenRegions(), send, told, None)
    annotate = AnnotationService(send, told, journal, None)
    control = ControlService(policy, send, told, journal, None)
    return [*inventory.METHODS, *files.METHODS, *registry.METHODS, *screen.METHODS, *annotate.METHODS,
            *control.METHODS]


#: parameters that every method's words can use (each method reads the ones it knows)
SAMPLE = {"path": "/home/ana/Documents/facture.txt", "src": "/home/ana/a.txt", "dst": "/home/ana/b.txt",
          "id": "t1", "offset": 4194304, "length": 4096, "name": "Proxy", "data": "on", "type": "REG_SZ",
          "x": 10, "y": 20, "button": 1, "from": [1, 2], "to": [3, 4], "text": "hello", "combo": "ctrl+c",
          "mark": {"tool": "arrow", "colour": "#e53935", "points": [[0, 0], [10, 10]]}}


def _assert_said_in_both(words: str, where: str) -> None:
    assert isinstance(words, Said), f"{where}: {words!r} is not a catalogue sentence"
    french = FRENCH.render(words)
    assert french != str.__str__(words), f"{where}: the French rendering is the English one: {french!r}"
    assert ENGLISH.render(words) == words


def test_every_method_of_the_built_table_says_a_known_sentence_in_french() -> None:
    from agent.session import AgentSession

    methods = _services()
    session_methods = AgentSession.methods(object.__new__(AgentSession))  # describes need no session state
    methods.extend(session_methods)
    assert len({m.name for m in methods}) >= 45
    dispatcher = object.__new__(Dispatcher)
    for method in methods:
        for params in (SAMPLE, {**SAMPLE, "hive": "hive-1"}, {}):
            words = Dispatcher._describe(dispatcher, method, params)  # as the dispatcher says it, fallback included
            _assert_said_in_both(words, method.name)
            if params:
                assert isinstance(words, Said) and words.key != "call.used", f"{method.name} failed on {params}"
    reads = {m.name: m for m in methods}
    _assert_said_in_both(reads["files.read"].describe({"path": "/x", "offset": 3}), "files.read part")
    for tool in ("pen", "arrow", "rect", "ellipse", "highlighter", "laser", "text"):
        for colour in (*COLOUR_NAMES, "#123456"):
            mark = {"tool": tool, "colour": colour, "points": [[0, 0], [5, 5]], "text": "ici"}
            _assert_said_in_both(describe_add({"mark": mark}), f"annotate {tool} {colour}")
    assert set(Tool.__args__) <= {"pen", "arrow", "rect", "ellipse", "highlighter", "laser", "text"}  # type: ignore[attr-defined]
    for double in (False, True):
        for button in (1, 2, 3, 7):
            _assert_said_in_both(reads["control.click"].describe({"x": 1, "y": 2, "button": button, "double": double}),
                                 "control.click")
    _assert_said_in_both(reads["control.key"].describe({"combo": "no such key"}), "control.key")


def test_every_refusal_error_notice_and_control_burst_is_a_known_sentence() -> None:
    for family, words in REFUSAL_WORDS.items():
        _assert_said_in_both(words, f"refusal {family!r}")
    codes = {cls.code for cls in vars(errors).values()
             if isinstance(cls, type) and issubclass(cls, errors.WorkbenchError)}
    for code in codes:
        err = errors.WorkbenchError("x")
        err.code = code
        _assert_said_in_both(say("outcome.not_done", reason=error_words(err)), f"error {code}")
    for moved_to in (None, "/elsewhere"):
        for at_path in (Identity(1, 2), None):
            change = follow("/home/ana/Private", at_path, (), moved_to, missing_before=False)
            assert change.words is not None
            _assert_said_in_both(change.words, "protected folder notice")
    burst = Burst("pointer", 0.0, 1.0, moves=3, position=(5, 6), scrolls=1)
    burst.actions.append(say("control.part.double_click", button=say("control.button.right"), at="(1, 2)"))
    _assert_said_in_both(burst.words() or "", "pointer burst")
    keys = Burst("keyboard", 0.0, 1.0, text="abc", keys=["Ctrl+C", "Enter"])
    _assert_said_in_both(keys.words() or "", "keyboard burst")
    for key in ("control.granted", "control.revoked", "control.unavailable", "screen.viewed", "screen.not_viewed",
                "annotate.not_shown", "annotate.customer_removed", "registry.undone"):
        _assert_said_in_both(say(key) if key != "control.granted" else
                             say(key, hotkeys=say("control.hotkeys")), key)
    assert say("control.hotkeys") == HOTKEY_WORDS  # the catalogue names the real take-back keys
    for platform, lines in LIMITS.items():
        for line in lines:
            _assert_said_in_both(line, f"limits of {platform}")


def test_the_app_lines_are_known_sentences() -> None:
    from agent.panel.catalogue import plural_key

    for count in (1, 3):
        _assert_said_in_both(say(plural_key("app.transfers_stopped", count), count=count), "transfers stopped")
    for key in ("app.journal_kept", "app.leftover_removed", "app.journal_alert"):
        _assert_said_in_both(say(key, path="/x"), key)
    _assert_said_in_both(say("app.session_ended_other", reason="relay_stopped"), "ended")


def test_a_transfer_line_tells_progress_then_done_cancelled_or_failed() -> None:
    from agent.files.feed import TransferFeed

    feed = TransferFeed()
    opened = feed.opened("download", lambda p: str(p["path"]))
    moved = feed.moved("download")
    closed = feed.closed("download", "done")
    first = opened({"path": "/big.iso"}, {"id": "d1", "size": 8 * 1024 * 1024}, None)
    assert first is not None and first.opens and first.action == "download:d1"
    half = moved({"id": "d1"}, {"length": 4 * 1024 * 1024}, None)
    assert half is not None and half.words == ("The technician is copying the file /big.iso from your computer: "
                                               "4.0 MiB of 8.0 MiB")
    done = moved({"id": "d1"}, {"length": 4 * 1024 * 1024}, None)
    assert done is not None and done.ends and str(done.words).endswith("done, 8.0 MiB")
    late = closed({"id": "d1"}, {"closed": True}, None)
    assert late is not None and late.words is None  # the end was said once
    opened({"path": "/b"}, {"id": "d2", "size": 100}, None)
    cancelled = closed({"id": "d2"}, {"closed": True}, None)
    assert cancelled is not None and str(cancelled.words).startswith("The technician stopped copying the file /b")
    opened({"path": "/c"}, {"id": "d3", "size": 100}, None)
    failed = moved({"id": "d3"}, None, errors.Conflict("shrank"))
    assert failed is not None and failed.ends
    assert FRENCH.render(failed.words or "") == ("La copie du fichier /c depuis votre ordinateur a échoué après 0 o "
                                                 "sur 100 o : cela a changé entre-temps")


def test_no_english_left_in_the_french_window_words() -> None:
    """The French catalogue's sentences use no English words a customer would read (a tripwire, not a grammar)."""
    english = re.compile(r"\b(the|technician|your|file|was|has|and|you)\b", re.IGNORECASE)
    leaks = {key: text for key, text in catalogue_fr.MESSAGES.items()
             if english.search(re.sub(r"\{\w+\}", "", text))}
    assert not leaks, leaks
