"""Annual targets (page and API) and archived weekly reports (job, list, download)."""

from __future__ import annotations

import hashlib
import io
from datetime import date
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import func, select

from crm.audit import AuditLog
from crm.extensions import db
from crm.reports import archive
from crm.reports.jobs import generate_last_week_report
from crm.reports.models import AnnualTarget, ReportArchive
from tests import factories
from tests.conftest import login
from tests.reports.support import build


@pytest.fixture
def data(app):
    return build()


def test_admin_sets_targets_on_the_page_and_they_show_on_the_dashboard(data, client):
    login(client, data.admin.email)
    page = client.get("/admin/targets?year=2025")
    assert page.status_code == 200
    assert 'name="zone:changsha-etdz:signed_count"' in page.get_data(as_text=True)
    response = client.form(
        "/admin/targets?year=2025",
        {
            "zone:changsha-etdz:signed_count": "10",
            "zone:changsha-etdz:signed_amount": "100,000",
            "zone:changsha-etdz:started_count": "5",
            "team:rpt-b:signed_count": "4",
        },
    )
    assert response.status_code == 302
    rows = db.session.scalars(select(AnnualTarget).where(AnnualTarget.year == 2025)).all()
    assert len(rows) == 2
    etdz = next(r for r in rows if r.zone_id)
    assert (etdz.signed_count, str(etdz.signed_amount), etdz.key_count) == (10, "100000.00", None)
    assert db.session.scalar(
        select(func.count()).select_from(AuditLog).where(AuditLog.entity_type == "annual_target")
    )
    login(client, data.leader.email)
    board = client.get("/dashboard?week=2025-W47").get_data(as_text=True)
    assert 'data-testid="targets-table"' in board
    assert "4 / 10 (40.0%)" in board


def test_target_form_keeps_input_and_says_what_is_wrong(data, client):
    login(client, data.admin.email)
    response = client.form("/admin/targets?year=2025", {"zone:changsha-etdz:signed_count": "ten"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'value="ten"' in page and "is-invalid" in page
    assert db.session.scalar(select(func.count()).select_from(AnnualTarget)) == 0


def test_targets_api(data, client):
    admin = {"Authorization": f"Bearer {factories.token(data.admin)}"}
    lead = {"Authorization": f"Bearer {factories.token(data.lead_a)}"}
    body = {
        "year": 2025,
        "items": [
            {"kind": "zone", "code": "changsha-etdz", "signed_count": 10, "signed_amount": "5000"},
            {"kind": "team", "code": "rpt-a", "started_count": 3},
        ],
    }
    put = client.put("/api/v1/targets", json=body, headers=admin)
    assert put.status_code == 200, put.get_json()
    assert {i["code"] for i in put.get_json()["items"]} == {"changsha-etdz", "rpt-a"}
    got = client.get("/api/v1/targets?year=2025", headers=lead).get_json()
    zone = next(i for i in got["items"] if i["kind"] == "zone")
    assert zone["target"] == {
        "signed_count": 10,
        "signed_amount": "5000.00",
        "key_count": None,
        "started_count": None,
    }
    assert client.put("/api/v1/targets", json=body, headers=lead).status_code == 403
    # Emptying every value removes the zone's targets; others are kept.
    clear = {"year": 2025, "items": [{"kind": "zone", "code": "changsha-etdz"}]}
    assert client.put("/api/v1/targets", json=clear, headers=admin).status_code == 200
    left = client.get("/api/v1/targets?year=2025", headers=admin).get_json()["items"]
    assert [i["code"] for i in left] == ["rpt-a"]
    for wrong, field in (
        ({"kind": "zone", "code": "nowhere", "signed_count": 1}, "items.0.code"),
        ({"kind": "team", "code": "rpt-a", "signed_count": -1}, "items.0.signed_count"),
        ({"kind": "planet", "code": "rpt-a"}, "items.0.kind"),
    ):
        response = client.put(
            "/api/v1/targets", json={"year": 2025, "items": [wrong]}, headers=admin
        )
        assert response.status_code == 422, wrong
        assert any(e["field"].startswith(field) for e in response.get_json()["errors"]), (
            response.get_json()
        )


def test_monday_job_archives_last_weeks_reports_once(data, app, client):
    ids = generate_last_week_report(app, today=date(2025, 11, 24))
    # All teams plus every active team (the two of the data set and the matrix-free rest).
    rows = db.session.scalars(select(ReportArchive).where(ReportArchive.id.in_(ids))).all()
    assert {r.week for r in rows} == {"2025-W47"}
    assert None in {r.team_id for r in rows} and data.team_a.id in {r.team_id for r in rows}
    again = generate_last_week_report(app, today=date(2025, 11, 25))
    assert sorted(again) == sorted(ids)  # kept, not generated twice
    directory = archive.reports_dir(app.config)
    for row in rows:
        stored = directory / row.path
        assert hashlib.sha256(stored.read_bytes()).hexdigest() == row.sha256
        assert stored.stat().st_size == row.size

    all_teams = next(r for r in rows if r.team_id is None)
    team_a = next(r for r in rows if r.team_id == data.team_a.id)
    team_b = next(r for r in rows if r.team_id == data.team_b.id)
    login(client, data.lead_a.email)
    listing = client.get("/reports/archive").get_data(as_text=True)
    assert f"/reports/archive/{team_a.id}" in listing
    assert f"/reports/archive/{all_teams.id}" not in listing
    download = client.get(f"/reports/archive/{team_a.id}")
    assert download.status_code == 200
    assert download.get_data() == (directory / team_a.path).read_bytes()
    assert client.get(f"/reports/archive/{team_b.id}").status_code == 404

    token = factories.token(data.leader)
    headers = {"Authorization": f"Bearer {token}"}
    items = client.get("/api/v1/reports/archive?per_page=200", headers=headers).get_json()
    assert {i["id"] for i in items["items"]} >= set(ids)
    item = next(i for i in items["items"] if i["id"] == all_teams.id)
    body = client.get(item["download_url"], headers=headers).get_data()
    assert hashlib.sha256(body).hexdigest() == all_teams.sha256

    # A file changed on disk is refused, not handed out.
    Path(directory / all_teams.path).write_bytes(b"tampered")
    assert client.get(item["download_url"], headers=headers).status_code == 410


def test_weekly_download_for_a_past_week_only(data, client):
    login(client, data.leader.email)
    response = client.get("/reports/weekly.xlsx?week=2025-W47&team=rpt-a")
    assert response.status_code == 200
    assert response.mimetype.endswith("spreadsheetml.sheet")
    assert "filename*=UTF-8''" in response.headers["Content-Disposition"]
    assert response.get_data()[:2] == b"PK"
    assert client.get("/reports/weekly.xlsx?week=2999-W01").status_code == 400


@pytest.mark.parametrize(("locale", "first_sheet"), [("en", "Summary"), ("zh_CN", "总览")])
def test_the_report_comes_in_the_users_language(data, client, locale, first_sheet):
    data.leader.locale = locale
    db.session.flush()
    login(client, data.leader.email)
    response = client.get("/reports/weekly.xlsx?week=2025-W47")
    book = openpyxl.load_workbook(io.BytesIO(response.get_data()))
    assert book.sheetnames[0] == first_sheet
