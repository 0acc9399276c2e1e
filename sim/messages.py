"""The wording of scenario problems: pydantic's errors and our own checks as plain sentences.

Every message names where the problem is (a line of the file, or the key changed on the command
line), the value found and what is allowed, so a planner can fix a scenario without the code.
"""

from __future__ import annotations

import difflib
import types
import typing
from typing import TYPE_CHECKING, Annotated, Any

import yaml
from pydantic import BaseModel

from .distributions import DIST_NAMES

if TYPE_CHECKING:
    from pydantic_core import ErrorDetails


class ScenarioError(Exception):
    """A scenario that cannot be used, with every problem found (file, key path, value, rule)."""

    def __init__(self, source: str, problems: list[str]):
        self.source = source
        self.problems = problems
        super().__init__(str(self))

    def __str__(self) -> str:
        count = len(self.problems)
        heading = f"{self.source}: {count} problem{'s' if count > 1 else ''} in the scenario"
        return "\n".join([heading, *(f"  - {p}" for p in self.problems)])


class ProblemAt(ValueError):
    """A problem a model validator finds with one of its keys, so the message can point at it.

    ``key`` is a key of the model, a path below it (``("staff", 0, "per_group")``), or ``()``
    for the model as a whole.
    """

    def __init__(self, key: str | tuple[str | int, ...], message: str):
        super().__init__(message)
        self.key = key if isinstance(key, tuple) else (key,)


def did_you_mean(name: str, allowed: list[str], *, in_brackets: bool = False) -> str:
    """The allowed name closest to a misspelt one, as a question; ``""`` when none is close.

    ``"did you mean 'php'? "`` leads into the list of allowed names; ``in_brackets`` gives
    ``" (did you mean 'php'?)"`` to follow the misspelt name instead.
    """
    close = difflib.get_close_matches(name, allowed, n=1)
    if not close:
        return ""
    question = f"did you mean '{close[0]}'?"
    return f" ({question})" if in_brackets else f"{question} "


def describe_value(value: Any) -> str:
    """A value as a message shows it: YAML flow style for mappings and lists, cut at 60 characters."""
    if value is None:
        return "(empty)"
    text = repr(value) if not isinstance(value, dict | list) else yaml.safe_dump(value, default_flow_style=True).strip()
    return text if len(text) <= 60 else text[:57] + "..."


LONGEST_KEY_SHOWN = 40


def format_path(path: tuple) -> str:
    """A key path as dotted text (``levels.php.capacity``)."""
    return ".".join(_short_key(str(p)) for p in path) or "(top level)"


def _short_key(key: str) -> str:
    """A key as shown in a message: a pasted paragraph as a key is cut, not echoed whole."""
    return key if len(key) <= LONGEST_KEY_SHOWN else f"{key[:LONGEST_KEY_SHOWN - 3]}... ({len(key)} characters)"


def key_location(path: tuple, lines: dict[tuple, int], overridden: set[str], changed_by: str) -> str:
    """Where a key is: its line in the file, or how it was changed when an override set it."""
    dotted = format_path(path)
    if any(dotted == key or dotted.startswith(key + ".") for key in overridden):
        return f"{dotted} (changed {changed_by})"
    for end in range(len(path), -1, -1):
        if path[:end] in lines:
            return f"line {lines[path[:end]]}, {dotted}"
    return dotted


# ---------------------------------------------------------------------------- pydantic's errors
def _unwrap(annotation: Any) -> list[Any]:
    """The concrete types inside Annotated / Optional / Union annotations."""
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return [t for arg in typing.get_args(annotation) for t in _unwrap(arg)]
    return [annotation]


