"""Access rules of the reports routes (see tests/security/matrix.py).

Dashboards, weekly reports and the archive are for team leads, leaders and admins (a lead
sees their own team); officers get 403. Ledger imports are for officers, leads and admins
of the importing team (others' imports answer 404); leaders, who change nothing, get 403;
undo is for admins. Targets: read by report roles, set by admins.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from flask import current_app

from crm.extensions import db
from crm.reports import archive, imports
from crm.reports.scope import ReportScope
from crm.reports.weeks import Week
from tests.security.matrix import Rule, admin_only_api, admin_only_web, api, web

REPORTS_WEB = web("ok", officer=403, other_officer=403)
REPORTS_API = api("ok", officer=403, other_officer=403)
# Another team's archived report: a lead sees their own team's only (404 like a missing one).
OTHER_ARCHIVE_WEB = web("ok", officer=403, other_officer=403, lead=404)
OTHER_ARCHIVE_API = api("ok", officer=403, other_officer=403, lead=404)
IMPORT_WEB = web("ok", other_officer=404, leader=403)
IMPORT_API = api("ok", other_officer=404, leader=403)
PAST_WEEK = "2025-W10"

LEDGER = "项目名称,投资方名称,总投资(万元)\n矩阵测试项目,矩阵测试有限公司,5000\n"


def extend_context(ctx: dict) -> None:
    """A team's archived report and ledger import, for each team (`X` and `other_X`)."""
    from crm.accounts.models import Team

    for prefix in ("", "other_"):
        team = db.session.get(Team, ctx[f"{prefix}team_id"])
        scope = ReportScope(team.id, team.code, team.name_zh, team.name_en)
        row = archive.archive_weekly(
            db.session,
            scope,
            Week.parse(PAST_WEEK),
            archive.reports_dir(current_app.config),
            source="cli",
            as_of=date(2025, 3, 9),
        )
        ctx[f"{prefix}archive_id"] = row.id
        uploaded = imports.upload(
            db.session,
            ctx["users"][f"{prefix}officer"],
            "matrix.csv",
            LEDGER.encode(),
            upload_dir=Path(current_app.config["CRM_UPLOAD_DIR"]),
            limits=imports.Limits(1 << 20, 100),
        )
        ctx[f"{prefix}import_id"] = uploaded.record.id


RULES = {
    "reports.dashboard_page": Rule("GET", lambda c: "/dashboard", REPORTS_WEB),
    "reports.weekly_download": Rule(
        "GET", lambda c: f"/reports/weekly.xlsx?week={PAST_WEEK}", REPORTS_WEB
    ),
    "reports.archive": Rule("GET", lambda c: "/reports/archive", REPORTS_WEB),
    "reports.archive_download": Rule(
        "GET",
        lambda c: f"/reports/archive/{c['archive_id']}",
        REPORTS_WEB,
        other_team=OTHER_ARCHIVE_WEB,
    ),
    "reports.targets_page": Rule("GET", lambda c: "/admin/targets", admin_only_web()),
    "reports.import_list": Rule("GET", lambda c: "/imports", web("ok", leader=403)),
    "reports.import_upload": Rule("POST", lambda c: "/imports", web("ok", leader=403)),
    "reports.import_detail": Rule("GET", lambda c: f"/imports/{c['import_id']}", IMPORT_WEB),
    "reports.import_remap": Rule(
        "POST", lambda c: f"/imports/{c['import_id']}/mapping", IMPORT_WEB
    ),
    "reports.import_apply_view": Rule(
        "POST", lambda c: f"/imports/{c['import_id']}/apply", IMPORT_WEB
    ),
    "reports.import_undo": Rule(
        "POST", lambda c: f"/imports/{c['import_id']}/undo", web(403, admin="ok")
    ),
    "reports.import_errors": Rule(
        "GET", lambda c: f"/imports/{c['import_id']}/errors.xlsx", IMPORT_WEB
    ),
    "reports.import_file": Rule("GET", lambda c: f"/imports/{c['import_id']}/file", IMPORT_WEB),
    "api.get_dashboard": Rule("GET", lambda c: "/api/v1/dashboard", REPORTS_API),
    "api.get_weekly_report": Rule(
        "GET", lambda c: f"/api/v1/reports/weekly?week={PAST_WEEK}", REPORTS_API
    ),
    "api.list_report_archive": Rule("GET", lambda c: "/api/v1/reports/archive", REPORTS_API),
    "api.get_archived_report": Rule(
        "GET",
        lambda c: f"/api/v1/reports/archive/{c['archive_id']}",
        REPORTS_API,
        other_team=OTHER_ARCHIVE_API,
    ),
    "api.get_targets": Rule("GET", lambda c: "/api/v1/targets", REPORTS_API),
    "api.put_targets": Rule(
        "PUT",
        lambda c: "/api/v1/targets",
        admin_only_api(),
        json=lambda c: {"year": 2026, "items": []},
    ),
    "api.create_import": Rule("POST", lambda c: "/api/v1/imports", api("ok", leader=403)),
    "api.get_import": Rule("GET", lambda c: f"/api/v1/imports/{c['import_id']}", IMPORT_API),
    "api.apply_import": Rule(
        "POST", lambda c: f"/api/v1/imports/{c['import_id']}/apply", IMPORT_API
    ),
    "api.undo_import": Rule(
        "POST", lambda c: f"/api/v1/imports/{c['import_id']}/undo", admin_only_api()
    ),
}
