"""Visits on the company page and on a person's own page: newest first, paged, and only
what the viewer may see (another team's confidential project names never show)."""

from __future__ import annotations

from datetime import timedelta

from crm.enums import Role
from crm.visits.leads import local_today
from tests import factories
from tests.conftest import login
from tests.visits.support import log_visit, team_with_people


def test_company_page_lists_its_visits_newest_first(client, app):
    team, officer, _lead = team_with_people()
    company = factories.company("湘江储能科技有限公司")
    project = factories.project(team, owner=officer, company_obj=company, name="储能电芯项目")
    today = local_today()
    log_visit(officer, on=today - timedelta(days=9), company_id=company.id, purpose="first talk")
    log_visit(
        officer,
        on=today - timedelta(days=2),
        company_id=company.id,
        project_ids=[project.id],
        purpose="second talk",
    )
    login(client, officer.email)
    page = client.get(f"/companies/{company.id}").get_data(as_text=True)
    assert 'id="panel-visits"' in page and 'data-testid="company-visits"' in page
    assert page.index("second talk") < page.index("first talk")
    assert "储能电芯项目" in page  # the officer's own project is named on the visit
    assert f"/visits/new?company_id={company.id}" in page  # log a visit from here


def test_company_page_hides_other_teams_visits_and_confidential_project_names(client, app):
    _team, officer, _lead = team_with_people()
    other, rival, _rival_lead = team_with_people()
    company = factories.company("星沙智造有限公司")
    secret = factories.project(other, owner=rival, company_obj=company, name="保密扩产项目")
    log_visit(officer, company_id=company.id, purpose="our own visit")
    log_visit(rival, company_id=company.id, project_ids=[secret.id], purpose="rival visit")
    # The officer went along on one of the rival team's visits: they see that visit, but
    # not the name of the rival team's project it was about.
    log_visit(
        rival,
        company_id=company.id,
        project_ids=[secret.id],
        participant_user_ids=[officer.id],
        purpose="joint visit",
    )
    login(client, officer.email)
    page = client.get(f"/companies/{company.id}").get_data(as_text=True)
    assert "our own visit" in page and "joint visit" in page
    assert "rival visit" not in page
    assert "保密扩产项目" not in page
    assert f"/projects/{secret.id}" not in page


def test_company_page_links_to_the_paged_list_of_all_its_visits(client, app):
    _team, officer, _lead = team_with_people()
    company = factories.company("麓谷新材料有限公司")
    today = local_today()
    for n in range(12):
        log_visit(officer, on=today - timedelta(days=n + 1), company_id=company.id, purpose=f"v{n}")
    login(client, officer.email)
    page = client.get(f"/companies/{company.id}").get_data(as_text=True)
    assert page.count('data-testid="visit-item"') == 10
    assert f"/visits?company={company.id}" in page
    full = client.get(f"/visits?company={company.id}").get_data(as_text=True)
    assert full.count('data-testid="visit-item"') == 12


def test_officer_sees_own_visits_newest_first_with_pages(client, app):
    _team, officer, lead = team_with_people()
    today = local_today()
    for n in range(32):  # more than a page (30)
        log_visit(officer, on=today - timedelta(days=n + 1), purpose=f"visit number {n:02d}")
    log_visit(lead, purpose="lead alone")
    login(client, officer.email)
    first = client.get("/me/visits").get_data(as_text=True)
    assert first.count('data-testid="visit-item"') == 30
    assert first.index("visit number 00") < first.index("visit number 01")
    assert "lead alone" not in first and "visit number 31" not in first
    second = client.get("/me/visits?page=2").get_data(as_text=True)
    assert "visit number 31" in second and "visit number 00" not in second
    own = client.get(f"/users/{officer.id}/visits").get_data(as_text=True)
    assert "visit number 00" in own and "My visits" in own


def test_lead_opens_a_team_members_page(client, app):
    _team, officer, lead = team_with_people()
    log_visit(officer, purpose="officer's call")
    log_visit(lead, purpose="lead's own call")
    login(client, lead.email)
    mine = client.get("/me/visits").get_data(as_text=True)
    assert 'data-testid="team-members"' in mine
    assert f"/users/{officer.id}/visits" in mine
    page = client.get(f"/users/{officer.id}/visits")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "officer&#39;s call" in html and "lead&#39;s own call" not in html
    assert f"Visits of {officer.name}" in html


def test_person_page_is_closed_to_other_teams_and_to_fellow_officers(make_client, app):
    team, officer, _lead = team_with_people()
    colleague = factories.user(Role.OFFICER, team)
    _other, rival, rival_lead = team_with_people()
    for viewer in (rival, rival_lead, colleague):
        client = make_client()
        login(client, viewer.email)
        assert client.get(f"/users/{officer.id}/visits").status_code == 404
    assert client.get("/users/999999999/visits").status_code == 404
    client = make_client()
    login(client, factories.user(Role.LEADER).email)
    assert client.get(f"/users/{officer.id}/visits").status_code == 200


def test_lead_sees_only_the_members_visits_the_lead_may_see(client, app):
    _team, officer, lead = team_with_people()
    other, rival, _rival_lead = team_with_people()
    secret = factories.project(other, owner=rival, name="对手的项目")
    log_visit(rival, project_ids=[secret.id], participant_user_ids=[officer.id], purpose="away")
    log_visit(officer, purpose="at home")
    login(client, lead.email)
    html = client.get(f"/users/{officer.id}/visits").get_data(as_text=True)
    assert "at home" in html and "away" not in html and "对手的项目" not in html


def test_author_names_link_to_their_page_only_for_those_who_may_open_it(make_client, app):
    team, officer, lead = team_with_people()
    log_visit(officer, purpose="linked author")
    link = f'href="/users/{officer.id}/visits"'
    client = make_client()
    login(client, lead.email)
    assert link in client.get("/visits").get_data(as_text=True)
    colleague = factories.user(Role.OFFICER, team)
    client = make_client()
    login(client, colleague.email)
    page = client.get("/visits").get_data(as_text=True)
    assert "linked author" in page and link not in page
