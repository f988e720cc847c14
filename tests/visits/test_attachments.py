"""Attachments: type and size checks by content, safe storage, scoped download, soft delete."""

from __future__ import annotations

import errno
import io
from pathlib import Path

import pytest
from flask import current_app
from sqlalchemy import func, select

from crm.audit import AuditLog
from crm.enums import Role
from crm.extensions import db
from crm.visits import attachments
from crm.visits.attachments import UploadError, check_upload, clean_filename
from crm.visits.event_models import Attachment
from tests import factories
from tests.conftest import login
from tests.visits import support
from tests.visits.support import (
    GIF,
    JPEG,
    LINUX_ELF,
    OLE2,
    PDF,
    PNG,
    WEBP,
    WINDOWS_EXE,
    ooxml,
    team_with_people,
)

MB = 1024 * 1024


@pytest.mark.parametrize(
    ("name", "data", "content_type"),
    [
        ("agreement.pdf", PDF, "application/pdf"),
        ("photo.PNG", PNG, "image/png"),
        ("photo.jpg", JPEG, "image/jpeg"),
        ("photo.jpeg", JPEG, "image/jpeg"),
        ("anim.gif", GIF, "image/gif"),
        ("pic.webp", WEBP, "image/webp"),
        (
            "brochure.docx",
            ooxml("word/"),
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ),
        (
            "ledger.xlsx",
            ooxml("xl/"),
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
        (
            "slides.pptx",
            ooxml("ppt/"),
            "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        ),
        ("old.doc", OLE2, "application/msword"),
        ("old.xls", OLE2, "application/vnd.ms-excel"),
        ("old.ppt", OLE2, "application/vnd.ms-powerpoint"),
    ],
)
def test_allowed_types_are_accepted_by_their_content(name, data, content_type):
    cleaned, kind = check_upload(name, data, MB)
    assert cleaned == name
    assert kind.content_type == content_type


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("setup.exe", WINDOWS_EXE, "program"),
        ("agreement.pdf", WINDOWS_EXE, "program"),  # a renamed Windows executable
        ("photo.jpg", LINUX_ELF, "program"),  # a renamed Linux executable
        ("run.sh", b"#!/bin/sh\nrm -rf /\n", "program"),
        ("agreement.pdf", PNG, "does not match its extension .pdf"),
        ("photo.png", PDF, "does not match its extension .png"),
        ("brochure.docx", ooxml("xl/"), "does not match its extension .docx"),  # a workbook
        ("brochure.docx", b"PK\x03\x04garbage", "does not match its extension .docx"),
        ("ledger.xlsx", OLE2, "does not match its extension .xlsx"),
        ("old.doc", ooxml("word/"), "does not match its extension .doc"),
        ("notes.txt", b"hello", "are not accepted"),
        ("page.html", b"<script>alert(1)</script>", "are not accepted"),
        ("noextension", PDF, "are not accepted"),
        ("empty.pdf", b"", "empty"),
    ],
)
def test_refused_files_say_why(name, data, message):
    with pytest.raises(UploadError) as err:
        check_upload(name, data, MB)
    assert message in str(err.value)


def test_size_limit_is_inclusive():
    data = PDF + b"\x00" * (MB - len(PDF))
    assert len(data) == MB
    check_upload("big.pdf", data, MB)
    with pytest.raises(UploadError) as err:
        check_upload("big.pdf", data + b"\x00", MB)
    assert err.value.status == 413
    assert "at most 1 MB" in str(err.value)


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("../../etc/passwd.pdf", "passwd.pdf"),
        ("C:\\Users\\li\\合同.pdf", "合同.pdf"),
        ('a"b;c.pdf', "a_b_c.pdf"),
        ("line\nbreak.pdf", "linebreak.pdf"),
        ("...", "file"),
    ],
)
def test_file_names_are_cleaned(raw, clean):
    assert clean_filename(raw) == clean


@pytest.fixture
def officer_project(app):
    team, officer, lead = team_with_people()
    project = factories.project(team, owner=officer)
    return team, officer, lead, project


def _files(upload_dir: str) -> list[Path]:
    root = Path(upload_dir)
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def _store(user, project, name, data, upload_dir):
    return attachments.store_attachment(
        db.session,
        upload_dir=upload_dir,
        max_bytes=MB,
        user=user,
        parent="project",
        parent_id=project.id,
        filename=name,
        data=data,
    )


def test_a_refused_file_leaves_nothing_behind(officer_project, tmp_path):
    _team, officer, _lead, project = officer_project
    before = db.session.scalar(select(func.count()).select_from(Attachment))
    for name, data in (("x.pdf", WINDOWS_EXE), ("x.png", PDF), ("x.exe", WINDOWS_EXE)):
        with pytest.raises(UploadError):
            _store(officer, project, name, data, str(tmp_path))
    assert _files(str(tmp_path)) == []
    assert db.session.scalar(select(func.count()).select_from(Attachment)) == before


