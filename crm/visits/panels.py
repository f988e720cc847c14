"""What this feature shows on other features' pages.

- The project page's "visits" panel (registered in views.py): the project's latest visits,
  its open follow-ups, the completed ones with their notes (the project's timeline of
  work), and its attachments. A fixed number of queries whatever the data size.
- The company page's "visits" panel (registered in views.py through
  `crm.pipeline.panels.register_company_panel`): the company's latest visits the user may
  see (`company_panel`), newest first, with a link to the full, paged list.

- The navigation bar's "Log a visit" button.
"""

from __future__ import annotations

from typing import Any

from flask import url_for
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup, escape
from sqlalchemy.orm import Session

from crm.accounts.models import User
from crm.pipeline.access import can_edit
from crm.pipeline.models import Project
from crm.visits import queries
from crm.visits.attachments import attachments_of
from crm.visits.forms import CompleteTaskForm, TaskForm, visit_type_labels
from crm.visits.other_forms import AttachmentForm
from crm.visits.tasks import project_tasks
from crm.visits.web import local_today, team_member_choices

PANEL_VISITS = 10


def project_panel(session: Session, user: User, project: Project) -> dict[str, Any]:
    visits, total = queries.project_visits(session, user, project.id, per_page=PANEL_VISITS)
    open_tasks, done_tasks = project_tasks(session, project.id)
    editable = can_edit(session, user, project)
    task_form = None
    if editable:
        task_form = TaskForm(prefix="task")
        task_form.owner_id.choices = team_member_choices(session, {project.team_id}, user)
        task_form.owner_id.data = user.id
    return {
        "project": project,
        "visits": visits,
        "visit_total": total,
        "cap": queries.COUNT_CAP,
        "open_tasks": open_tasks,
        "done_tasks": done_tasks,
        "attachments": attachments_of(session, "project", project.id),
        "editable": editable,
        "task_form": task_form,
        "complete_form": CompleteTaskForm(prefix="done") if editable else None,
        "attachment_form": AttachmentForm(parent="project", parent_id=str(project.id))
        if editable
        else None,
        "type_labels": visit_type_labels(),
        "today": local_today(),
    }


def company_visits_context(
    session: Session, user: User, company_id: int, *, page: int = 1, per_page: int = 10
) -> dict[str, Any]:
    """Context for `visits/_company_visits.html`: the company's visits the user may see."""
    visits, total = queries.company_visits(session, user, company_id, page=page, per_page=per_page)
    return {
        "company_id": company_id,
        "visits": visits,
        "visit_total": total,
        "cap": queries.COUNT_CAP,
        "type_labels": visit_type_labels(),
        "can_log": user.can_write and user.team_id is not None,
    }


def company_panel(session: Session, user: User, company: Any) -> dict[str, Any]:
    return company_visits_context(session, user, company.id)


def navbar_log_visit() -> Markup:
    if not current_user.is_authenticated or not current_user.can_write or not current_user.team_id:
        return Markup("")
    return Markup(
        '<li class="nav-item"><a class="btn btn-sm btn-light my-1 me-lg-2" '
        'data-testid="navbar-log-visit" href="{}">{}</a></li>'
    ).format(url_for("visits.visit_new"), escape(_("Log a visit")))
