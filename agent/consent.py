"""The terms of use the customer accepts (C5), and where the agent keeps its data."""

from __future__ import annotations

import hashlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path

TERMS_DIR = Path(__file__).with_name("terms")
LANGUAGES = ("en", "fr")


@dataclass(frozen=True)
class Terms:
    """One version of the terms: its name, text, and sha256 (what the journal records)."""

    name: str
    text: str
    sha256: str


def load_terms(path: Path | None = None, language: str = "en") -> Terms:
    """Read the operator's terms file, or the shipped sample in *language*.

    Raises OSError when the file cannot be read and ValueError when it is
    empty or not UTF-8: the agent must not ask for consent to nothing.
    """
    if path is None:
        if language not in LANGUAGES:
            raise ValueError(f"no shipped terms in {language!r}; choose one of {', '.join(LANGUAGES)}")
        path = TERMS_DIR / f"terms.{language}.txt"
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ValueError(f"{path}: the terms must be UTF-8 text") from err
    if not text.strip():
        raise ValueError(f"{path}: the terms file is empty")
    return Terms(path.name, text, hashlib.sha256(raw).hexdigest())


def default_data_dir() -> Path:
    """The user's application-data folder for the agent, per OS."""
    if sys.platform == "win32":
        base = Path(os.environ.get("APPDATA") or Path.home() / "AppData" / "Roaming")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "workbench-agent"
