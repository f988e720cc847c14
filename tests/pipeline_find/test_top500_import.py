"""Top-500 lists: seed load, upload, proposed matches, confirmation, tags and key flags."""

from __future__ import annotations

import io
import re
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from crm.audit import AuditLog
from crm.extensions import db
from crm.pipeline import seed_data
from crm.pipeline import top500_services as services
from crm.pipeline.listing import local_today
from crm.pipeline.models import CompanyTop500, Project
from crm.pipeline.top500_models import Top500List, Top500ListEntry
from crm.reference.seed import SeedError, SeedReport
from tests import factories
from tests.conftest import ROOT, login

THIS_YEAR = local_today().year


def _csv(rows):
    lines = ["rank,name,name_en,aliases", *rows]
    return ("\n".join(lines) + "\n").encode("utf-8")


def _upload(client, data, year, list_code="china_private_top_500", filename="list.csv"):
    return client.post(
        "/admin/top500",
        data={
            "csrf_token": client.csrf_token(),
            "list_code": list_code,
            "year": str(year),
            "file": (io.BytesIO(data), filename),
        },
        content_type="multipart/form-data",
    )


def test_seed_lists_are_stored_idempotently_without_confirming_matches(app):
    stored = {(lst.list_code, lst.year) for lst in db.session.scalars(select(Top500List))}
    assert {
        ("fortune_global_500", 2021),
        ("fortune_global_500", 2022),
        ("china_top_500", 2021),
        ("china_private_top_500", 2021),
    } <= stored
    fortune = db.session.scalar(
        select(Top500List).where(
            Top500List.list_code == "fortune_global_500", Top500List.year == 2022
        )
    )
    names = db.session.scalars(
        select(Top500ListEntry.name).where(Top500ListEntry.list_id == fortune.id)
    ).all()
    assert "比亚迪股份有限公司" in names and fortune.entry_count == len(names)
    before = db.session.scalar(select(func.count()).select_from(CompanyTop500))
    report = SeedReport()
    seed_data.load(db.session, ROOT / "seed", report)
    assert not report.changed  # a second load changes nothing
    assert db.session.scalar(select(func.count()).select_from(CompanyTop500)) == before


def test_seed_load_refuses_a_malformed_file(tmp_path: Path):
    (tmp_path / "top500").mkdir()
    (tmp_path / "top500" / "nobody_500-2022.csv").write_text("name\n甲\n", encoding="utf-8")
    with pytest.raises(SeedError, match="unknown list"):
        seed_data.load(None, tmp_path, SeedReport())  # type: ignore[arg-type]


def test_upload_review_confirm_then_untag(make_client, teams):
    byd = factories.company("比亚迪股份有限公司", name_en="BYD Company Limited")
    alias_match = factories.company("某某重工有限公司", aliases=["三一"])
    unrelated = factories.company("无关科技有限公司")
    small = factories.project(teams["mine"], company_obj=byd, amount="500")
    big = factories.project(teams["mine"], company_obj=unrelated, amount="100000")
    client = make_client()
    login(client, teams["admin"].email)
    data = _csv(
        ["3,比亚迪股份有限公司,BYD,比亚迪|BYD Company", "7,三一集团有限公司,Sany Group,三一|Sany"]
    )
    response = _upload(client, data, THIS_YEAR)
    assert response.status_code == 302
    lst = db.session.scalar(
        select(Top500List).where(
            Top500List.list_code == "china_private_top_500", Top500List.year == THIS_YEAR
        )
    )
    assert response.location.endswith(f"/admin/top500/{lst.id}")
    assert lst.entry_count == 2 and lst.source_name == "list.csv"
    review = client.get(f"/admin/top500/{lst.id}").get_data(as_text=True)
    proposals = re.findall(r'name="match" value="(\d+):(\d+)"', review)
    assert {int(c) for c, _e in proposals} == {byd.id, alias_match.id}
    assert "checked" not in re.search(
        r'data-testid="top500-proposals">(.*)</table>', review, re.S
    ).group(1)
    # Nothing is tagged until confirmed.
    assert (
        db.session.scalar(
            select(func.count())
            .select_from(CompanyTop500)
            .where(CompanyTop500.company_id == byd.id)
        )
        == 0
    )
    byd_pair = next(f"{c}:{e}" for c, e in proposals if int(c) == byd.id)
    shown = [f"{c}:{e}" for c, e in proposals]
    response = client.post(
        f"/admin/top500/{lst.id}",
        data={"csrf_token": client.csrf_token(), "match": [byd_pair], "shown": shown},
    )
    assert response.status_code == 302
    db.session.expire_all()
    tag = db.session.scalars(select(CompanyTop500).where(CompanyTop500.company_id == byd.id)).one()
    assert (tag.list_code, tag.year, tag.rank) == ("china_private_top_500", THIS_YEAR, 3)
    assert tag.confirmed_by_id == teams["admin"].id
    assert (
        db.session.scalar(
            select(func.count())
            .select_from(CompanyTop500)
            .where(CompanyTop500.company_id == alias_match.id)
        )
        == 0
    )
    project = db.session.get(Project, small.id)
    assert project.is_key and project.key_reasons == [f"top500:china_private_top_500:{THIS_YEAR}"]
    assert db.session.get(Project, big.id).key_reasons == []  # unrelated company untouched
    audit = db.session.scalars(
        select(AuditLog).where(AuditLog.entity_type == "project", AuditLog.entity_id == small.id)
    ).one()
    assert audit.action == "key_flags" and audit.changes["is_key"] == [False, True]
    review = client.get(f"/admin/top500/{lst.id}").get_data(as_text=True)
    assert f'value="{byd_pair}" id="match-' in review and "checked" in review
    # Unticking removes the tag and the key flag.
    client.post(f"/admin/top500/{lst.id}", data={"csrf_token": client.csrf_token(), "shown": shown})
    db.session.expire_all()
    assert (
        db.session.scalar(
            select(func.count())
            .select_from(CompanyTop500)
            .where(CompanyTop500.company_id == byd.id)
        )
        == 0
    )
    assert not db.session.get(Project, small.id).is_key


