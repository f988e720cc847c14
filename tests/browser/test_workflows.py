"""The daily work, end to end in a real browser: create a company and a project, log a
visit on a phone, drag a kanban card, advance a project with its date, see a conflict
between two browsers, see a project's incentives, download the weekly report.

Each test waits for its feature (`needs_feature`): it is skipped, saying which endpoint is
missing, until the feature is in the app, and runs by itself from then on. The selectors
they rely on (data-testid attributes and form field names) are listed in docs/testing.md;
the pages of those features render them.
"""

from __future__ import annotations

import io
import re
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.browser.conftest import PHONE, log_in, no_horizontal_overflow

LEAD = "lead.wangcheng@example.com"
OFFICER = "officer.wangcheng@example.com"
LEADER = "leader@example.com"


def _project_of(live_server, team: str, stage: str | None = None, landed: bool = False) -> int:
    from crm.accounts.models import Team
    from crm.pipeline.models import Project

    def find(session):
        stmt = (
            select(Project.id)
            .join(Team, Team.id == Project.team_id)
            .where(Team.code == team, Project.deleted_at.is_(None))
            .order_by(Project.id)
        )
        if stage:
            stmt = stmt.where(Project.stage == stage)
        if landed:
            stmt = stmt.where(Project.landed_zone_id.isnot(None))
        return session.scalar(stmt)

    project_id = live_server.query(find)
    assert project_id, f"the demo data has no {stage or ''} project of team {team}"
    return project_id


def _submit(page, form_selector: str) -> None:
    page.locator(f"{form_selector} button[type=submit]").last.click()
    page.wait_for_load_state()


@pytest.mark.needs_feature(
    "pipeline.*company*new*|pipeline.*new*company*|pipeline.*company*create*"
)
@pytest.mark.needs_feature(
    "pipeline.*project*new*|pipeline.*new*project*|pipeline.*project*create*"
)
def test_create_a_company_then_a_project(browsers):
    page = browsers.new_page()
    log_in(page, OFFICER)
    # The company first, from the company list.
    page.goto("/companies")
    page.click("main a[href='/companies/new']")
    page.wait_for_url("**/companies/new")
    page.fill("main form [name=name]", "浏览器测试新能源科技有限公司")
    page.fill("main form [name=uscc]", "91430100MA4L16JQ9D")
    _submit(page, "main form")
    page.wait_for_url(re.compile(r"/companies/\d+$"))
    assert "浏览器测试新能源科技有限公司" in page.locator("h1").inner_text()
    # Then its project, from the navigation bar's "New project".
    page.goto("/projects")
    page.locator("nav a[href='/projects/new']").first.evaluate("a => a.click()")
    page.wait_for_url("**/projects/new")
    page.fill("main form [name=name]", "浏览器测试储能电池项目")
    page.fill("main form [name=company_name]", "浏览器测试新能源科技有限公司")
    page.select_option("main form [name=chain]", "energy-storage-materials")
    page.select_option("main form [name=target_zone]", "wangcheng-etdz")
    page.fill("main form [name=planned_investment]", "120000")
    _submit(page, "main form")
    page.wait_for_url(re.compile(r"/projects/\d+$"))
    assert "浏览器测试储能电池项目" in page.locator("h1").inner_text()
    assert page.locator("[data-testid=stage]").is_visible()
    # 12亿元 makes it a key project, with the reasons listed.
    assert page.locator("[data-testid=key-badge]").is_visible()
    assert page.locator("ul[data-testid=key-reasons] li").count() > 0


@pytest.mark.needs_feature("visits.*")
def test_log_a_visit_on_a_phone(browsers, live_server):
    project_id = _project_of(live_server, "wangcheng", stage="negotiating")
    page = browsers.new_page(viewport=PHONE, is_mobile=True, has_touch=True)
    log_in(page, OFFICER)
    page.goto(f"/projects/{project_id}")
    page.click("[data-testid=log-visit]")
    assert no_horizontal_overflow(page)  # one screen, made for a phone
    page.fill("form [name=on]", date.today().isoformat())
    page.fill("form [name=city]", "深圳")
    page.fill("form [name=purpose]", "手机上记录的走访：了解扩产计划")
    page.fill("form [name=outcome]", "对方有意在望城扩产")
    page.fill("form [name=next_steps]", "两周内寄送用地方案")
    _submit(page, "main form")
    page.goto(f"/projects/{project_id}")
    visits = page.locator("[data-testid=visits]")
    assert "手机上记录的走访" in visits.inner_text()
    # The form remembers the last place for the next visit.
    page.click("[data-testid=log-visit]")
    assert page.input_value("form [name=city]") == "深圳"


def _transition_form(page, project_id: int):
    return page.locator(f"main form[method=post][action*='/projects/{project_id}/transition']")


