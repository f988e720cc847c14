"""Ledger import pages: upload, map columns, read the validation report, apply, undo."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import func, select

from crm import nav
from crm.accounts.forms import ConfirmForm
from crm.accounts.models import Team, User
from crm.enums import Role
from crm.extensions import db
from crm.i18n import is_english
from crm.reports import import_apply, imports, ledger
from crm.reports.files import file_response, temporary_path
from crm.reports.import_models import LedgerImport
from crm.reports.imports import IMPORT_ROLES, LedgerImportError
from crm.reports.views import bp, today
from crm.security import roles_required
from crm.web import page_number

nav.NAV.append(("reports.import_list", _l("Ledger import"), tuple(r.value for r in IMPORT_ROLES)))

PER_PAGE = 30

# Short explanations of the validation codes, in the user's language.
ISSUE_TEXT = {
    "bad_mapping": _l("This column's mapping is not usable"),
    "required_column": _l("No column is mapped to a required field"),
    "required": _l("A required value is missing"),
    "bad_uscc": _l("The unified social credit code is wrong (check character)"),
    "unknown_chain": _l("Unknown industrial chain"),
    "not_a_number": _l("Not a number"),
    "unit_looks_yi": _l("Looks like 亿元 in a 万元 column (10,000 times too small)"),
    "unit_looks_yuan": _l("Looks like yuan, not 万元 (10,000 times too large)"),
    "column_looks_yi": _l("The whole column looks like 亿元 under a 万元 heading"),
    "bad_date": _l("Date in an unknown format or impossible"),
    "bad_bool": _l("Not a yes/no value"),
    "bad_stage": _l("Unknown stage"),
    "too_long": _l("Text too long"),
    "date_order": _l("Stage dates out of order (signed ≤ landed ≤ started ≤ operating)"),
    "stage_date_mismatch": _l("A date is given for a stage the row has not reached"),
    "duplicate": _l("The same project appears twice in the file"),
    "total_row": _l("Total row skipped"),
}


def issue_text(code: str, message: str) -> str:
    """English: the validator's full message; Chinese: the translated explanation."""
    if is_english() or code not in ISSUE_TEXT:
        return message
    return str(ISSUE_TEXT[code])


def upload_dir() -> Path:
    return Path(current_app.config["CRM_UPLOAD_DIR"])


def limits() -> imports.Limits:
    return imports.limits_from(current_app.config)


def get_import(import_id: int) -> LedgerImport:
    record = imports.get_visible(db.session, current_user, import_id)
    if record is None:
        abort(404)
    return record


def _teams() -> list[tuple[str, str]]:
    if current_user.role != Role.ADMIN:
        return []
    rows = db.session.execute(
        select(Team.code, Team.name_zh, Team.name_en)
        .where(Team.active.is_(True))
        .order_by(Team.code)
    ).all()
    return [(code, (en or zh) if is_english() else zh) for code, zh, en in rows]


