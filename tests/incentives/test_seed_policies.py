"""The committed seed policies, checked against worked examples computed by hand.

Amounts are in 万元: "up to 2 million yuan" is a cap of 200. Each quantified measure is
tried just under, exactly at and just over its thresholds and caps.
"""

from __future__ import annotations

import importlib.util
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crm.incentives.engine import Status, compare, evaluate, today
from crm.incentives.facts import FACTS, FactDef, FactType, validate_facts
from crm.incentives.model import BenefitKind
from tests.incentives.support import (
    IN_FORCE_DAY,
    NATIONAL_ETDZS,
    ROOT,
    SEED_POLICIES,
    ZONES,
    evaluate_in,
    facts,
    result_of,
    seed_policies,
    seed_policy,
)

CHANGSHA = "changsha-etdz-manufacturing-2025"
CHANGNING = "shanghai-changning-industrial-system-2024"
MOFCOM = "mofcom-national-etdz-2025"
GUOFA = "guofa-2020-7-national-hitech"

R, F, A, Q = (
    BenefitKind.RATE,
    BenefitKind.FIXED,
    BenefitKind.BY_ASSESSMENT,
    BenefitKind.QUALITATIVE,
)

# (measure id, benefit kind, cap in 万元 or None) for every encoded measure.
ENCODED = {
    CHANGSHA: [
        ("rd-achievement-transformation", A, 500),
        ("rd-incremental-expense", R, 200),
        ("rd-university-achievements", Q, None),
        ("future-industry-sales-growth", R, 1000),
        ("future-industry-scenarios", Q, None),
        ("single-champion-reward", A, None),
        ("little-giant-reward", A, None),
        ("equipment-upgrade", R, 1000),
        ("per-area-efficiency", A, None),
        ("foreign-trade-growth", A, None),
        ("new-foreign-trade-project", A, None),
        ("new-foreign-investment-project", A, None),
        ("overseas-investment", Q, None),
        ("remanufacturing-recycling", A, None),
        ("green-manufacturing-enterprise", A, None),
        ("sci-tech-fund-return-investment", Q, None),
        ("sub-fund-matching", Q, None),
        ("fund-risk-tolerance", Q, None),
        ("investment-reward", A, 500),
    ],
    CHANGNING: [
        ("focus-entities", A, 10000),
        ("leaders-and-rd", A, 10000),
        ("establishment-and-growth", A, 3000),
        ("other-advanced-industries", A, None),
        ("internet-plus", A, 1000),
        ("artificial-intelligence", A, 1000),
        ("aviation-services", A, 1000),
        ("low-altitude-economy", A, 1000),
        ("modern-trade", A, 1000),
        ("creative-fashion-brands", A, 500),
        ("life-health", A, 500),
        ("legal-services", A, 500),
        ("financial-services", A, 500),
        ("advertising-hr-services", A, 300),
        ("talent-programs", A, 500),
        ("talent-services", Q, None),
        ("sci-tech-innovation", A, 2000),
        ("headquarters", A, 500),
        ("sme-growth", A, 500),
        ("green-low-carbon", A, 500),
        ("quality-ip", A, 100),
    ],
    MOFCOM: [
        ("special-bonds-industrial-projects", Q, None),
        ("tech-sme-financing", Q, None),
        ("foreign-reinvestment", Q, None),
        ("credit-based-regulation", Q, None),
        ("efficient-government-services", Q, None),
    ],
    GUOFA: [
        ("innovation-platforms", Q, None),
        ("achievement-transformation", Q, None),
        ("foreign-talent-age", Q, None),
        ("foreign-talent-visa-residence", Q, None),
        ("rd-expense-deduction", Q, None),
        ("high-tech-enterprise-income-tax", Q, None),
        ("small-micro-tax-relief", Q, None),
        ("startup-incubation", Q, None),
        ("first-purchase-procurement", Q, None),
        ("ip-pledge-financing", Q, None),
        ("first-set-equipment-insurance", Q, None),
        ("star-market-listing", Q, None),
        ("investment-approval-reform", Q, None),
    ],
}


