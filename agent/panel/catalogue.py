"""Sentences for the customer as message ids with parameters, and the catalogues that turn them into words.

The agent core says what happened with :func:`say`, e.g. ``say("files.read", path="C:\\notes.txt")``.
The result, a :class:`Said`, *is* its English sentence (a ``str``): the journal, the logs, the
console panel and every caller that only knows strings keep working and keep English.  It also
carries its message id and parameters, so the customer window renders it again in the customer's
language with :meth:`Catalogue.render`.

Why the journal keeps English: it is evidence, read by the support service and by whoever audits a
session, and compared with the relay's copy record by record (hash-chained); one language keeps every
journal comparable and searchable whatever language each customer chose, and the English sentence is
the reference every translation is checked against.  The customer reads their own language in the
window; the journal's words stay what the technician's side sees.

One catalogue module per language holds every sentence: :mod:`agent.panel.catalogue_en` and
:mod:`agent.panel.catalogue_fr`.  ``tests/test_panel_catalogue.py`` fails when an English id has no
French entry, or a French entry has other placeholders than the English one.

Parameters are data (paths, names, numbers) shown as they are, or words of their own: a
:class:`Said` (rendered in the same language), a tuple of them or of texts (joined: "a, b and c"), or
:class:`Bytes` (a size, written with the language's units).  Nothing here imports Tk.
"""

from __future__ import annotations

import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Union

Param = Union[str, int, "Bytes", "Said", "Would", tuple[Union[str, "Said"], ...]]


class Bytes(int):
    """A number of bytes, written for people: ``300.0 MiB`` in English, ``300,0 Mio`` in French."""


@dataclass(frozen=True)
class Would:
    """A sentence said as what *would* have happened (a dry run's planned call): each language turns
    its own rendering of *sentence* into its conditional ("the technician would change …",
    « le technicien aurait modifié … »)."""

    sentence: str


class Said(str):
    """A sentence for the customer: its English words, plus the message id and parameters to say it again
    in another language.  Build it with :func:`say`."""

    key: str
    params: Mapping[str, Param]

    def __new__(cls, key: str, params: Mapping[str, Param]) -> Said:
        said = super().__new__(cls, ENGLISH.words(key, params))
        said.key = key
        said.params = dict(params)
        return said

    def __reduce__(self) -> tuple[type[Said], tuple[str, dict[str, Param]]]:
        return (Said, (self.key, dict(self.params)))


def say(key: str, **params: Param) -> Said:
    """The sentence *key* with *params*, in English as a ``str``, renderable in any catalogue.

    Raises:
        UnknownMessage: *key* is not in the English catalogue (a bug: every sentence is listed there).
        KeyError: a placeholder of the sentence has no parameter.
    """
    return Said(key, params)


def plural_key(key: str, count: int) -> str:
    """*key* ``.one`` for one thing, ``.other`` for any other count (both entries exist in each catalogue)."""
    return f"{key}.one" if count == 1 else f"{key}.other"


class UnknownMessage(KeyError):
    """A message id that the catalogue does not hold."""


def placeholders(template: str) -> set[str]:
    """The names of the ``{placeholders}`` of *template*."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


@dataclass(frozen=True)
class Catalogue:
    """Every sentence of one language, by message id."""

    language: str
    messages: Mapping[str, str]
    #: joins a list: ("a", "b", "c") → "a, b and c"
    comma: str
    last_joiner: str
    #: units for sizes, from bytes up
    units: tuple[str, ...]
    decimal_point: str
    #: a sentence of the past ("The technician changed …") as what would have happened
    conditional: Callable[[str], str]

    def words(self, key: str, params: Mapping[str, Param]) -> str:
        """The sentence *key* with *params* in this language.

        Raises:
            UnknownMessage: no such message id here.
            KeyError: a placeholder has no parameter.
        """
        try:
            template = self.messages[key]
        except KeyError:
            raise UnknownMessage(key) from None
        return template.format(**{name: self.param(value) for name, value in params.items()})

    def param(self, value: Param) -> str:
        """One parameter written in this language."""
        if isinstance(value, Said):
            return self.words(value.key, value.params)
        if isinstance(value, Would):
            return self.conditional(self.param(value.sentence))
        if isinstance(value, tuple):
            parts = [self.param(part) for part in value]
            if len(parts) <= 1:
                return "".join(parts)
            return self.comma.join(parts[:-1]) + self.last_joiner + parts[-1]
        if isinstance(value, Bytes):
            return self.size(int(value))
        return str(value)

    def size(self, count: int) -> str:
        """*count* bytes as ``512 B``, ``1.5 KiB``, ``300.0 MiB`` (in this language's units)."""
        if count < 1024:
            return f"{count} {self.units[0]}"
        value = float(count)
        unit = 0
        while value >= 1024 and unit < len(self.units) - 1:
            value /= 1024
            unit += 1
        return f"{value:.1f}".replace(".", self.decimal_point) + f" {self.units[unit]}"

    def render(self, line: str) -> str:
        """*line* in this language: a :class:`Said` is rendered again; any other text is shown as it is."""
        if isinstance(line, Said):
            try:
                return self.words(line.key, line.params)
            except (KeyError, IndexError, ValueError):  # a catalogue bug must not hide the line from the customer
                return str.__str__(line)
        return line


def _catalogue(language: str) -> Catalogue:
    if language == "fr":
        from agent.panel import catalogue_fr as module
    else:
        from agent.panel import catalogue_en as module  # type: ignore[no-redef]
    return Catalogue(language=language, messages=module.MESSAGES, comma=module.COMMA,
                     last_joiner=module.LAST_JOINER, units=module.UNITS, decimal_point=module.DECIMAL_POINT,
                     conditional=module.conditional)


ENGLISH = _catalogue("en")
FRENCH = _catalogue("fr")
CATALOGUES: dict[str, Catalogue] = {"en": ENGLISH, "fr": FRENCH}


def catalogue_for(language: str | None) -> Catalogue:
    """The catalogue for *language* (``"fr"``, ``"fr_FR"``…); English when unknown or None."""
    if language:
        return CATALOGUES.get(language[:2].lower(), ENGLISH)
    return ENGLISH
