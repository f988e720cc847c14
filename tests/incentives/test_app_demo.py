"""The demo projects carry incentive facts, so a demo project shows its incentives."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from crm.extensions import db
from crm.incentives import services
from crm.incentives.demo import add_demo_facts
from crm.pipeline.models import Project
from crm.reference.demo import load_demo
from tests.incentives.app_support import ROOT


def test_demo_projects_get_facts_once(app):
    load_demo(db.session, ROOT / "seed", generated=12, today=date(2026, 6, 1))
    audi = db.session.scalar(
        select(Project).where(Project.external_id == "demo:saic-vw-audi-new-models")
    )
    assert audi.facts["rd_expense"] == "5000"
    with_facts = [facts for facts in db.session.scalars(select(Project.facts)) if facts]
    assert len(with_facts) >= 5
    assert add_demo_facts(db.session) == 0  # a second run changes nothing

    context = services.project_context(db.session, audi)
    zone = services.zone_by_code(db.session, "changsha-etdz")
    result = services.evaluate_in_zone(db.session, zone, context.facts, date(2026, 6, 1))
    amounts = {r.measure_id: r.amount for r in result.evaluation.results if r.amount}
    assert amounts["rd-incremental-expense"] == 200
    assert amounts["equipment-upgrade"] == 600
