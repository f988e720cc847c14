"""The evaluation engine on small policies written for the tests."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from crm.incentives.engine import (
    MeasureResult,
    Status,
    compare,
    evaluate,
    evaluate_measure,
    today,
)
from tests.incentives.support import facts, parse, result_of

ENGINE_POLICY = """\
id: engine-test
version: 3
title: {zh: 引擎测试, en: Engine test}
issuer: {zh: 测试, en: Tester}
level: zone
covers: [changsha-etdz, national_hitech]
effective_from: 2025-01-01
effective_to: 2025-12-31
source: {note: written for the tests}
measures:
  - id: rate-capped
    area: rd
    summary_zh: 研发增量10%，最高200万元
    summary_en: 10% of incremental R&D, up to 200
    conditions: rd_expense > rd_expense_prev
    benefit:
      kind: rate
      rate: 10%
      base: rd_expense - rd_expense_prev
      cap: {amount: 200, unit: 万元}
      frequency: per_year
  - id: fixed-sum
    area: titles
    summary_zh: 新认定小巨人奖励50万元
    summary_en: 50 for a new little giant
    conditions: "'little_giant' in new_titles"
    benefit: {kind: fixed, amount: {amount: 50, unit: 万元}, frequency: once}
  - id: assessed
    area: smes
    summary_zh: 中小企业最高500万元
    summary_en: SMEs up to 500
    conditions: is_sme
    benefit: {kind: by_assessment, cap: {amount: 500, unit: 万元}}
  - id: assessed-open
    area: trade
    summary_zh: 出口达到一定规模
    summary_en: Exports of a certain scale
    conditions:
      fact: export_value
      op: ">="
      threshold: unknown
      note: a certain scale
    benefit: {kind: by_assessment, cap: none_stated}
  - id: services
    area: services
    summary_zh: 审批提速
    summary_en: Faster approval
    benefit: {kind: qualitative}
  - id: sales-share
    area: sales
    summary_zh: 销售收入5%
    summary_en: 5% of sales
    conditions: sales_revenue > 0
    benefit: {kind: rate, rate: 0.05, base: sales_revenue, frequency: once}
"""

RIVAL_POLICY = """\
id: rival-test
version: 1
title: {zh: 对手, en: Rival}
issuer: {zh: 测试, en: Tester}
level: zone
covers: [wangcheng-etdz]
effective_from: 2025-01-01
effective_to: null
source: {note: written for the tests}
eligibility: registered_in_zone
measures:
  - id: landing-bonus
    area: landing
    summary_zh: 落户奖励100万元
    summary_en: 100 for landing
    benefit: {kind: fixed, amount: {amount: 100, unit: 万元}, frequency: once}
