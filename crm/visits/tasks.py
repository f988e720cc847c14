"""Follow-up tasks: created from a visit's next steps or a project page, listed on "My work".

"My work" orders open tasks overdue first (due before today), then due this week (today to
Sunday of the current ISO week, Asia/Shanghai), then later; due dates ascending within each
group, which is simply the due-date order.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, case, func, select
from sqlalchemy.orm import Session, aliased

from crm import audit
from crm.accounts.models import Team, User
from crm.pipeline.access import project_scope
from crm.pipeline.models import Company, Project
from crm.visits.access import task_scope
from crm.visits.leads import touch_projects, week_bounds
from crm.visits.models import Task

SECTION_LIMIT = 25  # open tasks shown per section of My work (all=1: MAX_SECTION_LIMIT)
MAX_SECTION_LIMIT = 500
DONE_TASK_LIMIT = 10


class TaskError(ValueError):
    def __init__(self, message: object, field: str) -> None:
        super().__init__(str(message))
        self.field = field


@dataclass(frozen=True)
class TaskRow:
    task: Task
    project_name: str | None
    company_name: str | None
    owner_name: str
    team_code: str

    def group(self, today: date) -> str:
        if self.task.done_at is not None:
            return "done"
        if self.task.due_on < today:
            return "overdue"
        return "this_week" if self.task.due_on <= week_bounds(today)[1] else "later"


@dataclass
class MyWork:
    overdue: list[TaskRow] = field(default_factory=list)
    this_week: list[TaskRow] = field(default_factory=list)
    later: list[TaskRow] = field(default_factory=list)
    done: list[TaskRow] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)  # open tasks per section

    @property
    def open_total(self) -> int:
        return sum(self.counts.values())

    @property
    def truncated(self) -> bool:
        return any(self.counts.get(k, 0) > len(getattr(self, k)) for k in SECTIONS)


SECTIONS = ("overdue", "this_week", "later")


def create_task(
    session: Session,
    *,
    title: str,
    owner_id: int,
    due_on: date,
    project_id: int | None,
    created_by: User,
    visit_id: int | None = None,
) -> Task:
    """A follow-up owned by `owner_id`; it belongs to the owner's team (else the project's)."""
    title = (title or "").strip()
    if not title:
        raise TaskError(_l("Say what needs doing."), "title")
    if len(title) > 300:
        raise TaskError(_l("At most %(n)d characters.", n=300), "title")
    if due_on is None:
        raise TaskError(_l("Give a due date."), "due_on")
    owner = session.get(User, owner_id)
    if owner is None or not owner.active:
        raise TaskError(_l("Choose an active user as the owner."), "owner_id")
    project = None
    if project_id is not None:
        project = session.scalar(
            select(Project).where(Project.id == project_id, project_scope(created_by))
        )
        if project is None:
            raise TaskError(_l("No such project."), "project_id")
    team_id = owner.team_id or (project.team_id if project else None) or created_by.team_id
    if team_id is None:
        raise TaskError(
            _l("The owner has no team: link the task to a project or choose another owner."),
            "owner_id",
        )
    task = Task(
        title=title,
        owner_id=owner.id,
        team_id=team_id,
        project_id=project_id,
        visit_id=visit_id,
        due_on=due_on,
        created_by_id=created_by.id,
    )
    session.add(task)
    session.flush()
    audit.record(
        session,
        user_id=created_by.id,
        entity_type="task",
        entity_id=task.id,
        action="create",
        changes={
            "title": [None, title],
            "owner_id": [None, owner.id],
            "due_on": [None, due_on.isoformat()],
            **({"project_id": [None, project_id]} if project_id else {}),
        },
    )
    return task


def complete_task(
    session: Session, task: Task, *, user_id: int, note: str | None, now: datetime
) -> Task:
    """Mark a task done with an optional note (kept on the project's timeline)."""
    if task.done_at is not None:
        raise TaskError(_l("This task is already done."), "task")
    note = (note or "").strip() or None
    if note and len(note) > 5000:
        raise TaskError(_l("At most %(n)d characters.", n=5000), "note")
    task.done_at = now
    task.done_note = note
    task.done_by_id = user_id
    audit.record(
        session,
        user_id=user_id,
        entity_type="task",
        entity_id=task.id,
        action="complete",
        changes={"done_at": [None, now.isoformat()], **({"note": [None, note]} if note else {})},
    )
    if task.project_id is not None:
        touch_projects(session, [task.project_id], now)
    session.flush()
    return task


@functools.cache
def task_rows_stmt() -> Select[tuple[Task, str | None, str | None, str, str]]:
    """Tasks with their project, company, owner and team names (built once)."""
    owner = aliased(User, name="owner")
    return (
        select(
            Task,
            Project.name,
            Company.name,
            func.coalesce(func.nullif(owner.name, ""), owner.email),
            Team.code,
        )
        .join(owner, owner.id == Task.owner_id)
        .join(Team, Team.id == Task.team_id)
        .outerjoin(Project, Project.id == Task.project_id)
        .outerjoin(Company, Company.id == Project.company_id)
    )


def my_work(session: Session, user: User, today: date, *, limit: int = SECTION_LIMIT) -> MyWork:
    """The user's open tasks by section (at most `limit` each, soonest due first), how many
    each section holds, and the last ones they completed. Five indexed queries."""
    work = MyWork()
    sunday = week_bounds(today)[1]
    mine = (Task.owner_id == user.id) & Task.deleted_at.is_(None)
    open_mine = mine & Task.done_at.is_(None)
    sections = {
        "overdue": Task.due_on < today,
        "this_week": (Task.due_on >= today) & (Task.due_on <= sunday),
        "later": Task.due_on > sunday,
    }
    counts = session.execute(
        select(*(func.coalesce(func.sum(case((c, 1), else_=0)), 0) for c in sections.values()))
        .select_from(Task)
        .where(open_mine)
    ).one()
    work.counts = {name: int(n) for name, n in zip(sections, counts, strict=True)}
    for name, condition in sections.items():
        if work.counts[name]:
            rows = session.execute(
                task_rows_stmt()
                .where(open_mine, condition)
                .order_by(Task.due_on, Task.id)
                .limit(limit)
            ).all()
            setattr(work, name, [TaskRow(*row) for row in rows])
    work.done = [
        TaskRow(*row)
        for row in session.execute(
            task_rows_stmt()
            .where(mine, Task.done_at.is_not(None))
            .order_by(Task.done_at.desc(), Task.id.desc())
            .limit(DONE_TASK_LIMIT)
        )
    ]
    return work


def team_overdue(
    session: Session, user: User, today: date, team_id: int | None = None, limit: int = 200
) -> tuple[list[TaskRow], int]:
    """Overdue open tasks of the user's team (leaders and admins: every team, or `team_id`)."""
    where = [Task.deleted_at.is_(None), Task.done_at.is_(None), Task.due_on < today]
    if user.sees_all_teams:
        if team_id is not None:
            where.append(Task.team_id == team_id)
    else:
        where.append(Task.team_id == user.team_id)
    total = session.scalar(select(func.count()).select_from(Task).where(*where)) or 0
    rows = session.execute(
        task_rows_stmt().where(*where).order_by(Task.due_on, Task.id).limit(limit)
    ).all()
    return [TaskRow(*row) for row in rows], total


def list_tasks(
    session: Session,
    user: User,
    *,
    team: bool,
    open_only: bool,
    project_id: int | None,
    page: int,
    per_page: int,
) -> tuple[list[Task], int]:
    """Tasks for the API: the caller's own, or their team's (every team for leaders/admins)."""
    where = [task_scope(user)]
    if team:
        if not user.sees_all_teams:
            where.append(Task.team_id == user.team_id)
    else:
        where.append(Task.owner_id == user.id)
    if open_only:
        where.append(Task.done_at.is_(None))
    if project_id is not None:
        where.append(Task.project_id == project_id)
    total = session.scalar(select(func.count()).select_from(Task).where(*where)) or 0
    tasks = session.scalars(
        select(Task)
        .where(*where)
        .order_by(Task.done_at.is_not(None), Task.due_on, Task.id)
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return list(tasks), total


@functools.cache
def _project_task_stmt() -> Select[tuple[Task, str, str]]:
    owner = aliased(User, name="owner")
    return (
        select(Task, func.coalesce(func.nullif(owner.name, ""), owner.email), Team.code)
        .join(owner, owner.id == Task.owner_id)
        .join(Team, Team.id == Task.team_id)
    )


def project_tasks(
    session: Session, project_id: int, limit: int = 20
) -> tuple[list[TaskRow], list[TaskRow]]:
    """A project's open tasks (by due date) and its completed ones (newest first).

    The rows leave out the project's own name (the page is the project's).
    """
    alive = (Task.project_id == project_id) & Task.deleted_at.is_(None)
    stmt = _project_task_stmt()
    open_rows = session.execute(
        stmt.where(alive, Task.done_at.is_(None)).order_by(Task.due_on, Task.id).limit(limit)
    ).all()
    done_rows = session.execute(
        stmt.where(alive, Task.done_at.is_not(None))
        .order_by(Task.done_at.desc(), Task.id.desc())
        .limit(limit)
    ).all()
    return (
        [TaskRow(task, None, None, owner, team) for task, owner, team in open_rows],
        [TaskRow(task, None, None, owner, team) for task, owner, team in done_rows],
    )
