"""Key projects: Top-500 investors of this or last year, the amount threshold, manual marks."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from crm.enums import Role
from crm.extensions import db
from crm.pipeline import keys, services
from crm.pipeline.errors import NotAllowed, ProjectError
from crm.pipeline.models import CompanyTop500, Project
from crm.pipeline.stages import local_today
from tests import factories
from tests.conftest import login
from tests.pipeline.sql_counter import count_queries

YEAR = local_today().year


@pytest.fixture
def team(app):
    return factories.team()


@pytest.fixture
def officer(team):
    return factories.user(Role.OFFICER, team)


def make(officer, **values):
    values.setdefault("name", "重点测试项目")
    values.setdefault("company_name", f"重点测试{len(values)}有限公司")
    return services.create_project(db.session, officer, values)


@pytest.mark.parametrize(
    ("amount", "is_key"),
    [
        ("99999.99", False),
        ("100000", True),
        ("100000.00", True),
        ("100000.01", True),
        (None, False),
    ],
)
def test_amount_threshold_edge(officer, amount, is_key):
    project = make(officer, planned_investment=amount)
    assert project.is_key is is_key
    assert project.key_reasons == (["amount"] if is_key else [])


def test_crossing_the_threshold_by_editing_updates_the_flag(officer):
    project = make(officer, planned_investment="99999.99")
    changes = services.update_project(
        db.session,
        project,
        officer,
        {"planned_investment": "100000"},
        expected_version=project.version,
    )
    assert project.is_key and changes["is_key"] == [False, True]
    assert changes["key_reasons"] == [[], ["amount"]]


@pytest.mark.parametrize(
    ("year", "is_key"), [(YEAR, True), (YEAR - 1, True), (YEAR - 2, False), (YEAR + 1, False)]
)
def test_top500_of_current_or_previous_year(officer, year, is_key):
    company = factories.company("全球五百强集团有限公司")
    db.session.add(CompanyTop500(company_id=company.id, list_code="fortune_global_500", year=year))
    db.session.flush()
    project = make(officer, company_name=None, company_id=company.id, planned_investment="10")
    assert project.is_key is is_key
    if is_key:
        assert project.key_reasons == [f"top500:fortune_global_500:{year}"]


def test_reasons_are_described_in_words(app):
    from flask_babel import force_locale

    with app.test_request_context(), force_locale("en"):
        _check_english_reasons()


def _check_english_reasons():
    assert (
        keys.describe_reason("top500:fortune_global_500:2026", "10亿元", None)
        == "The investor is on the 2026 Fortune Global 500"
    )
    assert keys.describe_reason("amount", "10亿元", None) == (
        "Planned investment of at least 10亿元"
    )
    assert keys.describe_reason("manual", "", "市领导关注") == "Marked by a team lead: 市领导关注"


def test_a_lead_marks_and_unmarks_with_a_reason(team, officer):
    lead = factories.user(Role.LEAD, team)
    project = make(officer, planned_investment="10")
    with pytest.raises(NotAllowed):
        keys.mark_key(db.session, project, officer, marked=True, reason="x")
    with pytest.raises(NotAllowed):
        keys.mark_key(
            db.session,
            project,
            factories.user(Role.LEAD, factories.team()),
            marked=True,
            reason="x",
        )
    with pytest.raises(ProjectError):
        keys.mark_key(db.session, project, lead, marked=True, reason="  ")
    keys.mark_key(db.session, project, lead, marked=True, reason="市领导关注")
    assert project.is_key and project.key_reasons == ["manual"]
    assert project.key_manual_reason == "市领导关注"
    keys.mark_key(db.session, project, lead, marked=False, reason="no longer a priority")
    assert not project.is_key and project.key_reasons == []
    with pytest.raises(ProjectError):
        keys.mark_key(db.session, project, lead, marked=False, reason="again")


def test_changing_the_threshold_recomputes_every_project_set_based(officer):
    small = make(officer, planned_investment="60000")
    big = make(officer, planned_investment="150000")
    marked = make(officer, planned_investment="1")
    keys.mark_key(db.session, marked, factories.user(Role.ADMIN), marked=True, reason="strategic")
    versions = {p.id: p.version for p in (small, big, marked)}
    with count_queries() as queries:
        changed = keys.set_key_threshold(db.session, Decimal("50000"), None)
    assert changed >= 1
    assert 3 <= len(queries) <= 8  # reads and one executemany, however many projects exist
    rows = {
        pid: (is_key, reasons, version)
        for pid, is_key, reasons, version in db.session.execute(
            select(Project.id, Project.is_key, Project.key_reasons, Project.version).where(
                Project.id.in_(versions)
            )
        )
    }
    assert rows[small.id][:2] == (True, ["amount"])
    assert rows[big.id][:2] == (True, ["amount"])
    assert rows[marked.id][:2] == (True, ["manual"])
    # Derived flags do not make anyone's open form stale.
    assert {pid: row[2] for pid, row in rows.items()} == versions
    assert keys.key_threshold(db.session) == Decimal("50000")
    keys.set_key_threshold(db.session, Decimal("200000"), None)
    assert db.session.get(Project, big.id).is_key is False
    with pytest.raises(ProjectError):
        keys.set_key_threshold(db.session, Decimal("0"), None)


def test_recompute_company_keys_after_a_new_top500_tag(officer):
    company = factories.company("新晋五百强有限公司")
    project = make(officer, company_name=None, company_id=company.id, planned_investment="1")
    assert not project.is_key
    db.session.add(CompanyTop500(company_id=company.id, list_code="china_top_500", year=YEAR))
    db.session.flush()
    assert keys.recompute_company_keys(db.session, company.id) == 1
    assert project.is_key and project.key_reasons == [f"top500:china_top_500:{YEAR}"]


def test_admin_sets_the_threshold_on_the_settings_page(client):
    admin = factories.user(Role.ADMIN)
    team = factories.team()
    project = factories.project(team, amount="60000")
    login(client, admin.email)
    page = client.get("/admin/settings/key-projects").get_data(as_text=True)
    assert "100000" in page
    response = client.form("/admin/settings/key-projects", {"threshold": "-5"})
    assert response.status_code == 422
    response = client.form("/admin/settings/key-projects", {"threshold": "60000"})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Project, project.id).is_key is True
    assert keys.key_threshold(db.session) == Decimal("60000")


def test_cli_recomputes_flags_after_the_year_turns(runner, officer):
    company = factories.company("去年五百强有限公司")
    db.session.add(CompanyTop500(company_id=company.id, list_code="china_top_500", year=YEAR - 2))
    project = factories.project(
        db.session.get(factories.Team, officer.team_id),
        company_obj=company,
        amount="1",
        is_key=True,
        key_reasons=[f"top500:china_top_500:{YEAR - 2}"],
    )
    db.session.flush()
    result = runner.invoke(args=["keys", "recompute"])
    assert result.exit_code == 0, result.output
    assert "1 projects changed" in result.output
    db.session.expire_all()
    assert db.session.get(Project, project.id).is_key is False