@pytest.mark.needs_feature("pipeline.*board*|pipeline.*kanban*")
def test_drag_a_card_on_the_kanban_board(browsers, live_server):
    page = browsers.new_page()
    log_in(page, LEAD)
    page.goto("/board")
    # A card of the first column that this lead may move.
    lead = page.locator("[data-testid=board-column-lead]")
    card = lead.locator("[data-testid=board-card][draggable=true]").first
    project_id = card.get_attribute("data-project-id")
    assert project_id
    target = page.locator("[data-testid=board-column-negotiating] .board-cards")
    card.drag_to(target)
    # Dropping opens the transition form for that move.
    page.wait_for_url(re.compile(rf"/projects/{project_id}/transition\?to=negotiating$"))
    form = _transition_form(page, int(project_id))
    form.locator("[name=date]").fill(date.today().isoformat())
    form.locator("button[type=submit]").click()
    page.wait_for_url(re.compile(rf"/projects/{project_id}$"))
    page.goto(f"/projects/{project_id}")
    assert page.locator("[data-testid=stage]").inner_text().strip() in ("洽谈", "Negotiating")
    assert live_server.query(lambda s: _stage_of(s, int(project_id))) == "negotiating"


def _stage_of(session, project_id: int) -> str:
    from crm.pipeline.models import Project

    return str(session.get(Project, project_id).stage.value)


@pytest.mark.needs_feature("pipeline.*transition*|pipeline.*advance*|pipeline.*stage*")
def test_advance_a_project_with_its_date(browsers, live_server):
    project_id = _project_of(live_server, "wangcheng", stage="negotiating")
    signed_on = (date.today() - timedelta(days=3)).isoformat()
    page = browsers.new_page()
    log_in(page, LEAD)
    page.goto(f"/projects/{project_id}")
    page.click("[data-testid=advance]")  # "Move to: signed"
    page.wait_for_url(re.compile(rf"/projects/{project_id}/transition\?to=signed$"))
    form = _transition_form(page, project_id)
    form.locator("[name=date]").fill(signed_on)
    form.locator("[name=note]").fill("浏览器中签约")
    form.locator("button[type=submit]").click()
    page.wait_for_url(re.compile(rf"/projects/{project_id}$"))
    assert page.locator("[data-testid=stage]").inner_text().strip() in ("签约", "Signed")
    assert signed_on in page.locator("[data-testid=timeline]").inner_text()
    # A date in the future is refused, with the reason next to the field.
    page.click(f"main a[href='/projects/{project_id}/transition']")  # "Change stage"
    page.locator("[data-testid=stage-choices] a[href$='to=landed']").click()
    form.locator("[name=date]").fill((date.today() + timedelta(days=2)).isoformat())
    form.locator("button[type=submit]").click()
    page.wait_for_load_state()
    assert form.locator("[name=date].is-invalid").count() == 1
    assert form.locator("#date-error.invalid-feedback").is_visible()
    assert live_server.query(lambda s: _stage_of(s, project_id)) == "signed"


@pytest.mark.needs_feature("pipeline.*edit*|pipeline.*update*")
def test_two_browsers_editing_the_same_project_see_a_conflict(browsers, live_server):
    project_id = _project_of(live_server, "wangcheng")
    first, second = browsers.new_page(), browsers.new_page()
    log_in(first, LEAD)
    log_in(second, OFFICER)
    for page in (first, second):
        page.goto(f"/projects/{project_id}")
        page.click(f"main a[href='/projects/{project_id}/edit']")
        page.wait_for_url(re.compile(rf"/projects/{project_id}/edit$"))
    first.fill("main form [name=name]", "甲改的名字")
    _submit(first, "main form")
    first.wait_for_url(re.compile(rf"/projects/{project_id}$"))
    second.fill("main form [name=name]", "乙改的名字")
    _submit(second, "main form")
    conflict = second.locator("[data-testid=conflict]")
    assert conflict.is_visible()
    assert "甲改的名字" in conflict.inner_text()  # what the other person changed
    assert second.input_value("main form [name=name]") == "乙改的名字"  # the input is kept
    first.goto(f"/projects/{project_id}")
    assert "甲改的名字" in first.locator("h1").inner_text()  # never silently overwritten


@pytest.mark.needs_feature("incentives.*")
def test_see_the_incentives_of_a_project(browsers, live_server):
    project_id = _project_of(live_server, "wangcheng", landed=True)
    page = browsers.new_page()
    log_in(page, LEAD)
    page.goto(f"/projects/{project_id}")
    panel = page.locator("[data-testid=incentives-panel]")
    panel.wait_for(state="visible")
    assert panel.locator("tr[data-measure]").count() > 0
    assert panel.locator("[data-testid=total-applies]").is_visible()
    # The full evaluation, on its own page.
    panel.locator(f"a.btn[href='/projects/{project_id}/incentives']").click()
    page.wait_for_url(re.compile(rf"/projects/{project_id}/incentives$"))
    assert page.locator("main tr[data-measure]").count() > 0
    assert page.locator("main [data-testid=total-applies]").is_visible()


@pytest.mark.needs_feature("reports.*weekly*|reports.*download*|reports.*report*")
def test_download_the_weekly_report(browsers, live_server):
    from openpyxl import load_workbook

    page = browsers.new_page()
    log_in(page, LEADER)
    page.goto("/dashboard")
    with page.expect_download() as info:
        page.click("[data-testid=download-weekly]")
    download = info.value
    assert download.suggested_filename.endswith(".xlsx")
    book = load_workbook(io.BytesIO(Path(download.path()).read_bytes()))
    assert "总览" in book.sheetnames
