"""The search page behind the navbar's search box."""

from __future__ import annotations

from typing import Any

from flask import render_template, request
from flask_login import current_user, login_required

from crm import nav
from crm.extensions import db
from crm.pipeline import search as search_service
from crm.pipeline.blueprint import bp
from crm.pipeline.listing import MAX_QUERY_LENGTH

if "pipeline.search" not in nav.SEARCH_ENDPOINT:
    nav.SEARCH_ENDPOINT.append("pipeline.search")

PAGE_LIMIT = 50


@bp.get("/search")
@login_required
def search() -> Any:
    q = (request.args.get("q") or "").strip()[:MAX_QUERY_LENGTH]
    result = search_service.search(db.session, current_user, q, PAGE_LIMIT) if q else None
    return render_template("pipeline/search.html", q=q, result=result)
