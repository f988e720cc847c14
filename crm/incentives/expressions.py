"""The expression grammar used inside incentive conditions and benefit bases.

A hand-written tokenizer and recursive-descent parser; nothing is ever passed to `eval`.
Parsing type-checks against the fact catalogue and compiles each expression into a
closure, so evaluating a project's facts does not parse anything again.

    comparison := sum [ ("<" | "<=" | ">" | ">=" | "==" | "!=") sum
                      | ["not"] "in" (list | fact) | "has_any" list ]
    sum        := product (("+" | "-") product)*
    product    := unary (("*" | "/") unary)*
    unary      := "-" unary | primary
    primary    := NUMBER | STRING | "true" | "false" | FACT | "(" sum ")"
    list       := "[" [literal ("," literal)*] "]"
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from crm.incentives.facts import FACTS, NUMERIC_TYPES, FactDef, FactType

Facts = Mapping[str, object]

COMPARISON_OPERATORS = ("<=", ">=", "==", "!=", "<", ">")
ORDERING_OPERATORS = frozenset({"<", "<=", ">", ">="})
_COMPARE: dict[str, Callable[[object, object], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}
_PRETTY = {"-": "−", "*": "×", "/": "÷", "+": "+"}


class RuleSyntaxError(ValueError):
    """A condition or expression that cannot be parsed or type-checked.

    `offset` is the character position in the source text where the problem was found.
    """

    def __init__(self, message: str, offset: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset


_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<number>\d+(?:_\d{3})*(?:\.\d+)?)
  | (?P<string>'[^']*'|"[^"]*")
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op><=|>=|==|!=|<|>|\+|-|\*|/|\(|\)|\[|\]|,)
    """,
    re.VERBOSE,
)
_COMPARISON_RUN = re.compile(r"[=!<>]+")
_OPERATOR_LIKE = re.compile(r"[=!<>%&|^~:;.?@$#]+")
_KEYWORDS = frozenset({"true", "false", "in", "not", "has_any"})


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # number, string, name, op, end
    text: str
    offset: int


def tokenize(text: str) -> list[Token]:
    """Split `text` into tokens, refusing any character sequence the grammar lacks."""
    tokens: list[Token] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            odd = _OPERATOR_LIKE.match(text, position)
            if odd:
                raise RuleSyntaxError(f"unknown operator {odd.group()!r}", position)
            raise RuleSyntaxError(f"unexpected character {text[position]!r}", position)
        kind = match.lastgroup or ""
        if kind == "op":
            run = _COMPARISON_RUN.match(text, position)
            if run and run.group() not in COMPARISON_OPERATORS:
                raise RuleSyntaxError(f"unknown operator {run.group()!r}", position)
        if kind != "space":
            tokens.append(Token(kind, match.group(), position))
        position = match.end()
    tokens.append(Token("end", "", len(text)))
    return tokens


def format_number(value: Decimal) -> str:
    """A number as people write it: thousands separators, no trailing zeros."""
    if value == value.to_integral_value():
        return f"{value.to_integral_value():,f}"
    return f"{value.normalize():,f}"


def format_value(value: object) -> str:
    """A fact or constant value for explanations."""
    if isinstance(value, Decimal):
        return format_number(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, frozenset | set | list | tuple):
        return "[" + ", ".join(sorted(str(item) for item in value)) + "]"
    return str(value)


@dataclass(frozen=True, slots=True, eq=False)
class Expr:
    """A compiled expression: `evaluate(facts)` assumes every key in `facts_used` is present."""

    kind: str  # number, bool, string, list (constant strings), set (enum-list fact)
    text: str
    evaluate: Callable[[Facts], object]
    facts_used: frozenset[str] = frozenset()
    unit: str | None = None  # for numbers: 万元, USD or None (a plain constant)
    fact: FactDef | None = None  # set when the expression is a bare fact
    constant: object = None  # set for literals
    is_constant: bool = False
    precedence: int = 3  # 1 for + and -, 2 for * and /, 3 for atoms
    render: Callable[[Facts], str] = field(default=str)  # text with the values filled in


def _constant(kind: str, value: object, text: str) -> Expr:
    shown = format_value(value) if kind != "string" else repr(value)
    return Expr(
        kind, text, lambda _f: value, frozenset(), None, None, value, True, 3, lambda _f: shown
    )


