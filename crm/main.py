"""The home page: what the signed-in user should look at first."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template
from flask_login import current_user, login_required
from sqlalchemy import select

from crm.enums import ALL_STAGES
from crm.extensions import db
from crm.pipeline import totals
from crm.pipeline.listing import ProjectFilter

bp = Blueprint("main", __name__)


@bp.get("/")
@login_required
def home() -> Any:
    kept = totals.totals_for(db.session, current_user, ProjectFilter()) or {}
    by_stage = totals.by_stage(kept)
    return render_template(
        "main/home.html",
        stages=ALL_STAGES,
        by_stage=by_stage,
        key_count=sum(count for (_stage, key), (count, _a) in kept.items() if key),
        total=sum(c for c, _ in by_stage.values()),
    )


@bp.get("/healthz")
def healthz() -> Any:
    db.session.execute(select(1))
    return {"status": "ok"}
