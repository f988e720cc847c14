"""Demo data of this feature, added by `crm demo` (crm.reference.demo.load_demo calls
`load_demo_visits`): the signing events of seed/demo/projects.yaml with their projects,
and, once, generated visits, contacts, follow-ups and inbound inquiries so every page has
something to show. Idempotent: events are matched on their key, the rest is added once.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import yaml
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from crm.accounts.models import Team, User
from crm.enums import Role, Stage
from crm.pipeline.models import Company, Project
from crm.reference.models import Zone
from crm.visits import contacts, services
from crm.visits.event_models import Event, EventKind, event_project
from crm.visits.leads import create_lead_project, find_or_create_company
from crm.visits.models import Visit, VisitType
from crm.visits.places import region_lookup

TEAM_FOR_ZONE = {
    "wangcheng-etdz": "wangcheng",
    "wangcheng-district": "wangcheng",
    "changsha-etdz": "changsha-etdz",
    "changsha-county": "changsha-county",
    "changsha-hitech": "changsha-hitech",
}
PURPOSES = (
    "春节走访,了解扩产计划",
    "介绍园区配套和政策",
    "洽谈用地和厂房需求",
    "回访项目进展",
    "对接产业链上下游",
)
OUTCOMES = (
    "对方有意在长沙设立生产基地,待总部决策",
    "已提供政策清单,约定下月实地考察",
    "需要协调用地指标",
    "对方关注人才和物流,需补充材料",
)
STEPS = ("发送政策汇编", "安排园区实地考察", "协调用地指标", "回访确认投资意向", "准备项目建议书")
SURNAMES = "王李张刘陈杨赵黄周吴"
TITLES = ("总经理", "副总裁", "投资总监", "战略部部长", "董事会秘书")


@dataclass
class DemoVisits:
    events: int = 0
    visits: int = 0
    tasks: int = 0
    contacts: int = 0
    inquiries: int = 0


def load_demo_visits(
    session: Session, seed_dir: Path, *, today: date, rng: random.Random
) -> DemoVisits:
    result = DemoVisits()
    result.events = load_demo_events(session, seed_dir)
    if session.scalar(select(func.count()).select_from(Visit)):
        return result  # generated once
    _generate(session, today, rng, result)
    session.flush()
    return result


def load_demo_events(session: Session, seed_dir: Path) -> int:
    """The events of seed/demo/projects.yaml, linked to the demo projects signed there."""
    path = seed_dir / "demo" / "projects.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    teams = dict(session.execute(select(Team.code, Team.id)).all())
    zones = dict(session.execute(select(Zone.code, Zone.id)).all())
    added = 0
    for rec in data.get("events") or []:
        external_id = f"demo:{rec['key']}"
        if session.scalar(select(Event.id).where(Event.external_id == external_id)):
            continue
        team_id = teams.get(TEAM_FOR_ZONE.get(rec.get("zone") or "", "city-bureau"))
        team_id = team_id or teams.get("city-bureau") or next(iter(teams.values()), None)
        if team_id is None:
            continue
        on = rec.get("date")
        total = rec.get("total_investment_wan")
        event = Event(
            name=rec["name"],
            name_en=rec.get("name_en"),
            kind=EventKind.SIGNING.value,
            on=on if isinstance(on, date) or on is None else date.fromisoformat(str(on)),
            place=rec.get("place"),
            zone_id=zones.get(rec.get("zone") or ""),
            team_id=team_id,
            reported_projects=rec.get("projects_count"),
            reported_total=Decimal(str(total)) if total is not None else None,
            reported_total_approximate=rec.get("total_is_approximate"),
            notes="\n".join(x for x in (rec.get("source"), rec.get("note")) if x) or None,
            external_id=external_id,
        )
        session.add(event)
        session.flush()
        keys = [f"demo:{k}" for k in rec.get("project_keys") or []]
        project_ids = (
            session.scalars(select(Project.id).where(Project.external_id.in_(keys))).all()
            if keys
            else []
        )
        if project_ids:
            session.execute(
                insert(event_project),
                [{"event_id": event.id, "project_id": pid} for pid in project_ids],
            )
        added += 1
    return added


def _phone(rng: random.Random) -> str:
    return f"1{rng.choice('3589')}{rng.randrange(10**9):09d}"


def _generate(session: Session, today: date, rng: random.Random, result: DemoVisits) -> None:
    officers = session.execute(
        select(User, Team.code)
        .join(Team, Team.id == User.team_id)
        .where(User.role.in_((Role.OFFICER, Role.LEAD)), User.active.is_(True))
        .order_by(User.id)
    ).all()
    if not officers:
        return
    by_team: dict[int, list[User]] = {}
    for user, _code in officers:
        by_team.setdefault(user.team_id, []).append(user)
    projects = session.execute(
        select(Project, Company)
        .join(Company, Company.id == Project.company_id)
        .where(
            Project.deleted_at.is_(None),
            Project.team_id.in_(list(by_team)),
            Project.stage.in_((Stage.LEAD, Stage.NEGOTIATING, Stage.SIGNED)),
        )
        .order_by(Project.id)
        .limit(60)
    ).all()
    lookup = region_lookup(session)
    contact_ids: dict[int, list[int]] = {}
    now = datetime.now(UTC)
    for index, (project, company) in enumerate(projects):
        team_users = by_team[project.team_id]
        author = team_users[index % len(team_users)]
        if company.id not in contact_ids:
            contact_ids[company.id] = []
            for n in range(rng.randint(1, 2)):
                contact = contacts.create_contact(
                    session,
                    contacts.ContactInput(
                        name=f"{SURNAMES[(index + n) % len(SURNAMES)]}{rng.choice('明华伟芳强静')}",
                        company_id=company.id,
                        title=rng.choice(TITLES),
                        phone=_phone(rng),
                    ),
                    user_id=author.id,
                    today=today,
                )
                contact_ids[company.id].append(contact.id)
                result.contacts += 1
        for _ in range(rng.randint(1, 3)):
            on = today - timedelta(days=rng.randint(0, 120))
            region = lookup.suggest(company.hq_city)
            steps = []
            if rng.random() < 0.6:
                steps.append(
                    services.NextStep(
                        title=rng.choice(STEPS),
                        due_on=today + timedelta(days=rng.randint(-10, 20)),
                        project_id=project.id,
                    )
                )
            data = services.VisitInput(
                on=on,
                type=rng.choice(
                    (VisitType.COMPANY_VISIT, VisitType.COMPANY_CAME, VisitType.ONLINE)
                ),
                city=company.hq_city,
                region_id=lookup.ids.get(region) if region else None,
                company_id=company.id,
                project_ids=[project.id],
                participant_user_ids=[u.id for u in team_users[:2]],
                contact_ids=contact_ids[company.id][:1],
                purpose=rng.choice(PURPOSES),
                outcome=rng.choice(OUTCOMES),
                intent_amount=project.planned_investment,
                tasks=steps,
            )
            made = services.create_visit(session, author, data, now=now, today=today)
            result.visits += 1
            result.tasks += len(made.tasks)
    _demo_inquiries(session, by_team, today, result)


def _demo_inquiries(
    session: Session, by_team: dict[int, list[User]], today: date, result: DemoVisits
) -> None:
    """Three inbound inquiries: one fresh, one overdue, one answered."""
    samples: list[tuple[str, str, int, int | None]] = [
        ("湖南星沙智造科技有限公司", "智能装备扩产咨询", 0, None),
        ("深圳鹏程新能源有限公司", "储能项目落地咨询", 9, None),
        ("杭州云溪数据有限公司", "数据中心选址咨询", 12, 10),
    ]
    team_id = next(iter(by_team))
    user = by_team[team_id][0]
    for company_name, project_name, days_ago, answered_days_ago in samples:
        company, _ = find_or_create_company(session, company_name, user_id=user.id, create=True)
        received = today - timedelta(days=days_ago)
        project = create_lead_project(
            session,
            user,
            company=company,
            name=project_name,
            on=received,
            team_id=team_id,
            is_inquiry=True,
            inquiry_received_on=received,
        )
        if answered_days_ago is not None:
            project.inquiry_answered_on = today - timedelta(days=answered_days_ago)
        result.inquiries += 1
