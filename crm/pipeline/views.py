"""Project pages."""

from __future__ import annotations

from typing import Any

from flask import abort, render_template, request
from flask_login import current_user, login_required

from crm.enums import MAIN_STAGES
from crm.extensions import db
from crm.pipeline import panels, queries
from crm.pipeline.blueprint import bp

PER_PAGE = 50


@bp.get("/projects")
@login_required
def project_list() -> Any:
    page = max(1, request.args.get("page", 1, type=int) or 1)
    rows, total, amount = queries.list_projects(
        db.session, current_user, page=page, per_page=PER_PAGE
    )
    pages = max(1, -(-total // PER_PAGE))
    return render_template(
        "pipeline/list.html", rows=rows, total=total, amount=amount, page=page, pages=pages
    )


@bp.get("/projects/<int:project_id>")
@login_required
def project_detail(project_id: int) -> Any:
    row = queries.project_row(db.session, current_user, project_id)
    if row is None:
        abort(404)
    return render_template(
        "pipeline/detail.html",
        row=row,
        main_stages=MAIN_STAGES,
        panels=panels.render_context(db.session, current_user, row.project),
    )
