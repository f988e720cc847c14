"""Incentive facts for the demo projects, so a demo project shows its incentives.

`crm demo` (crm.reference.demo.load_demo) calls `add_demo_facts` when this module exists.
Only projects whose facts are still empty get some, so running the demo twice changes
nothing and facts typed in by a user are never overwritten.
"""

from __future__ import annotations

import random
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.incentives.facts import facts_to_json, validate_facts
from crm.pipeline.models import Project

# The real projects of seed/demo/projects.yaml. Figures are illustrative (the sources give
# the investment, not R&D or sales); the Audi project reproduces the worked example of
# docs/incentives.md: 10% × (5,000 − 2,000) = 300, capped at 200.
REAL_PROJECT_FACTS: dict[str, dict[str, Any]] = {
    "demo:saic-vw-audi-new-models": {
        "industry_tags": ["advanced_manufacturing", "new_energy_equipment"],
        "rd_expense": "5000",
        "rd_expense_prev": "2000",
        "annual_new_equipment_investment": "6000",
        "sales_revenue": "820000",
        "sales_revenue_prev": "760000",
        "future_industry_recognised": False,
        "titles": ["high_tech_enterprise", "green_factory"],
        "new_titles": [],
        "foreign_capital_used_usd": "50000000",
        "headquarters_type": "none",
        "good_credit": True,
        "is_financial_institution": False,
        "is_investment_fund": False,
        "newly_introduced": True,
    },
    "demo:desai-energy-storage": {
        "industry_tags": ["new_energy_equipment", "future_energy", "advanced_manufacturing"],
        "rd_expense": "12000",
        "rd_expense_prev": "9500",
        "annual_new_equipment_investment": "30000",
        "sales_revenue": "180000",
        "sales_revenue_prev": "150000",
        "future_industry_recognised": True,
        "titles": ["high_tech_enterprise"],
        "new_titles": ["little_giant"],
        "export_value": "20000",
        "export_value_prev": "15000",
        "production_foreign_trade": True,
        "headquarters_type": "none",
        "good_credit": True,
        "is_financial_institution": False,
        "is_investment_fund": False,
        "newly_introduced": True,
    },
}

_TAGS = (
    "advanced_manufacturing",
    "future_manufacturing",
    "artificial_intelligence",
    "new_energy_equipment",
    "life_health",
    "smart_internet",
    "green_low_carbon",
)
_TITLES = ("high_tech_enterprise", "tech_sme", "little_giant", "green_factory")


def _generated_facts(rng: random.Random) -> dict[str, Any]:
    rd_prev = rng.randrange(200, 6000)
    sales_prev = rng.randrange(5_000, 200_000)
    return {
        "industry_tags": rng.sample(_TAGS, rng.randint(1, 2)),
        "rd_expense": str(rd_prev + rng.randrange(-100, 3000)),
        "rd_expense_prev": str(rd_prev),
        "annual_new_equipment_investment": str(rng.randrange(100, 8000)),
        "sales_revenue": str(sales_prev + rng.randrange(-2000, 30000)),
        "sales_revenue_prev": str(sales_prev),
        "titles": rng.sample(_TITLES, rng.randint(0, 2)),
        "good_credit": rng.random() < 0.9,
        "is_financial_institution": False,
    }


def add_demo_facts(session: Session, *, every: int = 3, rng_seed: int = 2025) -> int:
    """Give incentive facts to the real demo projects and to every `every`-th generated
    project whose facts are empty; returns how many projects got facts."""
    projects = session.scalars(
        select(Project).where(Project.deleted_at.is_(None)).order_by(Project.id)
    ).all()
    rng = random.Random(rng_seed)
    given = 0
    for index, project in enumerate(projects):
        raw = REAL_PROJECT_FACTS.get(project.external_id or "")
        if raw is None:
            if index % every:
                continue
            raw = _generated_facts(rng)
        if project.facts:
            continue
        facts, errors = validate_facts(raw)
        assert not errors, errors
        project.facts = facts_to_json(facts)
        given += 1
    session.flush()
    return given
