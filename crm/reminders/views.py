"""Notifications (the bell), the stalled-project page and the reminders panel of a project.

Also registers, for the templates of other features: the Jinja globals `stalled_for(ids)`
(see `crm.reminders.detection.stalled_for_projects`) and `stalled_badge(stalls)` (the
badge), and the `rule_label` filter.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from markupsafe import Markup, escape
from sqlalchemy import select

from crm import nav
from crm.accounts.forms import ConfirmForm
from crm.extensions import db
from crm.pipeline import panels
from crm.pipeline.access import can_edit, get_visible_project
from crm.reminders import rules as R
from crm.reminders import services
from crm.reminders import settings as reminder_settings
from crm.reminders.detection import (
    detect,
    request_context,
    stalled_for_projects,
    stalls_by_rule,
)
from crm.reminders.forms import SnoozeForm
from crm.reminders.models import Reminder, ReminderSnooze
from crm.web import page_number

bp = Blueprint("reminders", __name__)
PER_PAGE = 50

nav.NAV.append(("reminders.stalled", _l("Stalled"), None))


def _bell() -> Markup:
    if not current_user.is_authenticated:
        return Markup("")
    count = services.unread_count(db.session, current_user.id)
    # The template autoescapes; its output is safe markup.
    return Markup(render_template("reminders/_bell.html", unread=count))  # noqa: S704


nav.NAVBAR_EXTRAS.append(_bell)


@bp.app_template_global("stalled_for")
def _stalled_for(project_ids: Any) -> dict[int, list[Any]]:
    """`{% set stalls = stalled_for(ids) %}`: rules and days overdue per stalled project."""
    ids = [int(i) for i in project_ids]
    return stalled_for_projects(db.session, ids, ctx=request_context(db.session)) if ids else {}


@bp.app_template_global("stalled_words")
def _stalled_words() -> dict[str, Any]:
    """The badge's words, translated once per request (a page shows up to 50 badges, and
    each translation lookup costs more than the badge's other work)."""
    words = g.get("_stalled_words")
    if words is None:
        words = g._stalled_words = {
            "stalled": _("Stalled"),
            "overdue": _("%(n)d days overdue"),
            "days": _("%(n)d d"),
            "rules": {code: R.rule_label(code) for code in R.RULE_CODES},
        }
    return words  # type: ignore[no-any-return]


@bp.app_template_global("stalled_badge")
def _stalled_badge(stalls: list[Any] | None) -> Markup:
    """The stalled badge of one project (`stalls` from `stalled_for` / `stalled_badges`,
    worst first), or nothing. The visible text names the worst rule and its days overdue;
    screen readers and the tooltip get every rule in words (never colour alone). Built
    here rather than in a macro: a list page shows up to 50 of them."""
    if not stalls:
        return Markup("")
    words = _stalled_words()
    rules = words["rules"]
    named = [(rules.get(s.rule, s.rule), words["overdue"] % {"n": s.days_overdue}) for s in stalls]
    title = "; ".join(f"{rule}: {days}" for rule, days in named)
    spoken = "; ".join(f"{rule}, {days}" for rule, days in named)
    worst = stalls[0]
    more = f" +{len(stalls) - 1}" if len(stalls) > 1 else ""
    shown = f"{words['stalled']}: {rules.get(worst.rule, worst.rule)} · "
    shown += words["days"] % {"n": worst.days_overdue} + more
    return Markup(  # noqa: S704 (every piece of text is escaped)
        '<span class="badge text-bg-danger stalled-badge" data-testid="stalled-badge" '
        f'title="{escape(title)}"><span aria-hidden="true">{escape(shown)}</span> '
        f'<span class="visually-hidden">{escape(words["stalled"])}: {escape(spoken)}</span></span>'
    )


@bp.app_template_filter("rule_label")
def _rule_label(code: str) -> str:
    return R.rule_label(code)


@bp.app_template_global("level_label")
def _level_label(level: int) -> str:
    return R.level_label(level)


def _page() -> int:
    return max(1, page_number() or 1)


def _back(default: str) -> Any:
    target = request.form.get("next") or ""
    if target.startswith("/") and not target.startswith("//"):
        return redirect(target)
    return redirect(default)


# --- notifications -----------------------------------------------------------------------


