"""agent.panel.terms: the bundled terms in each language, an operator's file, and the variants offered."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from agent.panel.base import Terms
from agent.panel.terms import (
    TERMS_DIR,
    available_terms,
    load_terms,
    terms_language,
    terms_variants,
)

#: Length and SHA-256 of each sentence of the seed document (another vendor's terms, kept out of the repository).
SEED_SENTENCES = Path(__file__).parent / "fixtures" / "seed_sentences.sha256"

# -- terms -------------------------------------------------------------------------------


def test_bundled_terms_exist_in_english_and_french() -> None:
    assert set(available_terms()) >= {"en", "fr"}
    english, french = load_terms("en"), load_terms("fr")
    assert english.name == "terms.en.txt" and french.name == "terms.fr.txt"
    assert english.sha256 == hashlib.sha256((TERMS_DIR / "terms.en.txt").read_bytes()).hexdigest()
    # the same seven numbered parts in both languages
    numbered = re.compile(r"^\d\. ", re.MULTILINE)
    assert len(numbered.findall(english.text)) == len(numbered.findall(french.text)) == 7
    for word in ("consent", "end the session", "serial number", "personal data", "folder", "hide", "mouse"):
        assert word in english.text.lower(), word
    for word in ("accord", "mettre fin", "numéro de série", "donnée personnelle", "dossier", "cacher", "souris"):
        assert word in french.text.lower(), word


def test_terms_copy_no_sentence_from_the_seed() -> None:
    def normalise(text: str) -> str:
        return re.sub(r"\s+", " ", text.replace("’", "'")).strip().lower()

    ours = normalise(load_terms("fr").text + " " + load_terms("en").text)
    seed: dict[int, set[str]] = {}  # length -> digests of the seed's sentences of that length
    for line in SEED_SENTENCES.read_text().splitlines():
        if line and not line.startswith("#"):
            length, digest = line.split()
            seed.setdefault(int(length), set()).add(digest)
    assert len(seed) > 20
    copied = [ours[i : i + n] for n, digests in seed.items() for i in range(len(ours) - n + 1)
              if hashlib.sha256(ours[i : i + n].encode()).hexdigest() in digests]
    assert copied == []


def test_load_terms_default_follows_the_users_language(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ("LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("LANG", "fr_FR.UTF-8")
    assert load_terms().name == "terms.fr.txt"
    monkeypatch.setenv("LC_ALL", "C")  # LC_ALL wins, and C means no translation
    assert load_terms().name == "terms.en.txt"
    monkeypatch.setenv("LC_ALL", "de_DE.UTF-8")  # no German terms: English
    assert load_terms().name == "terms.en.txt"


def test_load_terms_from_an_operators_file(tmp_path: Path) -> None:
    raw = "\ufeffOur terms.\r\nSecond line.\r\n".encode()
    path = tmp_path / "acme.txt"
    path.write_bytes(raw)
    terms = load_terms(path)
    assert terms == Terms("Our terms.\nSecond line.\n", str(path.resolve()), hashlib.sha256(raw).hexdigest())


def test_load_terms_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="available: en, fr"):
        load_terms("de")
    with pytest.raises(FileNotFoundError):
        load_terms(tmp_path / "missing.txt")
    (tmp_path / "empty.txt").write_text("  \n")
    with pytest.raises(ValueError, match="empty"):
        load_terms(tmp_path / "empty.txt")
    (tmp_path / "latin1.txt").write_bytes("conditions générales".encode("latin-1"))
    with pytest.raises(ValueError, match="UTF-8"):
        load_terms(tmp_path / "latin1.txt")


def test_terms_variants(tmp_path: Path) -> None:
    english = load_terms("en")
    assert set(terms_variants(english.text, english.name)) >= {"en", "fr"}
    assert terms_variants(english.text + "changed", english.name) == {}  # never swap a text we did not load
    (tmp_path / "acme.en.txt").write_text("Hello\n")
    (tmp_path / "acme.fr.txt").write_text("Bonjour\n")
    (tmp_path / "other.de.txt").write_text("Hallo\n")
    acme = load_terms(tmp_path / "acme.en.txt")
    variants = terms_variants(acme.text, acme.name)
    assert sorted(variants) == ["en", "fr"] and variants["fr"].text == "Bonjour\n"
    single = load_terms(tmp_path / "other.de.txt")
    assert terms_variants(single.text, single.name) == {}
    assert terms_language("terms.fr.txt") == "fr" and terms_language("terms.txt") is None
