"""Project services: creating (investor matching), editing, validation, timelines."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from crm.audit import AuditLog
from crm.enums import Role, Stage
from crm.extensions import db
from crm.pipeline import services
from crm.pipeline.errors import ConflictError, NotAllowed, ProjectError
from crm.pipeline.models import Company, Project, StageChange
from crm.pipeline.stages import TransitionError, local_today
from crm.pipeline.timeline import days_in_stage, days_signing_to_start, stage_timeline
from tests import factories


@pytest.fixture
def officer(app):
    return factories.user(Role.OFFICER, factories.team())


def create(actor, **values):
    values.setdefault("name", "储能电芯项目")
    values.setdefault("company_name", "测试新能源科技有限公司")
    return services.create_project(db.session, actor, values)


def test_create_links_an_existing_company_by_normalised_name(officer):
    existing = factories.company("德赛电池股份有限公司")
    project = create(officer, company_name="德赛电池（惠州）有限公司")
    assert project.company_id == existing.id
    assert project.team_id == officer.team_id and project.owner_id == officer.id
    assert project.stage == Stage.LEAD and project.lead_on == local_today()


def test_create_finds_a_company_by_alias_or_english_name(officer):
    existing = factories.company(
        "上汽大众汽车有限公司", aliases=["上汽大众"], name_en="SAIC Volkswagen Automotive Co., Ltd."
    )
    assert create(officer, company_name="上汽大众").company_id == existing.id
    assert create(officer, company_name="SAIC Volkswagen Automotive").company_id == existing.id


def test_create_makes_a_new_company_when_none_matches_and_records_it(officer):
    before = db.session.scalar(select(func.count()).select_from(Company))
    project = create(officer, company_name="  湘江  智造 有限公司 ")
    company = db.session.get(Company, project.company_id)
    assert company.name == "湘江 智造 有限公司"
    assert db.session.scalar(select(func.count()).select_from(Company)) == before + 1
    entry = db.session.scalar(
        select(AuditLog).where(AuditLog.entity_type == "company", AuditLog.entity_id == company.id)
    )
    assert entry.action == "create"


def test_create_by_company_id(officer):
    company = factories.company()
    project = create(officer, company_name=None, company_id=company.id)
    assert project.company_id == company.id


def test_create_needs_an_investor_and_a_name(officer):
    with pytest.raises(ProjectError) as err:
        create(officer, company_name="")
    assert err.value.field == "company_name"
    with pytest.raises(ProjectError) as err:
        create(officer, name="  ")
    assert err.value.field == "name"
    with pytest.raises(ProjectError) as err:
        create(officer, company_name=None, company_id=999_999)
    assert err.value.field == "company_id"


@pytest.mark.parametrize(
    ("text", "ok"),
    [("0", True), ("12500.5", True), ("1,000.25", True), ("-1", False), ("1.234", False)],
)
def test_amounts_are_non_negative_with_two_decimals(officer, text, ok):
    if ok:
        project = create(officer, planned_investment=text)
        assert project.planned_investment == Decimal(text.replace(",", ""))
    else:
        with pytest.raises(ProjectError) as err:
            create(officer, planned_investment=text)
        assert err.value.field == "planned_investment"


def test_unknown_codes_are_refused_by_field(officer):
    for field in ("chain", "target_zone", "landed_zone", "source_region", "team"):
        with pytest.raises(ProjectError) as err:
            create(officer, **{field: "no-such-code"})
        assert err.value.field == field


def test_codes_are_resolved(officer):
    project = create(
        officer,
        chain="automobile",
        target_zone="changsha-etdz",
        source_region="yangtze-delta",
        planned_investment="500000",
    )
    snap = services.snapshot(db.session, project)
    assert (snap["chain"], snap["target_zone"], snap["source_region"]) == (
        "automobile",
        "changsha-etdz",
        "yangtze-delta",
    )
    assert snap["planned_investment"] == "500000.00"


def test_officer_creates_only_for_own_team_but_a_lead_may_choose(officer):
    other = factories.team()
    with pytest.raises(NotAllowed):
        create(officer, team=other.code)
    lead = factories.user(Role.LEAD, factories.team())
    project = create(lead, team=other.code)
    assert project.team_id == other.id and project.owner_id is None


def test_admin_must_choose_a_team_and_leaders_cannot_create(app):
    admin = factories.user(Role.ADMIN)
    with pytest.raises(ProjectError) as err:
        create(admin)
    assert err.value.field == "team"
    team = factories.team()
    assert create(admin, team=team.code).team_id == team.id
    with pytest.raises(NotAllowed):
        create(factories.user(Role.LEADER))


def test_owner_must_belong_to_the_team(officer):
    stranger = factories.user(Role.OFFICER, factories.team())
    with pytest.raises(ProjectError) as err:
        create(officer, owner_id=stranger.id)
    assert err.value.field == "owner_id"
    colleague = factories.user(Role.OFFICER, db.session.get(factories.Team, officer.team_id))
    assert create(officer, owner_id=colleague.id).owner_id == colleague.id


def test_create_records_the_first_stage(officer):
    project = create(officer)
    rows = db.session.scalars(select(StageChange).where(StageChange.project_id == project.id)).all()
    assert [(r.from_stage, r.to_stage, r.user_id) for r in rows] == [(None, Stage.LEAD, officer.id)]


def test_create_at_a_later_stage_goes_through_the_transition_rules(officer):
    today = local_today()
    signed = today - timedelta(days=40)
    with pytest.raises(TransitionError) as err:
        services.create_project(
            db.session,
            officer,
            {"name": "x", "company_name": "y"},
            stage=Stage.SIGNED,
            stage_dates={Stage.SIGNED: signed},
        )
    assert err.value.field == "dates.negotiating"
    project = services.create_project(
        db.session,
        officer,
        {"name": "x", "company_name": "y"},
        stage=Stage.SIGNED,
        stage_dates={Stage.NEGOTIATING: signed, Stage.SIGNED: signed},
    )
    assert project.stage == Stage.SIGNED and project.signed_on == signed
    assert project.lead_on == signed  # the earliest date given


def test_search_blob_covers_project_company_aliases_and_english(officer):
    factories.company("德赛电池有限公司", aliases=["Desai Battery"], name_en="Desay Battery")
    project = create(officer, name="储能电芯项目", company_name="德赛电池", name_en="Cell plant")
    blob = project.search_blob
    for key in (
        "储能电芯项目",
        "dsdc",
        "desaidianchi",
        "desaibattery",
        "desaybattery",
        "cellplant",
    ):
        assert key in blob, key
    services.update_project(
        db.session, project, officer, {"name": "长沙基地"}, expected_version=project.version
    )
    assert "csjd" in project.search_blob and "储能电芯项目" not in project.search_blob


def test_update_changes_only_the_fields_given_and_reports_them(officer):
    project = create(officer, planned_investment="5000", notes="first")
    version = project.version
    changes = services.update_project(
        db.session,
        project,
        officer,
        {"planned_investment": "5000.00", "notes": "second", "chain": "automobile"},
        expected_version=version,
    )
    assert changes == {"notes": ["first", "second"], "chain": [None, "automobile"]}
    assert project.version == version + 1
    assert (
        services.update_project(
            db.session, project, officer, {"notes": "second"}, expected_version=project.version
        )
        == {}
    )


def test_update_refuses_a_stale_version_and_changes_nothing(officer):
    project = create(officer, notes="a")
    v1 = project.version
    services.update_project(db.session, project, officer, {"notes": "b"}, expected_version=v1)
    with pytest.raises(ConflictError) as err:
        services.update_project(db.session, project, officer, {"name": "mine"}, expected_version=v1)
    assert [(c.field, c.value) for c in err.value.changes] == [("notes", "b")]
    assert err.value.current_version == v1 + 1
    assert project.name != "mine"


def test_officer_cannot_move_a_project_to_another_team_by_editing(officer):
    project = create(officer)
    with pytest.raises(NotAllowed):
        services.update_project(
            db.session,
            project,
            officer,
            {"team": factories.team().code},
            expected_version=project.version,
        )


def test_timeline_counts_days_in_each_stage_and_signing_to_start(app):
    team = factories.team()
    project = factories.project(
        team,
        stage=Stage.STARTED,
        lead_on=date(2021, 12, 1),
        signed_on=date(2022, 1, 20),
        landed_on=date(2022, 1, 20),
        started_on=date(2022, 2, 7),
    )
    steps = stage_timeline(project, today=date(2022, 3, 9))
    assert [(s.stage, s.days, s.current) for s in steps] == [
        (Stage.LEAD, 50, False),
        (Stage.SIGNED, 0, False),
        (Stage.LANDED, 18, False),
        (Stage.STARTED, 30, True),
    ]
    assert days_signing_to_start(project) == 18
    assert days_in_stage(project, today=date(2022, 3, 9)) == 30


def test_timeline_of_a_project_on_hold_ends_the_main_stage_at_the_hold(app):
    team = factories.team()
    project = factories.project(
        team,
        stage=Stage.ON_HOLD,
        lead_on=date(2026, 1, 1),
        negotiating_on=date(2026, 1, 11),
        on_hold_on=date(2026, 2, 1),
        resume_stage=Stage.NEGOTIATING,
    )
    steps = stage_timeline(project, today=date(2026, 2, 11))
    assert [(s.stage, s.days) for s in steps] == [
        (Stage.LEAD, 10),
        (Stage.NEGOTIATING, 21),
        (Stage.ON_HOLD, 10),
    ]
    assert days_signing_to_start(project) is None


def test_projects_of_a_merged_company_go_to_the_surviving_one(officer):
    survivor = factories.company("长沙智造有限公司")
    merged = factories.company("长沙智造集团", merged_into_id=survivor.id)
    project = create(officer, company_name=None, company_id=merged.id)
    assert project.company_id == survivor.id
    assert db.session.get(Project, project.id).company_id == survivor.id
