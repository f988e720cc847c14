"""The home page: what the signed-in user should look at first."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template
from flask_login import current_user, login_required
from sqlalchemy import func, select

from crm.enums import ALL_STAGES
from crm.extensions import db
from crm.pipeline.access import project_scope
from crm.pipeline.models import Project

bp = Blueprint("main", __name__)


@bp.get("/")
@login_required
def home() -> Any:
    rows = db.session.execute(
        select(Project.stage, func.count(), func.coalesce(func.sum(Project.planned_investment), 0))
        .where(project_scope(current_user))
        .group_by(Project.stage)
    ).all()
    by_stage = {stage: (count, amount) for stage, count, amount in rows}
    key_count = db.session.scalar(
        select(func.count()).where(project_scope(current_user), Project.is_key.is_(True))
    )
    return render_template(
        "main/home.html",
        stages=ALL_STAGES,
        by_stage=by_stage,
        key_count=key_count or 0,
        total=sum(c for c, _ in by_stage.values()),
    )


@bp.get("/healthz")
def healthz() -> Any:
    db.session.execute(select(1))
    return {"status": "ok"}
