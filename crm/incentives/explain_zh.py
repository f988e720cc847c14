"""Chinese renderings of the engine's explanations (results are shown to zh_CN users).

The engine writes each explanation in English, in a few fixed forms; `explanation()` renders
it in Chinese from the same parts when a page or the API asks for it, so evaluation itself
does not pay for a second language. Formulas keep their numbers; fact keys in condition
texts become the facts' Chinese labels and enum codes their Chinese names, so
`'green_factory' in titles` reads `国家级绿色工厂/绿色制造企业 ∈ 荣誉资质`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache

from crm.incentives.facts import FACTS

# Words of the English condition and explanation texts, with their Chinese renderings.
_PHRASES = (
    ("none of: ", "以下条件均不满足："),
    ("any of: ", "满足其一："),
    ("all of: ", "同时满足："),
    ("[unstated threshold: ", "[门槛未明确："),
    ("[unstated criterion: ", "[标准未明确："),
    (" has_any ", " 包含任一 "),
    (" not in ", " ∉ "),
    (" in ", " ∈ "),
    ("not (", "非（"),
)
_TOKEN = re.compile(r"'([^']*)'|\"([^\"]*)\"|\b([a-z][a-z0-9_]*)\b")


@cache
def _choice_labels() -> dict[str, str]:
    labels: dict[str, str] = {}
    for fact in FACTS.values():
        for choice in fact.choices:
            labels.setdefault(choice.code, choice.label_zh)
    return labels


def fact_label(key: str) -> str:
    """A fact's Chinese label (the key itself if it is not in the catalogue)."""
    fact = FACTS.get(key)
    return fact.label_zh if fact is not None else key


def _token(match: re.Match[str]) -> str:
    quoted = match.group(1) if match.group(1) is not None else match.group(2)
    if quoted is not None:
        return _choice_labels().get(quoted, quoted)
    word = match.group(3)
    if word in FACTS:
        return FACTS[word].label_zh
    return {"true": "是", "false": "否"}.get(word, word)


def condition_text(text: str) -> str:
    """A condition's text (as the engine writes it) with Chinese labels and words.

    Notes quoted from the source after `[unstated ...:` are kept as written.
    """
    head, bracket, tail = text.partition("[unstated ")
    rendered = head
    for english, chinese in _PHRASES:
        rendered = rendered.replace(english, chinese)
    rendered = _TOKEN.sub(_token, rendered)
    if bracket:
        note_kind, _colon, rest = tail.partition(": ")
        prefix = "[门槛未明确：" if note_kind == "threshold" else "[标准未明确："
        note, closing, after = rest.partition("]")
        rendered += prefix + note + closing + (condition_text(after) if after else "")
    return rendered.replace(" (", "（").replace(")", "）").replace(", ", "，")


def needs(missing: Iterable[str]) -> str:
    """`needs: a, b` in Chinese, with the facts' labels."""
    return "需补充：" + "、".join(fact_label(key) for key in sorted(missing))


_NOT_IN_FORCE = re.compile(r"^policy in force (\S+) to (\S+); not on (\S+)$")
_CAPPED = re.compile(r"^(.*) = (\S+), capped at (\S+)$")
_NOTHING = re.compile(r"^(.*) = (\S+): nothing to claim$")
_DIVISION = " cannot be computed (division by zero)"
_ASSESSED = "eligible; amount decided by assessment, "


def _formula(text: str) -> str:
    return "最高 " + text[len("up to ") :] if text.startswith("up to ") else text


def explanation(status: str, text: str, missing: Iterable[str] = ()) -> str:
    """The Chinese rendering of an explanation the engine wrote in English.

    The engine writes explanations in a few fixed forms (see `crm.incentives.engine`); each
    is rendered here from its parts, numbers unchanged. Unknown forms are returned as given.
    """
    if status == "needs_data":
        return needs(missing)
    if status == "not_in_force" and (match := _NOT_IN_FORCE.match(text)):
        start, end, day = match.groups()
        window = f"{start} 起（未规定截止日期）" if end == "open-ended" else f"{start} 至 {end}"
        return f"政策有效期 {window}；{day} 不在有效期内"
    if text.startswith("not met: "):
        return "未满足：" + condition_text(text[len("not met: ") :])
    if text == "eligible; non-monetary support":
        return "符合条件；非资金支持"
    if text.startswith(_ASSESSED):
        rest = text[len(_ASSESSED) :]
        if rest.startswith("up to "):
            return f"符合条件；金额由评审确定，最高 {rest[len('up to ') :]}"
        return "符合条件；金额由评审确定，未规定上限"
    if text.startswith("fixed sum "):
        return f"固定金额 {text[len('fixed sum ') :]}"
    if text.endswith(_DIVISION):
        return f"{_formula(text[: -len(_DIVISION)])} 无法计算（除数为零）"
    if match := _NOTHING.match(text):
        return f"{_formula(match.group(1))} = {match.group(2)}：无可申领金额"
    if match := _CAPPED.match(text):
        formula, amount, cap = match.groups()
        return f"{_formula(formula)} = {amount}，超过上限，按上限 {cap} 计"
    return _formula(text)