def test_stored_with_a_random_name_outside_the_web_root(officer_project, tmp_path):
    _team, officer, _lead, project = officer_project
    attachment = _store(officer, project, "合同.pdf", PDF, str(tmp_path))
    files = _files(str(tmp_path))
    assert len(files) == 1
    assert files[0].read_bytes() == PDF
    assert "合同" not in str(files[0]) and len(files[0].name) == 40
    assert not any(p.name.endswith(".part") for p in tmp_path.rglob("*"))
    static = Path(current_app.static_folder).resolve()
    assert static not in files[0].resolve().parents
    assert attachment.filename == "合同.pdf" and attachment.size == len(PDF)
    entry = db.session.scalar(
        select(AuditLog).where(
            AuditLog.entity_type == "attachment", AuditLog.entity_id == attachment.id
        )
    )
    assert entry.action == "upload"


def test_unwritable_folder_gives_a_clear_error_and_stores_nothing(
    officer_project, tmp_path, monkeypatch
):
    _team, officer, _lead, project = officer_project

    def denied(folder):
        raise PermissionError(errno.EACCES, "Permission denied", str(folder))

    # The tests may run as root, who can write anywhere: refuse the way a locked folder does.
    monkeypatch.setattr(attachments, "_mkstemp", denied)
    with pytest.raises(UploadError) as err:
        _store(officer, project, "a.pdf", PDF, str(tmp_path))
    # Outside a request, messages are in the product's default language, Chinese.
    assert "无法写入" in str(err.value)  # "not writable"
    assert err.value.status == 503
    assert _files(str(tmp_path)) == []
    assert db.session.scalar(select(func.count()).select_from(Attachment)) == 0


def test_a_full_disk_leaves_no_half_written_file(officer_project, tmp_path, monkeypatch):
    _team, officer, _lead, project = officer_project

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(attachments.os, "fsync", full)
    with pytest.raises(UploadError) as err:
        _store(officer, project, "a.pdf", PDF, str(tmp_path))
    assert "磁盘已满" in str(err.value)  # "disk is full"
    assert err.value.status == 507
    assert _files(str(tmp_path)) == []
    assert db.session.scalar(select(func.count()).select_from(Attachment)) == 0


def _upload(client, project_id, name, data):
    return client.form(
        f"/attachments?parent=project&parent_id={project_id}",
        {"parent": "project", "parent_id": str(project_id), "file": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
        follow_redirects=True,
    )


def test_web_upload_then_download_with_safe_headers(client, officer_project):
    _team, officer, _lead, project = officer_project
    login(client, officer.email)
    page = _upload(client, project.id, "签约协议.pdf", PDF)
    assert "签约协议.pdf" in page.get_data(as_text=True)
    attachment = db.session.scalar(select(Attachment).where(Attachment.project_id == project.id))
    response = client.get(f"/attachments/{attachment.id}")
    assert response.status_code == 200
    assert response.get_data() == PDF
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert "filename*=UTF-8''%E7%AD%BE%E7%BA%A6%E5%8D%8F%E8%AE%AE.pdf" in disposition
    assert response.mimetype == "application/pdf"


def test_web_upload_of_a_renamed_executable_is_refused(client, officer_project):
    _team, officer, _lead, project = officer_project
    login(client, officer.email)
    files_before = _files(current_app.config["CRM_UPLOAD_DIR"])
    response = _upload(client, project.id, "agreement.pdf", WINDOWS_EXE)
    # Refused: the status says so (no redirect that looks like success), the page says why
    # and leads back to the project.
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "program or script" in page
    assert f'href="/projects/{project.id}#panel-visits"' in page
    assert db.session.scalar(select(func.count()).select_from(Attachment)) == 0
    assert _files(current_app.config["CRM_UPLOAD_DIR"]) == files_before


def test_web_upload_over_the_limit_is_refused(client, officer_project, monkeypatch):
    _team, officer, _lead, project = officer_project
    monkeypatch.setitem(current_app.config, "CRM_MAX_UPLOAD_MB", 1)
    login(client, officer.email)
    response = _upload(client, project.id, "big.pdf", PDF + b"\x00" * MB)
    assert response.status_code == 413
    assert "at most 1 MB" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Attachment)) == 0


def test_other_teams_get_404_and_leaders_cannot_upload(make_client, officer_project):
    _team, officer, _lead, project = officer_project
    upload_dir = current_app.config["CRM_UPLOAD_DIR"]
    attachment = _store(officer, project, "a.pdf", PDF, upload_dir)
    other = factories.user(team_obj=factories.team())
    client = make_client()
    login(client, other.email)
    assert client.get(f"/attachments/{attachment.id}").status_code == 404
    assert _upload(client, project.id, "b.pdf", PDF).status_code == 404
    leader = factories.user(Role.LEADER)
    client = make_client()
    login(client, leader.email)
    assert client.get(f"/attachments/{attachment.id}").status_code == 200
    assert _upload(client, project.id, "b.pdf", PDF).status_code == 403


