"""The pages: the project panel, the evaluation page (facts, saving), saved evaluations kept
unchanged after a policy edit, the zone comparison and its Excel export, query counts."""

from __future__ import annotations

import io
from contextlib import contextmanager
from datetime import date
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from sqlalchemy import event, select

from crm.enums import Role
from crm.extensions import db
from crm.incentives import services, store
from crm.incentives.models import SavedEvaluation
from crm.pipeline.models import Project
from tests import factories
from tests.conftest import login
from tests.incentives.app_support import (
    CHANGSHA_ETDZ,
    MOFCOM,
    changed_policy_text,
    officer_with_team,
    project_in,
)

RD = {"rd_expense": "5000", "rd_expense_prev": "2000"}
CAPPED_ZH = "10% × (5,000 − 2,000) = 300，超过上限，按上限 200 计"


@pytest.fixture
def today(monkeypatch):
    monkeypatch.setattr("crm.incentives.engine.today", lambda: date(2026, 6, 1))


@pytest.fixture
def officer(client, today):
    user, team = officer_with_team()
    login(client, user.email)
    return user, team


@contextmanager
def counted():
    statements: list[str] = []

    def listener(_conn, _cursor, statement, *_args):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)


class TestProjectPanel:
    def test_shows_the_landed_zone_evaluation_with_the_arithmetic(self, client, officer):
        _user, team = officer
        project = project_in(team, landed="changsha-etdz", facts=RD)
        page = client.get(f"/projects/{project.id}").get_data(as_text=True)
        panel = page[page.index('data-testid="incentives-panel"') :]
        assert "长沙经济技术开发区" in panel and "2026-06-01" in panel
        assert CAPPED_ZH in panel
        assert 'data-flag="threshold_unconfirmed"' in panel
        assert 'data-testid="total-applies">200 万元<' in panel
        assert 'data-count="applies">1<' in panel
        assert 'data-policy-version="mofcom-national-etdz-2025:1"' in panel
        assert "经评定的未来产业企业产品" in panel  # a missing fact, by its label
        assert f"/projects/{project.id}/incentives" in panel

    def test_a_project_without_a_zone_is_sent_to_the_comparison(self, client, officer):
        _user, team = officer
        project = project_in(team)
        page = client.get(f"/projects/{project.id}").get_data(as_text=True)
        assert f"/incentives/compare?project={project.id}" in page
        assert 'data-testid="total-applies"' not in page

    def test_query_count_does_not_grow_with_data(self, client, officer):
        user, team = officer
        project = project_in(team, landed="changsha-etdz", facts=RD)
        ref = services.zone_by_code(db.session, "changsha-etdz")
        result = services.evaluate_in_zone(db.session, ref, {}, date(2026, 6, 1))

        def save(n):
            for _ in range(n):
                services.save_evaluation(db.session, project, result, {}, note="x", user_id=user.id)

        def measure():
            client.get(f"/projects/{project.id}")  # warm the compiled-policy cache
            with counted() as detail:
                assert client.get(f"/projects/{project.id}").status_code == 200
            with counted() as page:
                assert client.get(f"/projects/{project.id}/incentives").status_code == 200
            return len(detail), len(page)

        save(1)
        small = measure()
        save(25)
        for _ in range(20):
            project_in(team, landed="wangcheng-etdz", facts=RD)
        assert measure() == small


