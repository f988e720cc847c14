"""Company pages: list and search, company page, create and edit with duplicate warnings,
and the administrators' merge of two records of one company."""

from __future__ import annotations

from functools import wraps
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from crm import nav
from crm.enums import Role
from crm.extensions import db
from crm.pipeline import company_queries, listing, panels
from crm.pipeline import company_services as services
from crm.pipeline.blueprint import bp
from crm.pipeline.company_forms import CompanyForm, MergeForm
from crm.pipeline.models import Company
from crm.web import page_number

PER_PAGE = 50

if not any(entry[0] == "pipeline.company_list" for entry in nav.NAV):
    nav.NAV.insert(
        next((i + 1 for i, e in enumerate(nav.NAV) if e[0] == "pipeline.board_page"), 2),
        ("pipeline.company_list", _l("Companies"), None),
    )


def writer_required(view: Any) -> Any:
    """Leaders read everything and change nothing."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not current_user.can_write:
            abort(403)
        return view(*args, **kwargs)

    return wrapped


def admin_required(view: Any) -> Any:
    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if current_user.role != Role.ADMIN:
            abort(403)
        return view(*args, **kwargs)

    return wrapped


def _company_or_404(company_id: int) -> Company:
    company = db.session.get(Company, company_id)
    if company is None or company.deleted_at is not None:
        abort(404)
    return company


@bp.get("/companies")
@login_required
def company_list() -> Any:
    q = (request.args.get("q") or "").strip()[: listing.MAX_QUERY_LENGTH]
    page = page_number() or 1
    page = page if 1 <= page <= 100_000 else 1
    rows, total = company_queries.list_companies(db.session, q, page=page, per_page=PER_PAGE)
    counts = company_queries.visible_project_counts(db.session, current_user, [c.id for c in rows])
    return render_template(
        "pipeline/company_list.html",
        rows=rows,
        total=total,
        counts=counts,
        q=q,
        page=page,
        pages=max(1, -(-total // PER_PAGE)),
    )


@bp.get("/companies/<int:company_id>")
@login_required
def company_detail(company_id: int) -> Any:
    company = _company_or_404(company_id)
    page = company_queries.company_page(
        db.session, current_user, company, today=listing.local_today()
    )
    return render_template(
        "pipeline/company_detail.html",
        page=page,
        company=company,
        panels=panels.render_context(db.session, current_user, company, panels.COMPANY_PANELS),
    )


def _save_form(
    form: CompanyForm, company: Company | None
) -> tuple[Company | None, list[services.Duplicate]]:
    """Validate, warn about look-alikes (once), save; or None to show the form again."""
    data = form.data_for_service()
    duplicates = services.find_duplicates(
        db.session, data, exclude_id=company.id if company else None
    )
    uscc_taken = [d for d in duplicates if d.reason == "uscc"]
    if uscc_taken:
        form.uscc.errors = [
            _("This credit code already belongs to %(name)s.", name=uscc_taken[0].name)
        ]
        return None, duplicates
    if duplicates and not form.confirm_duplicate.data:
        return None, duplicates
    try:
        if company is None:
            company = services.create_company(db.session, data, actor_id=current_user.id)
        else:
            services.update_company(db.session, company, data, actor_id=current_user.id)
    except services.CompanyError as exc:
        db.session.rollback()
        target = getattr(form, exc.field, None) or form.name
        target.errors = [*target.errors, str(exc)]
        return None, duplicates
    db.session.commit()
    return company, []


@bp.route("/companies/new", methods=["GET", "POST"])
@login_required
@writer_required
def company_new() -> Any:
    form = CompanyForm()
    if not form.is_submitted():
        form.name.data = (request.args.get("name") or "")[:300]
    duplicates: list[services.Duplicate] = []
    if form.validate_on_submit():
        company, duplicates = _save_form(form, None)
        if company is not None:
            flash(_("Company “%(name)s” created.", name=company.name), "success")
            return redirect(url_for("pipeline.company_detail", company_id=company.id))
    return render_template(
        "pipeline/company_form.html", form=form, company=None, duplicates=duplicates
    )


@bp.route("/companies/<int:company_id>/edit", methods=["GET", "POST"])
@login_required
@writer_required
def company_edit(company_id: int) -> Any:
    company = _company_or_404(company_id)
    form = CompanyForm(obj=company if request.method == "GET" else None)
    if request.method == "GET":
        form.aliases.data = "\n".join(company.aliases or [])
        form.ownership_type.data = company.ownership_type.value if company.ownership_type else ""
        form.tags.data = list(company.tags or [])
    duplicates: list[services.Duplicate] = []
    if form.validate_on_submit():
        saved, duplicates = _save_form(form, company)
        if saved is not None:
            flash(_("Company saved."), "success")
            return redirect(url_for("pipeline.company_detail", company_id=company.id))
    return render_template(
        "pipeline/company_form.html", form=form, company=company, duplicates=duplicates
    )


@bp.get("/companies/<int:company_id>/merge")
@login_required
@admin_required
def company_merge(company_id: int) -> Any:
    """Choose the company to keep: look-alikes first, or search for another one."""
    company = _company_or_404(company_id)
    if company.merged_into_id is not None:
        flash(_("This company has already been merged into another one."), "warning")
        return redirect(url_for("pipeline.company_detail", company_id=company.id))
    q = (request.args.get("q") or "").strip()[: listing.MAX_QUERY_LENGTH]
    lookalikes = services.find_duplicates(
        db.session,
        services.CompanyData(
            name=company.name, name_en=company.name_en, aliases=list(company.aliases or [])
        ),
        exclude_id=company.id,
    )
    found: list[Company] = []
    if q:
        found, _total = company_queries.list_companies(db.session, q, page=1, per_page=20)
        found = [c for c in found if c.id != company.id]
    return render_template(
        "pipeline/company_merge.html", company=company, lookalikes=lookalikes, found=found, q=q
    )


@bp.route("/companies/<int:company_id>/merge/<int:target_id>", methods=["GET", "POST"])
@login_required
@admin_required
def company_merge_confirm(company_id: int, target_id: int) -> Any:
    """Show what a merge moves; on POST, merge `company_id` into `target_id`."""
    source = _company_or_404(company_id)
    target = _company_or_404(target_id)
    form = MergeForm()
    if form.validate_on_submit():
        try:
            summary = services.merge_companies(db.session, source, target, actor_id=current_user.id)
        except services.CompanyError as exc:
            db.session.rollback()
            flash(str(exc), "danger")
            return redirect(url_for("pipeline.company_detail", company_id=company_id))
        db.session.commit()
        flash(
            _(
                "“%(source)s” merged into “%(target)s”: %(n)d records moved.",
                source=source.name,
                target=target.name,
                n=sum(summary.moved.values()),
            ),
            "success",
        )
        return redirect(url_for("pipeline.company_detail", company_id=target_id))
    if source.id == target.id or source.merged_into_id or target.merged_into_id:
        flash(_("These two companies cannot be merged."), "warning")
        return redirect(url_for("pipeline.company_merge", company_id=company_id))
    counts = services.merge_counts(db.session, source.id)
    projects = services.company_projects_count(db.session, [source.id, target.id])
    return render_template(
        "pipeline/company_merge_confirm.html",
        source=source,
        target=target,
        counts=counts,
        projects=projects,
        form=form,
    )