@bp.get("/notifications")
@login_required
def notifications() -> Any:
    page = _page()
    unread_only = request.args.get("unread") == "1"
    rows, total = services.list_notifications(
        db.session, current_user.id, page=page, per_page=PER_PAGE, unread_only=unread_only
    )
    return render_template(
        "reminders/notifications.html",
        rows=rows,
        total=total,
        page=page,
        pages=max(1, -(-total // PER_PAGE)),
        unread_only=unread_only,
        form=ConfirmForm(),
    )


@bp.post("/notifications/<int:notification_id>/read")
@login_required
def notification_read(notification_id: int) -> Any:
    ConfirmForm().validate_on_submit()
    if services.mark_read(db.session, current_user.id, notification_id) is None:
        abort(404)
    db.session.commit()
    return _back(url_for("reminders.notifications"))


@bp.post("/notifications/read-all")
@login_required
def notifications_read_all() -> Any:
    ConfirmForm().validate_on_submit()
    count = services.mark_all_read(db.session, current_user.id)
    db.session.commit()
    flash(_("%(n)d notifications marked read.", n=count), "success")
    return _back(url_for("reminders.notifications"))


# --- stalled projects --------------------------------------------------------------------


@bp.get("/stalled")
@login_required
def stalled() -> Any:
    settings = reminder_settings.current()
    rule = request.args.get("rule") or None
    if rule not in R.BY_CODE:
        rule = None
    level = request.args.get("level", 1, type=int) or 1
    page = _page()
    items, total = services.stalled_projects(
        db.session,
        current_user,
        settings.today(),
        settings.tz_name,
        rule_code=rule,
        min_level=level,
        page=page,
        per_page=PER_PAGE,
    )
    return render_template(
        "reminders/stalled.html",
        items=items,
        total=total,
        page=page,
        pages=max(1, -(-total // PER_PAGE)),
        rule=rule,
        level=level,
        definitions=R.DEFINITIONS,
        as_of=settings.today(),
    )


# --- the project panel and snoozes -------------------------------------------------------


def load_panel(session: Any, user: Any, project: Any) -> dict[str, Any]:
    """The reminders panel: what the project is stalled on, its snoozes, recent reminders.
    A fixed number of queries."""
    ctx = request_context(session)
    today = ctx.as_of
    stalls = detect(session, ctx, project_ids=[project.id])
    stalls.sort(key=lambda d: (-d.level, -d.days_overdue, d.rule_code))
    history = session.scalars(
        select(Reminder)
        .where(Reminder.subject_kind == "project", Reminder.subject_id == project.id)
        .order_by(Reminder.id.desc())
        .limit(10)
    ).all()
    editable = can_edit(session, user, project)
    form = SnoozeForm(prefix="snooze") if editable else None
    if form is not None and stalls and not form.rule_code.data:
        form.rule_code.data = stalls[0].rule_code
    return {
        "stalls": stalls,
        "badge": stalls_by_rule(stalls),
        "snoozes": services.active_snoozes(session, project.id, today),
        "history": history,
        "form": form,
        "confirm": ConfirmForm(prefix="unsnooze"),
        "project": project,
        "today": today,
    }


panels.register(
    panels.Panel(
        key="reminders",
        template="reminders/panel.html",
        load=load_panel,
        order=20,
        header="reminders/_header_badge.html",
    )
)


@bp.post("/projects/<int:project_id>/snoozes")
@login_required
def snooze(project_id: int) -> Any:
    project = get_visible_project(db.session, current_user, project_id)
    if not can_edit(db.session, current_user, project):
        abort(403)
    form = SnoozeForm(prefix="snooze")
    target = url_for("pipeline.project_detail", project_id=project.id) + "#panel-reminders"
    if not form.validate_on_submit():
        for errors in form.errors.values():
            for error in errors:
                flash(str(error), "danger")
        return redirect(target)
    try:
        services.snooze(
            db.session,
            project,
            rule_code=form.rule_code.data or "",
            until=form.until.data,  # type: ignore[arg-type]
            reason=form.reason.data or "",
            actor_id=current_user.id,
            today=reminder_settings.current().today(),
        )
    except services.SnoozeError as exc:
        flash(str(exc), "danger")
        return redirect(target)
    db.session.commit()
    flash(_("Reminder snoozed."), "success")
    return redirect(target)


@bp.post("/projects/<int:project_id>/snoozes/<int:snooze_id>/cancel")
@login_required
def snooze_cancel(project_id: int, snooze_id: int) -> Any:
    ConfirmForm(prefix="unsnooze").validate_on_submit()
    project = get_visible_project(db.session, current_user, project_id)
    if not can_edit(db.session, current_user, project):
        abort(403)
    row = db.session.get(ReminderSnooze, snooze_id)
    if row is None or row.project_id != project.id:
        abort(404)
    services.cancel_snooze(db.session, row, current_user.id)
    db.session.commit()
    flash(_("Snooze ended: reminders resume."), "success")
    return redirect(url_for("pipeline.project_detail", project_id=project.id) + "#panel-reminders")
