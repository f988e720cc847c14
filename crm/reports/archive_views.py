"""Weekly report downloads (any past week) and the archive of kept reports."""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

from flask import abort, current_app, render_template
from flask_login import current_user

from crm.extensions import db
from crm.i18n import is_english
from crm.reports import archive as archives
from crm.reports.files import file_response, temporary_path
from crm.reports.scope import REPORT_ROLES
from crm.reports.views import bilingual, bp, requested_scope, requested_week, today
from crm.reports.weekly import write_weekly
from crm.reports.weeks import Week, last_complete_week
from crm.security import roles_required
from crm.web import page_number

PER_PAGE = 50


def weekly_response(week: Week, scope: Any, lang: str) -> Any:
    """Generate the workbook into a temporary file and stream it (memory stays flat)."""
    path = temporary_path()
    try:
        write_weekly(db.session, scope, week, path, lang=lang, as_of=min(today(), week.end))
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    prefix = "weekly-report" if lang == "en" else "招商周报"
    return file_response(path, f"{prefix}-{week.label}-{scope.key}.xlsx", delete=True)


@bp.get("/reports/weekly.xlsx")
@roles_required(*REPORT_ROLES)
def weekly_download() -> Any:
    scope = requested_scope()
    week = requested_week(last_complete_week(today()))
    return weekly_response(week, scope, "en" if is_english() else "zh")


@bp.get("/reports/archive")
@roles_required(*REPORT_ROLES)
def archive() -> Any:
    page = max(1, page_number() or 1)
    lines, total = archives.list_archives(db.session, current_user, page=page, per_page=PER_PAGE)
    return render_template(
        "reports/archive.html",
        lines=lines,
        page=page,
        pages=max(1, -(-total // PER_PAGE)),
        total=total,
        name=bilingual,
    )


@bp.get("/reports/archive/<int:archive_id>")
@roles_required(*REPORT_ROLES)
def archive_download(archive_id: int) -> Any:
    row = archives.get_visible(db.session, current_user, archive_id)
    if row is None:
        abort(404)
    try:
        path = archives.archived_file(row, archives.reports_dir(current_app.config))
    except archives.ArchiveError as exc:
        abort(410, description=str(exc))
    prefix = "weekly-report" if row.language == "en" else "招商周报"
    name = f"{prefix}-{row.week}-{PurePosixPath(row.path).name}"
    return file_response(path, name, etag=row.sha256)
