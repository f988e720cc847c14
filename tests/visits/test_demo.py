"""The demo data of this feature: the seed's events with their projects, and sample work."""

from __future__ import annotations

import random
from datetime import date
from decimal import Decimal
from pathlib import Path

from sqlalchemy import func, select

from crm.enums import Role
from crm.extensions import db
from crm.pipeline.models import Project
from crm.reference.demo import load_demo
from crm.visits.demo import load_demo_visits
from crm.visits.event_models import Event, event_project
from crm.visits.events import event_summary
from crm.visits.models import Contact, Task, Visit
from tests import factories

SEED = Path(__file__).resolve().parents[2] / "seed"
TODAY = date(2026, 11, 22)


def count(model):
    return db.session.scalar(select(func.count()).select_from(model))


def test_demo_loads_events_visits_and_follow_ups_once(app):
    load_demo(db.session, SEED, generated=40, today=TODAY)
    events = {e.external_id: e for e in db.session.scalars(select(Event))}
    assert set(events) == {
        "demo:changsha-county-2022-02-06",
        "demo:wangcheng-2022-02-10",
        "demo:changsha-2022-good-start-signing",
    }
    wangcheng = events["demo:wangcheng-2022-02-10"]
    assert wangcheng.on == date(2022, 2, 10)
    assert wangcheng.reported_projects == 18 and wangcheng.reported_total == Decimal("4330000.00")
    county = events["demo:changsha-county-2022-02-06"]
    assert county.reported_total_approximate is True
    linked = db.session.scalars(
        select(Project.external_id)
        .join(event_project, event_project.c.project_id == Project.id)
        .where(event_project.c.event_id == county.id)
    ).all()
    assert linked == ["demo:saic-vw-audi-new-models"]
    leader = factories.user(Role.LEADER)
    summary = event_summary(db.session, leader, county)
    assert summary.signed_count == 1 and summary.signed_amount == Decimal("500000.00")
    visits, tasks, contacts = count(Visit), count(Task), count(Contact)
    assert visits > 20 and tasks > 5 and contacts > 5
    assert db.session.scalar(select(func.count()).where(Visit.region_id.is_(None))) == 0
    assert db.session.scalar(select(func.count()).where(Project.is_inquiry.is_(True))) == 3

    load_demo_visits(db.session, SEED, today=TODAY, rng=random.Random(1))
    assert (count(Event), count(Visit), count(Task), count(Contact)) == (3, visits, tasks, contacts)
