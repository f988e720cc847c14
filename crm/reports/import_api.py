"""Ledger import endpoints: upload (returns the validation report), apply, undo, read."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from flask import current_app, request, url_for
from pydantic import Field

from crm.api.framework import ApiError, Schema, api_user, route
from crm.enums import Role
from crm.extensions import db
from crm.reports import import_apply, imports, ledger
from crm.reports.import_models import LedgerImport
from crm.reports.imports import IMPORT_ROLES, LedgerImportError
from crm.reports.weeks import local_today


class IssueOut(Schema):
    row: int
    column: str
    value: Any
    message: str
    code: str
    severity: str
    field: str | None


class RowActionOut(Schema):
    row: int
    action: str
    project_id: int | None


class ImportOut(Schema):
    id: int
    filename: str
    status: str
    team_id: int
    rows_total: int
    error_count: int
    warning_count: int
    create_count: int
    update_count: int
    unchanged_count: int
    mapping: dict[str, str | None]
    headers: list[str]
    issues: list[IssueOut]
    issues_total: int
    preview: list[dict[str, Any]]
    rows: list[RowActionOut]
    error_report_url: str
    created_at: datetime
    applied_at: datetime | None
    undone_at: datetime | None


def import_out(record: LedgerImport) -> ImportOut:
    result = record.result or {}
    return ImportOut(
        id=record.id,
        filename=record.filename,
        status=record.status,
        team_id=record.team_id,
        rows_total=record.rows_total,
        error_count=record.error_count,
        warning_count=record.warning_count,
        create_count=record.create_count,
        update_count=record.update_count,
        unchanged_count=record.unchanged_count,
        mapping=record.mapping,
        headers=record.headers,
        issues=[IssueOut(**i) for i in result.get("issues", [])],
        issues_total=result.get("issues_total", 0),
        preview=result.get("preview", []),
        rows=[RowActionOut(row=r, action=a, project_id=p) for r, a, p in result.get("actions", [])],
        error_report_url=url_for("reports.import_errors", import_id=record.id),
        created_at=record.created_at,
        applied_at=record.applied_at,
        undone_at=record.undone_at,
    )


class ImportForm(Schema):
    """The text parts of an upload (the ledger itself is the file part 'file')."""

    team: str | None = Field(None, description="team code (callers who may import for others)")
    mapping: str | None = Field(
        None, description='JSON object {column index: field}, e.g. {"0": "project_name"}'
    )


def _dir() -> Path:
    return Path(current_app.config["CRM_UPLOAD_DIR"])


def _get(import_id: int) -> LedgerImport:
    record = imports.get_visible(db.session, api_user(), import_id)
    if record is None:
        raise ApiError(404, "No such import.")
    return record


def _fail(exc: LedgerImportError | ledger.LedgerFileError) -> ApiError:
    db.session.rollback()
    status = getattr(exc, "status", 422)
    return ApiError(status, str(exc), [("file", f"{exc.code}: {exc}")] if status == 422 else None)


@route(
    "/imports",
    "POST",
    summary="Upload a ledger (multipart field 'file'; optional 'team', 'mapping' as JSON "
    "{column index: field}); returns the validation report and preview, writes no project",
    response=ImportOut,
    status=201,
    roles=IMPORT_ROLES,
    tags=["imports"],
    form=ImportForm,
    files=("file",),
    extra_responses=(415,),
)
def create_import(form: ImportForm) -> ImportOut:
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise ApiError(422, "Send the ledger as the multipart field 'file'.", [("file", "missing")])
    mapping = None
    if form.mapping:
        try:
            raw = json.loads(form.mapping)
            mapping = {int(k): (str(v) if v else None) for k, v in raw.items()}
        except (ValueError, AttributeError) as exc:
            raise ApiError(422, "mapping must be a JSON object.", [("mapping", str(exc))]) from exc
    limits = imports.limits_from(current_app.config)
    try:
        data = upload.read(limits.max_bytes + 1)
    finally:
        upload.close()  # a large upload is spooled to a temporary file
    try:
        result = imports.upload(
            db.session,
            api_user(),
            upload.filename,
            data,
            upload_dir=_dir(),
            limits=limits,
            team_code=form.team or None,
            mapping=mapping,
        )
    except LedgerImportError as exc:
        raise _fail(exc) from exc
    db.session.commit()
    return import_out(result.record)


@route(
    "/imports/<int:import_id>",
    summary="An import with its validation report and result",
    response=ImportOut,
    roles=IMPORT_ROLES,
    tags=["imports"],
)
def get_import(import_id: int) -> ImportOut:
    return import_out(_get(import_id))


@route(
    "/imports/<int:import_id>/apply",
    "POST",
    summary="Apply a validated import: every row or none, in one transaction",
    response=ImportOut,
    roles=IMPORT_ROLES,
    tags=["imports"],
    extra_responses=(409,),
)
def apply_import(import_id: int) -> ImportOut:
    record = _get(import_id)
    try:
        import_apply.apply(
            db.session,
            api_user(),
            record,
            upload_dir=_dir(),
            limits=imports.limits_from(current_app.config),
            today=local_today(current_app.config["BABEL_DEFAULT_TIMEZONE"]),
        )
    except (LedgerImportError, ledger.LedgerFileError) as exc:
        raise _fail(exc) from exc
    db.session.commit()
    return import_out(record)


@route(
    "/imports/<int:import_id>/undo",
    "POST",
    summary="Undo an applied import (admin): restore updated values, remove created rows",
    response=ImportOut,
    roles=(Role.ADMIN,),
    tags=["imports"],
    extra_responses=(409,),
)
def undo_import(import_id: int) -> ImportOut:
    record = _get(import_id)
    try:
        import_apply.undo(db.session, api_user(), record)
    except LedgerImportError as exc:
        raise _fail(exc) from exc
    db.session.commit()
    return import_out(record)
