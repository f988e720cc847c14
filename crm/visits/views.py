"""Visit pages: log a visit from a phone in one screen, list and read visits, and the
visits panel of the project page."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from sqlalchemy import select

from crm.accounts.models import User
from crm.extensions import db
from crm.nav import NAV, NAVBAR_EXTRAS
from crm.pipeline import panels
from crm.pipeline.access import get_visible_project
from crm.reference.models import Region
from crm.security import write_required
from crm.visits import queries, services
from crm.visits.access import can_edit_visit, get_visible_visit
from crm.visits.attachments import attachments_of
from crm.visits.blueprint import bp
from crm.visits.forms import LeadFromVisitForm, VisitForm, visit_type_labels
from crm.visits.leads import company_candidates, week_bounds
from crm.visits.models import Task, VisitType
from crm.visits.other_forms import AttachmentForm
from crm.visits.panels import (
    company_panel,
    company_visits_context,
    navbar_log_visit,
    project_panel,
)
from crm.visits.places import region_lookup
from crm.visits.web import (
    as_int,
    company_contacts,
    company_name,
    company_projects,
    event_choices,
    field_error,
    int_arg,
    local_today,
    now_utc,
    picked_company_id,
    region_choices,
    team_choices,
    user_choices,
)
from crm.web import page_number

__all__ = ["bp", "company_visits_context"]

PER_PAGE = 30

NAV.append(("visits.visit_list", _l("Visits"), None))
NAV.append(("visits.my_work", _l("My work"), None))
NAVBAR_EXTRAS.append(navbar_log_visit)
panels.register(
    panels.Panel(key="visits", template="visits/_project_panel.html", load=project_panel, order=50)
)
panels.register_company_panel(
    panels.Panel(key="visits", template="visits/_company_visits.html", load=company_panel, order=50)
)


def _safe_next(target: str | None) -> str | None:
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return None


def _region_data() -> dict[str, str]:
    data = region_lookup(db.session).as_json_data()
    return {key: json.dumps(value, ensure_ascii=False) for key, value in data.items()}


def _setup(
    form: VisitForm,
    *,
    company_id: int | None,
    project_ids: list[int],
    contact_ids: list[int],
    event_id: int | None,
) -> None:
    session, user = db.session, current_user
    people = user_choices(session, user)
    form.participant_user_ids.choices = people
    form.region.choices = region_choices(session)
    form.event_id.choices = event_choices(session, event_id)
    projects = company_projects(session, user, company_id, project_ids)
    form.project_ids.choices = projects
    form.contact_ids.choices = company_contacts(session, company_id, contact_ids)
    step_projects = [("", _("— the visit's project —")), ("new", _("The new lead project"))]
    step_projects += [(str(pid), name) for pid, name in projects]
    for entry in form.steps:
        entry.form.owner_id.choices = [(None, _("Me")), *people]
        entry.form.project.choices = step_projects


def _region_id(form: VisitForm) -> int | None:
    lookup = region_lookup(db.session)
    code = form.region.data or lookup.suggest(form.city.data, form.province.data)
    return lookup.ids.get(code) if code else None


def _input(form: VisitForm) -> services.VisitInput:
    company_id = picked_company_id(db.session, form.company_id.data, form.company_name.data)
    steps = []
    for entry in form.steps:
        sub = entry.form
        if not (sub.title.data or "").strip():
            continue
        raw = sub.project.data or ""
        project_id = services.NEW_PROJECT if raw == "new" else as_int(raw)
        steps.append(
            services.NextStep(
                title=sub.title.data,
                due_on=sub.due_on.data,
                owner_id=sub.owner_id.data,
                project_id=project_id,
            )
        )
    return services.VisitInput(
        on=form.on.data,
        type=form.type.data,
        city=form.city.data,
        province=form.province.data,
        region_id=_region_id(form),
        company_id=company_id,
        company_name=form.company_name.data,
        create_company=bool(form.create_company.data),
        new_project_name=(form.new_project_name.data or "").strip() or None,
        project_ids=list(form.project_ids.data or []),
        participant_user_ids=list(form.participant_user_ids.data or []),
        contact_ids=list(form.contact_ids.data or []),
        new_contacts=[
            services.NewContact(name, title, phone)
            for name, title, phone in getattr(form, "parsed_contacts", [])
        ],
        event_id=form.event_id.data,
        purpose=form.purpose.data,
        learned=form.learned.data,
        intent=form.intent.data,
        intent_amount=form.intent_amount.data,
        land_mu=form.land_mu.data,
        expected_output=form.expected_output.data,
        conditions_asked=form.conditions_asked.data,
        outcome=form.outcome.data,
        next_steps=form.next_steps.data,
        tasks=steps,
    )


def _render_form(form: VisitForm, status: int = 200, **extra: Any) -> Any:
    candidates = []
    if form.company_name.errors and not as_int(form.company_id.data):
        candidates = company_candidates(db.session, form.company_name.data or "")
    return (
        render_template(
            "visits/visit_form.html",
            form=form,
            regions=_region_data(),
            candidates=candidates,
            **extra,
        ),
        status,
    )


@bp.route("/visits/new", methods=["GET", "POST"])
@write_required
def visit_new() -> Any:
    form = VisitForm()
    form.today = local_today()
    if request.method == "GET":
        _prefill(form)
    company_id = as_int(form.company_id.data)
    _setup(
        form,
        company_id=company_id,
        project_ids=list(form.project_ids.data or []),
        contact_ids=list(form.contact_ids.data or []),
        event_id=form.event_id.data,
    )
    if not form.validate_on_submit():
        status = 422 if request.method == "POST" else 200
        return _render_form(form, status, next_url=_safe_next(request.values.get("next")))
    try:
        result = services.create_visit(
            db.session, current_user, _input(form), now=now_utc(), today=local_today()
        )
    except services.VisitError as exc:
        db.session.rollback()
        field_error(form, exc.field, str(exc))
        return _render_form(form, 422, next_url=_safe_next(request.values.get("next")))
    db.session.commit()
    flash(_("Visit saved."), "success")
    if result.company_created:
        flash(_("Company created: %(name)s", name=form.company_name.data), "info")
    if result.project is not None:
        flash(_("Lead project created: %(name)s", name=result.project.name), "info")
    if result.tasks:
        flash(_("%(n)d follow-ups added to My work.", n=len(result.tasks)), "info")
    target = _safe_next(request.values.get("next"))
    return redirect(target or url_for("visits.visit_detail", visit_id=result.visit.id))


def _prefill(form: VisitForm) -> None:
    """A new visit starts from today, the last place and participants, and the page it was
    opened from (a project, a company or an event)."""
    session = db.session
    form.on.data = local_today()
    remembered = services.defaults_for(session, current_user.id)
    if remembered is not None:
        form.city.data = remembered.city
        form.province.data = remembered.province
        if remembered.region_id:
            form.region.data = session.scalar(
                select(Region.code).where(Region.id == remembered.region_id)
            )
        active = set(
            session.scalars(
                select(User.id).where(
                    User.id.in_(remembered.participant_user_ids or []), User.active.is_(True)
                )
            )
        )
        form.participant_user_ids.data = sorted(active | {current_user.id})
    else:
        form.participant_user_ids.data = [current_user.id]
    project_id, company_id, event_id = (
        int_arg("project_id"),
        int_arg("company_id"),
        int_arg("event_id"),
    )
    if project_id:
        project = get_visible_project(session, current_user, project_id)
        form.project_ids.data = [project.id]
        company_id = project.company_id
    if company_id:
        name = company_name(session, company_id)
        if name is not None:
            form.company_id.data = str(company_id)
            form.company_name.data = name
    if event_id:
        form.event_id.data = event_id
        form.type.data = VisitType.EVENT.value


@bp.get("/visits/<int:visit_id>")
@login_required
def visit_detail(visit_id: int) -> Any:
    row = queries.visit_row(db.session, current_user, visit_id)
    if row is None:
        abort(404)
    tasks = db.session.scalars(
        select(Task)
        .where(Task.visit_id == visit_id, Task.deleted_at.is_(None))
        .order_by(Task.due_on, Task.id)
    ).all()
    editable = can_edit_visit(current_user, row.visit)
    return render_template(
        "visits/visit_detail.html",
        row=row,
        tasks=tasks,
        editable=editable,
        attachments=attachments_of(db.session, "visit", visit_id),
        attachment_form=AttachmentForm(parent="visit", parent_id=str(visit_id)),
        lead_form=LeadFromVisitForm(
            name=f"{row.company_name or ''}{_('project')}" if row.company_name else ""
        ),
        type_labels=_type_labels(),
    )


def _type_labels() -> dict[str, str]:
    return visit_type_labels()


@bp.route("/visits/<int:visit_id>/edit", methods=["GET", "POST"])
@write_required
def visit_edit(visit_id: int) -> Any:
    visit = get_visible_visit(db.session, current_user, visit_id)
    if not can_edit_visit(current_user, visit):
        abort(403)
    project_ids, user_ids, contact_ids = services.linked_ids(db.session, visit.id)
    if request.method == "GET":
        form = VisitForm(obj=visit)
        form.company_id.data = str(visit.company_id) if visit.company_id else ""
        form.company_name.data = company_name(db.session, visit.company_id)
        form.region.data = (
            db.session.scalar(select(Region.code).where(Region.id == visit.region_id))
            if visit.region_id
            else ""
        )
        form.project_ids.data = project_ids
        form.participant_user_ids.data = user_ids
        form.contact_ids.data = contact_ids
    else:
        form = VisitForm()
    form.today = local_today()
    _setup(
        form,
        company_id=as_int(form.company_id.data),
        project_ids=list(form.project_ids.data or []),
        contact_ids=list(form.contact_ids.data or []),
        event_id=form.event_id.data,
    )
    if form.validate_on_submit():
        try:
            services.update_visit(
                db.session, visit, current_user, _input(form), now=now_utc(), today=local_today()
            )
        except services.VisitError as exc:
            db.session.rollback()
            field_error(form, exc.field, str(exc))
        else:
            db.session.commit()
            flash(_("Visit saved."), "success")
            return redirect(url_for("visits.visit_detail", visit_id=visit_id))
    status = 422 if request.method == "POST" else 200
    return _render_form(form, status, visit=visit, editing=True)


@bp.post("/visits/<int:visit_id>/delete")
@write_required
def visit_delete(visit_id: int) -> Any:
    visit = get_visible_visit(db.session, current_user, visit_id)
    if not can_edit_visit(current_user, visit):
        abort(403)
    services.delete_visit(db.session, visit, user_id=current_user.id, now=now_utc())
    db.session.commit()
    flash(_("Visit deleted."), "info")
    return redirect(url_for("visits.visit_list"))


@bp.post("/visits/<int:visit_id>/lead-project")
@write_required
def visit_lead_project(visit_id: int) -> Any:
    """Turn the interest found on a visit into a new lead project, in one step."""
    visit = get_visible_visit(db.session, current_user, visit_id)
    if not can_edit_visit(current_user, visit):
        abort(403)
    form = LeadFromVisitForm()
    if form.validate_on_submit():
        try:
            project = services.lead_from_visit(
                db.session, visit, current_user, name=form.name.data or "", now=now_utc()
            )
        except services.VisitError as exc:
            db.session.rollback()
            flash(str(exc), "danger")
        else:
            db.session.commit()
            flash(_("Lead project created: %(name)s", name=project.name), "success")
            return redirect(url_for("pipeline.project_detail", project_id=project.id))
    else:
        for errors in form.errors.values():
            for message in errors:
                flash(str(message), "danger")
    return redirect(url_for("visits.visit_detail", visit_id=visit_id))


def _filters() -> tuple[queries.VisitFilters, dict[str, Any]]:
    """Filters from the query string; `week=2026-W47` sets the date range to that week."""
    args = request.args
    date_from = _date_arg("from")
    date_to = _date_arg("to")
    week = args.get("week", "")
    if week:
        try:
            year, number = week.split("-W")
            monday = date.fromisocalendar(int(year), int(number), 1)
        except ValueError:
            week = ""
        else:
            date_from, date_to = week_bounds(monday)
    region_code = args.get("region") or None
    region_id = (
        db.session.scalar(select(Region.id).where(Region.code == region_code))
        if region_code
        else None
    )
    team_id = int_arg("team")
    narrowed = any(request.args.get(k) for k in ("company", "project", "user"))
    if "team" not in request.args and not narrowed and current_user.team_id:
        team_id = current_user.team_id  # by default, your team's visits
    filters = queries.VisitFilters(
        date_from=date_from,
        date_to=date_to,
        team_id=team_id,
        user_id=int_arg("user"),
        region_id=region_id,
        company_id=int_arg("company"),
        project_id=int_arg("project"),
        type=args.get("type") if args.get("type") in {t.value for t in VisitType} else None,
    )
    return filters, {"week": week, "region": region_code or "", "team": team_id}


def _date_arg(name: str) -> date | None:
    try:
        return date.fromisoformat(request.args.get(name, ""))
    except ValueError:
        return None


@bp.get("/visits")
@login_required
def visit_list() -> Any:
    page = max(1, page_number() or 1)
    filters, shown = _filters()
    rows, total = queries.list_visits(
        db.session, current_user, filters, page=page, per_page=PER_PAGE
    )
    today = local_today()
    this_week = today.isocalendar()
    return render_template(
        "visits/visit_list.html",
        rows=rows,
        total=total,
        page=page,
        pages=max(1, -(-total // PER_PAGE)),
        filters=filters,
        shown=shown,
        teams=team_choices(db.session),
        regions=region_choices(db.session)[1:],
        type_labels=_type_labels(),
        current_week=f"{this_week.year}-W{this_week.week:02d}",
        cap=queries.COUNT_CAP,
    )
