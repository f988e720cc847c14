"""The project list."""

from __future__ import annotations

from typing import Any

from flask import render_template, request
from flask_login import current_user, login_required

from crm.extensions import db
from crm.pipeline import queries
from crm.pipeline.blueprint import bp

PER_PAGE = 50


@bp.get("/projects")
@login_required
def project_list() -> Any:
    # Bounded like the API's `page`: a huge number must not overflow the OFFSET.
    page = min(max(1, request.args.get("page", 1, type=int) or 1), 1_000_000)
    rows, total, amount = queries.list_projects(
        db.session, current_user, page=page, per_page=PER_PAGE
    )
    pages = max(1, -(-total // PER_PAGE))
    return render_template(
        "pipeline/list.html", rows=rows, total=total, amount=amount, page=page, pages=pages
    )
