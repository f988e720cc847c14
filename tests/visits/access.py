"""Access rules of the visits feature's routes (see tests/security/matrix.py).

The sample records belong to the officer's team (`team_id`); `other_officer` is in another
team and gets 404 for visits, tasks, attachments and inquiries (exactly as for missing
ones). Events are public happenings: everyone reads them, only their team changes them.
Leaders read everything and change nothing (403). Destructive rules get records of their
own so the order the rules run in does not matter.
"""

from __future__ import annotations

from datetime import date, timedelta

from flask import current_app

from crm.accounts.models import Team, User
from crm.extensions import db
from crm.visits import attachments, contacts, events, services
from crm.visits.leads import local_today
from crm.visits.tasks import create_task
from crm.visits.web import now_utc
from tests import factories
from tests.security.matrix import Rule, admin_only_web, api, web

PDF = b"%PDF-1.4\n% sample\n"


def extend_context(ctx: dict) -> None:
    """The officer's team's records, and the same for the other team (`other_X`), so the
    matrix also aims every route at another team's visit, task, attachment and inquiry."""
    _add_records(ctx, "")
    _add_records(ctx, "other_")
    officer = db.session.get(User, ctx["officer_id"])
    ctx["contact_id"] = _contact(ctx, officer, "王经理")
    ctx["contact_to_delete_id"] = _contact(ctx, officer, "李总")
    event = events.create_event(
        db.session,
        officer,
        events.EventInput(name="集中签约仪式", on=local_today() - timedelta(days=3), place="长沙"),
        officer.team_id,
    )
    events.link_projects(db.session, officer, event, [ctx["project_id"]])
    # An admin linked the other team's project too. Events are public and not swapped: the
    # other team's run aims the officer's event at that project, which the officer's team
    # may not see: signing or unlinking it is refused like a missing project (404).
    events.link_projects(db.session, ctx["users"]["admin"], event, [ctx["other_project_id"]])
    ctx["event_id"] = event.id
    # A project of each team linked to the event, for the API's unlinking.
    for prefix in ("", "other_"):
        unlinked = factories.project(db.session.get(Team, ctx[f"{prefix}team_id"]))
        events.link_projects(db.session, ctx["users"]["admin"], event, [unlinked.id])
        ctx[f"{prefix}api_unlink_project_id"] = unlinked.id
    ctx["api_contact_to_delete_id"] = _contact(ctx, officer, "赵总")


def _add_records(ctx: dict, prefix: str) -> None:
    """Visits, a task, attachments and an inquiry of one team (`prefix`: "" or "other_")."""
    officer = db.session.get(User, ctx[f"{prefix}officer_id"])
    project_id = ctx[f"{prefix}project_id"]
    today = local_today()
    day = today - timedelta(days=3)

    def visit() -> int:
        data = services.VisitInput(
            on=day,
            type="company_visit",
            company_id=ctx[f"{prefix}company_id"],
            project_ids=[project_id],
        )
        return services.create_visit(db.session, officer, data, now=now_utc(), today=today).visit.id

    for key in ("visit_id", "visit_to_delete_id", "api_visit_to_delete_id"):
        ctx[prefix + key] = visit()
    ctx[f"{prefix}task_id"] = create_task(
        db.session,
        title="Send the land brochure",
        owner_id=officer.id,
        due_on=today - timedelta(days=1),
        project_id=project_id,
        created_by=officer,
    ).id
    for key in ("attachment_id", "attachment_to_delete_id", "api_attachment_to_delete_id"):
        ctx[prefix + key] = attachments.store_attachment(
            db.session,
            upload_dir=current_app.config["CRM_UPLOAD_DIR"],
            max_bytes=1024 * 1024,
            user=officer,
            parent="project",
            parent_id=project_id,
            filename="agreement.pdf",
            data=PDF,
        ).id
    inquiry = factories.project(
        db.session.get(Team, ctx[f"{prefix}team_id"]),
        is_inquiry=True,
        inquiry_received_on=date(2026, 1, 5),
    )
    ctx[f"{prefix}inquiry_id"] = inquiry.id


