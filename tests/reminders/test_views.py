"""The web pages: the bell, notifications, the stalled page, the project panel and its
snooze form, the admin rules page and calendar, the delivery log, a team's robot; and the
number of SQL statements of the pages, which must not grow with the data."""

from __future__ import annotations

import re
from contextlib import contextmanager
from datetime import date, timedelta

from sqlalchemy import event, select

from crm.audit import AuditLog
from crm.enums import Stage
from crm.extensions import db
from crm.reminders.models import Delivery, ReminderRule, ReminderSnooze, WorkCalendarDay
from tests import factories
from tests.conftest import login
from tests.reminders.helpers import check, only_rules
from tests.reminders.servers import robot_server

TODAY = date.today()
LONG_AGO = TODAY - timedelta(days=200)


def stalled_project(people, **kw):
    return factories.project(
        people.team,
        owner=people.officer,
        stage=Stage.LANDED,
        signed_on=kw.pop("signed_on", LONG_AGO),
        **kw,
    )


@contextmanager
def count_queries():
    statements: list[str] = []

    def record(conn, cursor, statement, *args):
        statements.append(statement)

    engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_the_bell_counts_unread_notifications_on_every_page(client, people):
    only_rules("landed_not_started")
    stalled_project(people, name="星城储能材料项目")
    stalled_project(people)
    check(TODAY)
    login(client, people.officer.email)
    for url in ("/", "/projects", "/stalled", "/profile"):
        page = client.get(url).get_data(as_text=True)
        assert 'data-testid="notification-bell"' in page
        assert re.search(r'data-testid="unread-count">2<', page), url

    page = client.get("/notifications").get_data(as_text=True)
    assert page.count('data-testid="notification"') == 2
    assert "星城储能材料项目" in page
    note_id = int(re.search(r"/notifications/(\d+)/read", page).group(1))
    response = client.form(f"/notifications/{note_id}/read", {"next": "/notifications"})
    assert response.status_code == 302
    assert 'data-testid="unread-count">1<' in client.get("/").get_data(as_text=True)
    assert client.form("/notifications/read-all").status_code == 302
    assert 'data-testid="unread-count"' not in client.get("/").get_data(as_text=True)


def test_someone_elses_notification_cannot_be_marked_read(client, people):
    only_rules("landed_not_started")
    stalled_project(people)
    check(TODAY)
    login(client, people.other_officer.email)
    page = client.get("/notifications").get_data(as_text=True)
    assert 'data-testid="notification"' not in page
    from crm.reminders.models import Notification

    note = db.session.scalar(select(Notification))
    assert client.form(f"/notifications/{note.id}/read").status_code == 404
    assert db.session.get(Notification, note.id).read_at is None


def test_the_stalled_page_lists_what_the_user_may_see_with_rule_and_days(
    client, make_client, people
):
    only_rules("landed_not_started", "no_activity")
    mine = stalled_project(people, name="岳麓检验检测中心", signed_on=TODAY - timedelta(days=95))
    factories.project(
        people.other_team,
        stage=Stage.LANDED,
        signed_on=TODAY - timedelta(days=300),  # three times the threshold
        name="别队的保密项目",
    )
    login(client, people.officer.email)
    page = client.get("/stalled").get_data(as_text=True)
    assert "岳麓检验检测中心" in page and "别队的保密项目" not in page
    assert "95" in page and "90" in page  # elapsed and threshold
    assert f"/projects/{mine.id}" in page
    client = make_client()
    login(client, people.leader.email)
    page = client.get("/stalled").get_data(as_text=True)
    assert "岳麓检验检测中心" in page and "别队的保密项目" in page
    filtered = client.get("/stalled?rule=no_activity").get_data(as_text=True)
    assert "岳麓检验检测中心" not in filtered
    escalated = client.get("/stalled?level=3").get_data(as_text=True)
    assert "别队的保密项目" in escalated and "岳麓检验检测中心" not in escalated


