"""Uploads: oversized, empty, corrupt and disguised files, and an upload folder that cannot
be written, are refused with a clear message, and nothing is half-written.

Upload forms are found on the pages (every form with a file input, on every GET page an
admin can open), so ledger imports, attachments and policy files are covered when their
forms land. The request-size limit is checked on every state-changing route now.
"""

from __future__ import annotations

import functools
import io
import os
import zipfile
from pathlib import Path

import pytest

from tests.security import pages
from tests.security.matrix import (
    RULES,
    UNSAFE_METHODS,
    database_fingerprint,
    is_api,
    log_in_as,
    route_keys,
)

REFUSED = (400, 413, 415, 422, 507, 503)
# A valid file under a hostile name may be stored (under a safe name), never outside.
MAY_BE_ACCEPTED = frozenset({"traversal name"})


def _files_under(folder: Path) -> set[str]:
    if not folder.exists():
        return set()
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}


def _upload_forms(app, make_client, ctx) -> list[pages.Form]:
    sessions: dict = {}
    found, seen = [], set()
    for endpoint, method in sorted(route_keys(app)):
        if method != "GET" or is_api(endpoint):
            continue
        client = make_client()
        log_in_as(client, "admin", ctx, sessions)
        url = RULES[endpoint].url(ctx)
        response = client.get(url)
        if response.status_code != 200 or response.mimetype != "text/html":
            continue
        for form in pages.upload_forms("http://localhost" + url, response.get_data(as_text=True)):
            key = (pages.path_of(form.action), tuple(form.files))
            if key not in seen:
                seen.add(key)
                found.append(form)
    return found


def _xlsx_bytes() -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    book.active.append(["项目名称", "投资方", "总投资(万元)"])
    book.active.append(["测试项目", "测试公司", 1000])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