class TestSeedFiles:
    def test_one_file_per_seed_document_named_after_its_policy(self) -> None:
        policies = seed_policies()
        assert {policy.id for policy in policies} == set(ENCODED)
        for policy in policies:
            assert policy.source_name.endswith(f"{policy.id}.yaml")
            assert policy.source_document and policy.source_document.startswith("seeds/")
        assert len(list(SEED_POLICIES.glob("*.yaml"))) == 4

    @pytest.mark.parametrize("policy_id", list(ENCODED))
    def test_encoded_measures_kinds_and_caps(self, policy_id: str) -> None:
        policy = seed_policy(policy_id)
        encoded = [
            (
                m.id,
                m.benefit.kind,
                None if m.benefit.cap is None else int(m.benefit.cap),
            )
            for m in policy.measures
        ]
        assert encoded == ENCODED[policy_id]

    def test_coverage_and_windows(self) -> None:
        assert seed_policy(CHANGSHA).covers == ("changsha-etdz",)
        assert seed_policy(CHANGNING).covers == ("shanghai-changning",)
        assert seed_policy(MOFCOM).covers == ("national_etdz",)
        assert seed_policy(GUOFA).covers == ("national_hitech",)
        changning = seed_policy(CHANGNING)
        assert (changning.effective_from, changning.effective_to) == (
            date(2024, 11, 15),
            date(2026, 11, 14),
        )
        assert seed_policy(GUOFA).effective_from == date(2020, 7, 13)


class TestChangshaEtdzRdIncrement:
    """10% of incremental R&D expense, up to 2 million yuan (200 万元); scale threshold open."""

    @pytest.mark.parametrize(
        ("rd_expense", "amount", "explanation"),
        [
            ("3999.9", "199.99", "10% × (3,999.9 − 2,000) = 199.99"),
            ("4000", "200.00", "10% × (4,000 − 2,000) = 200"),
            ("4000.1", "200.00", "10% × (4,000.1 − 2,000) = 200.01, capped at 200"),
            ("5000", "200.00", "10% × (5,000 − 2,000) = 300, capped at 200"),
            ("2000.1", "0.01", "10% × (2,000.1 − 2,000) = 0.01"),
        ],
    )
    def test_around_the_cap(self, rd_expense: str, amount: str, explanation: str) -> None:
        evaluation = evaluate_in(
            "changsha-etdz", {"rd_expense": rd_expense, "rd_expense_prev": 2000}
        )
        result = result_of(evaluation, "rd-incremental-expense")
        assert result.status is Status.APPLIES
        assert result.amount == Decimal(amount)
        assert result.explanation == explanation
        assert result.threshold_unconfirmed
        assert "a certain scale" in result.open_thresholds[0]

    def test_no_increase_gives_nothing(self) -> None:
        evaluation = evaluate_in("changsha-etdz", {"rd_expense": 2000, "rd_expense_prev": 2000})
        result = result_of(evaluation, "rd-incremental-expense")
        assert result.status is Status.NOT_APPLICABLE
        assert result.failed_condition == "rd_expense > rd_expense_prev"

    def test_last_year_missing(self) -> None:
        result = result_of(
            evaluate_in("changsha-etdz", {"rd_expense": 5000}), "rd-incremental-expense"
        )
        assert result.status is Status.NEEDS_DATA
        assert result.missing_facts == ("rd_expense_prev",)