def _fact_ref(fact: FactDef) -> Expr:
    key = fact.key
    kind = {
        FactType.BOOL: "bool",
        FactType.ENUM: "string",
        FactType.CHAIN_CODE: "string",
        FactType.ENUM_LIST: "set",
    }.get(fact.type, "number")
    unit = fact.unit if fact.type in NUMERIC_TYPES else None

    def evaluate(facts: Facts) -> object:
        return facts[key]

    def render(facts: Facts) -> str:
        return format_value(facts[key])

    return Expr(kind, key, evaluate, frozenset({key}), unit, fact, None, False, 3, render)


def _divide(left: Decimal, right: Decimal) -> Decimal:
    if right == 0:
        raise ZeroDivisionError("division by zero")
    return left / right


_ARITHMETIC: dict[str, Callable[[Decimal, Decimal], Decimal]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": _divide,
}


def _binary(op: str, left: Expr, right: Expr, offset: int) -> Expr:
    for side in (left, right):
        if side.kind != "number":
            raise RuleSyntaxError(f"{op!r} needs numbers, but {side.text!r} is not one", offset)
    unit = _combine_units(op, left, right, offset)
    precedence = 1 if op in "+-" else 2

    def wrap(side: Expr, text: str, right_side: bool) -> str:
        tighter = side.precedence > precedence or (side.precedence == precedence and not right_side)
        return text if tighter else f"({text})"

    text = f"{wrap(left, left.text, False)} {op} {wrap(right, right.text, True)}"
    fn = _ARITHMETIC[op]
    left_eval, right_eval = left.evaluate, right.evaluate

    def evaluate(facts: Facts) -> Decimal:
        return fn(left_eval(facts), right_eval(facts))  # type: ignore[arg-type]

    pretty = _PRETTY[op]

    def render(facts: Facts) -> str:
        return (
            f"{wrap(left, left.render(facts), False)} {pretty} "
            f"{wrap(right, right.render(facts), True)}"
        )

    return Expr(
        "number",
        text,
        evaluate,
        left.facts_used | right.facts_used,
        unit,
        precedence=precedence,
        render=render,
    )


