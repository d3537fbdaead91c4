"""Terms of use: the bundled samples in several languages, an operator's own file, and their variants.

Raises ``ValueError`` for an unknown language or a file that is empty or not
UTF-8, ``OSError`` when a file cannot be read.
"""

from __future__ import annotations

import hashlib
import locale
import os
import re
from pathlib import Path

from agent.panel.base import Terms

#: Where the sample terms we ship live: ``terms.<language>.txt``.
TERMS_DIR = Path(__file__).resolve().parent.parent / "terms"

_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}([-_][A-Za-z]{2,4})?$")
_VARIANT = re.compile(r"^(?P<stem>.+)\.(?P<lang>[A-Za-z]{2,3})\.txt$")


def terms_language(name: str) -> str | None:
    """The language code in a terms file name (``terms.fr.txt`` → ``"fr"``), else None."""
    match = _VARIANT.match(Path(name).name)
    return match.group("lang").lower() if match else None


def available_terms(directory: Path = TERMS_DIR) -> dict[str, Path]:
    """The bundled (or *directory*'s) ``terms.<language>.txt`` files, by language code."""
    found: dict[str, Path] = {}
    if directory.is_dir():
        for path in sorted(directory.glob("terms.*.txt")):
            language = terms_language(path.name)
            if language:
                found[language] = path
    return found


def _user_language() -> str | None:
    for variable in ("LC_ALL", "LC_MESSAGES", "LANG"):  # POSIX precedence: the first one set decides
        value = os.environ.get(variable)
        if value:
            return None if value in ("C", "POSIX") or value.startswith("C.") else value[:2].lower()
    try:
        code = locale.getlocale()[0]  # Windows and macOS set no variable
    except ValueError:
        return None
    return code[:2].lower() if code else None


def _read_terms(path: Path, name: str) -> Terms:
    raw = path.read_bytes()
    try:
        # utf-8-sig: an operator's file saved by Windows Notepad starts with a BOM
        text = raw.decode("utf-8-sig").replace("\r\n", "\n")
    except UnicodeDecodeError as err:
        raise ValueError(f"terms file {path} is not UTF-8 text: {err}") from err
    if not text.strip():
        raise ValueError(f"terms file {path} is empty")
    return Terms(text, name, hashlib.sha256(raw).hexdigest())


def load_terms(path_or_lang: str | os.PathLike[str] | None = None) -> Terms:
    """Load terms of use: the bundled sample in a language, or an operator's file.

    *path_or_lang* is ``None`` (the bundled sample in the user's language,
    English when there is none), a language code such as ``"fr"``, or the path
    of a UTF-8 text file.

    Raises:
        ValueError: unknown language (the message lists those available), or a
            file that is empty or not UTF-8.
        OSError: the file cannot be read (``FileNotFoundError`` when absent).
    """
    bundled = available_terms()
    if path_or_lang is None:
        language = _user_language()
        path_or_lang = language if language in bundled else "en"
    if isinstance(path_or_lang, str) and _LANGUAGE.match(path_or_lang) and not Path(path_or_lang).exists():
        language = path_or_lang[:2].lower() if len(path_or_lang) > 3 else path_or_lang.lower()
        if language not in bundled:
            raise ValueError(f"no terms in language {path_or_lang!r}; available: {', '.join(sorted(bundled))}")
        return _read_terms(bundled[language], bundled[language].name)
    path = Path(path_or_lang).expanduser().resolve()
    name = path.name if path.parent == TERMS_DIR else str(path)
    return _read_terms(path, name)


def terms_variants(terms_text: str, terms_name: str) -> dict[str, Terms]:
    """The other languages of the terms being shown, by language code.

    Variants are the sibling files ``<stem>.<language>.txt`` of *terms_name*
    (bundled names resolve to :data:`TERMS_DIR`).  They are offered only when
    *terms_text* is exactly the text of the file *terms_name* names, so a text
    the core built itself is never swapped for another.  Unreadable siblings
    are left out.  Returns ``{}`` when there is nothing to choose.
    """
    match = _VARIANT.match(Path(terms_name).name)
    if not match:
        return {}
    directory = Path(terms_name).parent if Path(terms_name).is_absolute() else TERMS_DIR
    variants: dict[str, Terms] = {}
    for path in sorted(directory.glob(f"{glob_escape(match.group('stem'))}.*.txt")):
        language = terms_language(path.name)
        sibling = _VARIANT.match(path.name)
        if not language or not sibling or sibling.group("stem") != match.group("stem"):
            continue
        name = path.name if directory == TERMS_DIR else str(path)
        try:
            variants[language] = _read_terms(path, name)
        except (OSError, ValueError):
            continue
    shown = terms_language(terms_name)
    if shown not in variants or variants[shown].text != terms_text.replace("\r\n", "\n"):
        return {}
    return variants if len(variants) > 1 else {}


def glob_escape(text: str) -> str:
    """*text* with glob wildcards escaped (``[``, ``*``, ``?``)."""
    return re.sub(r"([\[\]*?])", r"[\1]", text)