class TestChangshaEtdzFutureIndustry:
    """5% of the YoY increase in sales of recognised products, up to 10 million (1,000 万元)."""

    @pytest.mark.parametrize(
        ("sales_revenue", "amount", "explanation"),
        [
            ("29999.8", "999.99", "5% × (29,999.8 − 10,000) = 999.99"),
            ("30000", "1000.00", "5% × (30,000 − 10,000) = 1,000"),
            ("30000.2", "1000.00", "5% × (30,000.2 − 10,000) = 1,000.01, capped at 1,000"),
        ],
    )
    def test_around_the_cap(self, sales_revenue: str, amount: str, explanation: str) -> None:
        evaluation = evaluate_in(
            "changsha-etdz",
            {
                "future_industry_recognised": True,
                "sales_revenue": sales_revenue,
                "sales_revenue_prev": 10000,
            },
        )
        result = result_of(evaluation, "future-industry-sales-growth")
        assert (result.status, result.amount) == (Status.APPLIES, Decimal(amount))
        assert result.explanation == explanation
        assert not result.threshold_unconfirmed

    def test_only_recognised_products(self) -> None:
        evaluation = evaluate_in(
            "changsha-etdz",
            {"future_industry_recognised": False, "sales_revenue": 30000, "sales_revenue_prev": 1},
        )
        result = result_of(evaluation, "future-industry-sales-growth")
        assert result.status is Status.NOT_APPLICABLE
        assert result.failed_condition == "future_industry_recognised"

    def test_sales_fell(self) -> None:
        evaluation = evaluate_in(
            "changsha-etdz",
            {"future_industry_recognised": True, "sales_revenue": 900, "sales_revenue_prev": 1000},
        )
        assert result_of(evaluation, "future-industry-sales-growth").status is Status.NOT_APPLICABLE


class TestChangshaEtdzEquipment:
    """Up to 10% of new equipment investment for projects of 5 million a year (500 万元),
    up to 10 million (1,000 万元) per project."""

    def test_just_under_the_threshold(self) -> None:
        evaluation = evaluate_in("changsha-etdz", {"annual_new_equipment_investment": "499.99"})
        result = result_of(evaluation, "equipment-upgrade")
        assert result.status is Status.NOT_APPLICABLE
        assert result.explanation == (
            "not met: annual_new_equipment_investment >= 500 "
            "(annual_new_equipment_investment = 499.99)"
        )

    @pytest.mark.parametrize(
        ("investment", "amount", "explanation"),
        [
            ("500", "50.00", "up to 10% × 500 = 50"),
            ("500.01", "50.00", "up to 10% × 500.01 = 50"),
            ("9999.9", "999.99", "up to 10% × 9,999.9 = 999.99"),
            ("10000", "1000.00", "up to 10% × 10,000 = 1,000"),
            ("10000.1", "1000.00", "up to 10% × 10,000.1 = 1,000.01, capped at 1,000"),
        ],
    )
    def test_at_and_over_the_threshold_and_around_the_cap(
        self, investment: str, amount: str, explanation: str
    ) -> None:
        evaluation = evaluate_in("changsha-etdz", {"annual_new_equipment_investment": investment})
        result = result_of(evaluation, "equipment-upgrade")
        assert (result.status, result.amount) == (Status.APPLIES, Decimal(amount))
        assert result.explanation == explanation


