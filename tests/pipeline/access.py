"""Access rules of the project routes (see tests/security/matrix.py).

`project_id` belongs to the officer's and the lead's team; `other_officer` is in another
team and must get 404, exactly as for a project that does not exist. Leaders read
everything and change nothing (403). Sharing, reassigning and key marks are for a lead of
the project's team and admins; deleting, restoring and settings for admins.
"""

from datetime import UTC, datetime

from crm.accounts.models import Team
from crm.extensions import db
from crm.pipeline.models import Project
from crm.reference.models import ChainSet, IndustrialChain
from tests import factories
from tests.security.matrix import Rule, admin_only_api, admin_only_web, api, web


def extend_context(ctx):
    team = db.session.get(Team, ctx["team_id"])
    ctx["doomed_web_id"] = factories.project(team).id
    ctx["doomed_api_id"] = factories.project(team).id
    for key in ("deleted_web_id", "deleted_api_id"):
        gone = factories.project(team)
        gone.deleted_at = datetime.now(UTC)
        ctx[key] = gone.id
    # Each team's project is shared with a third team (`share_team_id`, `other_share_team_id`).
    # (one share for the web's unshare, one for the API's).
    for prefix in ("", "other_"):
        project = db.session.get(Project, ctx[f"{prefix}project_id"])
        web_team, api_team = factories.team(), factories.team()
        factories.share(project, web_team)
        factories.share(project, api_team)
        ctx[f"{prefix}share_team_id"] = web_team.id
        ctx[f"{prefix}api_share_team_code"] = api_team.code
        # A project a lead marked key by hand, for removing the mark.
        marked = factories.project(
            db.session.get(Team, ctx[f"{prefix}team_id"]),
            key_manual=True,
            key_manual_reason="city priority",
        )
        ctx[f"{prefix}key_marked_id"] = marked.id
    ctx["other_team_code"] = db.session.get(Team, ctx["other_team_id"]).code
    chain_set = db.session.query(ChainSet).filter_by(current=True).one()
    for n, code in enumerate(("matrix-web", "matrix-api")):
        db.session.add(
            IndustrialChain(
                set_id=chain_set.id, code=code, name_zh=f"矩阵链{n}", name_en=code, sort=900 + n
            )
        )
    db.session.flush()


def _lead_only(**overrides):
    return web("ok", officer=403, other_officer=404, leader=403, **overrides)


def _lead_only_api(**overrides):
    return api("ok", officer=403, other_officer=404, leader=403, **overrides)


