"""The condition language of incentive measures, compiled once and evaluated many times.

A condition, as written in a policy file (YAML), is one of:

- a comparison string, parsed by `crm.incentives.expressions`:
  `"rd_expense > rd_expense_prev"`, `"annual_new_equipment_investment >= 500"`,
  `"'little_giant' in titles"`, `"industry_tags has_any ['smart_internet']"`, `"good_credit"`;
- the same comparison as a mapping: `{fact: rd_expense, op: ">", value: {fact: rd_expense_prev}}`;
- `{all: [...]}`, `{any: [...]}`, `{not: ...}`;
- an open threshold the source text leaves unstated ("a certain scale"):
  `{fact: rd_expense, op: ">=", threshold: unknown, note: "..."}`, or, with no fact,
  `{threshold: unknown, note: "meets the district's development criteria"}`.

Evaluation is three-valued: true, false, or unknown (with the missing facts listed). An open
threshold counts as met once its fact is known (unless the value is zero or less, which no
"certain scale" reaches) and marks the outcome `unconfirmed`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from crm.incentives.expressions import (
    COMPARISON_OPERATORS,
    ORDERING_OPERATORS,
    CompiledComparison,
    Expr,
    Facts,
    RuleSyntaxError,
    format_value,
    parse_comparison,
    parse_expression,
)

Path = tuple[str | int, ...]


class RuleError(ValueError):
    """A condition that cannot be compiled; `path` locates it inside the condition data.

    `offset` is the character position inside a comparison string, when known.
    """

    def __init__(self, message: str, path: Path = (), offset: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.path = path
        self.offset = offset


@dataclass(frozen=True, slots=True)
class Outcome:
    """The result of evaluating a condition against one set of facts.

    `value` is True, False or None (unknown); `missing` lists the facts that would decide an
    unknown; `failed` is the condition that made a false outcome false; `open_thresholds`
    holds the notes of the unstated thresholds that were assumed met.
    """

    value: bool | None
    missing: frozenset[str] = frozenset()
    failed: Condition | None = None
    open_thresholds: tuple[str, ...] = ()

    @property
    def unconfirmed(self) -> bool:
        """True when the outcome rests on a threshold the source text leaves open."""
        return bool(self.open_thresholds)


TRUE = Outcome(True)


class Condition:
    """A compiled condition. Subclasses are immutable after construction."""

    __slots__ = ()
    text: str
    facts_used: frozenset[str]

    def evaluate(self, facts: Facts) -> Outcome:  # pragma: no cover - abstract
        """The three-valued outcome of the condition for normalised `facts`."""
        raise NotImplementedError

    def describe_failure(self, facts: Facts) -> str:
        """The condition's text with the values of the facts it read."""
        # List facts are not shown: the text already names the values looked for, and
        # results are shared between projects that differ only in other list values.
        values = [
            f"{key} = {format_value(facts[key])}"
            for key in sorted(self.facts_used)
            if facts.get(key) is not None and not isinstance(facts[key], frozenset)
        ]
        return f"{self.text} ({', '.join(values)})" if values else self.text


def _missing(keys: Sequence[str], facts: Facts) -> Outcome:
    return Outcome(None, frozenset(key for key in keys if facts.get(key) is None))


@dataclass(frozen=True, slots=True, eq=False)
class Always(Condition):
    """The condition of a measure that names no eligibility condition."""

    text: str = "always"
    facts_used: frozenset[str] = frozenset()

    def evaluate(self, facts: Facts) -> Outcome:
        return TRUE


@dataclass(frozen=True, slots=True, eq=False)
class Compare(Condition):
    comparison: CompiledComparison
    text: str = ""
    facts_used: frozenset[str] = frozenset()
    keys: tuple[str, ...] = ()
    false_outcome: Outcome | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "text", self.comparison.text)
        object.__setattr__(self, "facts_used", self.comparison.facts_used)
        object.__setattr__(self, "keys", tuple(sorted(self.comparison.facts_used)))
        object.__setattr__(self, "false_outcome", Outcome(False, failed=self))

    def evaluate(self, facts: Facts) -> Outcome:
        for key in self.keys:
            if facts.get(key) is None:
                return _missing(self.keys, facts)
        try:
            result = self.comparison.test(facts)
        except (ZeroDivisionError, InvalidOperation):
            return self.false_outcome  # type: ignore[return-value]
        return TRUE if result else self.false_outcome  # type: ignore[return-value]