def _list_page(error: str | None = None, status: int = 200) -> Any:
    page = max(1, page_number() or 1)
    where = imports.visible_imports_clause(current_user)
    total = db.session.scalar(select(func.count()).select_from(LedgerImport).where(where)) or 0
    rows = db.session.execute(
        select(LedgerImport, Team.code, func.coalesce(func.nullif(User.name, ""), User.email))
        .join(Team, Team.id == LedgerImport.team_id)
        .join(User, User.id == LedgerImport.user_id)
        .where(where)
        .order_by(LedgerImport.id.desc())
        .limit(PER_PAGE)
        .offset((page - 1) * PER_PAGE)
    ).all()
    return render_template(
        "reports/imports.html",
        rows=rows,
        page=page,
        pages=max(1, -(-total // PER_PAGE)),
        teams=_teams(),
        error=error,
        form=ConfirmForm(),
        max_mb=limits().max_bytes // (1024 * 1024),
        max_rows=limits().max_rows,
    ), status


@bp.get("/imports")
@roles_required(*IMPORT_ROLES)
def import_list() -> Any:
    return _list_page()


@bp.post("/imports")
@roles_required(*IMPORT_ROLES)
def import_upload() -> Any:
    form = ConfirmForm()
    if not form.validate_on_submit():
        abort(400)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _list_page(_("Choose a file to upload."), 422)
    data = upload.read(limits().max_bytes + 1)
    try:
        result = imports.upload(
            db.session,
            current_user,
            upload.filename,
            data,
            upload_dir=upload_dir(),
            limits=limits(),
            team_code=request.form.get("team") or None,
        )
    except LedgerImportError as exc:
        db.session.rollback()
        if exc.status == 403:
            abort(403)
        return _list_page(str(exc), exc.status)
    db.session.commit()
    return redirect(url_for("reports.import_detail", import_id=result.record.id))


@bp.get("/imports/<int:import_id>")
@roles_required(*IMPORT_ROLES)
def import_detail(import_id: int) -> Any:
    record = get_import(import_id)
    team = db.session.get(Team, record.team_id)
    fields = [(f.key, f.label_en if is_english() else f.label) for f in ledger.FIELDS]
    return render_template(
        "reports/import_detail.html",
        record=record,
        team=team,
        fields=fields,
        mapping={int(k): v for k, v in record.mapping.items()},
        form=ConfirmForm(),
        issue_text=issue_text,
    )


@bp.post("/imports/<int:import_id>/mapping")
@roles_required(*IMPORT_ROLES)
def import_remap(import_id: int) -> Any:
    ConfirmForm().validate_on_submit()
    record = get_import(import_id)
    known = {f.key for f in ledger.FIELDS}
    mapping = {}
    for index in range(len(record.headers)):
        value = request.form.get(f"col{index}") or None
        mapping[index] = value if value in known else None
    try:
        imports.remap(
            db.session, current_user, record, mapping, upload_dir=upload_dir(), limits=limits()
        )
    except (LedgerImportError, ledger.LedgerFileError) as exc:
        db.session.rollback()
        flash(str(exc), "danger")
        return redirect(url_for("reports.import_detail", import_id=import_id))
    db.session.commit()
    flash(_("Validated again with your column mapping (remembered for this layout)."), "info")
    return redirect(url_for("reports.import_detail", import_id=import_id))


@bp.post("/imports/<int:import_id>/apply")
@roles_required(*IMPORT_ROLES)
def import_apply_view(import_id: int) -> Any:
    ConfirmForm().validate_on_submit()
    record = get_import(import_id)
    try:
        import_apply.apply(
            db.session,
            current_user,
            record,
            upload_dir=upload_dir(),
            limits=limits(),
            today=today(),
        )
    except (LedgerImportError, ledger.LedgerFileError) as exc:
        db.session.rollback()
        flash(str(exc), "danger")
        return redirect(url_for("reports.import_detail", import_id=import_id))
    db.session.commit()
    flash(
        _(
            "Imported: %(created)d created, %(updated)d updated, %(unchanged)d unchanged.",
            created=record.create_count,
            updated=record.update_count,
            unchanged=record.unchanged_count,
        ),
        "success",
    )
    return redirect(url_for("reports.import_detail", import_id=import_id))


@bp.post("/imports/<int:import_id>/undo")
@roles_required(Role.ADMIN)
def import_undo(import_id: int) -> Any:
    ConfirmForm().validate_on_submit()
    record = get_import(import_id)
    try:
        import_apply.undo(db.session, current_user, record)
    except LedgerImportError as exc:
        db.session.rollback()
        flash(str(exc), "danger")
        return redirect(url_for("reports.import_detail", import_id=import_id))
    db.session.commit()
    flash(_("The import was undone."), "success")
    return redirect(url_for("reports.import_detail", import_id=import_id))


@bp.get("/imports/<int:import_id>/errors.xlsx")
@roles_required(*IMPORT_ROLES)
def import_errors(import_id: int) -> Any:
    record = get_import(import_id)
    return error_report_response(record)


def error_report_response(record: LedgerImport) -> Any:
    """The validation report as xlsx: the ledger with bad cells marked, then the problems."""
    table = imports.read(record, upload_dir(), limits())
    mapping = {int(k): v for k, v in record.mapping.items()}
    report = ledger.validate_rows(
        table, mapping, imports.known_chains(db.session), imports.uscc_error
    )
    path = temporary_path()
    try:
        with path.open("wb") as handle:
            ledger.error_report_xlsx(
                table,
                report,
                handle,
                lang="en" if is_english() else "zh",
                message=lambda issue: issue_text(issue.code, issue.message),
            )
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    stem = Path(record.filename).stem
    suffix = "errors" if is_english() else "校验结果"
    return file_response(path, f"{stem}-{suffix}.xlsx", delete=True)


@bp.get("/imports/<int:import_id>/file")
@roles_required(*IMPORT_ROLES)
def import_file(import_id: int) -> Any:
    record = get_import(import_id)
    return file_response(
        upload_dir() / record.path, record.filename, mimetype="application/octet-stream"
    )