@functools.cache
def _bad_files(limit: int) -> dict[str, tuple[str, bytes, str]]:
    """name -> (filename, content, content type)."""
    zip_bomb = io.BytesIO()
    with zipfile.ZipFile(zip_bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", b"0" * (20 * 1024 * 1024))
    return {
        "empty": ("ledger.xlsx", b"", "application/octet-stream"),
        "corrupt": ("ledger.xlsx", os.urandom(4096), "application/octet-stream"),
        "disguised html": (
            "ledger.xlsx",
            b"<html><script>alert(1)</script></html>",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
        "disguised executable": ("report.pdf", b"MZ\x90\x00" + os.urandom(2048), "application/pdf"),
        "traversal name": ("../../../../tmp/evil.xlsx", _xlsx_bytes(), "application/octet-stream"),
        "zip bomb": ("ledger.xlsx", zip_bomb.getvalue(), "application/octet-stream"),
        "oversized": ("ledger.csv", b"a,b\n" * (limit // 4 + 10), "text/csv"),
    }


def _post(client, form: pages.Form, filename: str, content: bytes, content_type: str):
    data: dict = {k: v for k, v in form.fields.items() if k}
    for name in data:
        if name.endswith("csrf_token"):  # the page was read by another client
            data[name] = client.csrf_token()
    for name in form.files:
        data[name] = (io.BytesIO(content), filename, content_type)
    return client.open(
        pages.path_of(form.action),
        method=form.method if form.method in UNSAFE_METHODS else "POST",
        data=data,
        content_type="multipart/form-data",
    )


def _clearly_refused(response) -> bool:
    assert "CSRF" not in response.get_data(as_text=True), "refused for its CSRF token: fix the test"
    if response.status_code in REFUSED:
        return True
    body = response.get_data(as_text=True)
    return response.status_code == 200 and ("invalid-feedback" in body or "alert-danger" in body)


def test_every_state_changing_route_refuses_an_oversized_request(app, make_client, context):
    limit = 64 * 1024
    original = app.config["MAX_CONTENT_LENGTH"]
    app.config["MAX_CONTENT_LENGTH"] = limit
    try:
        client = make_client()
        log_in_as(client, "admin", context, {})
        token = client.csrf_token()
        problems = []
        for endpoint, method in sorted(route_keys(app)):
            if method not in UNSAFE_METHODS:
                continue
            url = RULES[endpoint].url(context)
            before = database_fingerprint()
            body = {"csrf_token": token, "blob": "x" * (limit + 1)}
            response = client.open(url, method=method, data=body)
            if response.status_code != 413:
                problems.append(f"{method} {url}: {response.status_code}, expected 413")
            if database_fingerprint() != before:
                problems.append(f"{method} {url}: changed data")
    finally:
        app.config["MAX_CONTENT_LENGTH"] = original
    assert not problems, "\n".join(problems)


def test_bad_files_are_refused_and_nothing_is_written(app, make_client, context):
    forms = _upload_forms(app, make_client, context)
    if not forms:
        pytest.skip("no upload form in this build yet (every GET page was searched)")
    upload_dir = Path(app.config["CRM_UPLOAD_DIR"])
    limit = 256 * 1024
    original = app.config["MAX_CONTENT_LENGTH"]
    app.config["MAX_CONTENT_LENGTH"] = limit
    problems = []
    try:
        client = make_client()
        log_in_as(client, "admin", context, {})
        for form in forms:
            for kind, (filename, content, content_type) in _bad_files(limit).items():
                before, files = database_fingerprint(), _files_under(upload_dir)
                response = _post(client, form, filename, content, content_type)
                label = f"{kind} file to {pages.path_of(form.action)}"
                if Path("/tmp/evil.xlsx").exists():
                    problems.append(f"{label}: wrote outside the upload folder")
                if kind in MAY_BE_ACCEPTED:
                    if response.status_code >= 500:
                        problems.append(f"{label}: {response.status_code}")
                    continue
                if not _clearly_refused(response):
                    problems.append(f"{label}: {response.status_code}, not clearly refused")
                if database_fingerprint() != before or _files_under(upload_dir) != files:
                    problems.append(f"{label}: something was written")
    finally:
        app.config["MAX_CONTENT_LENGTH"] = original
    assert not problems, "\n".join(problems)


def test_an_unwritable_upload_folder_gives_a_clear_error(app, make_client, context, tmp_path):
    """The disk full or the folder unwritable: a clear error page, no 500, nothing stored.

    Root ignores permission bits, so the folder is put under a plain file (ENOTDIR) when
    the tests run as root, and made read-only otherwise."""
    forms = _upload_forms(app, make_client, context)
    if not forms:
        pytest.skip("no upload form in this build yet (every GET page was searched)")
    blocker = tmp_path / "not-a-folder"
    if os.geteuid() == 0:
        blocker.write_text("a file where a folder should be")
        unwritable = blocker / "uploads"
    else:
        blocker.mkdir(mode=0o500)
        unwritable = blocker
    original = app.config["CRM_UPLOAD_DIR"]
    app.config["CRM_UPLOAD_DIR"] = str(unwritable)
    problems = []
    try:
        client = make_client()
        log_in_as(client, "admin", context, {})
        for form in forms:
            before = database_fingerprint()
            response = _post(client, form, "ledger.xlsx", _xlsx_bytes(), "application/octet-stream")
            label = f"upload to {pages.path_of(form.action)}"
            body = response.get_data(as_text=True)
            if response.status_code >= 500 and response.status_code not in (503, 507):
                problems.append(f"{label}: {response.status_code}")
            if "Traceback" in body:
                problems.append(f"{label}: a traceback was shown")
            if response.status_code in (200, 201, 302, 303) and not _clearly_refused(response):
                problems.append(f"{label}: {response.status_code}, reported as a success")
            if database_fingerprint() != before:
                problems.append(f"{label}: the database kept a record of a file not stored")
    finally:
        app.config["CRM_UPLOAD_DIR"] = original
        if blocker.is_dir():
            blocker.chmod(0o700)
    assert not problems, "\n".join(problems)


def test_an_upload_cut_off_by_the_size_limit_leaves_no_file_open(app, client, context, monkeypatch):
    """A body sent without Content-Length (chunked) is cut off by the limit while a file is
    being spooled to disk: that file is closed with the request, not left to the collector."""
    from werkzeug.wrappers import request as werkzeug_request

    opened = []

    def recording_factory(*args, **kwargs):
        stream = factory(*args, **kwargs)
        opened.append(stream)
        return stream

    factory = werkzeug_request.default_stream_factory
    monkeypatch.setattr(werkzeug_request, "default_stream_factory", recording_factory)
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 1024 * 1024)
    log_in_as(client, "officer", context, {})
    boundary = "cut-off-upload"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n'
            f"{client.csrf_token()}\r\n--{boundary}\r\n"
            'Content-Disposition: form-data; name="file"; filename="big.pdf"\r\n'
            "Content-Type: application/pdf\r\n\r\n"
        ).encode()
        + b"%PDF-"
        + b"x" * (2 * 1024 * 1024)
    )
    response = client.post(
        f"/attachments?parent=project&parent_id={context['project_id']}",
        input_stream=io.BytesIO(body),
        content_type=f"multipart/form-data; boundary={boundary}",
        environ_overrides={"wsgi.input_terminated": True, "CONTENT_LENGTH": ""},
    )
    assert response.status_code == 413
    assert opened, "the upload was never spooled: the test no longer tests anything"
    assert all(stream.closed for stream in opened)
