"""Contact pages: list, create, read (with employment history and visits), edit, delete."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from sqlalchemy import func, or_, select

from crm.extensions import db
from crm.nav import NAV
from crm.pipeline.models import Company
from crm.security import write_required
from crm.visits import contacts as service
from crm.visits.access import visit_scope
from crm.visits.blueprint import bp
from crm.visits.leads import LeadError, company_candidates, find_or_create_company
from crm.visits.models import Contact, Visit, visit_contact
from crm.visits.other_forms import ContactForm
from crm.visits.web import company_name, field_error, int_arg, local_today, picked_company_id
from crm.web import page_number

__all__ = ["bp"]

NAV.append(("visits.contact_list", _l("Contacts"), None))
PER_PAGE = 50


@bp.get("/contacts")
@login_required
def contact_list() -> Any:
    page = max(1, page_number() or 1)
    q = (request.args.get("q") or "").strip()[:100]
    company_id = int_arg("company")
    where = [Contact.deleted_at.is_(None)]
    if q:
        like = f"%{q.replace('%', '').replace('_', '')}%"
        where.append(
            or_(Contact.name.like(like), Contact.phone.like(like), Company.name.like(like))
        )
    if company_id:
        where.append(Contact.company_id == company_id)
    base = select(Contact, Company.name).outerjoin(Company, Company.id == Contact.company_id)
    total = db.session.scalar(select(func.count()).select_from(base.where(*where).subquery())) or 0
    rows = db.session.execute(
        base.where(*where)
        .order_by(Contact.name, Contact.id)
        .limit(PER_PAGE)
        .offset((page - 1) * PER_PAGE)
    ).all()
    return render_template(
        "visits/contact_list.html",
        rows=rows,
        total=total,
        page=page,
        pages=max(1, -(-total // PER_PAGE)),
        q=q,
        company_id=company_id,
    )


def _company_id(form: ContactForm) -> int | None:
    """The chosen company: the picked id, else the typed name (created when confirmed)."""
    picked = picked_company_id(db.session, form.company_id.data, form.company_name.data)
    if picked:
        return picked
    if not (form.company_name.data or "").strip():
        return None
    company, _created = find_or_create_company(
        db.session,
        form.company_name.data or "",
        user_id=current_user.id,
        create=bool(form.create_company.data),
    )
    return company.id


def _input(form: ContactForm, company_id: int | None) -> service.ContactInput:
    return service.ContactInput(
        name=form.name.data or "",
        company_id=company_id,
        title=form.title.data,
        phone=form.phone.data,
        email=form.email.data,
        wechat=form.wechat.data,
        notes=form.notes.data,
    )


def _render(form: ContactForm, status: int, contact: Contact | None = None) -> Any:
    candidates = []
    if form.company_name.errors:
        candidates = company_candidates(db.session, form.company_name.data or "")
    return (
        render_template(
            "visits/contact_form.html", form=form, contact=contact, candidates=candidates
        ),
        status,
    )


def _save(form: ContactForm, contact: Contact | None) -> Any:
    try:
        company_id = _company_id(form)
        if contact is None:
            contact = service.create_contact(
                db.session,
                _input(form, company_id),
                user_id=current_user.id,
                today=local_today(),
            )
        else:
            service.update_contact(
                db.session,
                contact,
                _input(form, company_id),
                user_id=current_user.id,
                today=local_today(),
            )
    except (service.ContactError, LeadError) as exc:
        db.session.rollback()
        field_error(form, exc.field, str(exc))
        return None
    db.session.commit()
    return contact


@bp.route("/contacts/new", methods=["GET", "POST"])
@write_required
def contact_new() -> Any:
    form = ContactForm()
    if request.method == "GET":
        company_id = int_arg("company_id")
        name = company_name(db.session, company_id)
        if name:
            form.company_id.data, form.company_name.data = str(company_id), name
    if form.validate_on_submit():
        contact = _save(form, None)
        if contact is not None:
            flash(_("Contact saved."), "success")
            return redirect(url_for("visits.contact_detail", contact_id=contact.id))
    return _render(form, 422 if request.method == "POST" else 200)


def _get(contact_id: int) -> Contact:
    contact = db.session.scalar(
        select(Contact).where(Contact.id == contact_id, Contact.deleted_at.is_(None))
    )
    if contact is None:
        abort(404)
    return contact


@bp.get("/contacts/<int:contact_id>")
@login_required
def contact_detail(contact_id: int) -> Any:
    contact = _get(contact_id)
    visits = db.session.execute(
        select(Visit, Company.name)
        .join(visit_contact, visit_contact.c.visit_id == Visit.id)
        .outerjoin(Company, Company.id == Visit.company_id)
        .where(visit_contact.c.contact_id == contact_id, visit_scope(current_user))
        .order_by(Visit.on.desc(), Visit.id.desc())
        .limit(50)
    ).all()
    return render_template(
        "visits/contact_detail.html",
        contact=contact,
        company_name=company_name(db.session, contact.company_id),
        history=service.employment_history(db.session, contact_id),
        visits=visits,
    )


@bp.route("/contacts/<int:contact_id>/edit", methods=["GET", "POST"])
@write_required
def contact_edit(contact_id: int) -> Any:
    contact = _get(contact_id)
    form = ContactForm(obj=contact if request.method == "GET" else None)
    if request.method == "GET":
        form.company_id.data = str(contact.company_id) if contact.company_id else ""
        form.company_name.data = company_name(db.session, contact.company_id)
    if form.validate_on_submit() and _save(form, contact) is not None:
        flash(_("Contact saved."), "success")
        return redirect(url_for("visits.contact_detail", contact_id=contact_id))
    return _render(form, 422 if request.method == "POST" else 200, contact)


@bp.post("/contacts/<int:contact_id>/delete")
@write_required
def contact_delete(contact_id: int) -> Any:
    contact = _get(contact_id)
    service.delete_contact(db.session, contact, user_id=current_user.id)
    db.session.commit()
    flash(_("Contact deleted."), "info")
    return redirect(url_for("visits.contact_list"))
