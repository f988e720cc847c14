"""Project pages: the project page, creating and editing a project, moving it through the
stages, and its change history."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from crm import nav
from crm.accounts.forms import ConfirmForm
from crm.accounts.models import Team, User
from crm.enums import ALL_STAGES, MAIN_STAGES, Role, Stage
from crm.extensions import db
from crm.i18n import label, stage_label
from crm.pipeline import panels, project_page, services
from crm.pipeline.access import can_edit, can_lead, get_visible_project
from crm.pipeline.blueprint import bp
from crm.pipeline.changes import project_history
from crm.pipeline.errors import ConflictError, NotAllowed, ProjectError
from crm.pipeline.forms import KeyMarkForm, ProjectForm, transition_form
from crm.pipeline.models import Company, Project
from crm.pipeline.stages import TransitionError, plan, transition
from crm.pipeline.stages import history as stage_history
from crm.reference.models import ChainSet, DropReason, IndustrialChain, Region, Zone
from crm.web import page_number

nav.NAV.append(("pipeline.project_new", _l("New project"), ("admin", "lead", "officer")))
HISTORY_PER_PAGE = 50


@bp.get("/projects/<int:project_id>")
@login_required
def project_detail(project_id: int) -> Any:
    page = project_page.load_page(db.session, current_user, project_id)
    if page is None:
        abort(404)
    return render_template(
        "pipeline/detail.html",
        page=page,
        p=page.project,
        advance_to=_advance_to(page.project),
        key_form=KeyMarkForm(),
        confirm_form=ConfirmForm(),
        panels=panels.render_context(db.session, current_user, page.project),
    )


def _advance_to(project: Project) -> Stage | None:
    """The stage the main button moves to: the next one, or back from being on hold."""
    if project.stage == Stage.ON_HOLD:
        return project.resume_stage or Stage.LEAD
    if project.stage in MAIN_STAGES and project.stage != Stage.OPERATING:
        return MAIN_STAGES[MAIN_STAGES.index(project.stage) + 1]
    return None


def _next_stages(project: Project) -> list[Stage]:
    """The stages the project can be moved to, the next main stage first."""
    base = project.stage if project.stage in MAIN_STAGES else project.resume_stage or Stage.LEAD
    index = MAIN_STAGES.index(base)
    order = [*MAIN_STAGES[index + 1 :], *reversed(MAIN_STAGES[: index + 1]), Stage.ON_HOLD]
    order.append(Stage.DROPPED)
    if project.stage == Stage.DROPPED:
        order.remove(Stage.ON_HOLD)
    return [s for s in order if s != project.stage]


# --- create and edit ---------------------------------------------------------------------


def _choices(model: Any, *, where: Any = None) -> list[tuple[str, str]]:
    stmt = select(model)
    if where is not None:
        stmt = stmt.where(where)
    if hasattr(model, "sort"):
        stmt = stmt.order_by(model.sort, model.id)
    else:
        stmt = stmt.order_by(model.id)
    return [("", "—")] + [(obj.code, label(obj)) for obj in db.session.scalars(stmt)]


def _fill_choices(form: ProjectForm, team_id: int | None) -> None:
    chains = db.session.scalars(
        select(IndustrialChain)
        .join(ChainSet, ChainSet.id == IndustrialChain.set_id)
        .where(ChainSet.current.is_(True), IndustrialChain.retired.is_(False))
        .order_by(IndustrialChain.sort, IndustrialChain.id)
    )
    form.chain.choices = [("", "—")] + [(c.code, label(c)) for c in chains]
    zones = _choices(Zone, where=Zone.active.is_(True))
    form.target_zone.choices = zones
    form.landed_zone.choices = zones
    form.source_region.choices = _choices(Region)
    teams = db.session.scalars(select(Team).where(Team.active.is_(True)).order_by(Team.code))
    form.team.choices = [("", "—")] + [(t.code, label(t)) for t in teams]
    users = select(User.id, User.name, User.email, Team.code).join(Team, Team.id == User.team_id)
    users = users.where(User.active.is_(True))
    if team_id is not None and current_user.role != Role.ADMIN:
        users = users.where(User.team_id == team_id)
    form.owner_id.choices = [("", "—")] + [
        (str(uid), f"{name or email} ({code})")
        for uid, name, email, code in db.session.execute(users.order_by(Team.code, User.id))
    ]


def _may_set_team() -> bool:
    return current_user.role in (Role.ADMIN, Role.LEAD)


@bp.route("/projects/new", methods=["GET", "POST"])
@login_required
def project_new() -> Any:
    if not current_user.can_write:
        abort(403)
    form = ProjectForm()
    _fill_choices(form, current_user.team_id)
    if not _may_set_team():
        del form.team
    elif request.method == "GET":
        form.team.data = _team_code(current_user.team_id)
    if request.method == "GET" and current_user.team_id:
        form.owner_id.data = str(current_user.id)
    if form.validate_on_submit():
        existing = services.find_company(db.session, form.company_name.data or "")
        try:
            project = services.create_project(db.session, current_user, form.values())
        except ProjectError as exc:
            form.error_on(exc.field, str(exc))
        except NotAllowed:
            form.error_on("team", _("You may create projects only for your own team."))
        else:
            db.session.commit()
            if existing is not None:
                flash(_("Project created for the existing company %(name)s.", name=existing.name))
            else:
                flash(_("Project created; the company was added."), "success")
            return redirect(url_for("pipeline.project_detail", project_id=project.id))
    status = 422 if form.errors or request.method == "POST" else 200
    return render_template("pipeline/form.html", form=form, project=None, conflict=None), status


def _team_code(team_id: int | None) -> str:
    return db.session.scalar(select(Team.code).where(Team.id == team_id)) or "" if team_id else ""


def _kept_choice_label(name: str, value: str, project: Project) -> str:
    """The label of a value no longer offered but kept on the project (a retired chain)."""
    if name == "chain" and project.chain_id is not None:
        chain = db.session.get(IndustrialChain, project.chain_id)
        if chain is not None:
            return _("%(name)s (retired)", name=label(chain))
    return value


@bp.route("/projects/<int:project_id>/edit", methods=["GET", "POST"])
@login_required
def project_edit(project_id: int) -> Any:
    project = get_visible_project(db.session, current_user, project_id)
    if not can_edit(db.session, current_user, project):
        abort(403)
    form = ProjectForm()
    _fill_choices(form, project.team_id)
    current = services.snapshot(db.session, project)
    for name in ("chain", "target_zone", "landed_zone", "source_region"):
        choices = getattr(form, name).choices
        if current[name] and all(code != current[name] for code, _label in choices):
            choices.append((current[name], _kept_choice_label(name, current[name], project)))
    if project.owner_id and all(v != str(project.owner_id) for v, _l in form.owner_id.choices):
        form.owner_id.choices.append((str(project.owner_id), f"#{project.owner_id}"))
    if not can_lead(current_user, project):
        del form.team
    if request.method == "GET":
        for name, value in current.items():
            field = getattr(form, name, None)
            if field is not None and name in ProjectForm.SERVICE_FIELDS:
                field.data = "" if value is None else str(value)
        form.version.data = str(project.version)
    conflict = None
    if form.validate_on_submit():
        values = form.values()
        if values.get("company_name") == current["company_name"]:
            values.pop("company_name")  # unchanged: keep the company (even a duplicate name)
        expected = _int(form.version.data)
        try:
            changes = services.update_project(
                db.session, project, current_user, values, expected_version=expected
            )
            db.session.commit()
        except (ConflictError, StaleDataError) as exc:
            if isinstance(exc, StaleDataError):
                db.session.rollback()  # the failed flush left the session unusable
            found = services.conflict_for(db.session, project_id, expected)
            conflict = project_page.describe_conflict(db.session, found.changes)
            # The user re-applies their input on top of the current version.
            form.version.data = str(found.current_version)
        except ProjectError as exc:
            db.session.expire(project)  # drop the half-applied input; nothing was saved
            form.error_on(exc.field, str(exc))
        except NotAllowed:
            abort(403)
        else:
            flash(_("Project saved."), "success")
            if "team" in changes and not current_user.sees_all_teams:
                return redirect(url_for("pipeline.project_list"))  # it left the user's team
            return redirect(url_for("pipeline.project_detail", project_id=project_id))
    status = 409 if conflict is not None else (422 if request.method == "POST" else 200)
    return render_template(
        "pipeline/form.html", form=form, project=project, conflict=conflict
    ), status


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return -1


@bp.get("/projects/company-match")
@login_required
def company_match() -> Any:
    """Which existing company a typed investor name matches (for the form's hint)."""
    name = (request.args.get("name") or "").strip()[:300]
    company: Company | None = services.find_company(db.session, name) if name else None
    if company is None:
        return jsonify({"match": None})
    return jsonify(
        {
            "match": {"id": company.id, "name": company.name},
            "message": _("Existing company: %(name)s", name=company.name),
        }
    )


# --- stage moves -----------------------------------------------------------------------------


@bp.route("/projects/<int:project_id>/transition", methods=["GET", "POST"])
@login_required
def project_transition(project_id: int) -> Any:
    project = get_visible_project(db.session, current_user, project_id)
    if not can_edit(db.session, current_user, project):
        abort(403)
    to = _stage(request.values.get("to"))
    if to is None:
        return render_template(
            "pipeline/transition.html",
            project=project,
            form=None,
            steps=None,
            choices=_next_stages(project),
        )
    try:
        steps = plan(project, to)
    except TransitionError as exc:
        flash(str(exc), "warning")
        return redirect(url_for("pipeline.project_detail", project_id=project_id))
    reasons = [(r.code, label(r)) for r in db.session.scalars(select(DropReason))]
    form = transition_form(steps, reasons)
    if request.method == "GET":
        form.version.data = str(project.version)
    error = None
    if form.validate_on_submit():
        if _int(form.version.data) != project.version:
            error = _("The project was changed by someone else since you opened this form.")
            form.version.data = str(project.version)
        else:
            try:
                transition(
                    db.session,
                    project,
                    to=to,
                    on=form.date.data,
                    user_id=current_user.id,
                    note=form.note.data,
                    reason=form.reason.data if form.reason is not None else None,
                    skipped_dates={s: getattr(form, f"date_{s.value}").data for s in steps.skipped},
                    drop_reason_code=form.drop_reason.data
                    if form.drop_reason is not None
                    else None,
                )
                db.session.commit()
            except TransitionError as exc:  # refused before anything changed
                field = getattr(form, _form_field(exc.field), None) or form.date
                field.errors = [*field.errors, str(exc)]
            except StaleDataError:
                db.session.rollback()
                error = _("The project was changed by someone else since you opened this form.")
            else:
                flash(
                    _("The project is now at the stage: %(stage)s", stage=_stage_name(to)),
                    "success",
                )
                return redirect(url_for("pipeline.project_detail", project_id=project_id))
    status = 422 if request.method == "POST" else 200
    return render_template(
        "pipeline/transition.html",
        project=project,
        form=form,
        steps=steps,
        error=error,
        choices=None,
    ), status


def _stage(value: str | None) -> Stage | None:
    try:
        return Stage(value) if value else None
    except ValueError:
        abort(404)


def _stage_name(stage: Stage) -> str:
    return stage_label(stage)


def _form_field(service_field: str) -> str:
    if service_field.startswith("dates."):
        return "date_" + service_field.split(".", 1)[1]
    return service_field


# --- history ------------------------------------------------------------------------------------


@bp.get("/projects/<int:project_id>/history")
@login_required
def project_history_page(project_id: int) -> Any:
    project = get_visible_project(db.session, current_user, project_id)
    page = max(1, page_number() or 1)
    entries, total = project_history(
        db.session, project.id, limit=HISTORY_PER_PAGE, offset=(page - 1) * HISTORY_PER_PAGE
    )
    changes = stage_history(db.session, project.id)
    user_ids = {c.user_id for c in changes if c.user_id}
    pairs = [("owner_id", uid) for uid in user_ids]
    pairs += [(f, v) for e in entries for f, b, a in e.field_changes for v in (b, a)]
    names = project_page.ValueNames(db.session, pairs)
    return render_template(
        "pipeline/history.html",
        project=project,
        entries=entries,
        stage_changes=changes,
        names=names,
        field_label=project_page.field_label,
        action_label=project_page.action_label,
        page=page,
        pages=max(1, -(-total // HISTORY_PER_PAGE)),
        all_stages=ALL_STAGES,
    )
