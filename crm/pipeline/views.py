"""Project pages."""

from __future__ import annotations

from typing import Any

from flask import abort, render_template
from flask_login import current_user, login_required

from crm.enums import MAIN_STAGES
from crm.extensions import db
from crm.pipeline import panels, queries
from crm.pipeline.blueprint import bp


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
