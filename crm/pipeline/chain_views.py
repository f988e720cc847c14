"""Administrators' pages for the current chain set: the list with each chain's confirmed
flag, source note and projects; add; rename; retire and restore; merge (after a
confirmation page). The rules are in crm.pipeline.chain_admin."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from crm import nav
from crm.accounts.forms import ConfirmForm
from crm.extensions import db
from crm.pipeline import chain_admin as services
from crm.pipeline.blueprint import bp
from crm.pipeline.chain_forms import ChainForm, ChainMergeForm
from crm.pipeline.company_views import admin_required
from crm.reference.models import ChainSet, IndustrialChain

if not any(entry[0] == "pipeline.chain_list" for entry in nav.ADMIN_NAV):
    nav.ADMIN_NAV.append(("pipeline.chain_list", _l("Industrial chains")))


def _set_or_404() -> ChainSet:
    chain_set = services.current_set(db.session)
    if chain_set is None:
        abort(404)
    return chain_set


def _chain_or_404(code: str) -> IndustrialChain:
    chain = services.get_chain(db.session, code)
    if chain is None:
        abort(404)
    return chain


def _show_error(form: Any, exc: services.ChainError) -> None:
    db.session.rollback()
    target = getattr(form, exc.field, None)
    if target is None:
        form.form_errors.append(str(exc))
    else:
        target.errors = [*target.errors, str(exc)]


@bp.get("/admin/chains")
@login_required
@admin_required
def chain_list() -> Any:
    chain_set = services.current_set(db.session)
    rows = services.chain_rows(db.session, chain_set) if chain_set else []
    return render_template(
        "pipeline/chains.html",
        chain_set=chain_set,
        rows=rows,
        changes=services.recent_changes(db.session),
        confirm_form=ConfirmForm(),
    )


@bp.route("/admin/chains/new", methods=["GET", "POST"])
@login_required
@admin_required
def chain_new() -> Any:
    chain_set = _set_or_404()
    form = ChainForm()
    if form.validate_on_submit():
        try:
            chain = services.add_chain(
                db.session, chain_set, form.values(), actor_id=current_user.id
            )
        except services.ChainError as exc:
            _show_error(form, exc)
        else:
            db.session.commit()
            flash(_("Chain “%(name)s” added.", name=chain.name_zh), "success")
            return redirect(url_for("pipeline.chain_list"))
    status = 422 if form.is_submitted() else 200
    return render_template("pipeline/chain_form.html", form=form, chain=None), status


@bp.route("/admin/chains/<code>/edit", methods=["GET", "POST"])
@login_required
@admin_required
def chain_edit(code: str) -> Any:
    chain = _chain_or_404(code)
    form = ChainForm(obj=chain if request.method == "GET" else None)
    del form.code
    if form.validate_on_submit():
        try:
            services.update_chain(db.session, chain, form.values(), actor_id=current_user.id)
        except services.ChainError as exc:
            _show_error(form, exc)
        else:
            db.session.commit()
            flash(_("Chain saved."), "success")
            return redirect(url_for("pipeline.chain_list"))
    status = 422 if form.is_submitted() else 200
    return render_template("pipeline/chain_form.html", form=form, chain=chain), status


def _set_retired(code: str, retired: bool) -> Any:
    chain = _chain_or_404(code)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    services.update_chain(db.session, chain, {"retired": retired}, actor_id=current_user.id)
    db.session.commit()
    if retired:
        message = _(
            "“%(name)s” retired: projects keep it; pickers no longer offer it.", name=chain.name_zh
        )
        flash(message, "info")
    else:
        flash(_("“%(name)s” restored.", name=chain.name_zh), "success")
    return redirect(url_for("pipeline.chain_list"))


@bp.post("/admin/chains/<code>/retire")
@login_required
@admin_required
def chain_retire(code: str) -> Any:
    return _set_retired(code, True)


@bp.post("/admin/chains/<code>/restore")
@login_required
@admin_required
def chain_restore(code: str) -> Any:
    return _set_retired(code, False)


def _merge_page(source: IndustrialChain, into: str, error: str | None, status: int) -> Any:
    """The choice of the chain to keep, or (for a valid choice) the confirmation page."""
    chain_set = db.session.get(ChainSet, source.set_id)
    candidates = [
        row
        for row in services.chain_rows(db.session, chain_set)
        if row.chain.id != source.id and not row.chain.retired
    ]
    target = next((r.chain for r in candidates if r.chain.code == into), None)
    if into and target is None and error is None:
        error = _("Choose one of the chains listed.")
        status = 422
    counts = services.project_counts(
        db.session, [source.id] + ([target.id] if target else []), include_deleted=True
    )
    return (
        render_template(
            "pipeline/chain_merge.html",
            source=source,
            target=target if error is None else None,
            candidates=candidates,
            into=into,
            error=error,
            counts=counts,
            form=ChainMergeForm(into=into),
        ),
        status,
    )


@bp.route("/admin/chains/<code>/merge", methods=["GET", "POST"])
@login_required
@admin_required
def chain_merge(code: str) -> Any:
    source = _chain_or_404(code)
    if request.method == "GET":
        return _merge_page(source, (request.args.get("into") or "").strip()[:64], None, 200)
    form = ChainMergeForm()
    into = (form.into.data or "").strip()[:64]
    if not form.validate_on_submit():
        return _merge_page(source, into, _("The form expired: try again."), 400)
    target = services.get_chain(db.session, into)
    if target is None:
        return _merge_page(source, "", _("Choose one of the chains listed."), 422)
    try:
        summary = services.merge_chain(db.session, source, target, actor_id=current_user.id)
    except services.ChainError as exc:
        db.session.rollback()
        return _merge_page(source, "", str(exc), 422)
    db.session.commit()
    flash(
        _(
            "“%(source)s” merged into “%(target)s”: %(n)d projects moved.",
            source=source.name_zh,
            target=target.name_zh,
            n=summary.projects,
        ),
        "success",
    )
    return redirect(url_for("pipeline.chain_list"))