def _combine_units(op: str, left: Expr, right: Expr, offset: int) -> str | None:
    """The unit of `left op right`; + and - refuse to mix 万元 with US dollars."""
    if op in "+-":
        if left.unit and right.unit and left.unit != right.unit:
            raise RuleSyntaxError(
                f"cannot {'add' if op == '+' else 'subtract'} {right.unit} and {left.unit}", offset
            )
        return left.unit or right.unit
    if op == "*":
        return left.unit or right.unit
    return left.unit if right.unit is None else (None if left.unit == right.unit else left.unit)


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.index = 0

    @property
    def current(self) -> Token:
        return self.tokens[self.index]

    def advance(self) -> Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def accept(self, text: str) -> bool:
        if self.current.kind in ("op", "name") and self.current.text == text:
            self.index += 1
            return True
        return False

    def expect(self, text: str) -> None:
        if not self.accept(text):
            raise RuleSyntaxError(
                f"expected {text!r}, found {self._describe()}", self.current.offset
            )

    def expect_end(self) -> None:
        if self.current.kind != "end":
            raise RuleSyntaxError(f"unexpected {self._describe()}", self.current.offset)

    def _describe(self) -> str:
        return "end of text" if self.current.kind == "end" else repr(self.current.text)

    def sum(self) -> Expr:
        node = self.product()
        while self.current.kind == "op" and self.current.text in ("+", "-"):
            token = self.advance()
            node = _binary(token.text, node, self.product(), token.offset)
        return node

    def product(self) -> Expr:
        node = self.unary()
        while self.current.kind == "op" and self.current.text in ("*", "/"):
            token = self.advance()
            node = _binary(token.text, node, self.unary(), token.offset)
        return node

    def unary(self) -> Expr:
        if self.current.kind == "op" and self.current.text == "-":
            token = self.advance()
            operand = self.unary()
            if operand.kind != "number":
                raise RuleSyntaxError("'-' needs a number", token.offset)
            if operand.is_constant:
                value = -operand.constant  # type: ignore[operator]
                return _constant("number", value, f"-{operand.text}")
            zero = _constant("number", Decimal(0), "0")
            return _binary("-", zero, operand, token.offset)
        return self.primary()

    def primary(self) -> Expr:
        token = self.current
        if token.kind == "number":
            self.advance()
            return _constant("number", Decimal(token.text.replace("_", "")), token.text)
        if token.kind == "string":
            self.advance()
            return _constant("string", token.text[1:-1], token.text)
        if token.kind == "name":
            self.advance()
            if token.text in ("true", "false"):
                return _constant("bool", token.text == "true", token.text)
            if token.text in _KEYWORDS:
                raise RuleSyntaxError(f"unexpected {token.text!r}", token.offset)
            fact = FACTS.get(token.text)
            if fact is None:
                raise RuleSyntaxError(f"unknown fact {token.text!r}", token.offset)
            return _fact_ref(fact)
        if token.kind == "op" and token.text == "(":
            self.advance()
            node = self.sum()
            self.expect(")")
            return node  # parentheses are put back where precedence needs them
        if token.kind == "op" and token.text == "[":
            raise RuleSyntaxError("a list is only allowed after 'in' or 'has_any'", token.offset)
        raise RuleSyntaxError(
            f"expected a fact, number or string, found {self._describe()}", token.offset
        )

    def literal_list(self) -> tuple[tuple[object, ...], str]:
        start = self.current.offset
        self.expect("[")
        items: list[object] = []
        kinds: set[str] = set()
        if not self.accept("]"):
            while True:
                item = self.unary()
                if not item.is_constant:
                    raise RuleSyntaxError("list items must be constants", self.current.offset)
                items.append(item.constant)
                kinds.add(item.kind)
                if self.accept("]"):
                    break
                self.expect(",")
        if len(kinds) > 1:
            raise RuleSyntaxError("list items must all be of one kind", start)
        return tuple(items), self.text[start : self.tokens[self.index - 1].offset + 1]


@dataclass(frozen=True, slots=True, eq=False)
class CompiledComparison:
    """A parsed comparison: `test(facts)` assumes every key in `facts_used` is present."""

    text: str
    test: Callable[[Facts], bool]
    facts_used: frozenset[str]
    operator: str
    left: Expr
    right: Expr | None = None
    # For list facts: the constant values the test looks for (None: the whole list matters).
    tested_members: tuple[tuple[str, frozenset[str] | None], ...] = ()

    def describe_values(self, facts: Facts) -> str:
        """The present facts' values, e.g. `rd_expense = 5,000`, for explanations."""
        shown = [
            f"{key} = {format_value(facts[key])}" for key in sorted(self.facts_used) if key in facts
        ]
        return ", ".join(shown)


def _check_enum_value(fact: FactDef | None, value: object, offset: int) -> None:
    if fact is not None and fact.choices and value not in fact.allowed:
        allowed = ", ".join(choice.code for choice in fact.choices)
        raise RuleSyntaxError(
            f"{value!r} is not a value of {fact.key} (allowed: {allowed})", offset
        )


def _compare(op: str, left: Expr, right: Expr, offset: int) -> Callable[[Facts], bool]:
    if op in ORDERING_OPERATORS:
        for side in (left, right):
            if side.kind != "number":
                raise RuleSyntaxError(f"{op!r} needs numbers, but {side.text!r} is not one", offset)
    if left.kind == "number" and right.kind == "number":
        if left.unit and right.unit and left.unit != right.unit:
            raise RuleSyntaxError(f"cannot compare {left.unit} with {right.unit}", offset)
    elif left.kind != right.kind or left.kind in ("set", "list"):
        raise RuleSyntaxError(
            f"cannot compare {left.text!r} with {right.text!r} using {op!r}", offset
        )
    for side, other in ((left, right), (right, left)):
        if other.is_constant:
            _check_enum_value(side.fact, other.constant, offset)
    fn = _COMPARE[op]
    left_eval, right_eval = left.evaluate, right.evaluate
    if right.is_constant:
        constant = right.constant
        return lambda facts: fn(left_eval(facts), constant)
    return lambda facts: fn(left_eval(facts), right_eval(facts))