class TestEvaluationPage:
    def test_defaults_to_the_landed_zone_and_switches(self, client, officer):
        _user, team = officer
        project = project_in(team, landed="changsha-etdz", facts=RD)
        page = client.get(f"/projects/{project.id}/incentives").get_data(as_text=True)
        assert CAPPED_ZH in page
        hitech = client.get(f"/projects/{project.id}/incentives?zone=changsha-hitech")
        text = hitech.get_data(as_text=True)
        assert "guofa-2020-7-national-hitech:1" in text and CAPPED_ZH not in text
        bad = client.get(f"/projects/{project.id}/incentives?zone=atlantis&as_of=2026-02-30")
        assert bad.status_code == 422
        assert 'data-error-for="zone"' in bad.get_data(as_text=True)
        assert 'data-error-for="as_of"' in bad.get_data(as_text=True)

    def test_typed_facts_are_evaluated_not_saved(self, client, officer):
        _user, team = officer
        project = project_in(team, landed="changsha-etdz")
        response = client.form(
            f"/projects/{project.id}/incentives",
            {"zone": "changsha-etdz", "f_rd_expense": "5,000", "f_rd_expense_prev": "2000"},
        )
        assert response.status_code == 200
        assert CAPPED_ZH in response.get_data(as_text=True)
        assert db.session.get(Project, project.id).facts == {}

    def test_save_facts_validates_and_keeps_project_owned_facts(self, client, officer):
        _user, team = officer
        project = project_in(team, landed="changsha-etdz")
        refused = client.form(
            f"/projects/{project.id}/incentives/facts",
            {"zone": "changsha-etdz", "f_rd_expense": "-5", "f_rd_expense_prev": "2000"},
        )
        assert refused.status_code == 422
        page = refused.get_data(as_text=True)
        assert 'data-error-for="rd_expense"' in page and 'value="-5"' in page
        assert db.session.get(Project, project.id).facts == {}
        saved = client.form(
            f"/projects/{project.id}/incentives/facts",
            {
                "zone": "changsha-etdz",
                "f_rd_expense": "5000",
                "f_rd_expense_prev": "2000",
                "f_planned_investment": "1",  # belongs to the project: ignored here
                "f_titles": ["little_giant", "tech_sme"],
                "f_new_titles": "__none__",
                "f_good_credit": "true",
            },
        )
        assert saved.status_code == 302
        stored = db.session.get(Project, project.id).facts
        assert stored == {
            "rd_expense": "5000",
            "rd_expense_prev": "2000",
            "titles": ["little_giant", "tech_sme"],
            "new_titles": [],
            "good_credit": True,
        }
        panel = client.get(f"/projects/{project.id}").get_data(as_text=True)
        assert CAPPED_ZH in panel

    def test_saved_evaluation_keeps_its_policy_versions(self, client, officer):
        user, team = officer
        project = project_in(team, landed="changsha-etdz")
        response = client.form(
            f"/projects/{project.id}/incentives/evaluations",
            {
                "zone": "changsha-etdz",
                "as_of": "2026-06-01",
                "note": "for the pitch",
                **{f"f_{k}": v for k, v in RD.items()},
            },
        )
        assert response.status_code == 302
        saved = db.session.scalar(
            select(SavedEvaluation).where(SavedEvaluation.project_id == project.id)
        )
        assert saved.policy_versions == {CHANGSHA_ETDZ: 1, MOFCOM: 1}
        assert saved.total_applies == Decimal("200.00") and saved.created_by_id == user.id
        assert saved.facts["rd_expense"] == "5000"
        url = f"/projects/{project.id}/incentives/evaluations/{saved.id}"
        assert response.headers["Location"].endswith(url)

        def content(page):  # the page's own content (the navigation carries a fresh token)
            return page.get_data(as_text=True).split('<main id="main"', 1)[1]

        client.get(url)  # shows (and clears) the "saved" message
        before = content(client.get(url))

        # An administrator ends the national policy: a new version, out of force on that day.
        admin = factories.user(Role.ADMIN, locale="zh_CN")
        store.save_version(
            db.session,
            changed_policy_text("2026-01-31"),
            file_name="m.yaml",
            origin="upload",
            user_id=admin.id,
        )
        after = content(client.get(url))
        assert after == before
        assert 'data-policy-version="mofcom-national-etdz-2025:1"' in after
        assert 'data-count="not_in_force">0<' in after
        live = client.get(f"/projects/{project.id}/incentives?as_of=2026-06-01&zone=changsha-etdz")
        live_text = live.get_data(as_text=True)
        assert 'data-policy-version="mofcom-national-etdz-2025:2"' in live_text
        assert 'data-count="not_in_force">5<' in live_text  # the 5 national measures
        listing = client.get(f"/projects/{project.id}/incentives").get_data(as_text=True)
        assert "for the pitch" in listing

    def test_other_team_cannot_read_a_saved_evaluation(self, client, today):
        _owner, team = officer_with_team()
        project = project_in(team, landed="changsha-etdz")
        ref = services.zone_by_code(db.session, "changsha-etdz")
        result = services.evaluate_in_zone(db.session, ref, {}, date(2026, 6, 1))
        saved = services.save_evaluation(db.session, project, result, {}, note=None, user_id=None)
        stranger, _other = officer_with_team()
        login(client, stranger.email)
        url = f"/projects/{project.id}/incentives/evaluations/{saved.id}"
        assert client.get(url).status_code == 404
        other_project = project_in(_other)
        wrong = f"/projects/{other_project.id}/incentives/evaluations/{saved.id}"
        assert client.get(wrong).status_code == 404