def test_previous_years_list_counts_older_does_not(teams):
    company = factories.company("比亚迪股份有限公司")
    project = factories.project(teams["mine"], company_obj=company, amount="1")
    for year, expected in ((THIS_YEAR - 1, True), (THIS_YEAR - 2, False)):
        db.session.query(CompanyTop500).delete()
        db.session.add(
            CompanyTop500(company_id=company.id, list_code="fortune_global_500", year=year)
        )
        db.session.flush()
        services.refresh_key_flags(db.session, [company.id])
        db.session.refresh(project)
        assert project.is_key is expected, year


def test_key_threshold_edge_and_manual_flags_survive(teams):
    company = factories.company("门槛测试有限公司")
    below = factories.project(teams["mine"], company_obj=company, amount="99999.99")
    at = factories.project(teams["mine"], company_obj=company, amount="100000")
    manual = factories.project(
        teams["mine"],
        company_obj=company,
        amount="1",
        key_manual=True,
        key_manual_reason="市里交办",
    )
    changed = services.refresh_key_flags(db.session, [company.id])
    assert changed == 2
    for p in (below, at, manual):
        db.session.refresh(p)
    assert (below.is_key, at.is_key, manual.is_key) == (False, True, True)
    assert at.key_reasons == ["amount"] and manual.key_reasons == ["manual"]
    assert services.refresh_key_flags(db.session, [company.id]) == 0  # nothing left to do
    assert below.planned_investment == Decimal("99999.99")


def test_xlsx_upload_and_a_second_identical_upload_changes_nothing(make_client, teams):
    factories.company("沃尔玛公司")
    book = Workbook()
    sheet = book.active
    sheet.append(["2023 世界500强"])
    sheet.append(["排名", "企业名称", "英文名称", "别名"])
    sheet.append([1, "沃尔玛公司", "Walmart", "沃尔玛"])
    buffer = io.BytesIO()
    book.save(buffer)
    client = make_client()
    login(client, teams["admin"].email)
    first = _upload(client, buffer.getvalue(), 2023, "fortune_global_500", "fortune.xlsx")
    assert first.status_code == 302
    again = _upload(client, buffer.getvalue(), 2023, "fortune_global_500", "fortune.xlsx")
    assert again.status_code == 302
    assert "already stored" in client.get(again.location).get_data(as_text=True)
    assert (
        db.session.scalar(
            select(func.count()).select_from(Top500List).where(Top500List.year == 2023)
        )
        == 1
    )


def test_bad_uploads_get_a_clear_message(make_client, teams):
    client = make_client()
    login(client, teams["admin"].email)
    response = _upload(client, b"\x00\x01\x02 not a spreadsheet", 2024)
    assert response.status_code == 400
    assert "neither an .xlsx workbook nor a csv" in response.get_data(as_text=True)
    response = _upload(client, _csv([",,,"]), 2024)
    assert response.status_code == 400
    response = _upload(client, _csv(["x,甲公司,,", "2,乙公司,,"]), 2024)
    assert response.status_code == 200  # stored, with the bad row listed
    page = response.get_data(as_text=True)
    assert 'data-testid="row-errors"' in page and "rank is not a positive integer" in page
    assert _upload(client, _csv(["1,甲公司,,"]), 1800).status_code == 400
    officer = make_client()
    login(officer, teams["officer"].email)
    assert _upload(officer, _csv(["1,甲公司,,"]), 2024).status_code == 403