@dataclass(frozen=True, slots=True, eq=False)
class OpenThreshold(Condition):
    """A threshold the source leaves open: assumed met, flagged as unconfirmed."""

    note: str
    left: Expr | None = None
    operator: str | None = None
    text: str = ""
    facts_used: frozenset[str] = frozenset()
    keys: tuple[str, ...] = ()
    met: Outcome | None = field(default=None, repr=False)
    false_outcome: Outcome | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.left is None:
            text = f"[unstated criterion: {self.note}]"
            used: frozenset[str] = frozenset()
        else:
            text = f"{self.left.text} {self.operator} [unstated threshold: {self.note}]"
            used = self.left.facts_used
        object.__setattr__(self, "text", text)
        object.__setattr__(self, "facts_used", used)
        object.__setattr__(self, "keys", tuple(sorted(used)))
        object.__setattr__(self, "met", Outcome(True, open_thresholds=(text,)))
        object.__setattr__(self, "false_outcome", Outcome(False, failed=self))

    def evaluate(self, facts: Facts) -> Outcome:
        if self.left is None:
            return self.met  # type: ignore[return-value]
        for key in self.keys:
            if facts.get(key) is None:
                return _missing(self.keys, facts)
        if self.operator in (">", ">="):
            try:
                value = self.left.evaluate(facts)
            except (ZeroDivisionError, InvalidOperation):
                return self.false_outcome  # type: ignore[return-value]
            if not isinstance(value, Decimal) or value <= 0:
                return self.false_outcome  # type: ignore[return-value]
        return self.met  # type: ignore[return-value]


@dataclass(frozen=True, slots=True, eq=False)
class AllOf(Condition):
    children: tuple[Condition, ...]
    text: str = ""
    facts_used: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        object.__setattr__(self, "text", "all of: " + "; ".join(c.text for c in self.children))
        used = frozenset().union(*(c.facts_used for c in self.children))
        object.__setattr__(self, "facts_used", used)

    def evaluate(self, facts: Facts) -> Outcome:
        missing: frozenset[str] = frozenset()
        notes: tuple[str, ...] = ()
        for child in self.children:
            outcome = child.evaluate(facts)
            if outcome.value is False:
                return outcome
            if outcome.value is None:
                missing |= outcome.missing
            elif outcome.open_thresholds:
                notes += outcome.open_thresholds
        if missing:
            return Outcome(None, missing, open_thresholds=notes)
        return Outcome(True, open_thresholds=notes) if notes else TRUE


@dataclass(frozen=True, slots=True, eq=False)
class AnyOf(Condition):
    children: tuple[Condition, ...]
    text: str = ""
    facts_used: frozenset[str] = frozenset()
    false_outcome: Outcome | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "text", "any of: " + "; ".join(c.text for c in self.children))
        used = frozenset().union(*(c.facts_used for c in self.children))
        object.__setattr__(self, "facts_used", used)
        object.__setattr__(self, "false_outcome", Outcome(False, failed=self))

    def evaluate(self, facts: Facts) -> Outcome:
        missing: frozenset[str] = frozenset()
        assumed: Outcome | None = None
        for child in self.children:
            outcome = child.evaluate(facts)
            if outcome.value is True:
                if not outcome.open_thresholds:
                    return outcome
                assumed = assumed or outcome
            elif outcome.value is None:
                missing |= outcome.missing
        if assumed is not None:
            return assumed
        if missing:
            return Outcome(None, missing)
        return self.false_outcome  # type: ignore[return-value]

    def describe_failure(self, facts: Facts) -> str:
        parts = [child.describe_failure(facts) for child in self.children]
        return "none of: " + "; ".join(parts)


@dataclass(frozen=True, slots=True, eq=False)
class NotOf(Condition):
    child: Condition
    text: str = ""
    facts_used: frozenset[str] = frozenset()
    false_outcome: Outcome | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "text", f"not ({self.child.text})")
        object.__setattr__(self, "facts_used", self.child.facts_used)
        object.__setattr__(self, "false_outcome", Outcome(False, failed=self))

    def evaluate(self, facts: Facts) -> Outcome:
        outcome = self.child.evaluate(facts)
        if outcome.value is None:
            return outcome
        return self.false_outcome if outcome.value else TRUE  # type: ignore[return-value]


_COMPOSITES = ("all", "any", "not")
_COMPARISON_KEYS = frozenset({"fact", "op", "value", "threshold", "note"})


