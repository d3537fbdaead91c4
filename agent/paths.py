"""Path rules for each OS flavour, as pure functions: no file system access.

The technician types paths in a notebook; the agent applies the rules of its
own OS.  This module turns such a string into a :class:`ParsedPath` (an anchor
and a list of components) and says when two names or paths are the same for
that OS.  It never decides what may be opened: that is done by file identity
in :mod:`agent.forbidden`.  The comparison keys here serve display, matching a
customer's typed folder name against a recorded one, and tests.

Rules by flavour:

``posix`` (Linux)
    ``/`` is the root; names are case-sensitive and compared exactly.
``mac``
    Like ``posix``, but names compare without regard to case or Unicode
    normalisation (APFS and HFS+ defaults: ``Résumé`` in NFC and NFD, and
    ``RÉSUMÉ``, are one name).
``windows``
    A drive (``C:\\``) or a UNC share (``\\\\server\\share\\``) is the anchor;
    ``\\\\?\\`` long-path prefixes are accepted; names compare without regard to
    case (simple upper-casing, as NTFS does); trailing dots and spaces are
    dropped as Win32 does; device names (``CON``, ``NUL``, ``COM1``…) and the
    characters ``<>:"|?*`` are refused (a colon would name an alternate data
    stream).

For every flavour the technician may write either separator, ``~`` stands for
the customer's home folder when one is given, and a path must be absolute.
On ``posix`` and ``mac`` a backslash is therefore read as a separator: a file
whose name contains a backslash cannot be addressed (a known limitation).

Every function raises :class:`~wire.errors.BadParams` (code ``bad_params``)
for a path it refuses, with a sentence saying why.
"""

from __future__ import annotations

import sys
import unicodedata
from dataclasses import dataclass
from typing import Final, Literal

from wire.errors import BadParams

Flavour = Literal["posix", "windows", "mac"]
FLAVOURS: Final[tuple[Flavour, ...]] = ("posix", "windows", "mac")

#: Longest path accepted, in characters.
MAX_PATH_LENGTH: Final[dict[Flavour, int]] = {"posix": 4096, "mac": 1024, "windows": 32767}
#: Longest single name, in UTF-8 bytes (posix, mac) or UTF-16 code units (windows).
MAX_NAME_LENGTH: Final = 255

_WINDOWS_BAD_CHARS: Final = frozenset('<>:"|?*') | frozenset(chr(c) for c in range(1, 32))
_WINDOWS_DEVICES: Final = frozenset(
    ["CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"]
    + [f"{p}{n}" for p in ("COM", "LPT") for n in [*"123456789", "¹", "²", "³"]]
)


def current_flavour(platform: str | None = None) -> Flavour:
    """The flavour of this machine (or of *platform*, a ``sys.platform`` value)."""
    name = platform if platform is not None else sys.platform
    if name.startswith("win"):
        return "windows"
    if name == "darwin":
        return "mac"
    return "posix"


@dataclass(frozen=True)
class ParsedPath:
    """An absolute path split into its anchor and components.

    ``anchor`` is ``"/"`` on posix and mac; ``"C:\\"`` or ``"\\\\server\\share\\"``
    on windows.  ``parts`` never holds ``""`` or ``"."``; it may hold ``".."``,
    which only the file system can resolve correctly once links are involved.
    ``trailing_separator`` records that the technician ended the path with a
    separator, meaning "this folder" (``move(a, "dir/")`` moves into ``dir``).
    """

    flavour: Flavour
    anchor: str
    parts: tuple[str, ...]
    trailing_separator: bool = False

    def __str__(self) -> str:
        return join(self.flavour, self.anchor, self.parts)

    @property
    def name(self) -> str:
        """The last component, or ``""`` for the anchor itself."""
        return self.parts[-1] if self.parts else ""

    @property
    def parent(self) -> ParsedPath:
        """The path without its last component (the anchor's parent is itself)."""
        return ParsedPath(self.flavour, self.anchor, self.parts[:-1])

    def child(self, name: str) -> ParsedPath:
        """This path with *name* appended; raises BadParams for a bad name."""
        check_name(name, self.flavour)
        return ParsedPath(self.flavour, self.anchor, (*self.parts, name))