def _contact(ctx: dict, officer: User, name: str) -> int:
    return contacts.create_contact(
        db.session,
        contacts.ContactInput(name=name, company_id=ctx["company_id"], phone="13812345678"),
        user_id=officer.id,
        today=local_today(),
    ).id


READERS_404 = {"other_officer": 404}
WRITE_404 = {"other_officer": 404, "leader": 403}
EVENT_WRITE = {"other_officer": 403, "leader": 403}

RULES = {
    # visits
    "visits.visit_list": Rule("GET", lambda c: "/visits", web()),
    "visits.my_visits": Rule("GET", lambda c: "/me/visits", web()),
    # a person's visits: themselves, their team's lead, leaders and admins
    "visits.person_visits": Rule(
        "GET", lambda c: f"/users/{c['officer_id']}/visits", web(**READERS_404)
    ),
    "visits.visit_new": Rule("GET", lambda c: "/visits/new", web(leader=403)),
    "visits.visit_detail": Rule("GET", lambda c: f"/visits/{c['visit_id']}", web(**READERS_404)),
    "visits.visit_edit": Rule("GET", lambda c: f"/visits/{c['visit_id']}/edit", web(**WRITE_404)),
    "visits.visit_delete": Rule(
        "POST", lambda c: f"/visits/{c['visit_to_delete_id']}/delete", web(**WRITE_404)
    ),
    "visits.visit_lead_project": Rule(
        "POST",
        lambda c: f"/visits/{c['visit_id']}/lead-project",
        web(**WRITE_404),
        data=lambda c: {"name": "新线索项目"},
    ),
    # follow-ups
    "visits.my_work": Rule("GET", lambda c: "/my-work", web()),
    "visits.task_complete": Rule(
        "POST", lambda c: f"/tasks/{c['task_id']}/complete", web(**WRITE_404)
    ),
    "visits.project_task_new": Rule(
        "POST",
        lambda c: f"/projects/{c['project_id']}/tasks",
        web(**WRITE_404),
        data=lambda c: {
            "task-title": "Call back",
            "task-due_on": "2026-12-01",
            "task-owner_id": str(c["officer_id"]),
        },
    ),
    # contacts (a shared address book: every signed-in user reads it)
    "visits.contact_list": Rule("GET", lambda c: "/contacts", web()),
    "visits.contact_new": Rule("GET", lambda c: "/contacts/new", web(leader=403)),
    "visits.contact_detail": Rule("GET", lambda c: f"/contacts/{c['contact_id']}", web()),
    "visits.contact_edit": Rule(
        "GET", lambda c: f"/contacts/{c['contact_id']}/edit", web(leader=403)
    ),
    "visits.contact_delete": Rule(
        "POST", lambda c: f"/contacts/{c['contact_to_delete_id']}/delete", web(leader=403)
    ),
    # inquiries and settings
    "visits.inquiry_list": Rule("GET", lambda c: "/inquiries", web()),
    "visits.inquiry_new": Rule("GET", lambda c: "/inquiries/new", web(leader=403)),
    "visits.inquiry_answered": Rule(
        "POST",
        lambda c: f"/inquiries/{c['inquiry_id']}/answered",
        web(**WRITE_404),
        data=lambda c: {"answered_on": "2026-01-06"},
    ),
    "visits.settings": Rule("GET", lambda c: "/admin/visit-settings", admin_only_web()),
    # events
    "visits.event_list": Rule("GET", lambda c: "/events", web()),
    "visits.event_new": Rule("GET", lambda c: "/events/new", web(leader=403)),
    "visits.event_detail": Rule("GET", lambda c: f"/events/{c['event_id']}", web()),
    "visits.event_edit": Rule("GET", lambda c: f"/events/{c['event_id']}/edit", web(**EVENT_WRITE)),
    "visits.event_link_projects": Rule(
        "POST",
        lambda c: f"/events/{c['event_id']}/projects",
        web(**EVENT_WRITE),
        data=lambda c: {"link-more_ids": str(c["project_id"])},
        # Linking another team's project is refused by the form (422), nothing changes.
        other_team=web(**EVENT_WRITE, officer=422, lead=422),
    ),
    "visits.event_unlink_project": Rule(
        "POST",
        lambda c: f"/events/{c['event_id']}/projects/{c['project_id']}/remove",
        web(**EVENT_WRITE),
        # The other team's project, hidden from the officer's team: 404 like a missing one.
        other_team=web(**EVENT_WRITE, officer=404, lead=404),
    ),
    "visits.event_sign": Rule(
        "POST",
        lambda c: f"/events/{c['event_id']}/sign",
        web(**EVENT_WRITE),
        data=lambda c: {"sign-project_ids": str(c["project_id"])},
        # Signing the other team's project at the event: 404 like a missing project, and it
        # stays unsigned (also tests/visits/test_events.py).
        other_team=web(**EVENT_WRITE, officer=404, lead=404),
    ),
    # attachments
    "visits.attachment_upload": Rule(
        "POST",
        lambda c: f"/attachments?parent=project&parent_id={c['project_id']}",
        web(**WRITE_404),
        data=lambda c: {"parent": "project", "parent_id": str(c["project_id"])},
    ),
    "visits.attachment_download": Rule(
        "GET", lambda c: f"/attachments/{c['attachment_id']}", web(**READERS_404)
    ),
    "visits.attachment_delete": Rule(
        "POST", lambda c: f"/attachments/{c['attachment_to_delete_id']}/delete", web(**WRITE_404)
    ),
    # API
    "api.list_visits": Rule("GET", lambda c: "/api/v1/visits", api()),
    "api.create_visit": Rule(
        "POST",
        lambda c: "/api/v1/visits",
        api(leader=403, other_officer=422),
        json=lambda c: {
            "date": "2026-01-10",
            "type": "company_visit",
            "company_id": c["company_id"],
            "project_ids": [c["project_id"]],
        },
        notes="another team's project is refused with 422 (not visible)",
    ),
    "api.suggest_companies": Rule(
        "GET", lambda c: "/api/v1/visits/company-suggestions?q=测试", api()
    ),
    "api.company_visit_options": Rule(
        "GET", lambda c: f"/api/v1/visits/company-options/{c['company_id']}", api()
    ),
    "api.get_visit": Rule("GET", lambda c: f"/api/v1/visits/{c['visit_id']}", api(**READERS_404)),
    "api.update_visit": Rule(
        "PATCH",
        lambda c: f"/api/v1/visits/{c['visit_id']}",
        api(**WRITE_404),
        json=lambda c: {"purpose": "回访用地需求"},
    ),
    "api.create_lead_from_visit": Rule(
        "POST",
        lambda c: f"/api/v1/visits/{c['visit_id']}/lead-project",
        api(**WRITE_404),
        json=lambda c: {"name": "新线索项目"},
    ),
    "api.delete_visit": Rule(
        "DELETE", lambda c: f"/api/v1/visits/{c['api_visit_to_delete_id']}", api(**WRITE_404)
    ),
    "api.list_contacts": Rule("GET", lambda c: "/api/v1/contacts", api()),
    "api.create_contact": Rule(
        "POST", lambda c: "/api/v1/contacts", api(leader=403), json=lambda c: {"name": "张三"}
    ),
    "api.get_contact": Rule("GET", lambda c: f"/api/v1/contacts/{c['contact_id']}", api()),
    "api.delete_contact": Rule(
        "DELETE", lambda c: f"/api/v1/contacts/{c['api_contact_to_delete_id']}", api(leader=403)
    ),
    "api.update_contact": Rule(
        "PATCH",
        lambda c: f"/api/v1/contacts/{c['contact_id']}",
        api(leader=403),
        json=lambda c: {"title": "总经理"},
    ),
    "api.list_tasks": Rule("GET", lambda c: "/api/v1/tasks?scope=team", api()),
    "api.create_task": Rule(
        "POST",
        lambda c: "/api/v1/tasks",
        api(leader=403, other_officer=404),
        json=lambda c: {
            "title": "Visit again",
            "due_date": "2026-12-01",
            "project_id": c["project_id"],
        },
    ),
    "api.get_task": Rule("GET", lambda c: f"/api/v1/tasks/{c['task_id']}", api(**READERS_404)),
    "api.complete_task": Rule(
        "POST",
        lambda c: f"/api/v1/tasks/{c['task_id']}/complete",
        api(**WRITE_404),
        json=lambda c: {"note": "sent"},
    ),
    "api.list_inquiries": Rule("GET", lambda c: "/api/v1/inquiries", api()),
    "api.answer_inquiry": Rule(
        "POST",
        lambda c: f"/api/v1/inquiries/{c['inquiry_id']}/answered",
        api(**WRITE_404),
        json=lambda c: {"answered_on": "2026-01-06"},
    ),
    "api.list_events": Rule("GET", lambda c: "/api/v1/events", api()),
    "api.create_event": Rule(
        "POST",
        lambda c: "/api/v1/events",
        api(leader=403),
        json=lambda c: {"name": "推介会", "kind": "promotion"},
        notes="an administrator (no team) must give `team`: 422 here",
    ),
    "api.get_event": Rule("GET", lambda c: f"/api/v1/events/{c['event_id']}", api()),
    "api.update_event": Rule(
        "PATCH",
        lambda c: f"/api/v1/events/{c['event_id']}",
        api(**EVENT_WRITE),
        json=lambda c: {"place": "长沙国际会议中心"},
    ),
    "api.link_event_projects": Rule(
        "POST",
        lambda c: f"/api/v1/events/{c['event_id']}/projects",
        api(**EVENT_WRITE),
        json=lambda c: {"project_ids": [c["project_id"]]},
        # Another team's project: 404 like a missing one, nothing linked.
        other_team=api(**EVENT_WRITE, officer=404, lead=404),
    ),
    "api.unlink_event_project": Rule(
        "DELETE",
        lambda c: f"/api/v1/events/{c['event_id']}/projects/{c['api_unlink_project_id']}",
        api(**EVENT_WRITE),
        other_team=api(**EVENT_WRITE, officer=404, lead=404),
    ),
    "api.sign_event": Rule(
        "POST",
        lambda c: f"/api/v1/events/{c['event_id']}/sign",
        api(**EVENT_WRITE),
        json=lambda c: {"project_ids": [c["project_id"]]},
        # As on the web: another team's project is 404 (and stays unsigned).
        other_team=api(**EVENT_WRITE, officer=404, lead=404),
    ),
    "api.upload_attachment": Rule(
        "POST",
        lambda c: "/api/v1/attachments",
        api(leader=403, other_officer=415),
        notes="the matrix sends JSON, refused with 415; multipart and the 404 for other "
        "teams are tested in tests/visits/test_attachments.py",
    ),
    "api.list_attachments": Rule(
        "GET",
        lambda c: f"/api/v1/attachments?parent=project&parent_id={c['project_id']}",
        api(**READERS_404),
    ),
    "api.get_attachment": Rule(
        "GET", lambda c: f"/api/v1/attachments/{c['attachment_id']}", api(**READERS_404)
    ),
    "api.download_attachment": Rule(
        "GET", lambda c: f"/api/v1/attachments/{c['attachment_id']}/content", api(**READERS_404)
    ),
    "api.delete_attachment": Rule(
        "DELETE",
        lambda c: f"/api/v1/attachments/{c['api_attachment_to_delete_id']}",
        api(**WRITE_404),
    ),
}
