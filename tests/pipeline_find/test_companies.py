"""Companies: list, page, create and edit with validation and duplicate warnings, merge,
and the API."""

from __future__ import annotations

import re
from datetime import date

import pytest
from sqlalchemy import func, select

from crm.audit import AuditLog
from crm.enums import Stage
from crm.extensions import db
from crm.pipeline import company_services as services
from crm.pipeline.models import Company, CompanyTop500, Project
from crm.reference.uscc import make_uscc
from crm.visits.models import Contact, Visit
from tests import factories
from tests.conftest import login
from tests.pipeline_find.conftest import count_queries

VALID = make_uscc(12345678)
BAD_CHECK = VALID[:-1] + ("0" if VALID[-1] != "0" else "1")


def _form(**fields):
    data = {
        "name": "",
        "name_en": "",
        "aliases": "",
        "uscc": "",
        "ownership_type": "",
        "hq_city": "",
        "hq_province": "",
    }
    data.update(fields)
    return data


def test_create_company_with_validation_and_audit(as_officer, teams):
    response = as_officer.form(
        "/companies/new",
        _form(
            name="德赛电池有限公司",
            name_en="Desay Battery",
            aliases="德赛\n德赛电池",
            uscc=VALID.lower(),
        ),
    )
    assert response.status_code == 302
    company = db.session.scalar(select(Company).where(Company.name == "德赛电池有限公司"))
    assert company.uscc == VALID  # normalised
    assert company.aliases == ["德赛"]  # 德赛电池 is the name itself
    assert company.normalized_name == "德赛电池"
    assert "|dsdc|" in company.search_blob
    entry = db.session.scalar(
        select(AuditLog).where(AuditLog.entity_type == "company", AuditLog.entity_id == company.id)
    )
    assert entry.action == "create" and entry.user_id == teams["officer"].id
    assert entry.changes["name"] == [None, "德赛电池有限公司"]


def test_bad_credit_code_is_reported_next_to_the_field_and_input_kept(as_officer):
    response = as_officer.form("/companies/new", _form(name="某某科技有限公司", uscc=BAD_CHECK))
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    field = re.search(r'id="uscc".*?<div class="invalid-feedback[^>]*>([^<]*)<', page, re.S)
    assert field and "check character" in field.group(1)
    assert f'value="{BAD_CHECK}"' in page and 'value="某某科技有限公司"' in page
    assert (
        db.session.scalar(
            select(func.count()).select_from(Company).where(Company.name == "某某科技有限公司")
        )
        == 0
    )


def test_lookalike_name_warns_with_a_link_and_can_still_be_created(as_officer):
    existing = factories.company("德赛电池股份有限公司", aliases=["Desay"])
    response = as_officer.form("/companies/new", _form(name="德赛电池（惠州）有限公司"))
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    warning = re.search(r'data-testid="duplicate-warning">(.*?)</div>', page, re.S).group(1)
    assert f'href="/companies/{existing.id}"' in warning
    assert db.session.scalar(select(func.count()).select_from(Company)) == 1 + _others()
    # By alias and English name too.
    for fields in (
        {"name": "新名字科技", "aliases": "desay"},
        {"name": "另一个", "name_en": "DESAY Co., Ltd."},
    ):
        page = as_officer.form("/companies/new", _form(**fields)).get_data(as_text=True)
        assert f'href="/companies/{existing.id}"' in page, fields
    # Ticking the box creates it anyway.
    response = as_officer.form(
        "/companies/new", _form(name="德赛电池（惠州）有限公司", confirm_duplicate="y")
    )
    assert response.status_code == 302
    assert (
        db.session.scalar(
            select(func.count()).select_from(Company).where(Company.normalized_name == "德赛电池")
        )
        == 2
    )


def _others():
    return db.session.scalar(select(func.count()).select_from(Company)) - 1