class TestChangshaEtdzOtherMeasures:
    def test_capped_by_assessment_measures(self) -> None:
        evaluation = evaluate_in(
            "changsha-etdz",
            {"major_achievement_transformation": True, "is_investment_fund": True},
        )
        achievement = result_of(evaluation, "rd-achievement-transformation")
        assert (achievement.status, achievement.cap) == (Status.BY_ASSESSMENT, Decimal(500))
        reward = result_of(evaluation, "investment-reward")
        assert (reward.status, reward.cap, reward.frequency) == (
            Status.BY_ASSESSMENT,
            Decimal(500),
            "per_year",
        )
        for fund_term in (
            "sci-tech-fund-return-investment",
            "sub-fund-matching",
            "fund-risk-tolerance",
        ):
            assert result_of(evaluation, fund_term).status is Status.QUALITATIVE

    def test_new_titles_only(self) -> None:
        newly = evaluate_in("changsha-etdz", {"new_titles": ["national_single_champion"]})
        assert result_of(newly, "single-champion-reward").status is Status.BY_ASSESSMENT
        assert result_of(newly, "little-giant-reward").status is Status.NOT_APPLICABLE
        held = evaluate_in("changsha-etdz", {"titles": ["little_giant"], "new_titles": []})
        assert result_of(held, "little-giant-reward").status is Status.NOT_APPLICABLE

    @pytest.mark.parametrize(
        ("measure", "fact", "value", "status"),
        [
            ("new-foreign-trade-project", "export_value", "0.01", Status.BY_ASSESSMENT),
            ("new-foreign-trade-project", "export_value", "0", Status.NOT_APPLICABLE),
            (
                "new-foreign-investment-project",
                "foreign_capital_used_usd",
                "1",
                Status.BY_ASSESSMENT,
            ),
            (
                "new-foreign-investment-project",
                "foreign_capital_used_usd",
                "0",
                Status.NOT_APPLICABLE,
            ),
        ],
    )
    def test_open_scale_thresholds(
        self, measure: str, fact: str, value: str, status: Status
    ) -> None:
        evaluation = evaluate_in("changsha-etdz", {"newly_introduced": True, fact: value})
        result = result_of(evaluation, measure)
        assert result.status is status
        if status is Status.BY_ASSESSMENT:
            assert result.threshold_unconfirmed
            assert result.cap is None
            assert result.explanation == "eligible; amount decided by assessment, no cap stated"

    def test_foreign_trade_growth_needs_growth(self) -> None:
        base = {
            "production_foreign_trade": True,
            "export_value_prev": 100,
            "registered_in_zone": True,
        }
        grew = evaluate_in("changsha-etdz", {**base, "export_value": "100.01"})
        assert result_of(grew, "foreign-trade-growth").status is Status.BY_ASSESSMENT
        flat = evaluate_in("changsha-etdz", {**base, "export_value": 100})
        assert result_of(flat, "foreign-trade-growth").status is Status.NOT_APPLICABLE

    def test_not_in_force_before_release(self) -> None:
        evaluation = evaluate_in("changsha-etdz", {}, as_of=date(2025, 2, 24))
        # 19 Changsha ETDZ measures, and the 5 of MOFCOM's plan, reported on 2025-05-27.
        assert evaluation.counts["not_in_force"] == 19 + 5
        assert {r.policy_id for r in evaluation.results} == {CHANGSHA, MOFCOM}