def test_the_project_panel_shows_the_badge_and_snoozes(client, people):
    only_rules("landed_not_started")
    project = stalled_project(people, signed_on=TODAY - timedelta(days=100))
    login(client, people.officer.email)
    page = client.get(f"/projects/{project.id}").get_data(as_text=True)
    assert 'data-testid="panel-stall"' in page
    assert "100" in page and "10" in page  # 100 days, threshold 90, 10 overdue
    until = TODAY + timedelta(days=20)
    response = client.form(
        f"/projects/{project.id}/snoozes",
        {
            "snooze-rule_code": "landed_not_started",
            "snooze-until": until.isoformat(),
            "snooze-reason": "施工许可证办理中",
        },
    )
    assert response.status_code == 302
    snooze = db.session.scalar(select(ReminderSnooze))
    assert (snooze.until, snooze.reason, snooze.created_by_id) == (
        until,
        "施工许可证办理中",
        people.officer.id,
    )
    page = client.get(f"/projects/{project.id}").get_data(as_text=True)
    assert 'data-testid="panel-stall"' not in page and 'data-testid="panel-snooze"' in page
    assert "施工许可证办理中" in page

    assert client.form(f"/projects/{project.id}/snoozes/{snooze.id}/cancel").status_code == 302
    assert db.session.get(ReminderSnooze, snooze.id).cancelled_at is not None
    actions = db.session.scalars(
        select(AuditLog.action).where(AuditLog.entity_id == project.id).order_by(AuditLog.id)
    ).all()
    assert actions == ["reminder_snoozed", "reminder_snooze_cancelled"]


def test_a_snooze_without_a_reason_or_in_the_past_is_refused(client, people):
    project = stalled_project(people)
    login(client, people.lead.email)
    for data in (
        {"snooze-rule_code": "no_activity", "snooze-until": TODAY.isoformat()},
        {
            "snooze-rule_code": "no_activity",
            "snooze-until": (TODAY - timedelta(days=1)).isoformat(),
            "snooze-reason": "x",
        },
    ):
        client.form(f"/projects/{project.id}/snoozes", data)
    assert db.session.scalar(select(ReminderSnooze)) is None


def test_leaders_see_the_panel_but_cannot_snooze(client, people):
    project = stalled_project(people)
    login(client, people.leader.email)
    page = client.get(f"/projects/{project.id}").get_data(as_text=True)
    assert 'id="panel-reminders"' in page and "snooze-reason" not in page
    response = client.form(
        f"/projects/{project.id}/snoozes",
        {
            "snooze-rule_code": "no_activity",
            "snooze-until": TODAY.isoformat(),
            "snooze-reason": "x",
        },
    )
    assert response.status_code == 403


def test_admin_edits_thresholds_and_bad_values_are_shown(client, people):
    login(client, people.admin.email)
    page = client.get("/admin/reminders/rules").get_data(as_text=True)
    rule = db.session.scalar(
        select(ReminderRule).where(
            ReminderRule.code == "landed_not_started", ReminderRule.stage == "landed"
        )
    )
    assert f'name="days_{rule.id}"' in page
    data = {}
    for row in db.session.scalars(select(ReminderRule)):
        data[f"days_{row.id}"] = str(row.days)
        data[f"key_days_{row.id}"] = str(row.key_days or "")
        if row.enabled:
            data[f"enabled_{row.id}"] = "y"
    data[f"days_{rule.id}"], data[f"key_days_{rule.id}"] = "120", "45"
    assert client.form("/admin/reminders/rules", data).status_code == 302
    db.session.refresh(rule)
    assert (rule.days, rule.key_days) == (120, 45)
    entry = db.session.scalar(select(AuditLog).where(AuditLog.entity_type == "reminder_rule"))
    assert entry.changes["days"] == [90, 120]

    data[f"key_days_{rule.id}"] = "200"  # looser than the normal threshold
    response = client.form("/admin/reminders/rules", data)
    assert response.status_code == 422
    data[f"days_{rule.id}"] = "0"
    response = client.form("/admin/reminders/rules", data)
    assert response.status_code == 422 and "is-invalid" in response.get_data(as_text=True)
    db.session.refresh(rule)
    assert (rule.days, rule.key_days) == (120, 45)


def test_admin_keeps_the_holiday_calendar(client, people):
    login(client, people.admin.email)
    client.form(
        "/admin/reminders/calendar",
        {"day-on": "2026-10-01", "day-working": "0", "day-name": "国庆节"},
    )
    client.form(
        "/admin/reminders/calendar",
        {"day-on": "2026-10-10", "day-working": "1", "day-name": "国庆调休"},
    )
    days = {d.on: d.working for d in db.session.scalars(select(WorkCalendarDay))}
    assert days == {date(2026, 10, 1): False, date(2026, 10, 10): True}
    assert "国庆调休" in client.get("/admin/reminders/rules").get_data(as_text=True)
    client.form("/admin/reminders/calendar/2026-10-10/delete")
    assert db.session.get(WorkCalendarDay, date(2026, 10, 10)) is None