def parse_comparison(text: str) -> CompiledComparison:
    """Parse and compile one comparison, e.g. `rd_expense - rd_expense_prev > 0`.

    A bare boolean fact (`good_credit`) means `good_credit == true`. Raises
    `RuleSyntaxError` for unknown facts, unknown operators, enum values outside the
    catalogue, type or unit mismatches and malformed text.
    """
    parser = _Parser(text)
    left = parser.sum()
    token = parser.current
    if token.kind == "end":
        if left.kind != "bool" or left.is_constant:
            raise RuleSyntaxError("a condition needs a comparison operator", token.offset)
        evaluate = left.evaluate
        return CompiledComparison(
            text.strip(), lambda f: evaluate(f) is True, left.facts_used, "==", left
        )
    if token.kind == "op" and token.text in COMPARISON_OPERATORS:
        parser.advance()
        right = parser.sum()
        parser.expect_end()
        test = _compare(token.text, left, right, token.offset)
        canonical = f"{left.text} {token.text} {right.text}"
        return CompiledComparison(
            canonical, test, left.facts_used | right.facts_used, token.text, left, right
        )
    negate = parser.accept("not")
    if parser.accept("in"):
        return _membership(parser, left, negate, token.offset)
    if negate:
        raise RuleSyntaxError("expected 'in' after 'not'", parser.current.offset)
    if parser.accept("has_any"):
        if left.kind != "set":
            raise RuleSyntaxError("'has_any' needs a list fact on its left", token.offset)
        items, shown = parser.literal_list()
        parser.expect_end()
        for item in items:
            _check_enum_value(left.fact, item, token.offset)
        wanted = frozenset(items)
        evaluate = left.evaluate
        return CompiledComparison(
            f"{left.text} has_any {shown}",
            lambda facts: not wanted.isdisjoint(evaluate(facts)),  # type: ignore[arg-type]
            left.facts_used,
            "has_any",
            left,
            tested_members=((left.text, wanted),),
        )
    raise RuleSyntaxError(f"unknown operator {token.text!r}", token.offset)


def _membership(parser: _Parser, left: Expr, negate: bool, offset: int) -> CompiledComparison:
    word = "not in" if negate else "in"
    if parser.current.kind == "op" and parser.current.text == "[":
        items, shown = parser.literal_list()
        parser.expect_end()
        if left.kind in ("set", "bool"):
            raise RuleSyntaxError(f"{left.text!r} cannot be tested with {word!r} a list", offset)
        for item in items:
            _check_enum_value(left.fact, item, offset)
        members = frozenset(items)
        evaluate = left.evaluate
        text = f"{left.text} {word} {shown}"
        if negate:
            return CompiledComparison(
                text, lambda f: evaluate(f) not in members, left.facts_used, word, left
            )
        return CompiledComparison(
            text, lambda f: evaluate(f) in members, left.facts_used, word, left
        )
    right = parser.sum()
    parser.expect_end()
    if right.kind != "set":
        raise RuleSyntaxError(f"{word!r} needs a list or a list fact on its right", offset)
    if left.is_constant:
        _check_enum_value(right.fact, left.constant, offset)
    elif left.kind != "string":
        raise RuleSyntaxError(f"{word!r} needs a value on its left", offset)
    left_eval, right_eval = left.evaluate, right.evaluate
    text = f"{left.text} {word} {right.text}"
    used = left.facts_used | right.facts_used
    tested = frozenset({left.constant}) if left.is_constant else None
    members = ((right.text, tested),)

    def contains(facts: Facts) -> bool:
        return left_eval(facts) in right_eval(facts)  # type: ignore[operator]

    def lacks(facts: Facts) -> bool:
        return left_eval(facts) not in right_eval(facts)  # type: ignore[operator]

    test = lacks if negate else contains
    return CompiledComparison(text, test, used, word, left, right, tested_members=members)


def parse_expression(text: str) -> Expr:
    """Parse and compile an arithmetic expression over numeric facts (a benefit's base)."""
    parser = _Parser(text)
    node = parser.sum()
    parser.expect_end()
    if node.kind != "number":
        raise RuleSyntaxError(f"{node.text!r} is not a number expression", 0)
    return node