def compile_condition(data: object, path: Path = ()) -> Condition:
    """Compile condition data (as loaded from YAML) into an evaluable `Condition`.

    `None` means "no condition". Raises `RuleError` naming the path of the offending node
    (relative to `path`) for unknown facts, operators or keys, type mismatches, empty
    `all`/`any` lists and malformed comparison strings.
    """
    if data is None:
        return Always()
    if isinstance(data, str):
        try:
            return Compare(parse_comparison(data))
        except RuleSyntaxError as error:
            raise RuleError(error.message, path, error.offset) from None
    if not isinstance(data, Mapping):
        raise RuleError(f"a condition must be a string or a mapping, not {_kind(data)}", path)
    composite = [key for key in data if key in _COMPOSITES]
    if composite:
        if len(data) != 1:
            extra = sorted(str(key) for key in data if key != composite[0])
            raise RuleError(f"{composite[0]!r} cannot be combined with {extra}", path)
        key = composite[0]
        body = data[key]
        if key == "not":
            return NotOf(compile_condition(body, (*path, "not")))
        if not isinstance(body, list) or not body:
            raise RuleError(f"{key!r} needs a non-empty list of conditions", (*path, key))
        children = tuple(
            compile_condition(item, (*path, key, index)) for index, item in enumerate(body)
        )
        return AllOf(children) if key == "all" else AnyOf(children)
    unknown = [str(key) for key in data if key not in _COMPARISON_KEYS]
    if unknown:
        raise RuleError(
            f"unknown condition key {unknown[0]!r} (expected all, any, not, fact, op, value, "
            "threshold or note)",
            (*path, unknown[0]),
        )
    if "threshold" in data:
        return _open_threshold(data, path)
    return _structured_comparison(data, path)


def _open_threshold(data: Mapping[str, object], path: Path) -> OpenThreshold:
    if data["threshold"] != "unknown":
        raise RuleError(
            "threshold must be 'unknown'; write a known threshold as a comparison",
            (*path, "threshold"),
        )
    if "value" in data:
        raise RuleError("an unknown threshold cannot also have a value", (*path, "value"))
    note = data.get("note")
    if not isinstance(note, str) or not note.strip():
        raise RuleError("an unknown threshold needs a note quoting the source", (*path, "note"))
    if "fact" not in data:
        if "op" in data:
            raise RuleError("'op' needs a 'fact'", (*path, "op"))
        return OpenThreshold(note.strip())
    op = data.get("op")
    if op not in ORDERING_OPERATORS:
        raise RuleError(f"unknown operator {op!r} for a threshold", (*path, "op"))
    fact = data["fact"]
    if not isinstance(fact, str):
        raise RuleError("'fact' must be a fact name or expression", (*path, "fact"))
    try:
        left = parse_expression(fact)
    except RuleSyntaxError as error:
        raise RuleError(error.message, (*path, "fact"), error.offset) from None
    return OpenThreshold(note.strip(), left, str(op))


def _structured_comparison(data: Mapping[str, object], path: Path) -> Compare:
    for key in ("fact", "op", "value"):
        if key not in data:
            raise RuleError(f"a comparison mapping needs {key!r}", path)
    if "note" in data:
        raise RuleError("'note' is only used with threshold: unknown", (*path, "note"))
    fact, op = data["fact"], data["op"]
    if not isinstance(fact, str):
        raise RuleError("'fact' must be a fact name or expression", (*path, "fact"))
    if op not in (*COMPARISON_OPERATORS, "in", "not in", "has_any"):
        raise RuleError(f"unknown operator {op!r}", (*path, "op"))
    value_text = _value_text(data["value"], (*path, "value"))
    try:
        return Compare(parse_comparison(f"{fact} {op} {value_text}"))
    except RuleSyntaxError as error:
        raise RuleError(error.message, path) from None


def _value_text(value: object, path: Path) -> str:
    """The grammar's spelling of a YAML constant (or `{fact: name}`)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | Decimal):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        if "'" in value:
            raise RuleError("string values cannot contain a quote", path)
        return f"'{value}'"
    if isinstance(value, list):
        return "[" + ", ".join(_value_text(item, path) for item in value) + "]"
    if isinstance(value, Mapping) and set(value) == {"fact"} and isinstance(value["fact"], str):
        return value["fact"]
    raise RuleError(f"unsupported value {value!r}", path)


def list_fact_projections(condition: Condition) -> dict[str, tuple[frozenset[str], ...] | None]:
    """For each list fact the condition reads, the distinct sets of values its tests look for.

    Each test (`'v' in titles`, `industry_tags has_any [...]`) only asks whether the list
    shares a value with one set, so the outcome depends only on those yes/no answers. None
    means a test depends on the whole list (e.g. `headquarters_type in titles`). The engine
    uses this to share results between projects that agree on every answer.
    """
    found: dict[str, tuple[frozenset[str], ...] | None] = {}

    def walk(node: Condition) -> None:
        if isinstance(node, Compare):
            for key, values in node.comparison.tested_members:
                known = found.get(key, ())
                if values is None or known is None:
                    found[key] = None
                elif values not in known:
                    found[key] = (*known, values)
        elif isinstance(node, AllOf | AnyOf):
            for child in node.children:
                walk(child)
        elif isinstance(node, NotOf):
            walk(node.child)

    walk(condition)
    return found


def _kind(value: object) -> str:
    return type(value).__name__
