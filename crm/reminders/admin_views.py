"""Administration of reminders: thresholds, the holiday calendar, the delivery log, and a
team's group robot (set by an admin or the team's lead)."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from sqlalchemy import func, select

from crm import audit, nav
from crm.accounts.forms import ConfirmForm
from crm.accounts.models import Team, User
from crm.enums import Role
from crm.extensions import db
from crm.reminders import delivery as outbox
from crm.reminders import rules as R
from crm.reminders import settings as reminder_settings
from crm.reminders.forms import CalendarDayForm, RobotForm, rules_form_class
from crm.reminders.models import Delivery, ReminderRun, WorkCalendarDay
from crm.reminders.views import bp
from crm.security import roles_required
from crm.web import page_number

nav.ADMIN_NAV.append(("reminders.rules", _l("Reminder rules")))
nav.ADMIN_NAV.append(("reminders.deliveries", _l("Reminder deliveries")))
PER_PAGE = 50
STATE_LABELS = {
    "pending": _l("Waiting to be sent"),
    "sending": _l("Being sent"),
    "sent": _l("Sent"),
    "failed": _l("Failed, will retry"),
    "dead": _l("Given up"),
}
CHANNEL_LABELS = {
    "email": _l("Email"),
    "wecom": _l("WeCom robot"),
    "dingtalk": _l("DingTalk robot"),
}


# --- thresholds and calendar ------------------------------------------------------------


def _rules_page(form: Any, status: int = 200) -> Any:
    thresholds = sorted(
        R.load_thresholds(db.session).values(),
        key=lambda t: (R.RULE_CODES.index(t.code) if t.code in R.RULE_CODES else 99, t.rule_id),
    )
    calendar = db.session.scalars(
        select(WorkCalendarDay)
        .where(WorkCalendarDay.on >= date(reminder_settings.current().today().year - 1, 1, 1))
        .order_by(WorkCalendarDay.on)
    ).all()
    return render_template(
        "reminders/rules.html",
        form=form,
        thresholds=thresholds,
        definitions=R.BY_CODE,
        calendar=calendar,
        calendar_form=CalendarDayForm(prefix="day"),
        confirm=ConfirmForm(),
    ), status


@bp.get("/admin/reminders/rules")
@roles_required(Role.ADMIN)
def rules() -> Any:
    thresholds = list(R.load_thresholds(db.session).values())
    return _rules_page(rules_form_class(thresholds)())


@bp.post("/admin/reminders/rules")
@roles_required(Role.ADMIN)
def rules_save() -> Any:
    thresholds = list(R.load_thresholds(db.session).values())
    form = rules_form_class(thresholds)()
    if form.validate_on_submit():
        changes = [
            R.RuleChange(
                code=t.code,
                stage=t.stage,
                enabled=bool(form[f"enabled_{t.rule_id}"].data),
                days=form[f"days_{t.rule_id}"].data,
                key_days=form[f"key_days_{t.rule_id}"].data,
                clear_key_days=form[f"key_days_{t.rule_id}"].data is None,
            )
            for t in thresholds
        ]
        try:
            changed = R.update_rules(db.session, changes, current_user.id)
        except R.RuleError as exc:
            db.session.rollback()
            flash(str(exc), "danger")
            return _rules_page(form, 422)
        db.session.commit()
        flash(_("%(n)d thresholds changed.", n=changed), "success")
        return redirect(url_for("reminders.rules"))
    return _rules_page(form, 422)


@bp.post("/admin/reminders/calendar")
@roles_required(Role.ADMIN)
def calendar_add() -> Any:
    form = CalendarDayForm(prefix="day")
    if form.validate_on_submit() and form.on.data is not None:
        row = db.session.get(WorkCalendarDay, form.on.data) or WorkCalendarDay(on=form.on.data)
        row.working = form.working.data == "1"
        row.name = form.name.data or ""
        db.session.add(row)
        audit.record(
            db.session,
            user_id=current_user.id,
            entity_type="work_calendar_day",
            entity_id=form.on.data.toordinal(),
            action="save",
            changes={"on": form.on.data.isoformat(), "working": row.working, "name": row.name},
        )
        db.session.commit()
        flash(_("Calendar day saved."), "success")
    else:
        flash(_("Give a valid date."), "danger")
    return redirect(url_for("reminders.rules") + "#calendar")


@bp.post("/admin/reminders/calendar/<day>/delete")
@roles_required(Role.ADMIN)
def calendar_delete(day: str) -> Any:
    ConfirmForm().validate_on_submit()
    try:
        on = date.fromisoformat(day)
    except ValueError:
        abort(404)
    row = db.session.get(WorkCalendarDay, on) or abort(404)
    db.session.delete(row)
    audit.record(
        db.session,
        user_id=current_user.id,
        entity_type="work_calendar_day",
        entity_id=on.toordinal(),
        action="delete",
        changes={"on": day},
    )
    db.session.commit()
    flash(_("Calendar day removed."), "success")
    return redirect(url_for("reminders.rules") + "#calendar")


# --- the delivery log ---------------------------------------------------------------------


@bp.get("/admin/reminders/deliveries")
@roles_required(Role.ADMIN)
def deliveries() -> Any:
    state = request.args.get("state") or None
    if state not in outbox.STATES:
        state = None
    page = max(1, page_number() or 1)
    where = [Delivery.state == state] if state else []
    total = db.session.scalar(select(func.count()).select_from(Delivery).where(*where)) or 0
    rows = db.session.execute(
        select(Delivery, User.email, Team.code)
        .outerjoin(User, User.id == Delivery.user_id)
        .outerjoin(Team, Team.id == Delivery.team_id)
        .where(*where)
        .order_by(Delivery.id.desc())
        .limit(PER_PAGE)
        .offset((page - 1) * PER_PAGE)
    ).all()
    counts = dict(
        db.session.execute(select(Delivery.state, func.count()).group_by(Delivery.state)).all()
    )
    runs = db.session.scalars(select(ReminderRun).order_by(ReminderRun.id.desc()).limit(10)).all()
    teams = db.session.scalars(select(Team).where(Team.active.is_(True)).order_by(Team.code)).all()
    return render_template(
        "reminders/deliveries.html",
        rows=rows,
        total=total,
        page=page,
        pages=max(1, -(-total // PER_PAGE)),
        state=state,
        states=outbox.STATES,
        state_labels=STATE_LABELS,
        channel_labels=CHANNEL_LABELS,
        counts=counts,
        runs=runs,
        teams=teams,
        form=ConfirmForm(),
    )


@bp.post("/admin/reminders/deliveries/<int:delivery_id>/retry")
@roles_required(Role.ADMIN)
def delivery_retry(delivery_id: int) -> Any:
    ConfirmForm().validate_on_submit()
    row = db.session.get(Delivery, delivery_id) or abort(404)
    if outbox.retry_delivery(db.session, row, current_user.id):
        db.session.commit()
        flash(_("The delivery is queued again; the scheduler sends it shortly."), "success")
    else:
        flash(_("Only failed deliveries can be retried."), "warning")
    return redirect(url_for("reminders.deliveries"))


# --- a team's group robot -----------------------------------------------------------------


def _team_for_robot(team_id: int) -> Team:
    """The team, if the user may set its robot: admins any team, leads their own."""
    team = db.session.get(Team, team_id) or abort(404)
    if current_user.role == Role.ADMIN:
        return team
    if current_user.role == Role.LEAD and current_user.team_id == team.id:
        return team
    abort(403)


def masked(url: str | None) -> str:
    """A webhook URL without its secret key (shown in pages and the audit log)."""
    if not url:
        return ""
    base, _sep, _query = url.partition("?")
    return f"{base}?…" if _query else base


@bp.route("/teams/<int:team_id>/robot", methods=["GET", "POST"])
@login_required
def team_robot(team_id: int) -> Any:
    team = _team_for_robot(team_id)
    form = RobotForm(webhook_kind=team.webhook_kind or "")
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            kind = form.webhook_kind.data or None
            url = (form.webhook_url.data or "").strip() or team.webhook_url
            if kind and not url:
                form.webhook_url.errors = [_("Give the robot's webhook address.")]
            elif kind and url and not url.startswith("https://"):
                form.webhook_url.errors = [_("The address must start with https://.")]
            else:
                before = (team.webhook_kind, masked(team.webhook_url))
                team.webhook_kind = kind
                team.webhook_url = url if kind else None
                audit.record(
                    db.session,
                    user_id=current_user.id,
                    entity_type="team",
                    entity_id=team.id,
                    action="robot_changed",
                    changes={
                        "webhook_kind": [before[0], team.webhook_kind],
                        "webhook_url": [before[1], masked(team.webhook_url)],
                    },
                )
                db.session.commit()
                flash(_("Group robot saved."), "success")
                return redirect(url_for("reminders.team_robot", team_id=team.id))
        status = 422
    return render_template(
        "reminders/robot.html",
        team=team,
        form=form,
        current_url=masked(team.webhook_url),
        test_form=ConfirmForm(prefix="test"),
    ), status


@bp.post("/teams/<int:team_id>/robot/test")
@login_required
def team_robot_test(team_id: int) -> Any:
    ConfirmForm(prefix="test").validate_on_submit()
    team = _team_for_robot(team_id)
    if not team.webhook_kind or not team.webhook_url:
        flash(_("Set the group robot first."), "warning")
    else:
        settings = reminder_settings.current()
        title = _("Investment CRM reminders: test message")
        body = "### " + title + "\n\n" + _("The group robot of %(team)s works.", team=team.name_zh)
        try:
            outbox.post_webhook(
                team.webhook_url, team.webhook_kind, title, body, settings.webhook_timeout
            )
        except outbox.DeliveryError as exc:
            flash(_("The robot did not accept the message: %(error)s", error=str(exc)), "danger")
        else:
            flash(_("Test message sent."), "success")
    return redirect(url_for("reminders.team_robot", team_id=team.id))