class TestChangning:
    AI_COMPANY = {
        "registered_in_zone": True,
        "good_credit": True,
        "industry_tags": ["artificial_intelligence"],
        "industry_leader": True,
        "rd_expense": 1000,
        "rd_expense_prev": 800,
        "is_sme": False,
        "headquarters_type": "none",
        "talent_program": False,
        "employs_foreign_talent": False,
        "quality_ip_project": False,
        "titles": [],
        "builds_innovation_platform": False,
        "university_achievement_transfer": False,
        "is_financial_institution": False,
    }

    @pytest.mark.parametrize(
        ("day", "in_force"),
        [
            (date(2024, 11, 14), False),
            (date(2024, 11, 15), True),
            (date(2026, 6, 1), True),
            (date(2026, 11, 14), True),
            (date(2026, 11, 15), False),
        ],
    )
    def test_validity_edges(self, day: date, in_force: bool) -> None:
        evaluation = evaluate_in("shanghai-changning", self.AI_COMPANY, as_of=day)
        statuses = {result.status for result in evaluation.results}
        assert len(evaluation.results) == 21
        if in_force:
            assert Status.NOT_IN_FORCE not in statuses
        else:
            assert statuses == {Status.NOT_IN_FORCE}
            assert evaluation.total_by_assessment_cap == 0

    def test_a_project_landing_today_is_not_offered_the_expired_trial(self) -> None:
        assert today() > date(2026, 11, 14)
        evaluation = evaluate(
            seed_policies(), "shanghai-changning", "district", facts(**self.AI_COMPANY)
        )
        assert evaluation.counts["not_in_force"] == 21
        assert evaluation.total_applies == 0 and evaluation.total_by_assessment_cap == 0

    def test_ai_company_caps_added_up_by_hand(self) -> None:
        evaluation = evaluate_in("shanghai-changning", self.AI_COMPANY)
        eligible = {r.measure_id: r.cap for r in evaluation.by_status(Status.BY_ASSESSMENT)}
        assert eligible == {
            "focus-entities": Decimal(10000),
            "leaders-and-rd": Decimal(10000),
            "establishment-and-growth": Decimal(3000),
            "artificial-intelligence": Decimal(1000),
            "sci-tech-innovation": Decimal(2000),
        }
        # 10,000 + 10,000 + 3,000 + 1,000 + 2,000
        assert evaluation.total_by_assessment_cap == Decimal(26000)
        assert evaluation.total_applies == 0
        assert evaluation.counts["not_applicable"] == 16

    def test_eligibility_requires_good_credit(self) -> None:
        evaluation = evaluate_in("shanghai-changning", {**self.AI_COMPANY, "good_credit": False})
        assert {r.status for r in evaluation.results} == {Status.NOT_APPLICABLE}
        assert {r.failed_condition for r in evaluation.results} == {"good_credit"}

    def test_unknown_credit_asks_for_it(self) -> None:
        company = {k: v for k, v in self.AI_COMPANY.items() if k != "good_credit"}
        evaluation = evaluate_in("shanghai-changning", company)
        focus = result_of(evaluation, "focus-entities")
        assert focus.status is Status.NEEDS_DATA and focus.missing_facts == ("good_credit",)

    @pytest.mark.parametrize(
        ("tag", "measure", "cap"),
        [
            ("smart_internet", "internet-plus", 1000),
            ("aviation_transport_services", "aviation-services", 1000),
            ("low_altitude", "low-altitude-economy", 1000),
            ("modern_trade", "modern-trade", 1000),
            ("fashion_brands", "creative-fashion-brands", 500),
            ("life_health", "life-health", 500),
            ("legal_services", "legal-services", 500),
            ("financial_services", "financial-services", 500),
            ("advertising_hr_services", "advertising-hr-services", 300),
            ("green_low_carbon", "green-low-carbon", 500),
        ],
    )
    def test_cluster_caps(self, tag: str, measure: str, cap: int) -> None:
        company = {**self.AI_COMPANY, "industry_tags": [tag]}
        result = result_of(evaluate_in("shanghai-changning", company), measure)
        assert (result.status, result.cap) == (Status.BY_ASSESSMENT, Decimal(cap))

    def test_other_industries_rest_on_unstated_criteria(self) -> None:
        company = {**self.AI_COMPANY, "industry_tags": ["advanced_manufacturing"]}
        result = result_of(evaluate_in("shanghai-changning", company), "other-advanced-industries")
        assert result.status is Status.BY_ASSESSMENT
        assert result.threshold_unconfirmed and result.cap is None


class TestNationalPolicies:
    def test_etdz_work_plan_reaches_every_national_etdz_and_nothing_else(self) -> None:
        for zone in ZONES:
            evaluation = evaluate_in(zone, {})
            reached = MOFCOM in evaluation.policy_versions
            assert reached is (zone in NATIONAL_ETDZS), zone

    def test_hitech_opinions_reach_the_hitech_zone_only(self) -> None:
        for zone in ZONES:
            evaluation = evaluate_in(zone, {})
            assert (GUOFA in evaluation.policy_versions) is (zone == "changsha-hitech"), zone

    def test_etdz_measures_for_a_foreign_tech_sme_with_good_credit(self) -> None:
        project = {
            "titles": ["tech_sme"],
            "foreign_capital_used_usd": 1_000_000,
            "good_credit": True,
        }
        evaluation = evaluate_in("wangcheng-etdz", project)
        assert evaluation.counts["qualitative"] == 5
        domestic = evaluate_in("wangcheng-etdz", {**project, "foreign_capital_used_usd": 0})
        assert result_of(domestic, "foreign-reinvestment").status is Status.NOT_APPLICABLE

    def test_hitech_measures(self) -> None:
        project = {"titles": ["high_tech_enterprise"], "rd_expense": 1, "is_small_micro": False}
        evaluation = evaluate_in("changsha-hitech", project)
        assert result_of(evaluation, "high-tech-enterprise-income-tax").status is Status.QUALITATIVE
        assert result_of(evaluation, "rd-expense-deduction").status is Status.QUALITATIVE
        assert result_of(evaluation, "small-micro-tax-relief").status is Status.NOT_APPLICABLE
        listing = result_of(evaluation, "star-market-listing")
        assert listing.status is Status.QUALITATIVE and listing.threshold_unconfirmed
        assert evaluation.total_applies == 0


