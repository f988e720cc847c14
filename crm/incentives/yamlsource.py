"""YAML reading that remembers where every value came from.

`load_located` composes the document with PyYAML's safe loader and converts the node tree
to plain Python values itself, recording the line and column of each value by its path
(`("measures", 3, "benefit", "cap")`). Validation errors can then name the exact spot in
the file. Numbers with a fraction become `Decimal` (read from the text, not via float);
dates must be written YYYY-MM-DD; duplicate keys are refused instead of silently dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation

import yaml
from yaml.constructor import SafeConstructor

Path = tuple[str | int, ...]

_TAG = "tag:yaml.org,2002:"
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True, slots=True)
class Position:
    """A 1-based line and column in the source, and the scalar's quoting style if any."""

    line: int
    column: int
    style: str | None = None


class YamlSourceError(ValueError):
    """The text is not YAML this loader accepts; `position` says where, when known."""

    def __init__(self, message: str, position: Position | None, path: Path = ()) -> None:
        super().__init__(message)
        self.message = message
        self.position = position
        self.path = path


@dataclass(frozen=True)
class Located:
    """Plain data with the source position of every value (and of every mapping key)."""

    data: object
    positions: dict[Path, Position] = field(default_factory=dict)
    key_positions: dict[Path, Position] = field(default_factory=dict)

    def position(self, path: Path, *, at_key: bool = False) -> Position | None:
        """The position of `path`, or of its nearest ancestor that has one."""
        table = self.key_positions if at_key else self.positions
        for end in range(len(path), -1, -1):
            found = table.get(path[:end])
            if found is not None:
                return found
        return None


def parse_date(text: str) -> date:
    """A date written exactly YYYY-MM-DD; ValueError otherwise."""
    if not _DATE.match(text):
        raise ValueError(f"malformed date {text!r}: write YYYY-MM-DD")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"malformed date {text!r}: no such day") from None


def _position(node: yaml.Node) -> Position:
    style = node.style if isinstance(node, yaml.ScalarNode) else None
    return Position(node.start_mark.line + 1, node.start_mark.column + 1, style)


class _Converter:
    def __init__(self) -> None:
        self.positions: dict[Path, Position] = {}
        self.key_positions: dict[Path, Position] = {}
        self.constructor = SafeConstructor()
        self.active: set[int] = set()

    def convert(self, node: yaml.Node, path: Path) -> object:
        self.positions[path] = _position(node)
        if isinstance(node, yaml.ScalarNode):
            return self.scalar(node, path)
        if id(node) in self.active:
            raise YamlSourceError("recursive alias", _position(node), path)
        self.active.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                return [self.convert(item, (*path, index)) for index, item in enumerate(node.value)]
            if isinstance(node, yaml.MappingNode):
                return self.mapping(node, path)
        finally:
            self.active.discard(id(node))
        raise YamlSourceError("unsupported YAML node", _position(node), path)  # pragma: no cover

    def mapping(self, node: yaml.MappingNode, path: Path) -> dict[str, object]:
        result: dict[str, object] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise YamlSourceError("mapping keys must be plain text", _position(key_node), path)
            key = key_node.value
            child = (*path, key)
            if key in result:
                raise YamlSourceError(f"duplicate key {key!r}", _position(key_node), child)
            self.key_positions[child] = _position(key_node)
            result[key] = self.convert(value_node, child)
        return result

    def scalar(self, node: yaml.ScalarNode, path: Path) -> object:
        tag = node.tag
        if not tag.startswith(_TAG):
            raise YamlSourceError(f"unsupported tag {tag!r}", _position(node), path)
        kind = tag.removeprefix(_TAG)
        if kind == "str":
            return node.value
        if kind == "null":
            return None
        if kind == "bool":
            return self.constructor.construct_yaml_bool(node)
        if kind == "int":
            return self.constructor.construct_yaml_int(node)
        if kind == "float":
            try:
                number = Decimal(node.value.replace("_", ""))
            except InvalidOperation:
                number = Decimal("NaN")
            if not number.is_finite():
                raise YamlSourceError(
                    f"{node.value!r} is not a finite number", _position(node), path
                )
            return number
        if kind == "timestamp":
            try:
                return parse_date(node.value)
            except ValueError as error:
                raise YamlSourceError(str(error), _position(node), path) from None
        raise YamlSourceError(f"unsupported YAML type {kind!r}", _position(node), path)


def load_located(text: str) -> Located:
    """Parse one YAML document into plain data plus the position of every value.

    Raises `YamlSourceError` for YAML syntax errors, several documents, duplicate keys,
    malformed dates, non-finite numbers and tags other than YAML's standard ones.
    """
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        position = Position(mark.line + 1, mark.column + 1) if mark else None
        raise YamlSourceError(f"invalid YAML: {error.problem or error}", position) from None
    except yaml.YAMLError as error:
        raise YamlSourceError(f"invalid YAML: {error}", None) from None
    if root is None:
        return Located(None)
    converter = _Converter()
    data = converter.convert(root, ())
    return Located(data, converter.positions, converter.key_positions)
