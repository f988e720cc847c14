"""Managing projects: sharing and reassigning (leads, admins), key marks, deleting and
restoring (admins), and the key-project threshold setting (admins)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from sqlalchemy import func, select
from sqlalchemy.orm.exc import StaleDataError

from crm import nav
from crm.accounts.forms import ConfirmForm
from crm.accounts.models import Team, User
from crm.enums import Role
from crm.extensions import db
from crm.i18n import label
from crm.pipeline import keys, sharing
from crm.pipeline.access import can_lead, get_visible_project
from crm.pipeline.blueprint import bp
from crm.pipeline.errors import NotAllowed, ProjectError
from crm.pipeline.forms import KeyMarkForm, ReassignForm, ShareForm, ThresholdForm
from crm.pipeline.models import Company, Project, ProjectShare
from crm.pipeline.project_page import money_words
from crm.security import roles_required
from crm.web import page_number

nav.ADMIN_NAV.append(("pipeline.deleted_projects", _l("Deleted projects")))
nav.ADMIN_NAV.append(("pipeline.key_settings", _l("Key-project threshold")))
DELETED_PER_PAGE = 50


def _led_project(project_id: int) -> Project:
    """The project if the user may see it (else 404) and leads it (else 403)."""
    project = get_visible_project(db.session, current_user, project_id)
    if not can_lead(current_user, project):
        abort(403)
    return project


def _sharing_forms(project: Project) -> tuple[ShareForm, ReassignForm]:
    teams = db.session.scalars(select(Team).where(Team.active.is_(True)).order_by(Team.code)).all()
    share_form = ShareForm()
    share_form.share_team.choices = [(t.code, label(t)) for t in teams if t.id != project.team_id]
    reassign_form = ReassignForm()
    reassign_form.team.choices = [(t.code, label(t)) for t in teams]
    users = db.session.execute(
        select(User.id, User.name, User.email, Team.code)
        .join(Team, Team.id == User.team_id)
        .where(User.active.is_(True), Team.active.is_(True))
        .order_by(Team.code, User.id)
    )
    reassign_form.owner_id.choices = [("", "—")] + [
        (str(uid), f"{name or email} ({code})") for uid, name, email, code in users
    ]
    if request.method == "GET" or not reassign_form.is_submitted():
        team_code = next((t.code for t in teams if t.id == project.team_id), "")
        reassign_form.team.data = team_code
        reassign_form.owner_id.data = str(project.owner_id or "")
    return share_form, reassign_form


def _render_sharing(project: Project, share_form: ShareForm, reassign_form: ReassignForm) -> Any:
    shares = db.session.execute(
        select(ProjectShare, Team)
        .join(Team, Team.id == ProjectShare.team_id)
        .where(ProjectShare.project_id == project.id)
        .order_by(Team.code)
    ).all()
    status = 422 if request.method == "POST" else 200
    return render_template(
        "pipeline/share.html",
        project=project,
        shares=shares,
        share_form=share_form,
        reassign_form=reassign_form,
        confirm_form=ConfirmForm(),
    ), status


@bp.get("/projects/<int:project_id>/sharing")
@login_required
def project_sharing(project_id: int) -> Any:
    project = _led_project(project_id)
    return _render_sharing(project, *_sharing_forms(project))


@bp.post("/projects/<int:project_id>/share")
@login_required
def project_share(project_id: int) -> Any:
    project = _led_project(project_id)
    share_form, reassign_form = _sharing_forms(project)
    if share_form.validate_on_submit():
        try:
            sharing.share_project(
                db.session,
                project,
                current_user,
                team_code=share_form.share_team.data,
                can_edit=share_form.access.data == "edit",
            )
        except ProjectError as exc:
            share_form.share_team.errors = [*share_form.share_team.errors, str(exc)]
        else:
            db.session.commit()
            flash(_("The project is shared."), "success")
            return redirect(url_for("pipeline.project_sharing", project_id=project_id))
    return _render_sharing(project, share_form, reassign_form)


@bp.post("/projects/<int:project_id>/share/<int:team_id>/remove")
@login_required
def project_unshare(project_id: int, team_id: int) -> Any:
    project = _led_project(project_id)
    ConfirmForm().validate_on_submit()
    try:
        sharing.unshare_project(db.session, project, current_user, team_id=team_id)
    except ProjectError:
        abort(404)
    db.session.commit()
    flash(_("Sharing ended."), "success")
    return redirect(url_for("pipeline.project_sharing", project_id=project_id))


@bp.post("/projects/<int:project_id>/reassign")
@login_required
def project_reassign(project_id: int) -> Any:
    project = _led_project(project_id)
    share_form, reassign_form = _sharing_forms(project)
    if reassign_form.validate_on_submit():
        owner = reassign_form.owner_id.data
        try:
            changes = sharing.reassign(
                db.session,
                project,
                current_user,
                team_code=reassign_form.team.data,
                owner_id=int(owner) if owner else None,
            )
            db.session.commit()
        except ProjectError as exc:
            field = reassign_form.owner_id if exc.field == "owner_id" else reassign_form.team
            field.errors = [*field.errors, str(exc)]
        except StaleDataError:
            db.session.rollback()
            flash(_("The project was changed by someone else; try again."), "warning")
            return redirect(url_for("pipeline.project_sharing", project_id=project_id))
        else:
            flash(_("Project reassigned.") if changes else _("Nothing changed."), "success")
            if "team" in changes and not current_user.sees_all_teams:
                # The project left the lead's team: it may no longer be visible to them.
                return redirect(url_for("pipeline.project_list"))
            return redirect(url_for("pipeline.project_detail", project_id=project_id))
    return _render_sharing(project, share_form, reassign_form)


@bp.post("/projects/<int:project_id>/key")
@login_required
def project_key(project_id: int) -> Any:
    project = _led_project(project_id)
    form = KeyMarkForm()
    if form.validate_on_submit():
        try:
            keys.mark_key(
                db.session,
                project,
                current_user,
                marked=form.marked.data == "1",
                reason=form.reason.data or "",
            )
        except ProjectError as exc:
            flash(str(exc), "danger")
        else:
            db.session.commit()
            flash(_("Key-project mark saved."), "success")
    else:
        flash(_("Give a reason."), "danger")
    return redirect(url_for("pipeline.project_detail", project_id=project_id))


# --- deleting and restoring (admins) ---------------------------------------------------------


@bp.post("/projects/<int:project_id>/delete")
@roles_required(Role.ADMIN)
def project_delete(project_id: int) -> Any:
    ConfirmForm().validate_on_submit()
    project = get_visible_project(db.session, current_user, project_id)
    sharing.soft_delete(db.session, project, current_user)
    db.session.commit()
    flash(_("Project deleted. It can be restored from the deleted projects page."), "success")
    return redirect(url_for("pipeline.deleted_projects"))


@bp.post("/projects/<int:project_id>/restore")
@roles_required(Role.ADMIN)
def project_restore(project_id: int) -> Any:
    ConfirmForm().validate_on_submit()
    project = db.session.get(Project, project_id) or abort(404)
    try:
        sharing.restore(db.session, project, current_user)
    except NotAllowed:
        abort(403)
    db.session.commit()
    flash(_("Project restored."), "success")
    return redirect(url_for("pipeline.project_detail", project_id=project_id))


@bp.get("/admin/projects/deleted")
@roles_required(Role.ADMIN)
def deleted_projects() -> Any:
    page = max(1, page_number() or 1)
    deleted = Project.deleted_at.is_not(None)
    total = db.session.scalar(select(func.count()).select_from(Project).where(deleted)) or 0
    rows = db.session.execute(
        select(Project, Company.name, Team.code)
        .join(Company, Company.id == Project.company_id)
        .join(Team, Team.id == Project.team_id)
        .where(deleted)
        .order_by(Project.deleted_at.desc(), Project.id.desc())
        .limit(DELETED_PER_PAGE)
        .offset((page - 1) * DELETED_PER_PAGE)
    ).all()
    return render_template(
        "pipeline/deleted.html",
        rows=rows,
        total=total,
        page=page,
        pages=max(1, -(-total // DELETED_PER_PAGE)),
        confirm_form=ConfirmForm(),
    )


# --- key-project threshold (admins) ----------------------------------------------------------


@bp.route("/admin/settings/key-projects", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def key_settings() -> Any:
    current = keys.key_threshold(db.session)
    form = ThresholdForm()
    if request.method == "GET":
        form.threshold.data = format(current.normalize(), "f")
    if form.validate_on_submit():
        value = Decimal((form.threshold.data or "").replace(",", "").strip())
        try:
            changed = keys.set_key_threshold(db.session, value, current_user.id)
        except ProjectError as exc:
            form.threshold.errors = [*form.threshold.errors, str(exc)]
        else:
            db.session.commit()
            flash(
                _("Threshold saved; %(n)d projects changed their key flag.", n=changed), "success"
            )
            return redirect(url_for("pipeline.key_settings"))
    key_count = db.session.scalar(
        select(func.count()).select_from(Project).where(Project.is_key.is_(True))
    )
    status = 422 if request.method == "POST" else 200
    return render_template(
        "pipeline/key_settings.html",
        form=form,
        current=current,
        current_words=money_words(current),
        key_count=key_count or 0,
    ), status