def _model_at(path: tuple, schema: type[BaseModel]) -> type[BaseModel] | None:
    """The model found at a key path below ``schema`` (used to list the allowed keys)."""
    candidates: list[Any] = [schema]
    for part in path:
        found = []
        for kind in candidates:
            if isinstance(kind, type) and issubclass(kind, BaseModel) and part in kind.model_fields:
                found += _unwrap(kind.model_fields[part].annotation)
            elif typing.get_origin(kind) in (dict, list):
                found += _unwrap(typing.get_args(kind)[-1])
            elif isinstance(kind, type) and issubclass(kind, BaseModel) and "dist" in kind.model_fields:
                found.append(kind)  # the discriminator tag in the path: stay on this model
        models = [k for k in found if isinstance(k, type) and issubclass(k, BaseModel)]
        tagged = [m for m in models
                  if "dist" in m.model_fields and part in typing.get_args(m.model_fields["dist"].annotation)]
        candidates = tagged or found
    models = [k for k in candidates if isinstance(k, type) and issubclass(k, BaseModel)]
    return models[0] if len(models) == 1 else None


def _clean_path(loc: tuple, data: Any) -> tuple:
    """Drop pydantic's internal parts (union tags, validator names) from an error location."""
    path: list = []
    node = data
    for part in loc:
        if isinstance(part, str) and ("[" in part or (isinstance(node, dict) and node.get("dist") == part)):
            continue
        path.append(part)
        node = node.get(part) if isinstance(node, dict) else (
            node[part] if isinstance(node, list) and isinstance(part, int) and part < len(node) else None
        )
    return tuple(path)


_PLAIN_WORDS = (
    ("Value error, ", ""), ("Input should", "should"), ("List should", "should"),
    ("Dictionary should", "should"), (" after validation", ""), ("a valid dictionary", "a mapping"),
    ("a finite number", "a finite number (not .inf or .nan)"),
)
"""pydantic's phrases, and the planner's words for them."""


def problem_text(error: ErrorDetails, data: Any, schema: type[BaseModel]) -> tuple[tuple, str]:
    """The key path of one pydantic error, and the rest of its line after the path.

    ``schema`` is the model ``data`` was validated against, where the allowed keys are looked up.
    """
    path = _clean_path(error["loc"], data)
    kind, value = error["type"], error["input"]
    shown = describe_value(value)
    dists = ", ".join(DIST_NAMES)
    if kind == "extra_forbidden":
        # the raw location keeps the 'dist' tag, which picks the distribution's own keys
        model = _model_at(tuple(p for p in error["loc"][:-1] if "[" not in str(p)), schema)
        allowed = sorted(model.model_fields) if model else []
        hint = did_you_mean(str(path[-1]), allowed)
        return path, f" is not a known key; {hint}allowed here: {', '.join(allowed)}"
    if kind == "missing":
        return path, " is required but missing"
    is_distribution = kind == "model_attributes_type" and _model_at(path, schema) is None
    if kind == "union_tag_not_found" or is_distribution:
        example = "{dist: exponential, mean: 4}"
        return path, f" = {shown}: needs a distribution like {example}, dist one of: {dists}"
    if kind == "union_tag_invalid":
        tag = str(error["ctx"]["tag"])
        hint = did_you_mean(tag, list(DIST_NAMES))
        return (*path, "dist"), f" = {describe_value(tag)}: {hint}dist is one of: {dists}"
    if kind == "model_type":
        model = _model_at(path, schema)
        keys = ", ".join(sorted(model.model_fields if model else ()))
        return path, f" = {shown}: should be a mapping of keys ({keys})"
    keyed = (error.get("ctx") or {}).get("error")
    if isinstance(keyed, ProblemAt):
        return (*path, *keyed.key), f": {keyed}"
    return path, f" = {shown}: {_plain_message(error)}"


def _plain_message(error: ErrorDetails) -> str:
    """pydantic's own message in the planner's words, with a hint when a share looks like a percentage."""
    message = error["msg"]
    for pydantic_words, plain_words in _PLAIN_WORDS:
        message = message.replace(pydantic_words, plain_words)
    value = error["input"]
    if error["type"] == "less_than_equal" and error["ctx"]["le"] == 1 and value <= 100:
        message += f" (shares and probabilities are fractions: {value:g}% is {value / 100:g})"
    return message