class TestComparePage:
    def test_zones_side_by_side_best_first(self, client, officer):
        response = client.get(
            "/incentives/compare?go=1&as_of=2026-06-01&zones=wangcheng-etdz&zones=changsha-hitech"
            "&zones=changsha-etdz&f_rd_expense=5000&f_rd_expense_prev=2000"
        )
        assert response.status_code == 200
        page = response.get_data(as_text=True)
        ranking = page[page.index('data-testid="ranking"') :]
        order = [ranking.index(f'data-zone="{z}"') for z in ("changsha-etdz", "changsha-hitech")]
        assert order == sorted(order)
        assert 'data-zone-card="wangcheng-etdz"' in page and CAPPED_ZH in page

    def test_a_projects_facts_prefill_the_form(self, client, officer):
        _user, team = officer
        project = project_in(team, facts=RD)
        page = client.get(f"/incentives/compare?project={project.id}").get_data(as_text=True)
        assert 'name="f_rd_expense" value="5000"' in page
        assert CAPPED_ZH in page  # every zone is compared by default
        stranger_project = project_in(factories.team())
        assert client.get(f"/incentives/compare?project={stranger_project.id}").status_code == 404

    def test_refusals(self, client, officer):
        bad = client.get("/incentives/compare?go=1&zones=atlantis&f_export_value=lots")
        assert bad.status_code == 422
        page = bad.get_data(as_text=True)
        assert 'data-error-for="zones"' in page and 'data-error-for="export_value"' in page
        none = client.get("/incentives/compare?go=1")
        assert none.status_code == 422


class TestExcelExport:
    def test_workbook_content(self, client, officer):
        response = client.get(
            "/incentives/compare.xlsx?go=1&as_of=2026-06-01&zones=wangcheng-etdz"
            "&zones=changsha-etdz&f_rd_expense=5000&f_rd_expense_prev=2000&f_chain=automobile"
            "&f_good_credit=true"
        )
        assert response.status_code == 200
        assert response.mimetype.endswith("spreadsheetml.sheet")
        assert "incentives-compare-2026-06-01.xlsx" in response.headers["Content-Disposition"]
        book = load_workbook(io.BytesIO(response.data))
        ranking, measures, facts = book.worksheets
        assert "2026-06-01" in ranking["A1"].value
        assert ranking["D2"].value.endswith("(万元)")  # the unit is in the header
        assert [ranking.cell(row=r, column=3).value for r in (3, 4)] == [
            "changsha-etdz",
            "wangcheng-etdz",
        ]
        assert [ranking.cell(row=r, column=1).value for r in (3, 4)] == [1, 2]  # the rank
        total = ranking["D3"]
        assert total.value == 200 and total.number_format == "#,##0.00"
        assert ranking.freeze_panes == "A3"
        rows = list(measures.iter_rows(min_row=3, values_only=True))
        rd = [row for row in rows if row[7] == CAPPED_ZH]
        assert len(rd) == 1 and rd[0][5] == 200 and rd[0][6] == 200 and rd[0][8]
        assert {row[0] for row in rows} == {"长沙经济技术开发区", "望城经济技术开发区"}
        facts_rows = {row[1]: row[2] for row in facts.iter_rows(min_row=3, values_only=True)}
        assert facts_rows["rd_expense"] == "5000" and facts_rows["chain"] == "automobile"
        assert set(facts_rows) == {"rd_expense", "rd_expense_prev", "chain", "good_credit"}

    def test_text_is_never_a_formula(self, client, officer):
        _user, team = officer
        project = project_in(team, name='=HYPERLINK("http://evil.example","x")', facts=RD)
        response = client.get(
            f"/incentives/compare.xlsx?project={project.id}&zones=changsha-etdz&as_of=2026-06-01"
        )
        assert response.status_code == 200
        book = load_workbook(io.BytesIO(response.data))
        for sheet in book.worksheets:
            title = sheet["A1"]
            assert title.value.startswith(project.name)  # stored exactly as written...
            assert title.data_type == "s" and title.quotePrefix  # ...and shown as text
            for row in sheet.iter_rows():
                for cell in row:
                    assert cell.data_type != "f", (sheet.title, cell.coordinate, cell.value)
