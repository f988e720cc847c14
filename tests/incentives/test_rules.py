"""The condition language: parsing, type checks, three-valued evaluation, open thresholds."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crm.incentives.expressions import RuleSyntaxError, parse_comparison, parse_expression
from crm.incentives.rules import AllOf, AnyOf, NotOf, RuleError, compile_condition
from tests.incentives.support import facts


def check(text: str, **raw: object) -> bool | None:
    """Evaluate one condition written as a string against raw facts."""
    return compile_condition(text).evaluate(facts(**raw)).value


class TestComparisons:
    def test_fact_against_constant_at_and_around_the_threshold(self) -> None:
        rule = "annual_new_equipment_investment >= 500"
        assert check(rule, annual_new_equipment_investment="499.99") is False
        assert check(rule, annual_new_equipment_investment=500) is True
        assert check(rule, annual_new_equipment_investment="500.01") is True

    @pytest.mark.parametrize(
        ("operator", "expected"),
        [(">", False), (">=", True), ("<", False), ("<=", True), ("==", True), ("!=", False)],
    )
    def test_every_comparison_operator(self, operator: str, expected: bool) -> None:
        assert check(f"rd_expense {operator} 300", rd_expense=300) is expected

    def test_fact_against_another_fact(self) -> None:
        assert check("rd_expense > rd_expense_prev", rd_expense=5, rd_expense_prev=4) is True
        assert check("rd_expense > rd_expense_prev", rd_expense=4, rd_expense_prev=4) is False

    def test_arithmetic_this_year_minus_last_year(self) -> None:
        rule = "sales_revenue - sales_revenue_prev >= 1000"
        assert check(rule, sales_revenue=3000, sales_revenue_prev=2000) is True
        assert check(rule, sales_revenue="2999.99", sales_revenue_prev=2000) is False

    def test_precedence_and_parentheses(self) -> None:
        expression = parse_expression("rd_expense - rd_expense_prev * 2")
        values = facts(rd_expense=10, rd_expense_prev=3)
        assert expression.evaluate(values) == Decimal(4)
        grouped = parse_expression("(rd_expense - rd_expense_prev) * 2")
        assert grouped.evaluate(values) == Decimal(14)
        assert grouped.text == "(rd_expense - rd_expense_prev) * 2"
        assert grouped.render(values) == "(10 − 3) × 2"

    def test_unary_minus_and_division(self) -> None:
        assert check("-rd_expense < 0", rd_expense=1) is True
        assert check("rd_expense / rd_expense_prev > 1.5", rd_expense=4, rd_expense_prev=2)
        assert check("rd_expense / rd_expense_prev > 1.5", rd_expense=3, rd_expense_prev=2) is False

    def test_division_by_zero_is_false_not_an_error(self) -> None:
        assert check("rd_expense / rd_expense_prev > 1", rd_expense=4, rd_expense_prev=0) is False

    def test_boolean_fact_alone_means_true(self) -> None:
        assert check("good_credit", good_credit=True) is True
        assert check("good_credit", good_credit=False) is False
        assert check("good_credit == false", good_credit=False) is True

    def test_enum_membership(self) -> None:
        rule = "headquarters_type in ['multinational_regional', 'trade']"
        assert check(rule, headquarters_type="trade") is True
        assert check(rule, headquarters_type="private") is False
        assert check("headquarters_type not in ['none']", headquarters_type="private") is True

    def test_list_membership_and_has_any(self) -> None:
        assert check("'little_giant' in titles", titles=["little_giant"]) is True
        assert check("'little_giant' in titles", titles=[]) is False
        assert check("'little_giant' not in titles", titles=[]) is True
        rule = "industry_tags has_any ['smart_internet', 'life_health']"
        assert check(rule, industry_tags=["life_health", "green_low_carbon"]) is True
        assert check(rule, industry_tags=["green_low_carbon"]) is False

    def test_structured_comparison_mapping(self) -> None:
        rule = compile_condition(
            {"fact": "rd_expense", "op": ">", "value": {"fact": "rd_expense_prev"}}
        )
        assert rule.text == "rd_expense > rd_expense_prev"
        assert rule.evaluate(facts(rd_expense=3, rd_expense_prev=2)).value is True
        listed = compile_condition({"fact": "titles", "op": "has_any", "value": ["tech_sme"]})
        assert listed.evaluate(facts(titles=["tech_sme"])).value is True


class TestThreeValuedLogic:
    def test_missing_fact_is_unknown_and_named(self) -> None:
        outcome = compile_condition("rd_expense > rd_expense_prev").evaluate(facts(rd_expense=5))
        assert outcome.value is None
        assert outcome.missing == {"rd_expense_prev"}

    def test_all_is_false_when_any_part_is_false_even_with_unknowns(self) -> None:
        rule = compile_condition({"all": ["good_credit", "rd_expense > 10"]})
        assert rule.evaluate(facts(rd_expense=1)).value is False
        outcome = rule.evaluate(facts(rd_expense=11))
        assert (outcome.value, outcome.missing) == (None, {"good_credit"})
        assert rule.evaluate(facts(rd_expense=11, good_credit=True)).value is True

    def test_any_is_true_when_any_part_is_true_even_with_unknowns(self) -> None:
        rule = compile_condition({"any": ["good_credit", "rd_expense > 10"]})
        assert rule.evaluate(facts(rd_expense=11)).value is True
        outcome = rule.evaluate(facts(rd_expense=1))
        assert (outcome.value, outcome.missing) == (None, {"good_credit"})
        assert rule.evaluate(facts(rd_expense=1, good_credit=False)).value is False

    def test_not_flips_true_and_false_and_keeps_unknown(self) -> None:
        rule = compile_condition({"not": "good_credit"})
        assert rule.evaluate(facts(good_credit=True)).value is False
        assert rule.evaluate(facts(good_credit=False)).value is True
        assert rule.evaluate(facts()).value is None

    def test_failed_condition_names_the_part_that_failed_with_values(self) -> None:
        rule = compile_condition({"all": ["good_credit", "annual_new_equipment_investment >= 500"]})
        values = facts(good_credit=True, annual_new_equipment_investment="499.99")
        outcome = rule.evaluate(values)
        assert outcome.failed is not None
        assert outcome.failed.text == "annual_new_equipment_investment >= 500"
        assert outcome.failed.describe_failure(values) == (
            "annual_new_equipment_investment >= 500 (annual_new_equipment_investment = 499.99)"
        )

    @settings(max_examples=200, deadline=None)
    @given(st.lists(st.sampled_from([True, False, None]), min_size=1, max_size=4))
    def test_all_and_any_follow_kleene_logic(self, values: list[bool | None]) -> None:
        keys = ["good_credit", "registered_in_zone", "talent_program", "is_sme"][: len(values)]
        given_facts = {
            key: value for key, value in zip(keys, values, strict=True) if value is not None
        }
        conjunction = AllOf(tuple(compile_condition(key) for key in keys))
        disjunction = AnyOf(tuple(compile_condition(key) for key in keys))
        negation = NotOf(conjunction)
        expected_all = False if False in values else (None if None in values else True)
        expected_any = True if True in values else (None if None in values else False)
        assert conjunction.evaluate(given_facts).value is expected_all
        assert disjunction.evaluate(given_facts).value is expected_any
        assert negation.evaluate(given_facts).value is (
            None if expected_all is None else not expected_all
        )

    @settings(max_examples=200, deadline=None)
    @given(
        st.decimals(min_value=0, max_value=10**9, places=2),
        st.decimals(min_value=0, max_value=10**9, places=2),
    )
    def test_difference_comparison_agrees_with_direct_comparison(
        self, this_year: Decimal, last_year: Decimal
    ) -> None:
        values = facts(rd_expense=this_year, rd_expense_prev=last_year)
        assert check_values("rd_expense - rd_expense_prev > 0", values) is (this_year > last_year)


def check_values(text: str, values: dict[str, object]) -> bool | None:
    return compile_condition(text).evaluate(values).value


class TestOpenThresholds:
    RULE = {
        "fact": "export_value",
        "op": ">=",
        "threshold": "unknown",
        "note": "annual exports reaching a certain scale",
    }

    def test_known_fact_counts_as_met_but_unconfirmed(self) -> None:
        outcome = compile_condition(self.RULE).evaluate(facts(export_value=1))
        assert outcome.value is True
        assert outcome.unconfirmed
        assert outcome.open_thresholds == (
            "export_value >= [unstated threshold: annual exports reaching a certain scale]",
        )

    def test_zero_never_reaches_a_certain_scale(self) -> None:
        assert compile_condition(self.RULE).evaluate(facts(export_value=0)).value is False

    def test_missing_fact_is_unknown(self) -> None:
        outcome = compile_condition(self.RULE).evaluate(facts())
        assert (outcome.value, outcome.missing) == (None, {"export_value"})

    def test_criterion_without_a_fact(self) -> None:
        rule = compile_condition({"threshold": "unknown", "note": "meets development criteria"})
        outcome = rule.evaluate(facts())
        assert outcome.value is True and outcome.unconfirmed

    def test_unconfirmed_flag_survives_all(self) -> None:
        rule = compile_condition({"all": [self.RULE, "good_credit"]})
        outcome = rule.evaluate(facts(export_value=10, good_credit=True))
        assert outcome.value is True and outcome.unconfirmed

    def test_any_prefers_a_confirmed_branch(self) -> None:
        rule = compile_condition({"any": [self.RULE, "good_credit"]})
        assert not rule.evaluate(facts(export_value=10, good_credit=True)).unconfirmed
        assert rule.evaluate(facts(export_value=10, good_credit=False)).unconfirmed


class TestRefusals:
    @pytest.mark.parametrize(
        ("text", "message", "offset"),
        [
            ("rd_expens > 5", "unknown fact 'rd_expens'", 0),
            ("rd_expense => 5", "unknown operator '=>'", 11),
            ("rd_expense = 5", "unknown operator '='", 11),
            ("rd_expense >> 5", "unknown operator '>>'", 11),
            ("rd_expense ~ 5", "unknown operator '~'", 11),
            ("rd_expense > foreign_capital_used_usd", "cannot compare 万元 with USD", 11),
            ("titles > 3", "'>' needs numbers", 7),
            ("'little_gaint' in titles", "'little_gaint' is not a value of titles", 15),
            ("headquarters_type == 'hq'", "'hq' is not a value of headquarters_type", 18),
            ("rd_expense", "a condition needs a comparison operator", 10),
            ("rd_expense >", "expected a fact, number or string", 12),
            ("good_credit == 1", "cannot compare", 12),
            ("__import__('os')", "unknown fact '__import__'", 0),
        ],
    )
    def test_malformed_comparison(self, text: str, message: str, offset: int) -> None:
        with pytest.raises(RuleSyntaxError) as caught:
            parse_comparison(text)
        assert message in caught.value.message
        assert caught.value.offset == offset

    @pytest.mark.parametrize(
        ("data", "message", "path"),
        [
            ({"al": ["good_credit"]}, "unknown condition key 'al'", ("al",)),
            ({"all": []}, "non-empty list", ("all",)),
            ({"all": ["good_credit", "bogus > 1"]}, "unknown fact 'bogus'", ("all", 1)),
            ({"any": [{"not": "nope"}]}, "unknown fact 'nope'", ("any", 0, "not")),
            ({"fact": "rd_expense", "op": "=>", "value": 1}, "unknown operator '=>'", ("op",)),
            (
                {"fact": "rd_expense", "op": ">=", "threshold": 5, "note": "x"},
                "must be 'unknown'",
                ("threshold",),
            ),
            ({"fact": "rd_expense", "op": ">=", "threshold": "unknown"}, "needs a note", ("note",)),
            (
                {"fact": "rd_expense", "op": "==", "threshold": "unknown", "note": "x"},
                "unknown operator",
                ("op",),
            ),
            (42, "must be a string or a mapping", ()),
        ],
    )
    def test_malformed_structure(self, data: object, message: str, path: tuple) -> None:
        with pytest.raises(RuleError) as caught:
            compile_condition(data)
        assert message in caught.value.message
        assert caught.value.path == path