RULES = {
    "pipeline.project_list": Rule("GET", lambda c: "/projects", web()),
    "pipeline.project_detail": Rule(
        "GET", lambda c: f"/projects/{c['project_id']}", web(other_officer=404)
    ),
    "pipeline.project_new": Rule("GET", lambda c: "/projects/new", web(leader=403)),
    "pipeline.project_edit": Rule(
        "GET", lambda c: f"/projects/{c['project_id']}/edit", web(other_officer=404, leader=403)
    ),
    "pipeline.company_match": Rule("GET", lambda c: "/projects/company-match?name=德赛", web()),
    "pipeline.project_transition": Rule(
        "GET",
        lambda c: f"/projects/{c['project_id']}/transition?to=negotiating",
        web(other_officer=404, leader=403),
    ),
    "pipeline.project_history_page": Rule(
        "GET", lambda c: f"/projects/{c['project_id']}/history", web(other_officer=404)
    ),
    "pipeline.project_sharing": Rule(
        "GET", lambda c: f"/projects/{c['project_id']}/sharing", _lead_only()
    ),
    "pipeline.project_share": Rule(
        "POST",
        lambda c: f"/projects/{c['project_id']}/share",
        _lead_only(),
        data=lambda c: {"share_team": c["other_team_code"], "access": "read"},
    ),
    "pipeline.project_unshare": Rule(
        "POST",
        lambda c: f"/projects/{c['project_id']}/share/{c['share_team_id']}/remove",
        _lead_only(),
    ),
    "pipeline.project_reassign": Rule(
        "POST",
        lambda c: f"/projects/{c['project_id']}/reassign",
        _lead_only(),
        data=lambda c: {"team": c["team_code"], "owner_id": str(c["officer_id"])},
    ),
    "pipeline.project_key": Rule(
        "POST",
        lambda c: f"/projects/{c['project_id']}/key",
        _lead_only(),
        data=lambda c: {"marked": "1", "reason": "city priority"},
    ),
    "pipeline.project_delete": Rule(
        "POST", lambda c: f"/projects/{c['doomed_web_id']}/delete", admin_only_web()
    ),
    "pipeline.project_restore": Rule(
        "POST", lambda c: f"/projects/{c['deleted_web_id']}/restore", admin_only_web()
    ),
    "pipeline.deleted_projects": Rule("GET", lambda c: "/admin/projects/deleted", admin_only_web()),
    "pipeline.key_settings": Rule(
        "GET", lambda c: "/admin/settings/key-projects", admin_only_web()
    ),
    # the chain admin (the chains of the current set; merging moves projects)
    "pipeline.chain_list": Rule("GET", lambda c: "/admin/chains", admin_only_web()),
    "pipeline.chain_new": Rule("GET", lambda c: "/admin/chains/new", admin_only_web()),
    "pipeline.chain_edit": Rule("GET", lambda c: "/admin/chains/matrix-web/edit", admin_only_web()),
    "pipeline.chain_retire": Rule(
        "POST", lambda c: "/admin/chains/matrix-web/retire", admin_only_web()
    ),
    "pipeline.chain_restore": Rule(
        "POST", lambda c: "/admin/chains/matrix-web/restore", admin_only_web()
    ),
    "pipeline.chain_merge": Rule(
        "POST",
        lambda c: "/admin/chains/matrix-web/merge",
        admin_only_web(),
        data=lambda c: {"into": "automobile"},
    ),
    "api.create_chain": Rule(
        "POST",
        lambda c: "/api/v1/chains",
        admin_only_api(),
        json=lambda c: {"code": "matrix-new", "name_zh": "矩阵新链"},
    ),
    "api.update_chain": Rule(
        "PATCH",
        lambda c: "/api/v1/chains/matrix-api",
        admin_only_api(),
        json=lambda c: {"name_en": "Matrix chain"},
    ),
    "api.merge_chain": Rule(
        "POST",
        lambda c: "/api/v1/chains/matrix-api/merge",
        admin_only_api(),
        json=lambda c: {"into": "automobile"},
    ),
    "api.list_projects": Rule("GET", lambda c: "/api/v1/projects", api()),
    "api.get_project": Rule(
        "GET", lambda c: f"/api/v1/projects/{c['project_id']}", api(other_officer=404)
    ),
    "api.create_project": Rule(
        "POST",
        lambda c: "/api/v1/projects",
        api(leader=403),
        json=lambda c: {"name": "矩阵项目", "company_name": "矩阵测试有限公司"},
    ),
    "api.update_project": Rule(
        "PATCH",
        lambda c: f"/api/v1/projects/{c['project_id']}",
        api(other_officer=404, leader=403),
        json=lambda c: {"notes": "checked"},
        notes="Without If-Match a writer gets 428.",
    ),
    "api.create_transition": Rule(
        "POST",
        lambda c: f"/api/v1/projects/{c['project_id']}/transitions",
        api(other_officer=404, leader=403),
        json=lambda c: {"to": "on_hold"},
    ),
    "api.project_history_api": Rule(
        "GET", lambda c: f"/api/v1/projects/{c['project_id']}/history", api(other_officer=404)
    ),
    "api.delete_project": Rule(
        "DELETE", lambda c: f"/api/v1/projects/{c['doomed_api_id']}", admin_only_api()
    ),
    "api.restore_project": Rule(
        "POST", lambda c: f"/api/v1/projects/{c['deleted_api_id']}/restore", admin_only_api()
    ),
    "api.put_key_mark": Rule(
        "PUT",
        lambda c: f"/api/v1/projects/{c['project_id']}/key-mark",
        _lead_only_api(),
        json=lambda c: {"reason": "city priority"},
    ),
    "api.delete_key_mark": Rule(
        "DELETE",
        lambda c: f"/api/v1/projects/{c['key_marked_id']}/key-mark",
        _lead_only_api(),
        json=lambda c: {"reason": "no longer a priority"},
    ),
    "api.list_shares": Rule(
        "GET", lambda c: f"/api/v1/projects/{c['project_id']}/shares", _lead_only_api()
    ),
    "api.create_share": Rule(
        "POST",
        lambda c: f"/api/v1/projects/{c['project_id']}/shares",
        _lead_only_api(),
        json=lambda c: {"team": c["other_team_code"], "access": "read"},
    ),
    "api.delete_share": Rule(
        "DELETE",
        lambda c: f"/api/v1/projects/{c['project_id']}/shares/{c['api_share_team_code']}",
        _lead_only_api(),
    ),
    "api.reassign_project": Rule(
        "POST",
        lambda c: f"/api/v1/projects/{c['project_id']}/reassign",
        _lead_only_api(),
        json=lambda c: {"team": c["team_code"], "owner_id": c["officer_id"]},
    ),
}
