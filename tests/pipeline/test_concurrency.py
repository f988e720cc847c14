"""Two people editing the same project: the later save is refused with what the other person
changed, the user's input is kept, and nothing is silently overwritten (web and API)."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from sqlalchemy import update
from sqlalchemy.orm.exc import StaleDataError

from crm.enums import Role
from crm.extensions import db
from crm.pipeline import services
from crm.pipeline.models import Company, Project
from tests import factories
from tests.conftest import login


@pytest.fixture
def team(app):
    return factories.team()


@pytest.fixture
def project(team):
    return factories.project(team, amount="5000", name="并发项目")


def version_on_form(html):
    return re.search(r'name="version" type="hidden" value="(\d+)"', html).group(1)


def form_data(project, version, **changes):
    data = {
        "version": version,
        "name": project.name,
        "company_name": db.session.get(Company, project.company_id).name,
        "planned_investment": "5000",
        "notes": "",
    }
    data.update(changes)
    return data


def test_second_web_save_is_refused_with_the_diff_and_input_kept(make_client, team, project):
    alice = factories.user(Role.OFFICER, team, name="张三")
    bob = factories.user(Role.OFFICER, team, name="李四")
    a, b = make_client(), make_client()
    login(a, alice.email)
    login(b, bob.email)
    url = f"/projects/{project.id}/edit"
    version_a = version_on_form(a.get(url).get_data(as_text=True))
    version_b = version_on_form(b.get(url).get_data(as_text=True))
    assert version_a == version_b

    saved = a.form(url, form_data(project, version_a, planned_investment="8000"))
    assert saved.status_code == 302

    refused = b.form(url, form_data(project, version_b, notes="李四的备注"))
    assert refused.status_code == 409
    page = refused.get_data(as_text=True)
    conflict = re.search(r'data-testid="conflict">(.*?)</div>', page, re.S).group(1)
    assert "张三" in conflict and "8000.00" in conflict
    assert "Planned investment" in conflict
    assert "李四的备注" in page  # the user's input is kept to re-apply
    db.session.expire_all()
    stored = db.session.get(Project, project.id)
    assert stored.notes is None and stored.planned_investment == Decimal("8000.00")

    # The re-rendered form carries the current version: saving again works.
    new_version = version_on_form(page)
    assert int(new_version) == stored.version
    again = b.form(
        url, form_data(project, new_version, planned_investment="8000", notes="李四的备注")
    )
    assert again.status_code == 302
    db.session.expire_all()
    assert db.session.get(Project, project.id).notes == "李四的备注"


def test_a_write_refused_by_the_database_is_reported_as_a_conflict(
    client, team, project, monkeypatch
):
    officer = factories.user(Role.OFFICER, team, name="王五")
    stale_version = project.version
    services.update_project(
        db.session, project, officer, {"notes": "王五先改"}, expected_version=stale_version
    )
    db.session.commit()  # the other person's save is committed

    def refused_by_database(*args, **kwargs):
        raise StaleDataError("UPDATE statement on table 'project' expected to update 1 row")

    monkeypatch.setattr(services, "update_project", refused_by_database)
    login(client, officer.email)
    response = client.form(
        f"/projects/{project.id}/edit", form_data(project, str(stale_version), name="我的名字")
    )
    assert response.status_code == 409
    page = response.get_data(as_text=True)
    assert "王五先改" in re.search(r'data-testid="conflict">(.*?)</div>', page, re.S).group(1)
    assert 'value="我的名字"' in page


def test_the_database_refuses_a_write_based_on_an_old_version(team, project):
    officer = factories.user(Role.OFFICER, team)
    # Someone else's save lands between our read and our write.
    db.session.execute(
        update(Project).where(Project.id == project.id).values(version=Project.version + 1),
        execution_options={"synchronize_session": False},
    )
    with pytest.raises(StaleDataError):
        services.update_project(
            db.session, project, officer, {"notes": "late"}, expected_version=project.version
        )


def test_api_patch_race_is_a_412(client, team, project, monkeypatch):
    officer = factories.user(Role.OFFICER, team)
    token = factories.token(officer)
    etag = f'"{project.version}"'
    db.session.commit()

    def refused_by_database(*args, **kwargs):
        raise StaleDataError("expected to update 1 row")

    monkeypatch.setattr(services, "update_project", refused_by_database)
    response = client.patch(
        f"/api/v1/projects/{project.id}",
        json={"notes": "x"},
        headers={"Authorization": f"Bearer {token}", "If-Match": etag},
    )
    assert response.status_code == 412
    assert response.mimetype == "application/problem+json"


def test_api_412_and_428(client, team, project):
    token = factories.token(factories.user(Role.OFFICER, team))
    url = f"/api/v1/projects/{project.id}"
    headers = {"Authorization": f"Bearer {token}"}
    assert client.patch(url, json={"notes": "a"}, headers=headers).status_code == 428
    etag = client.get(url, headers=headers).headers["ETag"]
    ok = client.patch(url, json={"notes": "a"}, headers={**headers, "If-Match": etag})
    assert ok.status_code == 200
    stale = client.patch(url, json={"notes": "b"}, headers={**headers, "If-Match": etag})
    assert stale.status_code == 412
    assert stale.get_json()["changes"][0]["field"] == "notes"
    assert stale.get_json()["changes"][0]["value"] == "a"
    weak = client.patch(
        url, json={"notes": "c"}, headers={**headers, "If-Match": "W/" + ok.headers["ETag"]}
    )
    assert weak.status_code == 200