def test_a_shared_project_lets_the_other_team_download(make_client, officer_project):
    _team, officer, _lead, project = officer_project
    attachment = _store(officer, project, "a.pdf", PDF, current_app.config["CRM_UPLOAD_DIR"])
    other_team = factories.team()
    other = factories.user(team_obj=other_team)
    client = make_client()
    login(client, other.email)
    assert client.get(f"/attachments/{attachment.id}").status_code == 404
    factories.share(project, other_team)
    assert client.get(f"/attachments/{attachment.id}").status_code == 200


def test_visit_attachments_follow_the_visit_scope(make_client, app):
    team, officer, _lead = team_with_people()
    result = support.log_visit(officer)
    attachment = attachments.store_attachment(
        db.session,
        upload_dir=current_app.config["CRM_UPLOAD_DIR"],
        max_bytes=MB,
        user=officer,
        parent="visit",
        parent_id=result.visit.id,
        filename="photo.jpg",
        data=JPEG,
    )
    colleague = factories.user(team_obj=team)
    outsider = factories.user(team_obj=factories.team())
    for user, status in ((colleague, 200), (outsider, 404)):
        client = make_client()
        login(client, user.email)
        assert client.get(f"/attachments/{attachment.id}").status_code == status


def test_delete_is_soft_and_recorded(client, officer_project):
    _team, officer, _lead, project = officer_project
    attachment = _store(officer, project, "a.pdf", PDF, current_app.config["CRM_UPLOAD_DIR"])
    login(client, officer.email)
    client.form(f"/attachments/{attachment.id}/delete")
    db.session.expire_all()
    row = db.session.get(Attachment, attachment.id)
    assert row.deleted_at is not None and row.deleted_by_id == officer.id
    assert client.get(f"/attachments/{attachment.id}").status_code == 404
    actions = db.session.scalars(
        select(AuditLog.action)
        .where(AuditLog.entity_type == "attachment", AuditLog.entity_id == attachment.id)
        .order_by(AuditLog.id)
    ).all()
    assert actions == ["upload", "delete"]


def test_api_multipart_upload_download_and_delete(client, officer_project):
    _team, officer, _lead, project = officer_project
    token = factories.token(officer)
    headers = {"Authorization": f"Bearer {token}"}
    response = client.post(
        "/api/v1/attachments",
        data={
            "parent": "project",
            "parent_id": str(project.id),
            "file": (io.BytesIO(PNG), "p.png"),
        },
        content_type="multipart/form-data",
        headers=headers,
    )
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["parent"] == "project" and body["parent_id"] == project.id
    assert body["content_type"] == "image/png" and body["size"] == len(PNG)
    content = client.get(f"/api/v1/attachments/{body['id']}/content", headers=headers)
    assert content.status_code == 200 and content.get_data() == PNG
    listed = client.get(
        f"/api/v1/attachments?parent=project&parent_id={project.id}", headers=headers
    ).get_json()
    assert [a["id"] for a in listed["items"]] == [body["id"]]
    assert client.delete(f"/api/v1/attachments/{body['id']}", headers=headers).status_code == 204
    assert client.get(f"/api/v1/attachments/{body['id']}", headers=headers).status_code == 404


def test_api_refuses_a_renamed_executable_and_other_teams(client, officer_project):
    _team, officer, _lead, project = officer_project
    headers = {"Authorization": f"Bearer {factories.token(officer)}"}
    response = client.post(
        "/api/v1/attachments",
        data={
            "parent": "project",
            "parent_id": str(project.id),
            "file": (io.BytesIO(WINDOWS_EXE), "report.docx"),
        },
        content_type="multipart/form-data",
        headers=headers,
    )
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["errors"][0]["field"] == "file"
    outsider = factories.user(team_obj=factories.team())
    response = client.post(
        "/api/v1/attachments",
        data={
            "parent": "project",
            "parent_id": str(project.id),
            "file": (io.BytesIO(PDF), "a.pdf"),
        },
        content_type="multipart/form-data",
        headers={"Authorization": f"Bearer {factories.token(outsider)}"},
    )
    assert response.status_code == 404
    assert db.session.scalar(select(func.count()).select_from(Attachment)) == 0


def test_the_openapi_document_describes_the_multipart_upload(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    body = doc["paths"]["/api/v1/attachments"]["post"]["requestBody"]
    schema = body["content"]["multipart/form-data"]["schema"]
    assert schema["properties"]["file"] == {"type": "string", "format": "binary"}
    assert {"parent", "parent_id", "file"} <= set(schema["required"])
