"""Chinese explanations: every form the engine writes, rendered from its parts."""

from __future__ import annotations

from datetime import date

import pytest

from crm.incentives.explain_zh import condition_text, explanation
from tests.incentives.support import evaluate_in, result_of


@pytest.mark.parametrize(
    ("status", "english", "chinese"),
    [
        (
            "applies",
            "10% × (5,000 − 2,000) = 300, capped at 200",
            "10% × (5,000 − 2,000) = 300，超过上限，按上限 200 计",
        ),
        ("applies", "up to 10% × 6,000 = 600", "最高 10% × 6,000 = 600"),
        ("applies", "fixed sum 50", "固定金额 50"),
        ("not_applicable", "5% × 0 = 0: nothing to claim", "5% × 0 = 0：无可申领金额"),
        (
            "not_applicable",
            "up to 10% × (a ÷ 0) cannot be computed (division by zero)",
            "最高 10% × (a ÷ 0) 无法计算（除数为零）",
        ),
        (
            "by_assessment",
            "eligible; amount decided by assessment, up to 10,000",
            "符合条件；金额由评审确定，最高 10,000",
        ),
        (
            "by_assessment",
            "eligible; amount decided by assessment, no cap stated",
            "符合条件；金额由评审确定，未规定上限",
        ),
        ("qualitative", "eligible; non-monetary support", "符合条件；非资金支持"),
        (
            "not_in_force",
            "policy in force 2024-11-15 to 2026-11-14; not on 2026-11-15",
            "政策有效期 2024-11-15 至 2026-11-14；2026-11-15 不在有效期内",
        ),
        (
            "not_in_force",
            "policy in force 2025-02-25 to open-ended; not on 2025-01-01",
            "政策有效期 2025-02-25 起（未规定截止日期）；2025-01-01 不在有效期内",
        ),
        (
            "not_applicable",
            "not met: annual_new_equipment_investment >= 500 "
            "(annual_new_equipment_investment = 499.99)",
            "未满足：年度新增设备投资 >= 500（年度新增设备投资 = 499.99）",
        ),
        (
            "not_applicable",
            "not met: 'green_factory' in titles",
            "未满足：国家级绿色工厂/绿色制造企业 ∈ 荣誉资质",
        ),
        ("not_applicable", "not met: is_sme (is_sme = false)", "未满足：中小企业（中小企业 = 否）"),
    ],
)
def test_each_form(status: str, english: str, chinese: str) -> None:
    assert explanation(status, english) == chinese


def test_needs_names_the_facts_by_label() -> None:
    assert explanation("needs_data", "needs: x", ["rd_expense_prev", "rd_expense"]) == (
        "需补充：年度研发投入、上年研发投入"
    )


def test_open_threshold_keeps_the_quoted_note() -> None:
    text = "rd_expense >= [unstated threshold: a certain scale (达到一定规模)]"
    assert condition_text(text) == "年度研发投入 >= [门槛未明确：a certain scale（达到一定规模）]"


def test_results_carry_both_languages() -> None:
    evaluation = evaluate_in(
        "changsha-etdz", {"rd_expense": 5000, "rd_expense_prev": 2000}, date(2026, 6, 1)
    )
    result = result_of(evaluation, "rd-incremental-expense")
    data = result.to_dict()
    assert data["explanation"] == "10% × (5,000 − 2,000) = 300, capped at 200"
    assert data["explanation_zh"] == "10% × (5,000 − 2,000) = 300，超过上限，按上限 200 计"
    assert data["open_thresholds_zh"][0].startswith("年度研发投入 >= [门槛未明确：")
    for other in evaluation.results:  # every result has a Chinese rendering of its own
        zh = other.explanation_zh
        assert zh and not zh.startswith(("needs:", "not met:", "eligible", "policy in force"))
