"""Event pages: promotion events and signing ceremonies, linking projects, signing."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from sqlalchemy import func, select

from crm.enums import Stage
from crm.extensions import db
from crm.nav import NAV
from crm.pipeline.access import project_scope
from crm.pipeline.models import Project
from crm.reference.models import Zone
from crm.security import write_required
from crm.visits import events as service
from crm.visits.access import can_edit_event, event_scope, get_visible_event
from crm.visits.attachments import attachments_of
from crm.visits.blueprint import bp
from crm.visits.event_models import Event, event_project
from crm.visits.other_forms import (
    EVENT_KIND_LABELS,
    AttachmentForm,
    EventForm,
    LinkProjectsForm,
    SignForm,
)
from crm.visits.web import field_error, local_today, team_choices, zone_choices
from crm.web import page_number

__all__ = ["bp"]

NAV.append(("visits.event_list", _l("Events"), None))
PER_PAGE = 50
OPEN_STAGES = (Stage.LEAD, Stage.NEGOTIATING, Stage.ON_HOLD)


@bp.get("/events")
@login_required
def event_list() -> Any:
    page = max(1, page_number() or 1)
    where = event_scope(current_user)
    total = db.session.scalar(select(func.count()).select_from(Event).where(where)) or 0
    linked = (
        select(event_project.c.event_id, func.count().label("n"))
        .join(Project, Project.id == event_project.c.project_id)
        .where(project_scope(current_user))
        .group_by(event_project.c.event_id)
        .subquery()
    )
    rows = db.session.execute(
        select(Event, Zone.name_zh, func.coalesce(linked.c.n, 0))
        .outerjoin(Zone, Zone.id == Event.zone_id)
        .outerjoin(linked, linked.c.event_id == Event.id)
        .where(where)
        .order_by(Event.on.desc().nulls_last(), Event.id.desc())
        .limit(PER_PAGE)
        .offset((page - 1) * PER_PAGE)
    ).all()
    return render_template(
        "visits/event_list.html",
        rows=rows,
        total=total,
        page=page,
        pages=max(1, -(-total // PER_PAGE)),
        kind_labels=EVENT_KIND_LABELS,
        can_create=current_user.can_write,
    )


def _input(form: EventForm) -> service.EventInput:
    return service.EventInput(
        name=form.name.data or "",
        kind=form.kind.data,
        on=form.on.data,
        place=form.place.data,
        organiser=form.organiser.data,
        zone_id=form.zone_id.data,
        notes=form.notes.data,
        reported_projects=form.reported_projects.data,
        reported_total=form.reported_total.data,
    )


@bp.route("/events/new", methods=["GET", "POST"])
@write_required
def event_new() -> Any:
    form = EventForm()
    form.zone_id.choices = zone_choices(db.session)
    choose_team = current_user.team_id is None  # administrators say which team keeps it
    if choose_team:
        form.team_id.choices = [(None, "—"), *team_choices(db.session)]
    if form.validate_on_submit():
        team_id = form.team_id.data if choose_team else current_user.team_id
        valid_teams = {value for value, _label in form.team_id.choices}
        try:
            if team_id is None or (choose_team and team_id not in valid_teams):
                raise service.EventError(_l("Choose the team that keeps the event."), "team_id")
            event = service.create_event(db.session, current_user, _input(form), team_id)
        except service.EventError as exc:
            db.session.rollback()
            field_error(form, exc.field, str(exc))
        else:
            db.session.commit()
            flash(_("Event saved."), "success")
            return redirect(url_for("visits.event_detail", event_id=event.id))
    status = 422 if request.method == "POST" else 200
    return render_template(
        "visits/event_form.html", form=form, event=None, choose_team=choose_team
    ), status


@bp.route("/events/<int:event_id>/edit", methods=["GET", "POST"])
@write_required
def event_edit(event_id: int) -> Any:
    event = get_visible_event(db.session, current_user, event_id)
    if not can_edit_event(current_user, event):
        abort(403)
    form = EventForm(obj=event if request.method == "GET" else None)
    form.zone_id.choices = zone_choices(db.session)
    if form.validate_on_submit():
        try:
            service.update_event(db.session, current_user, event, _input(form))
        except service.EventError as exc:
            db.session.rollback()
            field_error(form, exc.field, str(exc))
        else:
            db.session.commit()
            flash(_("Event saved."), "success")
            return redirect(url_for("visits.event_detail", event_id=event.id))
    status = 422 if request.method == "POST" else 200
    return render_template("visits/event_form.html", form=form, event=event), status


def _link_choices(event: Event) -> list[tuple[int, str]]:
    """Open projects the user may see and that are not linked yet (newest first)."""
    already = select(event_project.c.project_id).where(event_project.c.event_id == event.id)
    rows = db.session.execute(
        select(Project.id, Project.name)
        .where(
            project_scope(current_user),
            Project.stage.in_(OPEN_STAGES),
            Project.id.not_in(already),
        )
        .order_by(Project.updated_at.desc(), Project.id.desc())
        .limit(300)
    ).all()
    return [(pid, name) for pid, name in rows]


@bp.get("/events/<int:event_id>")
@login_required
def event_detail(event_id: int, link_form: LinkProjectsForm | None = None) -> Any:
    event = get_visible_event(db.session, current_user, event_id)
    summary = service.event_summary(db.session, current_user, event)
    editable = can_edit_event(current_user, event)
    sign_form = None
    if editable:
        link_form = link_form or LinkProjectsForm(prefix="link")
        link_form.project_ids.choices = _link_choices(event)
        sign_form = SignForm(prefix="sign")
        sign_form.project_ids.choices = [
            (p.project.id, p.project.name)
            for p in summary.projects
            if not p.signed_here and p.can_edit
        ]
        sign_form.project_ids.data = [value for value, _label in sign_form.project_ids.choices]
    zone = db.session.get(Zone, event.zone_id) if event.zone_id else None
    return render_template(
        "visits/event_detail.html",
        event=event,
        zone=zone,
        summary=summary,
        editable=editable,
        link_form=link_form if editable else None,
        sign_form=sign_form,
        kind_labels=EVENT_KIND_LABELS,
        attachments=attachments_of(db.session, "event", event.id),
        attachment_form=AttachmentForm(parent="event", parent_id=str(event.id)),
    )


def _editable_event(event_id: int) -> Event:
    event = get_visible_event(db.session, current_user, event_id)
    if not can_edit_event(current_user, event):
        abort(403)
    return event


@bp.post("/events/<int:event_id>/projects")
@write_required
def event_link_projects(event_id: int) -> Any:
    event = _editable_event(event_id)
    form = LinkProjectsForm(prefix="link")
    form.project_ids.choices = _link_choices(event)
    if form.validate_on_submit():
        try:
            added = service.link_projects(db.session, current_user, event, form.all_ids())
        except service.EventError as exc:
            db.session.rollback()
            field_error(form, exc.field, str(exc))
        else:
            db.session.commit()
            flash(_("%(n)d projects linked to the event.", n=added), "success")
            return redirect(url_for("visits.event_detail", event_id=event_id))
    return event_detail(event_id, link_form=form), 422


@bp.post("/events/<int:event_id>/projects/<int:project_id>/remove")
@write_required
def event_unlink_project(event_id: int, project_id: int) -> Any:
    event = _editable_event(event_id)
    try:
        service.unlink_project(db.session, current_user, event, project_id)
    except service.ProjectNotVisible as exc:
        return _not_visible(event_id, exc)
    db.session.commit()
    flash(_("Project unlinked from the event."), "info")
    return redirect(url_for("visits.event_detail", event_id=event_id))


@bp.post("/events/<int:event_id>/sign")
@write_required
def event_sign(event_id: int) -> Any:
    """Sign the chosen linked projects on the event's date, in one action."""
    event = _editable_event(event_id)
    form = SignForm(prefix="sign")
    form.project_ids.choices = []
    back = redirect(url_for("visits.event_detail", event_id=event_id))
    if not form.validate_on_submit():
        for errors in form.errors.values():
            for message in errors:
                flash(str(message), "danger")
        return back
    try:
        results = service.sign_at_event(
            db.session,
            current_user,
            event,
            today=local_today(),
            project_ids=form.project_ids.data,
            all_or_nothing=bool(form.all_or_nothing.data),
        )
    except service.SignRefused as exc:
        db.session.rollback()
        flash(_("Nothing was signed: some projects cannot be signed."), "danger")
        _flash_refusals(exc.results)
        return back
    except service.ProjectNotVisible as exc:
        return _not_visible(event_id, exc)
    except service.EventError as exc:
        db.session.rollback()
        flash(str(exc), "danger")
        return back
    db.session.commit()
    signed = [r for r in results if r.status == "signed"]
    flash(_("%(n)d projects signed at the event.", n=len(signed)), "success")
    _flash_refusals(results)
    return back


def _not_visible(event_id: int, exc: service.ProjectNotVisible) -> Any:
    """The event page with the message, answered 404: a project the user may not see is
    refused exactly like a missing one, and nothing was changed."""
    db.session.rollback()
    flash(_("Nothing was changed.") + " " + str(exc), "danger")
    return event_detail(event_id), 404


def _flash_refusals(results: list[service.SignResult]) -> None:
    for result in results:
        if result.status == "refused":
            flash(f"{result.name}: {result.message}", "warning")
