"""What a playbook notebook declares: its description, its parameters and types, its steps.

A playbook is a notebook in ``notebooks/playbooks/`` (or any path): a first markdown cell that says
what it fixes, a cell tagged ``parameters`` (papermill's convention; the types are inferred from the
defaults), the attach cell (``s = attach(...)``), then the steps: every non-empty code cell after
the attach cell, titled by the nearest markdown heading above it.
"""

from __future__ import annotations

import ast
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat

from wire.errors import BadParams, NotFound

#: Parameters the runner sets itself (``--code``, ``--relay``, ``--dry-run``), never ``-p``.
RUNNER_PARAMETERS = ("session_code", "relay", "dry_run")
#: The parameter the headless runner injects: the playbook's name and step titles, for the kernel.
RUN_PARAMETER = "playbook_run"


def playbooks_folder() -> Path:
    """Where named playbooks live: ``$WORKBENCH_PLAYBOOKS`` or this checkout's ``notebooks/playbooks``."""
    configured = os.environ.get("WORKBENCH_PLAYBOOKS")
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[2] / "notebooks" / "playbooks"


def find_playbook(name: str | os.PathLike[str]) -> Path:
    """The notebook of playbook *name* (a name in :func:`playbooks_folder` or a path).

    Raises NotFound naming the playbooks there are.
    """
    text = os.fspath(name)
    path = Path(text)
    if path.suffix == ".ipynb" or os.sep in text or "/" in text:
        if path.is_file():
            return path
        raise NotFound(f"no playbook notebook at {path}")
    candidate = playbooks_folder() / f"{text}.ipynb"
    if candidate.is_file():
        return candidate
    known = ", ".join(sorted(p.stem for p in playbooks_folder().glob("*.ipynb"))) or "none"
    raise NotFound(f"no playbook {text!r} (there are: {known})")


@dataclass(frozen=True)
class Parameter:
    """One parameter of a playbook: its default (a Python literal) and the type it implies."""

    name: str
    default: Any
    help: str = ""

    @property
    def type(self) -> type:
        return type(self.default)

    @property
    def type_name(self) -> str:
        return self.type.__name__


@dataclass(frozen=True)
class Step:
    """One step: the index of its code cell and the heading above it."""

    cell_index: int
    title: str


@dataclass(frozen=True)
class Playbook:
    """A playbook notebook, read: see the module docstring."""

    name: str
    path: Path
    description: str
    parameters: dict[str, Parameter]
    steps: list[Step]

    @classmethod
    def load(cls, name: str | os.PathLike[str]) -> Playbook:
        """Read playbook *name*. Raises NotFound, BadParams (not a playbook: no parameters or attach cell)."""
        path = find_playbook(name)
        notebook = nbformat.read(path, as_version=4)  # type: ignore[no-untyped-call,unused-ignore]
        return cls(path.stem, path, describe(notebook), read_parameters(path), steps_of(notebook))

    def check(self, given: dict[str, Any], *, from_text: bool = False) -> dict[str, Any]:
        """The parameters to run with: *given* checked against the declared ones (converted from the
        command line's text when *from_text*).

        Raises BadParams naming the parameter: unknown, one the runner sets itself, wrong type.
        """
        checked: dict[str, Any] = {}
        for key, value in given.items():
            if key in RUNNER_PARAMETERS or key == RUN_PARAMETER:
                raise BadParams(f"{key} is set by the runner (--code, --relay, --dry-run), not as a parameter",
                                param=key)
            declared = self.parameters.get(key)
            if declared is None:
                own = ", ".join(f"{p.name} ({p.type_name})" for p in self.parameters.values()
                                if p.name not in RUNNER_PARAMETERS) or "none"
                raise BadParams(f"playbook {self.name!r} has no parameter {key!r}; its parameters: {own}",
                                param=key)
            checked[key] = convert(declared, value) if from_text else typed(declared, value)
        return checked


def describe(notebook: Any) -> str:
    """The first line of the first markdown cell, without its heading marks."""
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            for line in str(cell.source).splitlines():
                if line.strip():
                    return line.lstrip("#").strip()
    return ""


def read_parameters(path: Path) -> dict[str, Parameter]:
    """The playbook's parameters, found by papermill's ``inspect_notebook``.

    Raises BadParams when the notebook has no ``parameters`` cell or a default is not a literal.
    """
    from papermill import inspect_notebook

    found = inspect_notebook(str(path))
    if not found:
        raise BadParams(f"{path} has no cell tagged 'parameters': it is not a playbook", param="name")
    parameters: dict[str, Parameter] = {}
    for name, spec in found.items():
        try:
            default = ast.literal_eval(str(spec["default"]))
        except (ValueError, SyntaxError):
            raise BadParams(f"{path}: the default of {name} is not a plain value", param=name) from None
        parameters[name] = Parameter(name, default, str(spec.get("help") or ""))
    return parameters


def steps_of(notebook: Any) -> list[Step]:
    """The steps: non-empty code cells after the attach cell, each titled by the heading above it."""
    steps: list[Step] = []
    heading = ""
    attached = False
    for index, cell in enumerate(notebook.cells):
        source = str(cell.source)
        if cell.cell_type == "markdown":
            headings = [line.lstrip("#").strip() for line in source.splitlines() if line.startswith("#")]
            heading = headings[-1] if headings else heading
        elif cell.cell_type == "code" and source.strip():
            if attached:
                steps.append(Step(index, heading or f"cell {index}"))
            elif "attach(" in source:
                attached = True
    return steps


_TRUE = {"true", "yes", "1", "on"}
_FALSE = {"false", "no", "0", "off"}


def convert(parameter: Parameter, text: Any) -> Any:
    """*text* from the command line as a value of *parameter*'s type. Raises BadParams."""
    if not isinstance(text, str):
        return typed(parameter, text)
    kind = parameter.type
    try:
        if kind is bool:
            if text.lower() in _TRUE | _FALSE:
                return text.lower() in _TRUE
            raise ValueError(text)
        if kind is int:
            return int(text)
        if kind is float:
            return float(text)
        if kind is str or parameter.default is None:
            return text
        return typed(parameter, json.loads(text) if text[:1] in "[{" else ast.literal_eval(text))
    except (ValueError, SyntaxError):
        raise BadParams(f"{parameter.name} must be {_a(parameter)}, not {text!r}", param=parameter.name) from None


def typed(parameter: Parameter, value: Any) -> Any:
    """*value* when it has *parameter*'s type (an int does for a float). Raises BadParams."""
    kind = parameter.type
    if parameter.default is None or (isinstance(value, kind) and not (isinstance(value, bool) and kind is not bool)):
        return value
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if kind is tuple and isinstance(value, list):
        return tuple(value)
    raise BadParams(f"{parameter.name} must be {_a(parameter)}, not {type(value).__name__} {value!r}",
                    param=parameter.name)


def _a(parameter: Parameter) -> str:
    words = {"bool": "true or false", "int": "a whole number", "float": "a number", "str": "text",
             "list": "a list", "dict": "a mapping"}
    return f"{words.get(parameter.type_name, parameter.type_name)} (default {parameter.default!r})"