def join(flavour: Flavour, anchor: str, parts: tuple[str, ...] | list[str]) -> str:
    """The display form of an anchor and components, with the flavour's separator."""
    sep = "\\" if flavour == "windows" else "/"
    return anchor + sep.join(parts)


def parse(path: str, flavour: Flavour, *, home: str | None = None) -> ParsedPath:
    """Parse an absolute path typed by the technician.

    *home* replaces a leading ``~`` (itself parsed with the same rules).
    Raises BadParams for an empty path, a NUL character, a relative path,
    ``~user``, a path that is too long, or (windows) a drive-relative path,
    a device path, a reserved device name or a forbidden character.
    """
    if not isinstance(path, str):
        raise BadParams("a path must be a string")
    if path == "":
        raise BadParams("the path is empty")
    if "\x00" in path:
        raise BadParams("the path contains a NUL character")
    if len(path) > MAX_PATH_LENGTH[flavour]:
        raise BadParams(f"the path is longer than {MAX_PATH_LENGTH[flavour]} characters")
    text = path.replace("\\", "/")
    if text == "~" or text.startswith("~/"):
        if home is None:
            raise BadParams("'~' is not available here; give the full path")
        base = parse(home, flavour)
        rest = _split(text[1:])
        extra = tuple(_clean_part(p, flavour) for p in rest)
        return ParsedPath(flavour, base.anchor, base.parts + extra, text.endswith("/") and bool(extra))
    if text.startswith("~"):
        raise BadParams("'~user' paths are not supported; give the full path")
    if flavour == "windows":
        anchor, rest_text = _windows_anchor(text)
    else:
        if not text.startswith("/"):
            raise BadParams(f"{path!r} is not a full path; it must start with '/'")
        anchor, rest_text = "/", text
    parts = tuple(_clean_part(p, flavour) for p in _split(rest_text))
    trailing = rest_text.endswith("/") and bool(parts)
    return ParsedPath(flavour, anchor, parts, trailing)


def _split(text: str) -> list[str]:
    return [p for p in text.split("/") if p not in ("", ".")]


def _clean_part(part: str, flavour: Flavour) -> str:
    if part == "..":
        return part
    if flavour == "windows":
        # Win32 drops trailing dots and spaces: "secret. " opens "secret".
        stripped = part.rstrip(". ")
        if not stripped:
            raise BadParams(f"{part!r} is not a valid Windows name")
        _check_windows_name(stripped)
        return stripped
    if len(part.encode("utf-8", "surrogateescape")) > MAX_NAME_LENGTH:
        raise BadParams(f"a name in the path is longer than {MAX_NAME_LENGTH} bytes")
    return part


def _check_windows_name(name: str) -> None:
    bad = sorted(set(name) & _WINDOWS_BAD_CHARS)
    if bad:
        shown = ", ".join(repr(c) for c in bad)
        raise BadParams(f"{name!r} contains characters Windows does not allow in names: {shown}")
    stem = name.split(".", 1)[0].rstrip(" ").upper()
    if stem in _WINDOWS_DEVICES:
        raise BadParams(f"{name!r} names a Windows device, not a file")
    if len(name.encode("utf-16-le", "surrogatepass")) // 2 > MAX_NAME_LENGTH:
        raise BadParams(f"a name in the path is longer than {MAX_NAME_LENGTH} characters")


