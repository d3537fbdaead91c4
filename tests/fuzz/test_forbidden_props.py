"""The POSIX path resolver under random spellings: nothing it resolves is ever inside the protected folder.

A tree in a temporary folder holds a protected folder ``secret`` (a file, a subfolder) and,
around it, folders and symbolic links of every kind: relative and absolute links to it, to
its parent, to itself, chains of links, a loop, a link through ``/proc/self/fd`` to a
descriptor held on the folder, names that differ from ``secret`` only by case, Unicode
normalisation or a trailing space.  Random paths are spelled from those names with ``..``,
``.``, doubled separators, backslashes (a separator on POSIX) and ``~``.

The property: :class:`agent.forbidden.Guard` either refuses (a
:class:`~wire.errors.WorkbenchError` with its code, never another exception), or what
it resolves — the folder it stops in, the folder or file it opens — is neither the
protected folder nor below it, judged by file identity (``st_dev``, ``st_ino``) and
each directory's chain of parents.  Linux (``/proc``) only, like the resolver's design.
"""

from __future__ import annotations

import os
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.forbidden import ForbiddenFolders, Guard, Identity
from agent.forbidden._posix import ancestors
from tests.fuzz.bounded import bounded
from wire.errors import WorkbenchError


@dataclass
class Tree:
    root: Path
    secret: Identity
    secret_files: set[Identity]
    folders: ForbiddenFolders
    held: int


NAMES = ["home", "ana", "secret", "sub", "s.txt", "deep.txt", "notes.txt", "public", "Secret", "SECRET",
         "secret ", unicodedata.normalize("NFD", "sécret"), unicodedata.normalize("NFC", "sécret"),
         "l_rel", "l_abs", "l_parent", "l_self", "l_chain", "l_loop", "l_file", "l_fd", "l_dots", "l_up",
         "l_public", "missing", "..", ".", "", "...", "secret/.", "ﬀ"]


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tree]:
    root = tmp_path_factory.mktemp("resolver")
    ana = root / "home" / "ana"
    secret = ana / "secret"
    (secret / "sub").mkdir(parents=True)
    (secret / "s.txt").write_text("the customer's secret")
    (secret / "sub" / "deep.txt").write_text("the customer's secret")
    (ana / "public" / "sub").mkdir(parents=True)
    (ana / "notes.txt").write_text("notes")
    for name in ("Secret", "SECRET", "secret ", unicodedata.normalize("NFD", "sécret"),
                 unicodedata.normalize("NFC", "sécret"), "ﬀ"):
        (ana / name).mkdir()
    held = os.open(secret, os.O_RDONLY | os.O_DIRECTORY)
    links = {
        "l_rel": "secret", "l_abs": str(secret), "l_parent": ".", "l_self": "l_self/..", "l_chain": "l_rel",
        "l_loop": "l_loop", "l_file": "secret/s.txt", "l_fd": f"/proc/self/fd/{held}", "l_dots": "public/../secret",
        "l_up": "..", "l_public": "public",
    }
    for name, target in links.items():
        (ana / name).symlink_to(target)
        (ana / "public" / name).symlink_to(target if target.startswith("/") else f"../{target}")
    folders = ForbiddenFolders()
    folders.add(str(secret))
    secret_files = {Identity.of(os.stat(p)) for p in (secret / "s.txt", secret / "sub" / "deep.txt")}
    yield Tree(root, Identity.of(os.stat(secret)), secret_files, folders, held)
    folders.close()
    os.close(held)


def separators() -> st.SearchStrategy[str]:
    return st.sampled_from(["/", "/", "/", "//", "\\", "/./"])


@st.composite
def spellings(draw: st.DrawFn, root: str) -> str:
    parts = draw(st.lists(st.sampled_from(NAMES), min_size=0, max_size=8))
    text = ""
    for part in parts:
        text += draw(separators()) + part
    if draw(st.booleans()):
        text += draw(separators())
    start = draw(st.sampled_from(["root", "root", "ana", "tilde", "up"]))
    if start == "tilde":
        return "~" + text
    if start == "ana":
        return root + "/home/ana" + text
    if start == "up":
        return "/.." * draw(st.integers(1, 3)) + root + text
    return root + text


def inside_secret(tree: Tree, fd: int) -> bool:
    """Whether the directory held by *fd* is the protected folder or below it."""
    identity = Identity.of(os.fstat(fd))
    return identity == tree.secret or tree.secret in ancestors(fd)


def check_resolution(tree: Tree, path: str, follow: bool) -> None:
    guard = Guard(tree.folders, home=str(tree.root / "home" / "ana"))
    try:
        loc = guard.locate(path, follow=follow)
    except WorkbenchError as err:
        assert err.code and "the customer's secret" not in err.message
        return
    with loc:
        assert not inside_secret(tree, loc.parent), f"{path!r} resolved inside the protected folder ({loc.path})"
        try:
            st_entry = guard.entry(loc)
        except WorkbenchError as err:
            assert err.code == "forbidden", f"{path!r}: {err.code} {err.message}"
            return
        if st_entry is None:
            return
        assert Identity.of(st_entry) != tree.secret, f"{path!r}: the protected folder's status was given"
        try:
            fd = guard.open_dir(loc)
        except WorkbenchError:
            pass
        else:
            try:
                assert not inside_secret(tree, fd), f"{path!r} opened a folder inside the protected one"
            finally:
                os.close(fd)
        try:
            fd, st_file = guard.open_file(loc)
        except WorkbenchError:
            return
        try:
            assert Identity.of(st_file) not in tree.secret_files, f"{path!r} opened a protected file"
        finally:
            os.close(fd)


@given(st.data(), st.booleans())
@bounded(500)
def test_no_spelling_resolves_inside_the_protected_folder(tree: Tree, data: st.DataObject, follow: bool) -> None:
    check_resolution(tree, data.draw(spellings(str(tree.root))), follow)


@pytest.mark.parametrize("path", [
    "/home/ana/l_fd/s.txt", "/home/ana/l_self/secret", "/home/ana/public//..\\secret/./s.txt",
    "/home/ana/l_up/ana/l_chain/sub/deep.txt", "/home/ana/l_rel/.", "/home/ana/l_file", "/home/ana/l_rel",
    "/../home/ana/public/l_dots/sub", "/home/ana/secret/..", "/home/ana/public/l_abs/sub/",
])
@pytest.mark.parametrize("follow", [True, False])
def test_the_spellings_that_matter_most(tree: Tree, path: str, follow: bool) -> None:
    check_resolution(tree, str(tree.root) + path, follow)
    check_resolution(tree, "~" + path.removeprefix("/home/ana"), follow)


@given(st.text(max_size=40), st.booleans())
@bounded(300)
def test_any_text_is_resolved_or_refused_with_a_code(tree: Tree, text: str, follow: bool) -> None:
    check_resolution(tree, text, follow)
    check_resolution(tree, str(tree.root) + "/home/ana/" + text, follow)
