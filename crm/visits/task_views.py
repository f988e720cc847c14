"""Follow-ups: "My work", the team's overdue tasks, adding and completing tasks."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from crm.extensions import db
from crm.pipeline.access import get_visible_project, require_edit
from crm.security import write_required
from crm.visits import tasks as task_service
from crm.visits.access import can_change_task, get_visible_task
from crm.visits.blueprint import bp
from crm.visits.forms import CompleteTaskForm, TaskForm
from crm.visits.leads import week_bounds
from crm.visits.tasks import TaskError, complete_task, create_task, my_work, team_overdue
from crm.visits.web import (
    field_error,
    int_arg,
    local_today,
    now_utc,
    team_choices,
    team_member_choices,
)

__all__ = ["bp"]


def _back(default: str) -> str:
    target = request.form.get("next") or ""
    if target.startswith("/") and not target.startswith("//"):
        return target
    return default


@bp.get("/my-work", endpoint="my_work")
@login_required
def my_work_page() -> Any:
    """Overdue first, then due this week, then later; the team tab shows the team's overdue."""
    today = local_today()
    tab = request.args.get("tab", "mine")
    context: dict[str, Any] = {
        "tab": tab,
        "today": today,
        "week_end": week_bounds(today)[1],
        "complete_form": CompleteTaskForm(prefix="done"),
        "can_see_team": current_user.team_id is not None or current_user.sees_all_teams,
    }
    if tab == "team":
        if not context["can_see_team"]:
            abort(404)
        team_id = int_arg("team") if current_user.sees_all_teams else None
        rows, total = team_overdue(db.session, current_user, today, team_id=team_id)
        context.update(
            team_rows=rows,
            team_total=total,
            team_id=team_id,
            teams=team_choices(db.session) if current_user.sees_all_teams else [],
        )
    else:
        show_all = request.args.get("all") == "1"
        context["work"] = my_work(
            db.session,
            current_user,
            today,
            limit=task_service.MAX_SECTION_LIMIT if show_all else task_service.SECTION_LIMIT,
        )
    return render_template("visits/my_work.html", **context)


@bp.post("/tasks/<int:task_id>/complete")
@write_required
def task_complete(task_id: int) -> Any:
    task = get_visible_task(db.session, current_user, task_id)
    if not can_change_task(current_user, task):
        abort(403)
    form = CompleteTaskForm(prefix="done")
    back = _back(url_for("visits.my_work"))
    if not form.validate_on_submit():
        for errors in form.errors.values():
            for message in errors:
                flash(str(message), "danger")
        return redirect(back)
    try:
        complete_task(db.session, task, user_id=current_user.id, note=form.note.data, now=now_utc())
    except TaskError as exc:
        db.session.rollback()
        flash(str(exc), "warning")
        return redirect(back)
    db.session.commit()
    flash(_("Done: %(title)s", title=task.title), "success")
    return redirect(back)


@bp.post("/projects/<int:project_id>/tasks")
@write_required
def project_task_new(project_id: int) -> Any:
    """Add a follow-up from the project page."""
    project = get_visible_project(db.session, current_user, project_id)
    require_edit(db.session, current_user, project)
    form = TaskForm(prefix="task")
    form.owner_id.choices = team_member_choices(db.session, {project.team_id}, current_user)
    back = url_for("pipeline.project_detail", project_id=project_id) + "#panel-visits"
    if form.validate_on_submit():
        try:
            create_task(
                db.session,
                title=form.title.data or "",
                owner_id=form.owner_id.data,
                due_on=form.due_on.data,
                project_id=project.id,
                created_by=current_user,
            )
        except TaskError as exc:
            db.session.rollback()
            field_error(form, exc.field, str(exc))
        else:
            db.session.commit()
            flash(_("Follow-up added."), "success")
            return redirect(back)
    return render_template("visits/task_form.html", form=form, project=project), 422
