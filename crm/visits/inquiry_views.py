"""Inbound inquiries (logged as lead projects) and the feature's admin settings."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from crm.enums import Role
from crm.extensions import db
from crm.nav import ADMIN_NAV, NAV
from crm.pipeline.access import get_visible_project, require_edit
from crm.pipeline.models import Company
from crm.security import roles_required, write_required
from crm.visits import contacts as contact_service
from crm.visits.blueprint import bp
from crm.visits.inquiries import InquiryError, list_inquiries, mark_answered
from crm.visits.leads import (
    LeadError,
    company_candidates,
    create_lead_project,
    find_or_create_company,
)
from crm.visits.other_forms import AnsweredForm, InquiryForm, SettingsForm
from crm.visits.settings import (
    InquirySettings,
    format_dates,
    load_inquiry_settings,
    parse_dates,
    save_inquiry_settings,
)
from crm.visits.web import field_error, local_today, picked_company_id
from crm.web import page_number

__all__ = ["bp"]

NAV.append(("visits.inquiry_list", _l("Inquiries"), None))
ADMIN_NAV.append(("visits.settings", _l("Visit and inquiry settings")))
PER_PAGE = 50


@bp.get("/inquiries")
@login_required
def inquiry_list() -> Any:
    page = max(1, page_number() or 1)
    open_only = request.args.get("show") != "all"
    today = local_today()
    rows, total, overdue = list_inquiries(
        db.session, current_user, today, open_only=open_only, page=page, per_page=PER_PAGE
    )
    return render_template(
        "visits/inquiry_list.html",
        rows=rows,
        total=total,
        overdue=overdue,
        page=page,
        pages=max(1, -(-total // PER_PAGE)),
        open_only=open_only,
        settings=load_inquiry_settings(db.session),
        answered_form=AnsweredForm(answered_on=today),
        today=today,
    )


@bp.route("/inquiries/new", methods=["GET", "POST"])
@write_required
def inquiry_new() -> Any:
    form = InquiryForm()
    if request.method == "GET":
        form.received_on.data = local_today()
    if form.validate_on_submit():
        try:
            project = _log_inquiry(form)
        except (LeadError, InquiryError, contact_service.ContactError) as exc:
            db.session.rollback()
            field_error(form, exc.field, str(exc))
        else:
            db.session.commit()
            flash(_("Inquiry logged as a lead: %(name)s", name=project.name), "success")
            return redirect(url_for("visits.inquiry_list"))
    candidates = []
    if form.company_name.errors:
        candidates = company_candidates(db.session, form.company_name.data or "")
    status = 422 if request.method == "POST" else 200
    return render_template("visits/inquiry_form.html", form=form, candidates=candidates), status


def _log_inquiry(form: InquiryForm) -> Any:
    user = current_user
    today = local_today()
    if user.team_id is None:
        raise InquiryError(_l("Only members of a team log inquiries."), "company_name")
    if form.received_on.data > today:
        raise InquiryError(_l("The date cannot be in the future."), "received_on")
    company_id = picked_company_id(db.session, form.company_id.data, form.company_name.data)
    company = db.session.get(Company, company_id) if company_id else None
    if company is None or company.deleted_at is not None:
        company, _created = find_or_create_company(
            db.session,
            form.company_name.data or "",
            user_id=user.id,
            create=bool(form.create_company.data),
        )
    project = create_lead_project(
        db.session,
        user,
        company=company,
        name=form.project_name.data or "",
        on=form.received_on.data,
        team_id=user.team_id,
        is_inquiry=True,
        inquiry_received_on=form.received_on.data,
        notes=form.notes.data,
    )
    if (form.contact_name.data or "").strip():
        contact_service.create_contact(
            db.session,
            contact_service.ContactInput(
                name=form.contact_name.data or "",
                company_id=company.id,
                phone=form.contact_phone.data,
                email=form.contact_email.data,
            ),
            user_id=user.id,
            today=today,
        )
    return project


@bp.post("/inquiries/<int:project_id>/answered")
@write_required
def inquiry_answered(project_id: int) -> Any:
    project = get_visible_project(db.session, current_user, project_id)
    require_edit(db.session, current_user, project)
    if not project.is_inquiry:
        abort(404)
    form = AnsweredForm()
    if form.validate_on_submit():
        try:
            mark_answered(
                db.session,
                project,
                on=form.answered_on.data,
                user_id=current_user.id,
                today=local_today(),
            )
        except InquiryError as exc:
            db.session.rollback()
            flash(str(exc), "danger")
        else:
            db.session.commit()
            flash(_("Marked answered: %(name)s", name=project.name), "success")
    else:
        for errors in form.errors.values():
            for message in errors:
                flash(str(message), "danger")
    return redirect(url_for("visits.inquiry_list"))


@bp.route("/admin/visit-settings", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def settings() -> Any:
    current = load_inquiry_settings(db.session)
    form = SettingsForm()
    if request.method == "GET":
        form.working_days.data = current.working_days
        form.holidays.data = format_dates(current.holidays)
        form.makeup_workdays.data = format_dates(current.makeup_workdays)
    if form.validate_on_submit():
        save_inquiry_settings(
            db.session,
            InquirySettings(
                working_days=form.working_days.data,
                holidays=frozenset(parse_dates(form.holidays.data)),
                makeup_workdays=frozenset(parse_dates(form.makeup_workdays.data)),
            ),
        )
        db.session.commit()
        flash(_("Settings saved."), "success")
        return redirect(url_for("visits.settings"))
    status = 422 if request.method == "POST" else 200
    return render_template("visits/settings.html", form=form), status