"""

DAY = date(2025, 6, 1)
POLICY = parse(ENGINE_POLICY)
RIVAL = parse(RIVAL_POLICY)


def rate_capped(as_of: date = DAY, **raw: object) -> MeasureResult:
    return result_of(
        evaluate([POLICY], "changsha-etdz", "national_etdz", facts(**raw), as_of), "rate-capped"
    )


class TestAmounts:
    def test_the_formula_is_written_out_and_the_cap_bites(self) -> None:
        result = rate_capped(rd_expense=5000, rd_expense_prev=2000)
        assert result.status is Status.APPLIES
        assert result.amount == Decimal("200.00")
        assert result.cap == Decimal("200.00")
        assert result.cap_applied
        assert result.explanation == "10% × (5,000 − 2,000) = 300, capped at 200"
        assert result.frequency == "per_year"

    def test_just_under_the_cap(self) -> None:
        result = rate_capped(rd_expense="2999.9", rd_expense_prev=1000)
        assert result.amount == Decimal("199.99")
        assert not result.cap_applied
        assert result.explanation == "10% × (2,999.9 − 1,000) = 199.99"

    def test_exactly_at_the_cap(self) -> None:
        result = rate_capped(rd_expense=3000, rd_expense_prev=1000)
        assert result.amount == Decimal("200.00")
        assert not result.cap_applied
        assert result.explanation == "10% × (3,000 − 1,000) = 200"

    def test_just_over_the_cap(self) -> None:
        result = rate_capped(rd_expense="3000.1", rd_expense_prev=1000)
        assert result.amount == Decimal("200.00")
        assert result.explanation == "10% × (3,000.1 − 1,000) = 200.01, capped at 200"

    def test_amounts_are_rounded_to_a_hundred_yuan(self) -> None:
        assert rate_capped(rd_expense="0.05", rd_expense_prev=0).amount == Decimal("0.01")
        assert rate_capped(rd_expense="0.04", rd_expense_prev=0).status is Status.NOT_APPLICABLE

    def test_no_increase_is_not_applicable_with_the_failed_condition(self) -> None:
        result = rate_capped(rd_expense=2000, rd_expense_prev=2000)
        assert result.status is Status.NOT_APPLICABLE
        assert result.amount is None
        assert result.failed_condition == "rd_expense > rd_expense_prev"
        assert result.explanation == (
            "not met: rd_expense > rd_expense_prev (rd_expense = 2,000, rd_expense_prev = 2,000)"
        )

    def test_missing_facts_are_listed(self) -> None:
        result = rate_capped(rd_expense=2000)
        assert result.status is Status.NEEDS_DATA
        assert result.missing_facts == ("rd_expense_prev",)
        assert result.explanation == "needs: rd_expense_prev"

    def test_uncapped_rate_and_fixed_sum(self) -> None:
        evaluation = evaluate(
            [POLICY],
            "changsha-etdz",
            "national_etdz",
            facts(sales_revenue="12345.67", new_titles=["little_giant"]),
            DAY,
        )
        sales = result_of(evaluation, "sales-share")
        assert (sales.amount, sales.cap) == (Decimal("617.28"), None)
        assert sales.explanation == "5% × 12,345.67 = 617.28"
        fixed = result_of(evaluation, "fixed-sum")
        assert (fixed.status, fixed.amount) == (Status.APPLIES, Decimal("50.00"))
        assert fixed.explanation == "fixed sum 50"

    @settings(max_examples=300, deadline=None)
    @given(
        st.decimals(min_value=0, max_value=10**7, places=2),
        st.decimals(min_value=0, max_value=10**7, places=2),
    )
    def test_amount_is_never_negative_and_never_above_the_cap(
        self, this_year: Decimal, last_year: Decimal
    ) -> None:
        result = rate_capped(rd_expense=this_year, rd_expense_prev=last_year)
        if result.status is Status.APPLIES:
            assert result.amount is not None
            assert Decimal(0) < result.amount <= Decimal(200)
            expected = min((this_year - last_year) / 10, Decimal(200))
            assert abs(result.amount - expected) <= Decimal("0.005")
        else:
            assert result.status is Status.NOT_APPLICABLE
            assert result.amount is None
            assert this_year - last_year < Decimal("0.05")


class TestStatuses:
    def test_every_status_and_the_totals(self) -> None:
        evaluation = evaluate(
            [POLICY],
            "changsha-etdz",
            "national_etdz",
            facts(
                rd_expense=5000,
                rd_expense_prev=4000,
                is_sme=True,
                export_value=10,
                new_titles=[],
            ),
            DAY,
        )
        statuses = {result.measure_id: result.status for result in evaluation.results}
        assert statuses == {
            "rate-capped": Status.APPLIES,
            "fixed-sum": Status.NOT_APPLICABLE,
            "assessed": Status.BY_ASSESSMENT,
            "assessed-open": Status.BY_ASSESSMENT,
            "services": Status.QUALITATIVE,
            "sales-share": Status.NEEDS_DATA,
        }
        assert evaluation.total_applies == Decimal("100.00")
        assert evaluation.total_by_assessment_cap == Decimal("500.00")
        assert evaluation.by_assessment_without_cap == 1
        assert evaluation.counts == {
            "applies": 1,
            "by_assessment": 2,
            "qualitative": 1,
            "needs_data": 1,
            "not_applicable": 1,
            "not_in_force": 0,
        }
        assert evaluation.policy_versions == {"engine-test": 3}
        assert evaluation.missing_facts == ("sales_revenue",)
        assessed = result_of(evaluation, "assessed")
        assert assessed.explanation == "eligible; amount decided by assessment, up to 500"
        open_threshold = result_of(evaluation, "assessed-open")
        assert open_threshold.threshold_unconfirmed
        assert open_threshold.open_thresholds == (
            "export_value >= [unstated threshold: a certain scale]",
        )
        assert not assessed.threshold_unconfirmed

    def test_validity_window_includes_both_ends(self) -> None:
        assert rate_capped(date(2024, 12, 31), rd_expense=2).status is Status.NOT_IN_FORCE
        assert rate_capped(date(2025, 1, 1), rd_expense=2).status is Status.NEEDS_DATA
        assert rate_capped(date(2025, 12, 31), rd_expense=2).status is Status.NEEDS_DATA
        result = rate_capped(date(2026, 1, 1), rd_expense=2, rd_expense_prev=1)
        assert result.status is Status.NOT_IN_FORCE
        assert result.amount is None
        assert result.explanation == "policy in force 2025-01-01 to 2025-12-31; not on 2026-01-01"

    def test_not_in_force_never_counts(self) -> None:
        evaluation = evaluate(
            [POLICY], "changsha-etdz", "national_etdz", facts(is_sme=True), date(2026, 1, 1)
        )
        assert evaluation.counts["not_in_force"] == len(POLICY.measures)
        assert evaluation.total_applies == 0 and evaluation.total_by_assessment_cap == 0

    def test_evaluate_measure_directly(self) -> None:
        result = evaluate_measure(POLICY, POLICY.measure("assessed"), facts(is_sme=False), DAY)
        assert result.status is Status.NOT_APPLICABLE
        assert result.explanation == "not met: is_sme (is_sme = false)"

    def test_default_date_is_today_in_shanghai(self) -> None:
        evaluation = evaluate([POLICY], "changsha-etdz", "national_etdz", facts())
        assert evaluation.as_of == today()

    def test_results_as_json(self) -> None:
        evaluation = evaluate(
            [POLICY],
            "changsha-etdz",
            "national_etdz",
            facts(rd_expense=5000, rd_expense_prev=2000),
            DAY,
        )
        data = evaluation.to_dict()
        json.dumps(data)
        first = data["results"][0]  # type: ignore[index]
        assert first["policy"] == "engine-test"
        assert first["measure"] == "rate-capped"
        assert first["status"] == "applies"
        assert first["amount"] == "200.00"
        assert first["cap"] == "200.00"
        assert first["threshold_unconfirmed"] is False
        assert data["total_applies"] == "200.00"
        assert data["policy_versions"] == {"engine-test": 3}


class TestCoverage:
    def test_policy_reaches_a_named_zone_and_a_zone_level(self) -> None:
        assert evaluate([POLICY], "changsha-etdz", "national_etdz", {}, DAY).results
        assert evaluate([POLICY], "changsha-hitech", "national_hitech", {}, DAY).results
        other = evaluate([POLICY], "wangcheng-etdz", "national_etdz", {}, DAY)
        assert other.results == () and other.policy_versions == {}


class TestCompare:
    ZONES = {
        "changsha-etdz": "national_etdz",
        "wangcheng-etdz": "national_etdz",
        "changsha-county": "county",
    }

    def test_zones_sorted_by_estimated_total(self) -> None:
        project = facts(rd_expense=1500, rd_expense_prev=1000)
        ranking = compare([POLICY, RIVAL], self.ZONES, project, DAY)
        assert [(e.zone_code, e.total_applies) for e in ranking] == [
            ("wangcheng-etdz", Decimal("100.00")),
            ("changsha-etdz", Decimal("50.00")),
            ("changsha-county", Decimal(0)),
        ]

    def test_a_project_not_yet_landed_is_assumed_to_register_where_compared(self) -> None:
        def landing_bonus(project: dict[str, object], *, assume_registered: bool = True) -> Status:
            ranking = compare(
                [RIVAL], self.ZONES, project, DAY, assume_registered=assume_registered
            )
            wangcheng = next(e for e in ranking if e.zone_code == "wangcheng-etdz")
            return result_of(wangcheng, "landing-bonus").status

        assert landing_bonus(facts()) is Status.APPLIES
        assert landing_bonus(facts(), assume_registered=False) is Status.NEEDS_DATA
        assert landing_bonus(facts(registered_in_zone=False)) is Status.NOT_APPLICABLE

    def test_ties_are_broken_by_caps_then_zone_code(self) -> None:
        ranking = compare(
            [POLICY],
            [("changsha-county", "county"), ("changsha-hitech", "national_hitech")],
            facts(is_sme=True),
            DAY,
        )
        assert [e.zone_code for e in ranking] == ["changsha-hitech", "changsha-county"]


class TestMemo:
    """Results are shared between projects with the same relevant facts, never wrongly."""

    def test_same_relevant_facts_give_the_same_result_object(self) -> None:
        first = rate_capped(rd_expense=5000, rd_expense_prev=2000, is_sme=True)
        second = rate_capped(rd_expense=5000, rd_expense_prev=2000, is_sme=False)
        assert first is second

    def test_different_values_give_different_results(self) -> None:
        assert rate_capped(rd_expense=5, rd_expense_prev=1).amount == Decimal("0.40")
        assert rate_capped(rd_expense=6, rd_expense_prev=1).amount == Decimal("0.50")

    def test_list_facts_are_compared_on_the_values_looked_for(self) -> None:
        def fixed(new_titles: list[str]) -> Status:
            evaluation = evaluate(
                [POLICY], "changsha-etdz", "national_etdz", facts(new_titles=new_titles), DAY
            )
            return result_of(evaluation, "fixed-sum").status

        assert fixed(["little_giant"]) is Status.APPLIES
        assert fixed(["tech_sme", "little_giant"]) is Status.APPLIES
        assert fixed(["tech_sme"]) is Status.NOT_APPLICABLE
        assert fixed([]) is Status.NOT_APPLICABLE
