"""Importing a ledger through the app: validation report, preview, apply, re-import, undo."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal

import openpyxl
import pytest
from sqlalchemy import func, select

from crm.audit import AuditLog
from crm.enums import Role, Stage
from crm.extensions import db
from crm.pipeline.models import Company, Project, StageChange
from crm.reference.uscc import make_uscc
from crm.reports import import_apply
from crm.reports.import_models import LedgerImport, LedgerImportChange, LedgerMapping
from tests import factories
from tests.conftest import login

GOOD_USCC = make_uscc(87654321)
BAD_USCC = GOOD_USCC[:-1] + ("0" if GOOD_USCC[-1] != "0" else "1")
HEADERS = ["序号", "项目编号", "项目名称", "投资方名称", "统一社会信用代码", "所属产业链",
           "总投资(万元)", "招商阶段", "签约时间", "开工时间", "备注"]  # fmt: skip
GOOD_ROWS = [
    [1, "L-001", "智能装备产业园", "湖南导入测试有限公司", GOOD_USCC, "工程机械", 150000,
     "开工", "2025-03-01", "2025-06-18", "重点"],
    [2, "L-002", "动力电池材料项目", "导入测试新能源股份有限公司", None, "先进储能材料", "3.5亿",
     "签约", "2025年5月20日", None, None],
    [3, None, "检测中心", "导入测试检测有限公司", None, "检验检测", 800, "洽谈", None, None, None],
]  # fmt: skip


def ledger_xlsx(rows: list[list[object]], headers: list[str] = HEADERS) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["2025年招商项目台账"])
    sheet.append(headers)
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


@pytest.fixture
def people(app):
    team = factories.team("imp-a", zone="changsha-etdz")
    return {
        "team": team,
        "officer": factories.user(Role.OFFICER, team, name="导入专员"),
        "admin": factories.user(Role.ADMIN),
        "other": factories.user(Role.OFFICER),
        "leader": factories.user(Role.LEADER),
    }


def upload(client, data: bytes, name: str = "台账.xlsx", **form) -> tuple[int, dict]:
    response = client.post(
        "/imports",
        data={"csrf_token": client.csrf_token(), "file": (io.BytesIO(data), name), **form},
        content_type="multipart/form-data",
    )
    record = db.session.scalar(select(LedgerImport).order_by(LedgerImport.id.desc()))
    return response.status_code, record


def switch(client, email: str) -> None:
    client.form("/logout")
    login(client, email)


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model)) or 0


def test_a_broken_ledger_gets_a_full_report_and_nothing_is_written(people, client):
    login(client, people["officer"].email)
    rows = [
        [1, "X-1", "坏代码项目", "甲公司", BAD_USCC, "工程机械", 5000, "签约", "2025-01-02"],
        [2, "X-2", "坏链项目", "乙公司", None, "火星采矿", 5000, "签约", "2025-01-02"],
        [3, "X-3", "坏金额项目", "丙公司", None, "工程机械", "约五千", "签约", "2025-01-02"],
        [4, "X-4", "亿万混淆项目", "丁公司", None, "工程机械", 0.8, "签约", "2025-01-02"],
        [5, "X-5", "坏日期项目", "戊公司", None, "工程机械", 5000, "签约", "下个月"],
        [6, "X-6", None, "己公司", None, "工程机械", 5000, "签约", "2025-01-02"],
        [7, "X-7", "好项目", "庚公司", None, "工程机械", 5000, "签约", "2025-01-02"],
    ]
    projects_before = count(Project)
    status, record = upload(client, ledger_xlsx(rows))
    assert status == 302 and record.status == "invalid"
    codes = {(i["row"], i["code"]) for i in record.result["issues"]}
    # The file's rows: a title, the header, then data from row 3.
    assert {
        (3, "bad_uscc"),
        (4, "unknown_chain"),
        (5, "not_a_number"),
        (6, "unit_looks_yi"),
        (7, "bad_date"),
        (8, "required"),
    } <= codes
    page = client.get(f"/imports/{record.id}").get_data(as_text=True)
    assert "Import now" not in page and "火星采矿" in page
    assert client.form(f"/imports/{record.id}/apply").status_code == 302
    assert count(Project) == projects_before
    db.session.refresh(record)
    assert record.status == "invalid"

    report = client.get(f"/imports/{record.id}/errors.xlsx")
    assert report.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(report.get_data()))
    ledger_sheet, problems = book.worksheets
    header = [c.value for c in ledger_sheet[2]]
    marked = {
        (cell.row, header[cell.column - 1])
        for row in ledger_sheet.iter_rows(min_row=3)
        for cell in row
        if cell.fill.fgColor.rgb in ("FFFFC7CE", "00FFC7CE")
    }
    # The report repeats the file's rows from its own row 3: here the same numbers.
    assert {(3, "统一社会信用代码"), (4, "所属产业链"), (5, "总投资(万元)"),
            (6, "总投资(万元)"), (7, "签约时间"), (8, "项目名称")} <= marked  # fmt: skip
    listed = [r for r in problems.iter_rows(min_row=3, values_only=True) if r[0]]
    assert len(listed) >= 6 and {r[0] for r in listed} >= {3, 4, 5, 6, 7, 8}


def test_good_ledger_preview_apply_and_stage_history(people, client):
    login(client, people["officer"].email)
    status, record = upload(client, ledger_xlsx(GOOD_ROWS))
    assert status == 302 and record.status == "validated", record.result["issues"]
    assert (record.create_count, record.update_count, record.unchanged_count) == (3, 0, 0)
    preview = record.result["preview"]
    assert [p["action"] for p in preview] == ["create"] * 3
    assert preview[1]["values"]["planned_investment"] == "35000.00"  # 3.5亿 stored in 万元
    assert count(Project) == 0 or not db.session.scalar(
        select(Project).where(Project.name == "智能装备产业园")
    )
    page = client.get(f"/imports/{record.id}").get_data(as_text=True)
    assert "Import now" in page and "智能装备产业园" in page

    assert client.form(f"/imports/{record.id}/apply").status_code == 302
    db.session.refresh(record)
    assert record.status == "applied"
    made = {
        p.name: p
        for p in db.session.scalars(select(Project).where(Project.team_id == people["team"].id))
    }
    park = made["智能装备产业园"]
    assert park.stage == Stage.STARTED and park.signed_on == date(2025, 3, 1)
    assert park.started_on == date(2025, 6, 18) and park.external_id == "L-001"
    assert park.is_key and "amount" in park.key_reasons  # 15亿元 >= 10亿元
    assert park.planned_investment == Decimal("150000.00")
    history = db.session.scalars(
        select(StageChange).where(StageChange.project_id == park.id).order_by(StageChange.on)
    ).all()
    assert [(h.to_stage, h.on) for h in history] == [
        (Stage.SIGNED, date(2025, 3, 1)),
        (Stage.STARTED, date(2025, 6, 18)),
    ]
    company = db.session.get(Company, park.company_id)
    assert company.uscc == GOOD_USCC
    assert made["检测中心"].stage == Stage.NEGOTIATING
    assert made["动力电池材料项目"].stage == Stage.SIGNED


def test_reimporting_the_same_file_changes_nothing(people, client):
    login(client, people["officer"].email)
    data = ledger_xlsx(GOOD_ROWS)
    _, first = upload(client, data)
    client.form(f"/imports/{first.id}/apply")
    snapshot = {
        p.id: (p.version, p.stage, p.planned_investment, p.updated_at)
        for p in db.session.scalars(select(Project))
    }
    counts = (count(Project), count(Company), count(StageChange))
    _, second = upload(client, data)
    assert second.status == "validated"
    assert (second.create_count, second.update_count, second.unchanged_count) == (0, 0, 3)
    assert {p["action"] for p in second.result["preview"]} == {"unchanged"}
    client.form(f"/imports/{second.id}/apply")
    db.session.refresh(second)
    assert second.status == "applied"
    assert (count(Project), count(Company), count(StageChange)) == counts
    assert {
        p.id: (p.version, p.stage, p.planned_investment, p.updated_at)
        for p in db.session.scalars(select(Project))
    } == snapshot
    assert not db.session.scalars(
        select(LedgerImportChange).where(LedgerImportChange.import_id == second.id)
    ).all()


def test_matching_rows_update_existing_projects_and_the_preview_says_so(people, client):
    team = people["team"]
    company = factories.company("湖南导入测试有限公司", uscc=GOOD_USCC)
    by_name = factories.project(
        team, name="智能装备产业园", company_obj=company, stage=Stage.SIGNED, amount="90000",
        signed_on=date(2025, 3, 1),
    )  # fmt: skip
    by_id = factories.project(team, name="旧名称", amount="100", external_id="L-002")
    elsewhere = factories.project(factories.team("imp-other"), name="检测中心")
    login(client, people["officer"].email)
    _, record = upload(client, ledger_xlsx(GOOD_ROWS))
    actions = {p["row"]: (p["action"], p["project_id"]) for p in record.result["preview"]}
    assert actions[3] == ("update", by_name.id)
    assert actions[4] == ("update", by_id.id)
    assert actions[5] == ("create", None)  # another team's project is never touched
    changes = record.result["preview"][0]["changes"]
    assert changes["planned_investment"] == ["90000.00", "150000.00"]
    assert changes["stage"] == ["signed", "started"]
    client.form(f"/imports/{record.id}/apply")
    db.session.refresh(by_name)
    db.session.refresh(by_id)
    assert by_name.stage == Stage.STARTED and by_name.planned_investment == Decimal("150000.00")
    assert by_id.name == "动力电池材料项目" and by_id.planned_investment == Decimal("35000.00")
    assert db.session.get(Project, elsewhere.id).name == "检测中心"
    entry = db.session.scalars(
        select(AuditLog).where(
            AuditLog.entity_type == "project",
            AuditLog.entity_id == by_name.id,
            AuditLog.action == "update",
        )
    ).one()  # the project's own change history shows the import
    assert entry.changes["planned_investment"] == ["90000.00", "150000.00"]
    assert entry.changes["import"] == [None, f"#{record.id}"]
    assert entry.changes["version"][1] == by_name.version
    moved = db.session.scalars(
        select(StageChange).where(StageChange.project_id == by_name.id)
    ).all()
    assert [(m.from_stage, m.to_stage, m.on) for m in moved] == [
        (Stage.SIGNED, Stage.STARTED, date(2025, 6, 18))
    ]


def test_apply_is_all_or_nothing(people, client, monkeypatch):
    login(client, people["officer"].email)
    _, record = upload(client, ledger_xlsx(GOOD_ROWS))
    before = (count(Project), count(Company), count(StageChange))

    def fail(*args, **kwargs):
        raise import_apply.LedgerImportError("boom", "The database went away halfway.")

    monkeypatch.setattr(import_apply, "_history", fail)  # after the rows were inserted
    response = client.form(f"/imports/{record.id}/apply", follow_redirects=True)
    assert "The database went away halfway." in response.get_data(as_text=True)
    assert (count(Project), count(Company), count(StageChange)) == before
    db.session.refresh(record)
    assert record.status == "validated"


def test_admin_undoes_an_import(people, client):
    team = people["team"]
    company = factories.company("湖南导入测试有限公司", uscc=GOOD_USCC)
    existing = factories.project(
        team, name="智能装备产业园", company_obj=company, stage=Stage.SIGNED, amount="90000",
        signed_on=date(2025, 3, 1), notes="原备注",
    )  # fmt: skip
    login(client, people["officer"].email)
    _, record = upload(client, ledger_xlsx(GOOD_ROWS))
    client.form(f"/imports/{record.id}/apply")
    created = [
        e.entity_id
        for e in db.session.scalars(
            select(LedgerImportChange).where(
                LedgerImportChange.import_id == record.id,
                LedgerImportChange.entity == "project",
                LedgerImportChange.action == "created",
            )
        )
    ]
    assert len(created) == 2
    assert client.form(f"/imports/{record.id}/undo").status_code == 403  # officers may not
    switch(client, people["admin"].email)
    assert client.form(f"/imports/{record.id}/undo").status_code == 302
    db.session.refresh(record)
    assert record.status == "undone"
    db.session.refresh(existing)
    assert existing.stage == Stage.SIGNED and existing.planned_investment == Decimal("90000.00")
    assert existing.notes == "原备注" and existing.started_on is None
    assert not db.session.scalars(
        select(StageChange).where(StageChange.project_id == existing.id)
    ).all()
    for pid in created:
        assert db.session.get(Project, pid).deleted_at is not None
    # Imported again after the undo: the projects come back.
    switch(client, people["officer"].email)
    _, again = upload(client, ledger_xlsx(GOOD_ROWS))
    assert (again.create_count, again.update_count) == (2, 1)


def test_undo_is_refused_when_a_project_changed_since(people, client):
    login(client, people["officer"].email)
    _, record = upload(client, ledger_xlsx(GOOD_ROWS))
    client.form(f"/imports/{record.id}/apply")
    project = db.session.scalar(select(Project).where(Project.name == "检测中心"))
    project.notes = "导入后有人改过"
    db.session.flush()
    switch(client, people["admin"].email)
    page = client.form(f"/imports/{record.id}/undo", follow_redirects=True)
    assert "have changed since the import" in page.get_data(as_text=True)
    db.session.refresh(record)
    assert record.status == "applied"


@pytest.mark.parametrize(
    ("data", "name", "code_text"),
    [
        (b"%PDF-1.7 not a ledger", "台账.pdf", "not"),
        (
            bytes.fromhex("D0CF11E0A1B11AE1") + bytes(504) + "EncryptedPackage".encode("utf-16-le"),
            "台账.xlsx",
            "password",
        ),
    ],
)
def test_files_that_are_not_usable_ledgers_are_refused(people, client, data, name, code_text):
    login(client, people["officer"].email)
    before = count(LedgerImport)
    status, _ = upload(client, data, name)
    assert status == 422
    assert count(LedgerImport) == before


def test_size_and_row_limits(people, client, app, monkeypatch):
    login(client, people["officer"].email)
    monkeypatch.setitem(app.config, "CRM_IMPORT_MAX_ROWS", 2)
    response = client.post(
        "/imports",
        data={
            "csrf_token": client.csrf_token(),
            "file": (io.BytesIO(ledger_xlsx(GOOD_ROWS)), "a.xlsx"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 422 and "rows" in response.get_data(as_text=True)
    monkeypatch.setitem(app.config, "CRM_IMPORT_MAX_ROWS", 20000)
    monkeypatch.setitem(app.config, "CRM_IMPORT_MAX_MB", 0.001)
    big = ledger_xlsx(GOOD_ROWS * 20)
    response = client.post(
        "/imports",
        data={"csrf_token": client.csrf_token(), "file": (io.BytesIO(big), "big.xlsx")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422 and "limit" in response.get_data(as_text=True)


def test_a_corrected_mapping_is_remembered_for_the_same_header(people, client):
    headers = ["名称", "投资人", "金额"]  # not recognised by themselves
    rows = [["自定义列项目", "自定义列有限公司", 1200]]
    data = ledger_xlsx(rows, headers)
    login(client, people["officer"].email)
    _, record = upload(client, data)
    assert record.status == "invalid"  # no project or company column recognised
    response = client.form(
        f"/imports/{record.id}/mapping",
        {"col0": "project_name", "col1": "company_name", "col2": "planned_investment"},
    )
    assert response.status_code == 302
    db.session.refresh(record)
    assert record.status == "validated" and record.create_count == 1
    assert db.session.get(LedgerMapping, record.header_signature) is not None
    _, second = upload(client, data)
    assert second.status == "validated"
    assert second.mapping == {"0": "project_name", "1": "company_name", "2": "planned_investment"}


def test_imports_api(people, client):
    token = factories.token(people["officer"])
    headers = {"Authorization": f"Bearer {token}"}
    response = client.post(
        "/api/v1/imports",
        data={"file": (io.BytesIO(ledger_xlsx(GOOD_ROWS)), "台账.xlsx")},
        content_type="multipart/form-data",
        headers=headers,
    )
    assert response.status_code == 201, response.get_json()
    report = response.get_json()
    assert report["status"] == "validated" and report["create_count"] == 3
    assert [r["action"] for r in report["rows"]] == ["create"] * 3
    applied = client.post(f"/api/v1/imports/{report['id']}/apply", headers=headers)
    assert applied.status_code == 200 and applied.get_json()["status"] == "applied"
    again = client.post(f"/api/v1/imports/{report['id']}/apply", headers=headers)
    assert again.status_code == 409
    refused = client.post(
        "/api/v1/imports",
        data={"file": (io.BytesIO(b"hello"), "x.bin")},
        content_type="multipart/form-data",
        headers=headers,
    )
    assert refused.status_code == 422
    assert refused.get_json()["errors"][0]["message"].startswith("not_spreadsheet")
    broken = client.post(
        "/api/v1/imports",
        data={"file": (io.BytesIO(ledger_xlsx([[1, "Y", None, "公司"]])), "b.xlsx")},
        content_type="multipart/form-data",
        headers=headers,
    )
    body = broken.get_json()
    assert broken.status_code == 201 and body["status"] == "invalid"
    assert body["issues"][0]["code"] == "required"
    other = {"Authorization": f"Bearer {factories.token(people['other'])}"}
    assert client.get(f"/api/v1/imports/{report['id']}", headers=other).status_code == 404