def test_duplicate_credit_code_is_never_created(as_officer):
    existing = factories.company("甲公司", uscc=VALID)
    response = as_officer.form(
        "/companies/new", _form(name="乙公司", uscc=VALID, confirm_duplicate="y")
    )
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    field = re.search(r'id="uscc".*?<div class="invalid-feedback[^>]*>([^<]*)<', page, re.S)
    assert "甲公司" in field.group(1)
    assert (
        db.session.scalar(select(func.count()).select_from(Company).where(Company.name == "乙公司"))
        == 0
    )
    # Even when the holder has been merged away, the code stays taken.
    existing.merged_into_id = factories.company("丙公司").id
    db.session.flush()
    with pytest.raises(services.CompanyError) as err:
        services.create_company(
            db.session, services.CompanyData(name="丁公司", uscc=VALID), actor_id=None
        )
    assert err.value.field == "uscc"


def test_edit_updates_names_blobs_of_its_projects_and_audits(as_officer, teams):
    company = factories.company("旧名科技有限公司")
    project = factories.project(teams["mine"], company_obj=company, name="某项目")
    page = as_officer.get(f"/companies/{company.id}/edit").get_data(as_text=True)
    assert 'value="旧名科技有限公司"' in page
    response = as_officer.form(
        f"/companies/{company.id}/edit",
        _form(name="新名科技有限公司", hq_city="长沙", tags=["listed"]),
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert company.name == "新名科技有限公司" and company.tags == ["listed"]
    assert "xinming" in db.session.get(Project, project.id).search_blob
    entry = db.session.scalars(
        select(AuditLog).where(AuditLog.entity_id == company.id, AuditLog.action == "update")
    ).one()
    assert entry.changes["name"] == ["旧名科技有限公司", "新名科技有限公司"]
    assert entry.changes["hq_city"] == [None, "长沙"]


def test_leaders_change_nothing(make_client, teams):
    company = factories.company("领导看看有限公司")
    client = make_client()
    login(client, teams["leader"].email)
    assert client.get(f"/companies/{company.id}").status_code == 200
    assert client.form("/companies/new", _form(name="不该有的公司")).status_code == 403
    assert client.form(f"/companies/{company.id}/edit", _form(name="改名")).status_code == 403
    assert client.form(f"/companies/{company.id}/merge/{company.id}").status_code == 403


def test_company_page_shows_scoped_projects_contacts_top500_and_aliases(as_officer, teams):
    company = factories.company("中国建筑集团有限公司", aliases=["中建"], uscc=VALID)
    mine = factories.project(teams["mine"], company_obj=company, name="我队的项目")
    factories.project(teams["other"], company_obj=company, name="别队的机密项目")
    db.session.add_all(
        [
            Contact(company_id=company.id, name="王经理", title="总经理", phone="13800000000"),
            CompanyTop500(company_id=company.id, list_code="fortune_global_500", year=2022, rank=9),
            CompanyTop500(company_id=company.id, list_code="china_top_500", year=2021, rank=3),
        ]
    )
    db.session.flush()
    page = as_officer.get(f"/companies/{company.id}").get_data(as_text=True)
    assert "我队的项目" in page and "别队的机密项目" not in page
    assert re.search(r'data-testid="company-project-count">1<', page)
    assert "王经理" in page and "中建" in page and VALID in page
    tags = re.search(r'data-testid="top500-tags">(.*?)</table>', page, re.S).group(1)
    assert tags.index("2022") < tags.index("2021")
    assert f'href="/projects/{mine.id}"' in page
    other = factories.company("别的公司")
    listing = as_officer.get("/companies?q=zhongjian").get_data(as_text=True)
    assert "中国建筑集团有限公司" in listing and "别的公司" not in listing
    assert other.id
    assert as_officer.get("/companies/999999").status_code == 404


def _merge_world(teams):
    source = factories.company(
        "德赛电池（惠州）有限公司",
        aliases=["惠州德赛"],
        name_en="Desay Huizhou",
        tags=["listed"],
        uscc=VALID,
    )
    target = factories.company("德赛电池股份有限公司", name_en="Desay Battery")
    projects = [
        factories.project(teams["mine"], company_obj=source, amount="10"),
        factories.project(teams["other"], company_obj=source, amount="20"),
    ]
    kept = factories.project(teams["mine"], company_obj=target, amount="30")
    contact = Contact(company_id=source.id, name="李总")
    visit = Visit(
        on=date(2026, 3, 1),
        type="visit",
        company_id=source.id,
        author_id=teams["officer"].id,
        team_id=teams["mine"].id,
    )
    db.session.add_all(
        [
            contact,
            visit,
            CompanyTop500(
                company_id=source.id, list_code="china_private_top_500", year=date.today().year
            ),
            CompanyTop500(company_id=source.id, list_code="fortune_global_500", year=2015),
            CompanyTop500(company_id=target.id, list_code="fortune_global_500", year=2015),
        ]
    )
    db.session.flush()
    return source, target, projects, kept, contact, visit


def test_admin_merges_after_confirming_and_everything_moves(make_client, teams):
    source, target, projects, kept, contact, visit = _merge_world(teams)
    versions = {p.id: p.version for p in projects}
    client = make_client()
    login(client, teams["admin"].email)
    choose = client.get(f"/companies/{source.id}/merge").get_data(as_text=True)
    assert f"/companies/{source.id}/merge/{target.id}" in choose  # proposed as a look-alike
    confirm = client.get(f"/companies/{source.id}/merge/{target.id}").get_data(as_text=True)
    counts = re.search(r'data-testid="merge-counts">(.*?)</ul>', confirm, re.S).group(1)
    assert "<code>project.company_id</code>: 2" in counts
    assert "<code>contact.company_id</code>: 1" in counts
    assert "<code>visit.company_id</code>: 1" in counts
    assert db.session.get(Company, source.id).merged_into_id is None  # GET changes nothing
    response = client.form(f"/companies/{source.id}/merge/{target.id}")
    assert response.status_code == 302 and response.location.endswith(f"/companies/{target.id}")
    db.session.expire_all()
    source, target = db.session.get(Company, source.id), db.session.get(Company, target.id)
    assert source.merged_into_id == target.id
    for p in projects:
        moved = db.session.get(Project, p.id)
        assert moved.company_id == target.id
        assert moved.version == versions[p.id] + 1  # open edit forms must reload
    assert db.session.get(Contact, contact.id).company_id == target.id
    assert db.session.get(Visit, visit.id).company_id == target.id
    assert set(target.aliases) >= {"德赛电池（惠州）有限公司", "惠州德赛", "Desay Huizhou"}
    assert target.uscc == VALID and source.uscc is None
    assert target.tags == ["listed"]
    tags = set(
        db.session.execute(
            select(CompanyTop500.list_code, CompanyTop500.year).where(
                CompanyTop500.company_id == target.id
            )
        ).all()
    )
    assert tags == {("china_private_top_500", date.today().year), ("fortune_global_500", 2015)}
    assert (
        db.session.scalar(
            select(func.count())
            .select_from(CompanyTop500)
            .where(CompanyTop500.company_id == source.id)
        )
        == 0
    )
    # Key flags follow the Top-500 tag the target received.
    assert all(db.session.get(Project, p.id).is_key for p in [*projects, kept])
    # Search finds the moved projects by the old name, now an alias.
    assert "|惠州德赛|" in db.session.get(Project, kept.id).search_blob
    actions = {
        (e.entity_id, e.action)
        for e in db.session.scalars(select(AuditLog).where(AuditLog.entity_type == "company"))
    }
    assert {(target.id, "merge"), (source.id, "merged_into")} <= actions
    merge = db.session.scalars(select(AuditLog).where(AuditLog.action == "merge")).one()
    assert merge.user_id == teams["admin"].id
    assert merge.changes["moved"]["project.company_id"] == 2
    page = client.get(f"/companies/{source.id}").get_data(as_text=True)
    assert 'data-testid="merged-into"' in page and f'/companies/{target.id}"' in page


def test_merge_refusals(teams):
    a, b = factories.company("甲"), factories.company("乙")
    with pytest.raises(services.CompanyError):
        services.merge_companies(db.session, a, a, actor_id=None)
    services.merge_companies(db.session, a, b, actor_id=None)
    with pytest.raises(services.CompanyError):
        services.merge_companies(db.session, a, b, actor_id=None)
    c = factories.company("丙")
    with pytest.raises(services.CompanyError):
        services.merge_companies(db.session, c, a, actor_id=None)


def test_only_admins_merge(make_client, teams):
    source, target = factories.company("甲方"), factories.company("乙方")
    for who in ("officer", "lead", "leader"):
        client = make_client()
        login(client, teams[who].email)
        assert client.form(f"/companies/{source.id}/merge/{target.id}").status_code == 403
        assert client.get(f"/companies/{source.id}/merge").status_code == 403
    db.session.expire_all()
    assert db.session.get(Company, source.id).merged_into_id is None


def _api(client, user):
    token = factories.token(user)
    return {"Authorization": f"Bearer {token}"}


def test_api_list_create_get_patch(client, teams):
    headers = _api(client, teams["officer"])
    existing = factories.company("德赛电池股份有限公司", uscc=VALID)
    created = client.post(
        "/api/v1/companies",
        json={"name": "德赛电池（惠州）有限公司", "aliases": ["惠州德赛"], "tags": ["listed"]},
        headers=headers,
    )
    assert created.status_code == 201
    body = created.get_json()
    assert body["possible_duplicates"] == [
        {"id": existing.id, "name": "德赛电池股份有限公司", "reason": "name"}
    ]
    assert body["aliases"] == ["惠州德赛"] and body["top500"] == []
    taken = client.post("/api/v1/companies", json={"name": "X", "uscc": VALID}, headers=headers)
    assert taken.status_code == 409
    assert taken.get_json()["errors"][0]["field"] == "uscc"
    bad = client.post("/api/v1/companies", json={"name": "Y", "uscc": BAD_CHECK}, headers=headers)
    assert bad.status_code == 422 and bad.get_json()["errors"][0]["field"] == "uscc"
    unknown = client.post("/api/v1/companies", json={"name": "Z", "colour": 1}, headers=headers)
    assert unknown.status_code == 422
    listed = client.get("/api/v1/companies?q=dsdc", headers=headers).get_json()
    assert {c["id"] for c in listed["items"]} == {existing.id, body["id"]}
    assert listed["total"] == 2
    one = client.get(f"/api/v1/companies/{body['id']}", headers=headers).get_json()
    assert one["name"] == "德赛电池（惠州）有限公司"
    patched = client.patch(
        f"/api/v1/companies/{body['id']}", json={"hq_city": "惠州"}, headers=headers
    )
    assert patched.status_code == 200 and patched.get_json()["hq_city"] == "惠州"
    assert patched.get_json()["aliases"] == ["惠州德赛"]  # untouched fields stay
    assert client.get("/api/v1/companies/999999", headers=headers).status_code == 404
    leader = _api(client, teams["leader"])
    assert client.post("/api/v1/companies", json={"name": "L"}, headers=leader).status_code == 403
    assert (
        client.patch(
            f"/api/v1/companies/{existing.id}", json={"hq_city": "x"}, headers=leader
        ).status_code
        == 403
    )


def test_company_pages_query_count_does_not_grow(as_officer, teams):
    company = factories.company("计数科技有限公司")
    factories.project(teams["mine"], company_obj=company, stage=Stage.LEAD)

    def counts():
        with count_queries() as page:
            assert as_officer.get(f"/companies/{company.id}").status_code == 200
        with count_queries() as listing:
            assert as_officer.get("/companies").status_code == 200
        return page.count, listing.count

    small = counts()
    for i in range(30):
        other = factories.company(f"计数{i}科技有限公司")
        factories.project(teams["mine"], company_obj=company)
        factories.project(teams["mine"], company_obj=other)
        db.session.add(Contact(company_id=company.id, name=f"联系人{i}"))
    db.session.flush()
    assert counts() == small
