"""The fact catalogue and the validation of project facts."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from crm.incentives.facts import FACTS, FactType, facts_to_json, validate_facts

ISSUE_KEYS = {
    "chain",
    "industry_tags",
    "planned_investment",
    "rd_expense",
    "rd_expense_prev",
    "annual_new_equipment_investment",
    "sales_revenue",
    "sales_revenue_prev",
    "future_industry_recognised",
    "titles",
    "export_value",
    "foreign_capital_used_usd",
    "headquarters_type",
    "good_credit",
    "registered_in_zone",
    "is_financial_institution",
    "talent_program",
}


def test_catalogue_holds_every_key_of_the_issue_with_labels() -> None:
    assert FACTS.keys() >= ISSUE_KEYS
    assert {key for key, fact in FACTS.items() if fact.in_issue} == ISSUE_KEYS
    for fact in FACTS.values():
        assert fact.label_zh and fact.label_en
        assert bool(fact.choices) == (fact.type in (FactType.ENUM, FactType.ENUM_LIST))


def test_enum_values_are_those_of_the_issue() -> None:
    assert FACTS["headquarters_type"].allowed == {
        "none",
        "multinational_regional",
        "trade",
        "innovative",
        "private",
    }
    assert FACTS["titles"].allowed == {
        "national_single_champion",
        "little_giant",
        "high_tech_enterprise",
        "green_factory",
        "tech_sme",
        "remanufacturing_or_recycling",
    }
    assert {"future_manufacturing", "smart_internet", "modern_services"} <= FACTS[
        "industry_tags"
    ].allowed


def test_valid_facts_are_normalised() -> None:
    facts, errors = validate_facts(
        {
            "rd_expense": "5,000",
            "rd_expense_prev": 2000,
            "sales_revenue": 12.5,
            "foreign_capital_used_usd": Decimal("1000000"),
            "good_credit": True,
            "registered_in_zone": "false",
            "titles": ["little_giant", "tech_sme", "little_giant"],
            "headquarters_type": "trade",
            "chain": "construction-machinery",
        }
    )
    assert errors == {}
    assert facts == {
        "rd_expense": Decimal(5000),
        "rd_expense_prev": Decimal(2000),
        "sales_revenue": Decimal("12.5"),
        "foreign_capital_used_usd": Decimal(1000000),
        "good_credit": True,
        "registered_in_zone": False,
        "titles": frozenset({"little_giant", "tech_sme"}),
        "headquarters_type": "trade",
        "chain": "construction-machinery",
    }


def test_missing_and_empty_values_are_left_out() -> None:
    assert validate_facts({"rd_expense": None, "export_value": " "}) == ({}, {})


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("rd_expenses", 1, "unknown fact"),
        ("rd_expense", -1, "must not be negative"),
        ("rd_expense", 10**12, "is too large"),
        ("foreign_capital_used_usd", "1e300", "is too large"),
        ("rd_expense", "lots", "must be a number"),
        ("rd_expense", True, "must be a number"),
        ("rd_expense", float("inf"), "must be a number"),
        ("rd_expense", "NaN", "must be a number"),
        ("good_credit", "yes please", "must be true or false"),
        ("good_credit", 1, "must be true or false"),
        ("headquarters_type", "castle", "must be one of"),
        ("titles", "little_giant", "must be a list"),
        ("titles", ["little_gaint"], "unknown value(s) 'little_gaint'"),
        ("chain", "Construction Machinery", "must be a chain code"),
    ],
)
def test_invalid_facts_are_named(key: str, value: object, message: str) -> None:
    facts, errors = validate_facts({key: value, "rd_expense_prev": 1})
    assert facts == {"rd_expense_prev": Decimal(1)}
    assert list(errors) == [key]
    assert message in errors[key]


def test_chain_codes_can_be_checked_against_reference_data() -> None:
    _, errors = validate_facts({"chain": "space-elevators"}, chain_codes={"automobile"})
    assert errors == {"chain": "unknown chain code 'space-elevators'"}


def test_facts_to_json() -> None:
    facts, _ = validate_facts({"rd_expense": "10.50", "titles": ["tech_sme", "little_giant"]})
    data = facts_to_json(facts)
    assert data == {"rd_expense": "10.50", "titles": ["little_giant", "tech_sme"]}
    json.dumps(data)
