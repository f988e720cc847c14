"""Reminder endpoints of the JSON API: notifications, stalled projects, rule thresholds."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import Field

from crm.api.framework import ApiError, Page, PageQuery, Schema, api_user, route
from crm.enums import Role
from crm.extensions import db
from crm.reminders import rules as R
from crm.reminders import services
from crm.reminders import settings as reminder_settings
from crm.reminders.models import Notification


class NotificationOut(Schema):
    id: int
    created_at: datetime
    read_at: datetime | None
    reason: str = Field(description="owner, or lead (escalated, or the project has no owner)")
    rule: str | None
    rule_label: str | None
    level: int | None = Field(None, description="1 threshold, 2 twice (lead), 3 three times")
    project_id: int | None
    project_name: str | None
    task_id: int | None
    task_title: str | None
    elapsed_days: int | None
    threshold_days: int | None
    days_overdue: int | None
    as_of: date | None
    message: str | None
    link: str | None


class NotificationQuery(PageQuery):
    unread: bool = False


def notification_out(row: services.NotificationRow) -> NotificationOut:
    n, r = row.notification, row.reminder
    return NotificationOut(
        id=n.id,
        created_at=n.created_at,
        read_at=n.read_at,
        reason=n.reason,
        rule=r.rule_code if r else None,
        rule_label=R.rule_label(r.rule_code) if r else None,
        level=r.level if r else None,
        project_id=r.project_id if r else None,
        project_name=row.project_name,
        task_id=r.task_id if r else None,
        task_title=row.task_title,
        elapsed_days=r.elapsed_days if r else None,
        threshold_days=r.threshold_days if r else None,
        days_overdue=r.days_overdue if r else None,
        as_of=r.as_of if r else None,
        message=n.message,
        link=n.link,
    )


@route(
    "/notifications",
    summary="My notifications, unread first, newest first",
    query=NotificationQuery,
    response=Page[NotificationOut],
    tags=["reminders"],
)
def list_notifications(query: NotificationQuery) -> Page[NotificationOut]:
    rows, total = services.list_notifications(
        db.session,
        api_user().id,
        page=query.page,
        per_page=query.per_page,
        unread_only=query.unread,
    )
    return Page[NotificationOut](
        items=[notification_out(r) for r in rows],
        total=total,
        page=query.page,
        per_page=query.per_page,
    )


@route(
    "/notifications/<int:notification_id>/read",
    "POST",
    summary="Mark one of my notifications read",
    response=NotificationOut,
    tags=["reminders"],
)
def read_notification(notification_id: int) -> NotificationOut:
    user = api_user()
    if services.mark_read(db.session, user.id, notification_id) is None:
        raise ApiError(404, "No such notification.")
    db.session.commit()
    rows = db.session.execute(
        services.notification_rows_stmt(user.id).where(Notification.id == notification_id)
    ).all()
    return notification_out(services.NotificationRow(*rows[0]))


class ReadAllOut(Schema):
    marked_read: int = Field(description="how many unread notifications were marked read")


@route(
    "/notifications/read-all",
    "POST",
    summary="Mark all my notifications read",
    response=ReadAllOut,
    tags=["reminders"],
)
def read_all_notifications() -> ReadAllOut:
    count = services.mark_all_read(db.session, api_user().id)
    db.session.commit()
    return ReadAllOut(marked_read=count)


class StallOut(Schema):
    rule: str
    rule_label: str
    level: int
    elapsed_days: int = Field(description="days (working days for inquiries) since the anchor")
    threshold_days: int
    days_overdue: int
    since: date = Field(description="the anchor: signing, last activity, due date, ...")
    task_id: int | None


class StalledProjectOut(Schema):
    project_id: int
    name: str
    stage: str
    is_key: bool
    team: str
    owner_id: int | None
    owner_name: str | None
    stalls: list[StallOut]


class StalledQuery(PageQuery):
    rule: str | None = Field(
        None, description="only this rule", json_schema_extra={"enum": list(R.RULE_CODES)}
    )
    level: int = Field(1, ge=1, le=3, description="only stalls at this level or above")


@route(
    "/stalled",
    summary="Stalled projects I may see, worst first, with rule and days overdue",
    query=StalledQuery,
    response=Page[StalledProjectOut],
    tags=["reminders"],
)
def list_stalled(query: StalledQuery) -> Page[StalledProjectOut]:
    if query.rule is not None and query.rule not in R.BY_CODE:
        raise ApiError(422, "Unknown rule.", [("rule", f"one of {', '.join(R.RULE_CODES)}")])
    settings = reminder_settings.current()
    items, total = services.stalled_projects(
        db.session,
        api_user(),
        settings.today(),
        settings.tz_name,
        rule_code=query.rule,
        min_level=query.level,
        page=query.page,
        per_page=query.per_page,
    )
    out = [
        StalledProjectOut(
            project_id=i.project_id,
            name=i.name,
            stage=i.stage,
            is_key=i.is_key,
            team=i.team_code,
            owner_id=i.owner_id,
            owner_name=i.owner_name,
            stalls=[
                StallOut(
                    rule=d.rule_code,
                    rule_label=R.rule_label(d.rule_code),
                    level=d.level,
                    elapsed_days=d.elapsed_days,
                    threshold_days=d.threshold_days,
                    days_overdue=d.days_overdue,
                    since=d.anchor_on,
                    task_id=d.task_id,
                )
                for d in i.stalls
            ],
        )
        for i in items
    ]
    return Page[StalledProjectOut](items=out, total=total, page=query.page, per_page=query.per_page)


class RuleOut(Schema):
    code: str
    stage: str = Field(description='a stage, or "any"')
    label: str
    description: str
    enabled: bool
    days: int
    key_days: int | None = Field(description="threshold for key projects; null: same as days")
    working_days: bool


class RuleIn(Schema):
    code: str
    stage: str = "any"
    enabled: bool | None = None
    days: int | None = Field(None, ge=1, le=R.MAX_DAYS)
    key_days: int | None = Field(None, ge=1, le=R.MAX_DAYS)
    clear_key_days: bool = False


class RulesIn(Schema):
    rules: list[RuleIn] = Field(min_length=1)


def _all_rules() -> list[RuleOut]:
    out = []
    for t in sorted(
        R.load_thresholds(db.session).values(),
        key=lambda t: (R.RULE_CODES.index(t.code) if t.code in R.RULE_CODES else 99, t.rule_id),
    ):
        definition = R.BY_CODE.get(t.code)
        out.append(
            RuleOut(
                code=t.code,
                stage=t.stage,
                label=str(definition.label) if definition else t.code,
                description=str(definition.description) if definition else "",
                enabled=t.enabled,
                days=t.days,
                key_days=t.key_days,
                working_days=bool(definition and definition.working_days),
            )
        )
    return out


@route(
    "/reminder-rules",
    summary="Reminder rules and their thresholds (admin)",
    query=PageQuery,
    response=Page[RuleOut],
    roles=(Role.ADMIN,),
    tags=["reminders"],
)
def get_reminder_rules(query: PageQuery) -> Page[RuleOut]:
    rules = _all_rules()
    window = rules[(query.page - 1) * query.per_page : query.page * query.per_page]
    return Page[RuleOut](items=window, total=len(rules), page=query.page, per_page=query.per_page)


@route(
    "/reminder-rules",
    "PUT",
    summary="Change thresholds of reminder rules (admin); answers every rule",
    body=RulesIn,
    response=Page[RuleOut],
    roles=(Role.ADMIN,),
    tags=["reminders"],
    extra_responses=(422,),
)
def put_reminder_rules(body: RulesIn) -> Page[RuleOut]:
    changes = [
        R.RuleChange(
            code=r.code,
            stage=r.stage,
            enabled=r.enabled,
            days=r.days,
            key_days=r.key_days,
            clear_key_days=r.clear_key_days,
        )
        for r in body.rules
    ]
    try:
        R.update_rules(db.session, changes, api_user().id)
    except R.RuleError as exc:
        db.session.rollback()
        raise ApiError(422, str(exc), [(exc.field, str(exc))]) from exc
    db.session.commit()
    rules = _all_rules()
    return Page[RuleOut](items=rules, total=len(rules), page=1, per_page=max(1, len(rules)))
