"""The facts form: one field per fact of the catalogue, read back into raw facts.

Fields are named `f_<key>`. Every field may be left empty ("not known"): the engine then
says which measures need it. A list fact (titles, industry tags) has a "none of these"
box, so "holds no title" differs from "not known". The values read are validated with
`crm.incentives.facts.validate_facts`, which names the offending key.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from flask_babel import gettext as _

from crm.incentives.facts import FACTS, FactType

PREFIX = "f_"
NONE_OF_THESE = "__none__"
UNITS = {FactType.MONEY_WAN: "万元", FactType.USD: "USD"}


@dataclass
class FactField:
    """What the template needs to render one fact's input."""

    key: str
    name: str
    label: str
    type: str
    unit: str | None
    value: str = ""
    values: set[str] = field(default_factory=set)
    choices: list[tuple[str, str]] = field(default_factory=list)
    error: str | None = None
    needed: bool = False
    missing: bool = False
    derived: bool = False
    description: str = ""


def read_facts(form: Any) -> dict[str, object]:
    """Raw facts from a submitted form (a MultiDict); empty fields are left out."""
    raw: dict[str, object] = {}
    for key, fact in FACTS.items():
        name = PREFIX + key
        if fact.type is FactType.ENUM_LIST:
            values = [v for v in form.getlist(name) if v]
            if values:
                raw[key] = [v for v in values if v != NONE_OF_THESE]
            continue
        value = (form.get(name) or "").strip()
        if value:
            raw[key] = value
    return raw


def error_text(message: str) -> str:
    """A `validate_facts` message (English) in the user's language."""
    fixed = {
        "unknown fact": _("unknown fact"),
        "must be a number": _("must be a number"),
        "must not be negative": _("must not be negative"),
        "is too large": _("is too large"),
        "must be true or false": _("must be true or false"),
        "must be a list": _("must be a list"),
    }
    if message in fixed:
        return fixed[message]
    if message.startswith("must be one of: "):
        return _("must be one of: %(values)s", values=message[len("must be one of: ") :])
    if message.startswith("unknown value(s) "):
        values = message[len("unknown value(s) ") :].split(";", 1)[0]
        return _("unknown value(s): %(values)s", values=values)
    if message.startswith("must be a chain code") or message.startswith("unknown chain code"):
        return _("unknown industrial chain")
    return message


def _shown(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def fact_fields(
    facts: Mapping[str, object],
    *,
    english: bool,
    raw: Mapping[str, object] | None = None,
    errors: Mapping[str, str] | None = None,
    needed: Collection[str] = (),
    missing: Collection[str] = (),
    derived: Collection[str] = (),
    chain_choices: list[tuple[str, str]] | None = None,
) -> list[FactField]:
    """The fields, needed facts first (in catalogue order), each with its current value.

    `raw` (what the user typed) wins over `facts` so a refused entry is shown as typed,
    next to its error.
    """
    errors = errors or {}
    fields: list[FactField] = []
    for key, fact in FACTS.items():
        label = fact.label_en if english else fact.label_zh
        choices = [(c.code, c.label_en if english else c.label_zh) for c in fact.choices]
        if fact.type is FactType.CHAIN_CODE:
            choices = list(chain_choices or [])
        item = FactField(
            key=key,
            name=PREFIX + key,
            label=label,
            type=fact.type.value,
            unit=UNITS.get(fact.type),
            choices=choices,
            error=error_text(errors[key]) if key in errors else None,
            needed=key in needed,
            missing=key in missing,
            derived=key in derived,
            description=fact.description,
        )
        value = raw[key] if raw is not None and key in raw else facts.get(key)
        if fact.type is FactType.ENUM_LIST:
            if isinstance(value, Collection) and not isinstance(value, str):
                item.values = {str(v) for v in value} or {NONE_OF_THESE}
        else:
            item.value = _shown(value)
        fields.append(item)
    fields.sort(key=lambda f: not f.needed)
    return fields
