"""Reading a scenario file: YAML as plain data, its size checked first, ``--set`` overrides, validation.

The file's line numbers go with the data to :func:`sim.scenario.validate`, so every problem names
the line it is on.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from .messages import ScenarioError, format_path
from .scenario import Scenario, month_follows_start_date, set_path, validate


# ---------------------------------------------------------------------------- reading YAML
class ScenarioLoader(yaml.SafeLoader):
    """PyYAML's safe loader reading numbers as YAML 1.2 does: ``2e3`` and ``1e9`` are numbers.

    YAML 1.1 (PyYAML's default) reads an exponent without a decimal point as text, so
    ``referrals_per_year: 2e3`` would be refused as "not a number" though it looks like one.
    Dates stay text too (YAML 1.2 has no date type): the schema reads ``start_date: 2027-03-01``
    and can explain ``2027-02-30``, which PyYAML's own date reading would crash on.
    """


_YAML12_FLOAT = re.compile(r"""^(?:[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?(?:[eE][-+]?[0-9]+)?
    |[-+]?\.[0-9_]+(?:[eE][-+]?[0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""", re.X)
ScenarioLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers
            if tag not in ("tag:yaml.org,2002:float", "tag:yaml.org,2002:timestamp")]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
ScenarioLoader.add_implicit_resolver("tag:yaml.org,2002:float", _YAML12_FLOAT, list("-+0123456789."))

MOST_YAML_VALUES = 200_000
"""Values a scenario file may hold once its aliases are expanded (the regional one holds ~400)."""
DEEPEST_YAML_NESTING = 32
"""Mappings and lists inside each other (the deepest scenario key, an empirical value, is 7 deep)."""


def read_yaml(text: str) -> Any:
    """Plain data from YAML text, after checking its size: raises ``yaml.MarkedYAMLError``.

    Aliases (``*name``) repeat a whole part of the file, so ten lines can stand for a billion
    values; nesting a thousand deep exhausts Python's stack. Both are refused before loading.
    """
    _check_size(text)
    return yaml.load(text, Loader=ScenarioLoader)  # noqa: S506 - a SafeLoader: plain data only


def _check_size(text: str) -> None:
    """Count values as if aliases were expanded, and the nesting, from the event stream (no recursion)."""
    expanded = 0
    sizes: dict[str, int] = {}
    open_collections: list[tuple[str | None, int]] = []
    for event in yaml.parse(text, Loader=ScenarioLoader):
        if isinstance(event, yaml.CollectionStartEvent):
            open_collections.append((event.anchor, expanded))
            if len(open_collections) > DEEPEST_YAML_NESTING:
                raise _too_big(event, f"is nested more than {DEEPEST_YAML_NESTING} deep")
        elif isinstance(event, yaml.CollectionEndEvent):
            anchor, started = open_collections.pop()
            if anchor is not None:
                sizes[anchor] = expanded - started
        elif isinstance(event, yaml.ScalarEvent):
            expanded += 1
            if event.anchor is not None:
                sizes[event.anchor] = 1
        elif isinstance(event, yaml.AliasEvent):
            expanded += sizes.get(event.anchor, 1)
        if expanded > MOST_YAML_VALUES:
            raise _too_big(event, f"holds more than {MOST_YAML_VALUES:,} values once its aliases (*name) "
                                  "are expanded")


class YamlTooBig(yaml.MarkedYAMLError):
    """Valid YAML, but bigger or deeper than any scenario (an alias bomb, say)."""


def _too_big(event: yaml.Event, what: str) -> YamlTooBig:
    return YamlTooBig(problem=f"the file {what}, more than any scenario needs", problem_mark=event.start_mark)


# ---------------------------------------------------------------------------- loading
def _line_numbers(text: str) -> dict[tuple, int]:
    """Map every key path in a YAML text to its line number (1-based)."""
    lines: dict[tuple, int] = {}

    def walk(node: yaml.Node, path: tuple) -> None:
        lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if path + (key.value,) in lines:  # YAML would silently keep the last one
                    raise yaml.MarkedYAMLError(problem=(
                        f"{format_path(path + (key.value,))} is given twice, "
                        f"first on line {lines[path + (key.value,)]}"), problem_mark=key.start_mark)
                lines[path + (key.value,)] = key.start_mark.line + 1
                walk(value, path + (key.value,))
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                walk(item, path + (index,))

    root = yaml.compose(text, Loader=ScenarioLoader)
    if root is not None:
        walk(root, ())
    return lines


def parse_assignment(text: str) -> tuple[str, Any]:
    """Split ``KEY=VALUE`` (as given to ``--set``); the value is read as YAML."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ScenarioError("--set", [f"'{text}' is not KEY=VALUE (e.g. levels.php.capacity=30)"])
    try:
        return key.strip(), read_yaml(value)
    except yaml.YAMLError as error:
        problem = getattr(error, "problem", None) or "unreadable"
        raise ScenarioError("--set", [f"{key} = {value}: not a YAML value ({problem})"]) from None


def load_scenario(path: str | Path, overrides: dict[str, Any] | None = None) -> Scenario:
    """Read, override and validate a scenario file.

    Parameters
    ----------
    path
        A YAML scenario file.
    overrides
        Dotted key paths and values applied before validation (``--set`` on the CLI).

    Raises
    ------
    ScenarioError
        Naming the file, the key path, the value and what is allowed.
    """
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(source, ["no such file"]) from None
    except (OSError, UnicodeDecodeError) as error:
        raise ScenarioError(source, [f"cannot be read: {error}"]) from None
    try:
        data = read_yaml(text)
        lines = _line_numbers(text)
    except yaml.YAMLError as error:
        raise ScenarioError(source, [_yaml_problem(error)]) from None
    for key, value in (overrides or {}).items():
        if isinstance(data, dict):
            set_path(data, key, value, origin=f"{source} with --set")
    month_follows_start_date(data, overrides or {})
    return validate(data, source, lines, set(overrides or {}), changed_by="on the command line")


def _yaml_problem(error: yaml.YAMLError) -> str:
    """Why a file is not readable YAML, at its line and column, with a hint for the usual slips."""
    mark = getattr(error, "problem_mark", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
    problem = getattr(error, "problem", None) or str(error)
    if isinstance(error, YamlTooBig):
        return f"{where}{problem}"
    syntax = isinstance(error, yaml.scanner.ScannerError | yaml.parser.ParserError)
    hint = ("; check the indentation (spaces, not tabs) and the ': ' after each key "
            "on this line and the one above") if syntax else ""
    return f"{where}not valid YAML ({problem}){hint}"
