"""Follow-up task and inbound-inquiry endpoints of the JSON API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import Field

from crm.api.framework import ApiError, Page, PageQuery, Schema, api_user, route
from crm.enums import Role
from crm.extensions import db
from crm.pipeline.access import can_edit, get_visible_project
from crm.visits import inquiries
from crm.visits import tasks as task_service
from crm.visits.access import can_change_task, get_visible_task
from crm.visits.leads import local_today
from crm.visits.models import Task
from crm.visits.web import now_utc

WRITERS = (Role.ADMIN, Role.LEAD, Role.OFFICER)


class TaskOut(Schema):
    id: int
    title: str
    owner_id: int
    team_id: int
    project_id: int | None
    visit_id: int | None
    due_date: date
    done_at: datetime | None
    note: str | None = Field(description="the note left when it was completed")
    overdue: bool


class TaskQuery(PageQuery):
    scope: Literal["mine", "team"] = Field(
        "mine", description="mine: the caller's tasks; team: the caller's team's (all for leaders)"
    )
    open: bool | None = Field(None, description="true: only tasks not done yet")
    project_id: int | None = None


class TaskIn(Schema):
    title: str = Field(min_length=1, max_length=300)
    due_date: date
    owner_id: int | None = Field(None, description="default: the caller")
    project_id: int | None = None


class CompleteIn(Schema):
    note: str | None = Field(None, max_length=5000)


def task_out(task: Task, today: date) -> TaskOut:
    return TaskOut(
        id=task.id,
        title=task.title,
        owner_id=task.owner_id,
        team_id=task.team_id,
        project_id=task.project_id,
        visit_id=task.visit_id,
        due_date=task.due_on,
        done_at=task.done_at,
        note=task.done_note,
        overdue=task.done_at is None and task.due_on < today,
    )


@route(
    "/tasks",
    summary="Follow-up tasks: the caller's, or the caller's team's",
    query=TaskQuery,
    response=Page[TaskOut],
    tags=["tasks"],
)
def list_tasks(query: TaskQuery) -> Page[TaskOut]:
    user = api_user()
    if query.scope == "team" and user.team_id is None and not user.sees_all_teams:
        raise ApiError(422, "You have no team.", [("scope", "You have no team.")])
    tasks, total = task_service.list_tasks(
        db.session,
        user,
        team=query.scope == "team",
        open_only=bool(query.open),
        project_id=query.project_id,
        page=query.page,
        per_page=query.per_page,
    )
    today = local_today()
    return Page[TaskOut](
        items=[task_out(t, today) for t in tasks],
        total=total,
        page=query.page,
        per_page=query.per_page,
    )


@route(
    "/tasks",
    "POST",
    summary="Create a follow-up task",
    body=TaskIn,
    response=TaskOut,
    status=201,
    roles=WRITERS,
    tags=["tasks"],
)
def create_task(body: TaskIn) -> tuple[TaskOut, dict[str, str]]:
    user = api_user()
    if body.project_id is not None:
        from crm.pipeline.access import can_edit, get_visible_project

        project = get_visible_project(db.session, user, body.project_id)
        if not can_edit(db.session, user, project):
            raise ApiError(403, "You may not change this project.")
    try:
        task = task_service.create_task(
            db.session,
            title=body.title,
            owner_id=body.owner_id or user.id,
            due_on=body.due_date,
            project_id=body.project_id,
            created_by=user,
        )
    except task_service.TaskError as exc:
        db.session.rollback()
        field = {"due_on": "due_date"}.get(exc.field, exc.field)
        raise ApiError(422, str(exc), [(field, str(exc))]) from exc
    db.session.commit()
    return task_out(task, local_today()), {"Location": f"/api/v1/tasks/{task.id}"}


@route("/tasks/<int:task_id>", summary="One task", response=TaskOut, tags=["tasks"])
def get_task(task_id: int) -> TaskOut:
    return task_out(get_visible_task(db.session, api_user(), task_id), local_today())


@route(
    "/tasks/<int:task_id>/complete",
    "POST",
    summary="Mark a task done, with an optional note (kept on the project's timeline)",
    body=CompleteIn,
    response=TaskOut,
    roles=WRITERS,
    tags=["tasks"],
    extra_responses=(409,),
)
def complete_task(task_id: int, body: CompleteIn) -> TaskOut:
    user = api_user()
    task = get_visible_task(db.session, user, task_id)
    if not can_change_task(user, task):
        raise ApiError(403, "You may not change this task.")
    try:
        task_service.complete_task(db.session, task, user_id=user.id, note=body.note, now=now_utc())
    except task_service.TaskError as exc:
        db.session.rollback()
        raise ApiError(409, str(exc)) from exc
    db.session.commit()
    return task_out(task, local_today())


# --- inbound inquiries ---------------------------------------------------------------------


class InquiryOut(Schema):
    project_id: int
    name: str
    company_name: str
    team: str
    owner_id: int | None
    received_on: date
    answered_on: date | None
    deadline: date = Field(description="the last working day to answer")
    overdue: bool


class InquiryQuery(PageQuery):
    open: bool = Field(True, description="only inquiries not answered yet")


@route(
    "/inquiries",
    summary="Inbound inquiries the caller may see, unanswered first, with their deadline",
    query=InquiryQuery,
    response=Page[InquiryOut],
    tags=["inquiries"],
)
def list_inquiries(query: InquiryQuery) -> Page[InquiryOut]:
    rows, total, _overdue = inquiries.list_inquiries(
        db.session,
        api_user(),
        local_today(),
        open_only=query.open,
        page=query.page,
        per_page=query.per_page,
    )
    return Page[InquiryOut](
        items=[inquiry_out(r) for r in rows],
        total=total,
        page=query.page,
        per_page=query.per_page,
    )


def inquiry_out(r: inquiries.InquiryRow) -> InquiryOut:
    return InquiryOut(
        project_id=r.project_id,
        name=r.name,
        company_name=r.company_name,
        team=r.team_code,
        owner_id=r.owner_id,
        received_on=r.received_on,
        answered_on=r.answered_on,
        deadline=r.deadline,
        overdue=r.overdue,
    )


class AnsweredIn(Schema):
    answered_on: date | None = Field(None, description="default today (Asia/Shanghai)")


@route(
    "/inquiries/<int:project_id>/answered",
    "POST",
    summary="Record the day an inquiry was answered (anyone who may change its project)",
    body=AnsweredIn,
    response=InquiryOut,
    roles=WRITERS,
    tags=["inquiries"],
)
def answer_inquiry(project_id: int, body: AnsweredIn) -> InquiryOut:
    user = api_user()
    project = get_visible_project(db.session, user, project_id)  # 404 when hidden
    today = local_today()
    if inquiries.inquiry_row(db.session, project.id, today) is None:
        raise ApiError(404, "No such inquiry.")
    if not can_edit(db.session, user, project):
        raise ApiError(403, "You may read this inquiry but not change it.")
    try:
        inquiries.mark_answered(
            db.session, project, on=body.answered_on or today, user_id=user.id, today=today
        )
    except inquiries.InquiryError as exc:
        db.session.rollback()
        raise ApiError(422, str(exc), [(exc.field, str(exc))]) from exc
    db.session.commit()
    row = inquiries.inquiry_row(db.session, project.id, today)
    assert row is not None
    return inquiry_out(row)