class TestCompareThreeZones:
    PROJECT = {
        "rd_expense": 5000,
        "rd_expense_prev": 2000,
        "annual_new_equipment_investment": 600,
        "good_credit": True,
        "industry_tags": ["advanced_manufacturing"],
    }
    ZONES = {
        "changsha-hitech": "national_hitech",
        "shanghai-changning": "district",
        "changsha-etdz": "national_etdz",
    }

    def test_ranking_while_changning_is_in_force(self) -> None:
        ranking = compare(seed_policies(), self.ZONES, facts(**self.PROJECT), IN_FORCE_DAY)
        # Changsha ETDZ: R&D 200 (capped from 300) + equipment 10% × 600 = 60.
        # Changning: nothing quantified; sci-tech innovation up to 2,000 by assessment.
        assert [(e.zone_code, e.total_applies, e.total_by_assessment_cap) for e in ranking] == [
            ("changsha-etdz", Decimal("260.00"), Decimal(0)),
            ("shanghai-changning", Decimal(0), Decimal(2000)),
            ("changsha-hitech", Decimal(0), Decimal(0)),
        ]

    def test_ranking_after_the_trial_ended(self) -> None:
        ranking = compare(seed_policies(), self.ZONES, facts(**self.PROJECT), date(2026, 11, 15))
        assert [e.zone_code for e in ranking] == [
            "changsha-etdz",
            "changsha-hitech",
            "shanghai-changning",
        ]
        assert ranking[2].counts["not_in_force"] == 21


def _fact_strategy(fact: FactDef) -> st.SearchStrategy[object]:
    if fact.type in (FactType.MONEY_WAN, FactType.USD, FactType.NUMBER):
        return st.decimals(min_value=0, max_value=10**6, places=2)
    if fact.type is FactType.BOOL:
        return st.booleans()
    if fact.type is FactType.ENUM:
        return st.sampled_from(sorted(fact.allowed))
    if fact.type is FactType.ENUM_LIST:
        return st.frozensets(st.sampled_from(sorted(fact.allowed)))
    return st.sampled_from(["construction-machinery", "automobile"])


ANY_FACTS = st.fixed_dictionaries(
    {}, optional={key: _fact_strategy(fact) for key, fact in FACTS.items()}
)


@settings(max_examples=300, deadline=None)
@given(
    ANY_FACTS,
    st.sampled_from(sorted(ZONES)),
    st.dates(min_value=date(2024, 1, 1), max_value=date(2027, 12, 31)),
)
def test_any_facts_give_one_sound_result_per_measure(
    raw: dict[str, object], zone: str, day: date
) -> None:
    project, errors = validate_facts(raw)
    assert not errors
    evaluation = evaluate(seed_policies(), zone, ZONES[zone], project, day)
    covering = [p for p in seed_policies() if p.covers_zone(zone, ZONES[zone])]
    assert len(evaluation.results) == sum(len(p.measures) for p in covering)
    total = Decimal(0)
    for result in evaluation.results:
        if result.status is Status.APPLIES:
            assert result.amount is not None and result.amount > 0
            assert result.cap is None or result.amount <= result.cap
            total += result.amount
        else:
            assert result.amount is None
        if result.status is Status.NEEDS_DATA:
            assert result.missing_facts
            assert not set(result.missing_facts) & project.keys()
        if result.status is Status.NOT_APPLICABLE:
            assert result.failed_condition
    assert evaluation.total_applies == total
    assert sum(evaluation.counts.values()) == len(evaluation.results)


def test_benchmark_runs() -> None:
    spec = importlib.util.spec_from_file_location(
        "bench_incentives", ROOT / "benchmarks" / "bench_incentives.py"
    )
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert bench.main(["--projects", "200"]) == 0