def _windows_anchor(text: str) -> tuple[str, str]:
    """Split a windows path (already with '/' separators) into anchor and rest."""
    if text.startswith("//?/") or text.startswith("//./"):
        device = text.startswith("//./")
        text = text[4:]
        if text[:4].upper() == "UNC/":
            text = "//" + text[4:]
        elif device and not (len(text) >= 2 and text[1] == ":" and text[0].isalpha()):
            raise BadParams("device paths (\\\\.\\...) do not name files")
    if text.startswith("//"):
        pieces = text[2:].split("/")
        if len(pieces) < 2 or not pieces[0] or not pieces[1]:
            raise BadParams("a network path needs a server and a share: \\\\server\\share\\...")
        server, share = pieces[0], pieces[1]
        for name in (server, share):
            _check_windows_name(name)
        return f"\\\\{server}\\{share}\\", "/" + "/".join(pieces[2:])
    if len(text) >= 2 and text[1] == ":" and text[0].isascii() and text[0].isalpha():
        if len(text) == 2 or text[2] != "/":
            raise BadParams(f"{text[:2]} without a separator is relative to the drive's current folder; "
                            f"write {text[:2]}\\...")
        return f"{text[0].upper()}:\\", text[2:]
    if text.startswith("/"):
        raise BadParams("a Windows path needs a drive letter (C:\\...) or a share (\\\\server\\share\\...)")
    raise BadParams(f"{text!r} is not a full path; start it with a drive letter such as C:\\")


def check_name(name: str, flavour: Flavour) -> None:
    """Check *name* as the name of a file or folder about to be created.

    Raises BadParams for ``""``, ``"."``, ``".."``, a separator, NUL, an
    over-long name, and (windows) a name Windows refuses or silently changes.
    """
    if name in ("", ".", ".."):
        raise BadParams(f"{name!r} is not a name for a file or folder")
    if "\x00" in name:
        raise BadParams("the name contains a NUL character")
    if "/" in name or "\\" in name:
        raise BadParams(f"{name!r} contains a separator")
    if flavour == "windows":
        if name != name.rstrip(". "):
            raise BadParams(f"{name!r} ends with a dot or a space, which Windows removes")
        _check_windows_name(name)
    elif len(name.encode("utf-8", "surrogateescape")) > MAX_NAME_LENGTH:
        raise BadParams(f"the name is longer than {MAX_NAME_LENGTH} bytes")


def _simple_map(text: str, upper: bool) -> str:
    # One character to one character, like the file systems' tables: "ß" stays "ß".
    out = []
    for ch in text:
        mapped = ch.upper() if upper else ch.lower()
        out.append(mapped if len(mapped) == 1 else ch)
    return "".join(out)


def name_key(name: str, flavour: Flavour) -> str:
    """The key under which the flavour's file systems consider two names equal."""
    if flavour == "windows":
        return _simple_map(name.rstrip(". ") if name not in (".", "..") else name, upper=True)
    if flavour == "mac":
        return unicodedata.normalize("NFD", _simple_map(unicodedata.normalize("NFD", name), upper=False))
    return name


def same_name(a: str, b: str, flavour: Flavour) -> bool:
    """True when *a* and *b* name the same entry of one folder on *flavour*."""
    return name_key(a, flavour) == name_key(b, flavour)


def lexical_parts(path: ParsedPath) -> tuple[str, ...]:
    """Components with ``..`` folded away lexically (going above the anchor stays at it).

    Only right when no component is a link; used for display and matching
    recorded names, never to decide access.
    """
    stack: list[str] = []
    for part in path.parts:
        if part == "..":
            if stack:
                stack.pop()
        else:
            stack.append(part)
    return tuple(stack)


def same_path(a: ParsedPath, b: ParsedPath) -> bool:
    """True when *a* and *b* spell the same path under *a*'s flavour rules (lexically)."""
    if a.flavour != b.flavour or name_key(a.anchor, a.flavour) != name_key(b.anchor, b.flavour):
        return False
    pa, pb = lexical_parts(a), lexical_parts(b)
    return len(pa) == len(pb) and all(same_name(x, y, a.flavour) for x, y in zip(pa, pb, strict=True))


def is_within(child: ParsedPath, parent: ParsedPath) -> bool:
    """True when *child* is *parent* or below it, lexically, under the flavour's rules.

    A string answer: links, mounts and renames can make it wrong, which is why
    :mod:`agent.forbidden` decides by file identity instead.
    """
    if child.flavour != parent.flavour:
        return False
    if name_key(child.anchor, child.flavour) != name_key(parent.anchor, parent.flavour):
        return False
    pc, pp = lexical_parts(child), lexical_parts(parent)
    return len(pc) >= len(pp) and all(same_name(x, y, child.flavour) for x, y in zip(pc, pp, strict=False))
