"""Administrators import Top-500 lists and confirm which companies are on them."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from sqlalchemy import func, select

from crm import nav
from crm.extensions import db
from crm.pipeline import listing
from crm.pipeline import top500_services as services
from crm.pipeline.blueprint import bp
from crm.pipeline.company_forms import Top500UploadForm
from crm.pipeline.company_views import admin_required
from crm.pipeline.models import CompanyTop500
from crm.pipeline.top500 import NotASpreadsheetError
from crm.pipeline.top500_models import Top500List

MAX_UPLOAD_BYTES = 5 * 1024 * 1024

if not any(entry[0] == "pipeline.top500_lists" for entry in nav.ADMIN_NAV):
    nav.ADMIN_NAV.append(("pipeline.top500_lists", _l("Top-500 lists")))


def _lists_page(form: Top500UploadForm, errors: list[Any] | None = None) -> Any:
    lists = list(
        db.session.scalars(
            select(Top500List).order_by(Top500List.year.desc(), Top500List.list_code)
        )
    )
    confirmed = {
        (code, year): n
        for code, year, n in db.session.execute(
            select(CompanyTop500.list_code, CompanyTop500.year, func.count()).group_by(
                CompanyTop500.list_code, CompanyTop500.year
            )
        )
    }
    return render_template(
        "pipeline/top500_lists.html",
        lists=lists,
        confirmed=confirmed,
        form=form,
        row_errors=errors or [],
    )


@bp.get("/admin/top500")
@login_required
@admin_required
def top500_lists() -> Any:
    return _lists_page(Top500UploadForm())


@bp.post("/admin/top500")
@login_required
@admin_required
def top500_upload() -> Any:
    """Store an uploaded list (replacing that year's entries), then review the matches."""
    form = Top500UploadForm()
    if not form.validate_on_submit():
        return _lists_page(form), 400
    upload = form.file.data
    data = upload.stream.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        form.file.errors = [_("The file is larger than 5 MB.")]
        return _lists_page(form), 400
    try:
        parsed, ranks_ignored = services.parse_list_file(data, upload.filename or None)
    except NotASpreadsheetError as exc:
        form.file.errors = [str(exc)]
        return _lists_page(form), 400
    try:
        lst, changed = services.store_list(
            db.session,
            list_code=form.list_code.data,
            year=form.year.data,
            parsed=parsed,
            source_name=(upload.filename or "")[:255] or None,
            actor_id=current_user.id,
        )
    except services.Top500Error as exc:
        db.session.rollback()
        form.file.errors = [str(exc)]
        return _lists_page(form, parsed.errors), 400
    db.session.commit()
    message = (
        _("%(n)d entries stored.", n=lst.entry_count)
        if changed
        else _("This list was already stored with the same entries.")
    )
    if ranks_ignored:
        message += " " + _("The rank column is empty: entries are stored without ranks.")
    if parsed.errors:
        message += " " + _("%(n)d rows were left out (see below).", n=len(parsed.errors))
    flash(message, "success" if not parsed.errors else "warning")
    if parsed.errors:
        return _lists_page(Top500UploadForm(), parsed.errors)
    return redirect(url_for("pipeline.top500_review", list_id=lst.id))


def _list_or_404(list_id: int) -> Top500List:
    lst = db.session.get(Top500List, list_id)
    if lst is None:
        abort(404)
    return lst


@bp.get("/admin/top500/<int:list_id>")
@login_required
@admin_required
def top500_review(list_id: int) -> Any:
    """The proposed matches of a list, each with a checkbox (ticked when confirmed)."""
    lst = _list_or_404(list_id)
    proposals = services.proposed_matches(db.session, lst)
    return render_template("pipeline/top500_review.html", lst=lst, proposals=proposals)


def _pairs(values: list[str]) -> set[tuple[int, int]]:
    pairs = set()
    for value in values:
        company, _sep, entry = value.partition(":")
        if company.isdigit() and entry.isdigit():
            pairs.add((int(company), int(entry)))
    return pairs


@bp.post("/admin/top500/<int:list_id>")
@login_required
@admin_required
def top500_confirm(list_id: int) -> Any:
    """Tag the ticked companies for this list and year, untag the unticked ones shown."""
    lst = _list_or_404(list_id)
    added, removed, changed = services.confirm_matches(
        db.session,
        lst,
        chosen=_pairs(request.form.getlist("match")),
        shown=_pairs(request.form.getlist("shown")),
        actor_id=current_user.id,
        today=listing.local_today(),
    )
    db.session.commit()
    flash(
        _(
            "%(added)d companies tagged, %(removed)d untagged; "
            "the key flag of %(changed)d projects changed.",
            added=added,
            removed=removed,
            changed=changed,
        ),
        "success",
    )
    return redirect(url_for("pipeline.top500_review", list_id=lst.id))