def test_the_delivery_log_shows_errors_and_retries(client, people):
    from crm.db import utcnow
    from crm.reminders.models import ReminderRun

    run = ReminderRun(as_of=TODAY)
    db.session.add(run)
    db.session.flush()
    now = utcnow()
    dead = Delivery(
        key="wecom:1:x",
        channel="wecom",
        team_id=people.team.id,
        run_id=run.id,
        digest_on=TODAY,
        subject="停滞项目提醒",
        body="...",
        state="dead",
        attempts=25,
        last_error="HTTP 502 Bad Gateway",
        next_attempt_at=now,
        give_up_at=now,
    )
    db.session.add(dead)
    db.session.flush()
    login(client, people.admin.email)
    page = client.get("/admin/reminders/deliveries?state=dead").get_data(as_text=True)
    assert "HTTP 502 Bad Gateway" in page and people.team.code in page
    assert client.form(f"/admin/reminders/deliveries/{dead.id}/retry").status_code == 302
    db.session.refresh(dead)
    assert dead.state == "pending"


def test_a_lead_sets_the_team_robot_and_sends_a_test_message(client, make_client, people):
    login(client, people.lead.email)
    url = f"/teams/{people.team.id}/robot"
    response = client.form(
        url, {"webhook_kind": "wecom", "webhook_url": "http://insecure.example.cn/hook"}
    )
    assert response.status_code == 422
    response = client.form(
        url,
        {
            "webhook_kind": "wecom",
            "webhook_url": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=secret-key",
        },
    )
    assert response.status_code == 302
    db.session.refresh(people.team)
    assert people.team.webhook_kind == "wecom" and people.team.webhook_url.endswith("secret-key")
    page = client.get(url).get_data(as_text=True)
    assert "secret-key" not in page  # the key is not shown back
    entry = db.session.scalar(select(AuditLog).where(AuditLog.action == "robot_changed"))
    assert "secret-key" not in str(entry.changes)

    with robot_server() as robot:
        people.team.webhook_url = robot.url  # a local stand-in for the robot
        db.session.flush()
        assert client.form(f"{url}/test").status_code == 302
        assert len(robot.requests) == 1
        assert robot.requests[0]["json"]["msgtype"] == "markdown"
    other_lead = factories.user(people.lead.role, people.other_team)
    client = make_client()
    login(client, other_lead.email)
    assert client.get(url).status_code == 403


def _pages_queries(client, people, urls):
    counts = {}
    for url in urls:
        with count_queries() as statements:
            assert client.get(url).status_code == 200
        counts[url] = len(statements)
    return counts


def test_pages_do_not_issue_a_query_per_row(client, make_client, people):
    only_rules("landed_not_started", "task_overdue", "no_activity")
    project = stalled_project(people)
    check(TODAY)
    login(client, people.officer.email)
    urls = ["/notifications", "/stalled", f"/projects/{project.id}"]
    small = _pages_queries(client, people, urls)
    for i in range(15):
        p = stalled_project(people, signed_on=LONG_AGO + timedelta(days=i))
        factories.share(p, people.other_team)
    from tests.reminders.helpers import task

    task(people.officer.id, people.team.id, TODAY - timedelta(days=30), project)
    check(TODAY + timedelta(days=1))
    large = _pages_queries(client, people, urls)
    assert large == small, (small, large)
    client = make_client()
    login(client, people.admin.email)
    admin_urls = ["/admin/reminders/deliveries", "/admin/reminders/rules"]
    assert _pages_queries(client, people, admin_urls)


def test_the_badge_and_the_jinja_global_for_lists_and_boards(app, people):
    from flask import render_template_string

    only_rules("landed_not_started")
    stalled = stalled_project(people, signed_on=TODAY - timedelta(days=95))
    fresh = factories.project(people.team)
    source = (
        "{% set stalls = stalled_for(ids) %}"
        "{% for i in ids %}<td>{{ stalled_badge(stalls.get(i)) }}</td>{% endfor %}"
    )
    with app.test_request_context():
        html = render_template_string(source, ids=[stalled.id, fresh.id])
    cells = re.findall(r"<td>(.*?)</td>", html, re.S)
    assert 'data-testid="stalled-badge"' in cells[0] and "5" in cells[0]
    assert cells[1].strip() == ""
