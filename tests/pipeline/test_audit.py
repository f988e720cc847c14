"""Every change to a project is recorded with its user, time and field-level before/after."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from crm.audit import AuditLog
from crm.enums import Role, Stage
from crm.extensions import db
from crm.pipeline import keys, services, sharing
from crm.pipeline.changes import changes_since, project_history
from crm.pipeline.stages import local_today, transition
from tests import factories

TODAY = local_today()


@pytest.fixture
def team(app):
    return factories.team()


@pytest.fixture
def lead(team):
    return factories.user(Role.LEAD, team)


@pytest.fixture
def project(lead):
    return services.create_project(
        db.session,
        lead,
        {"name": "审计项目", "company_name": "审计公司", "planned_investment": "5000"},
        today=TODAY,
    )


def entries(project_id):
    return db.session.scalars(
        select(AuditLog)
        .where(AuditLog.entity_type == "project", AuditLog.entity_id == project_id)
        .order_by(AuditLog.id)
    ).all()


def last(project_id):
    return entries(project_id)[-1]


def test_create_is_recorded_with_initial_values(project, lead):
    entry = entries(project.id)[0]
    assert (entry.action, entry.user_id) == ("create", lead.id)
    assert entry.changes["name"] == [None, "审计项目"]
    assert entry.changes["company_name"] == [None, "审计公司"]
    assert entry.changes["planned_investment"] == [None, "5000.00"]
    assert entry.changes["stage"] == [None, "lead"]
    assert entry.at is not None and entry.at.tzinfo is not None


def test_update_is_recorded_field_by_field_with_its_version_step(project, lead):
    version = project.version
    services.update_project(
        db.session,
        project,
        lead,
        {"planned_investment": "120000", "chain": "automobile", "notes": None},
        expected_version=version,
    )
    entry = last(project.id)
    assert entry.action == "update" and entry.user_id == lead.id
    assert entry.changes["planned_investment"] == ["5000.00", "120000.00"]
    assert entry.changes["chain"] == [None, "automobile"]
    assert entry.changes["is_key"] == [False, True]
    assert entry.changes["version"] == [version, version + 1]
    assert "notes" not in entry.changes  # unchanged fields are not recorded


def test_stage_change_is_recorded_with_dates_note_and_version(project, lead):
    version = project.version
    transition(
        db.session,
        project,
        to=Stage.SIGNED,
        on=TODAY,
        user_id=lead.id,
        note="签约",
        skipped_dates={Stage.NEGOTIATING: TODAY},
    )
    entry = last(project.id)
    assert entry.action == "stage_change"
    assert entry.changes["stage"] == ["lead", "signed"]
    assert entry.changes["signed_on"] == [None, TODAY.isoformat()]
    assert entry.changes["note"] == [None, "签约"]
    assert entry.changes["version"] == [version, version + 1]


def test_share_unshare_reassign_key_delete_restore_are_recorded(project, lead, team):
    other = factories.team()
    colleague = factories.user(Role.OFFICER, team)
    admin = factories.user(Role.ADMIN)

    sharing.share_project(db.session, project, lead, team_code=other.code, can_edit=False)
    assert last(project.id).changes == {f"share:{other.code}": [None, "read"]}
    sharing.share_project(db.session, project, lead, team_code=other.code, can_edit=True)
    assert last(project.id).changes == {f"share:{other.code}": ["read", "edit"]}
    sharing.unshare_project(db.session, project, lead, team_id=other.id)
    assert last(project.id).action == "unshare"
    assert last(project.id).changes == {f"share:{other.code}": ["edit", None]}

    sharing.reassign(db.session, project, lead, owner_id=colleague.id)
    entry = last(project.id)
    assert entry.action == "reassign" and entry.changes["owner_id"] == [lead.id, colleague.id]

    keys.mark_key(db.session, project, lead, marked=True, reason="市重点")
    entry = last(project.id)
    assert entry.action == "key_mark"
    assert entry.changes["key_manual_reason"] == [None, "市重点"]
    assert entry.changes["is_key"] == [False, True]

    sharing.soft_delete(db.session, project, admin)
    assert (last(project.id).action, last(project.id).user_id) == ("delete", admin.id)
    sharing.restore(db.session, project, admin)
    assert last(project.id).action == "restore"
    assert last(project.id).changes["deleted_at"][1] is None

    actions = [e.action for e in entries(project.id)]
    assert actions == [
        "create",
        "share",
        "share",
        "unshare",
        "reassign",
        "key_mark",
        "delete",
        "restore",
    ]


def test_changes_since_lists_the_latest_value_of_each_field_and_who(project, lead):
    start = project.version
    other = factories.user(Role.OFFICER, db.session.get(factories.Team, lead.team_id), name="赵六")
    services.update_project(db.session, project, other, {"notes": "1"}, expected_version=start)
    services.update_project(
        db.session, project, lead, {"notes": "2", "name": "新名"}, expected_version=start + 1
    )
    found = {c.field: c for c in changes_since(db.session, project.id, start)}
    assert found["notes"].value == "2" and found["notes"].user_id == lead.id
    assert found["name"].value == "新名"
    only_last = changes_since(db.session, project.id, start + 1)
    assert {c.field for c in only_last} == {"name", "notes"}
    assert changes_since(db.session, project.id, project.version) == []


def test_project_history_is_newest_first_and_paged(project, lead):
    for n in range(3):
        services.update_project(
            db.session, project, lead, {"notes": str(n)}, expected_version=project.version
        )
    page, total = project_history(db.session, project.id, limit=2)
    assert total == 4 and len(page) == 2
    assert page[0].entry.changes["notes"] == ["1", "2"]
    assert page[0].user_name == lead.name
    assert ("notes", "1", "2") in page[0].field_changes
    assert all(f != "version" for f, _b, _a in page[0].field_changes)
