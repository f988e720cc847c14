"""Access rules of the incentive routes (see tests/security/matrix.py).

Everyone signed in reads policies, compares zones and evaluates; a project's incentives
follow the project's scope (another team's project is 404, like a missing one); saving
facts or an evaluation needs the right to edit the project (leaders read only: 403);
only administrators upload or change policies.
"""

from datetime import date
from decimal import Decimal

from crm.extensions import db
from crm.incentives.models import SavedEvaluation
from tests.incentives.app_support import changed_policy_text
from tests.security.matrix import Rule, admin_only_web, api, web

PROJECT_EVALUATION = {"zone": "changsha-etdz", "as_of": "2026-06-01", "f_good_credit": "true"}


def extend_context(ctx):
    for prefix in ("", "other_"):
        ctx[f"{prefix}incentive_evaluation_id"] = _saved_evaluation(ctx[f"{prefix}project_id"])


def _saved_evaluation(project_id):
    saved = SavedEvaluation(
        project_id=project_id,
        zone_code="changsha-etdz",
        zone_level="national_etdz",
        as_of=date(2026, 6, 1),
        facts={},
        results=[],
        total_applies=Decimal(0),
        total_by_assessment_cap=Decimal(0),
        counts={},
        policy_versions={},
    )
    db.session.add(saved)
    db.session.flush()
    return saved.id


RULES = {
    "incentives.project_incentives": Rule(
        "GET", lambda c: f"/projects/{c['project_id']}/incentives", web(other_officer=404)
    ),
    "incentives.project_evaluate": Rule(
        "POST",
        lambda c: f"/projects/{c['project_id']}/incentives",
        web(other_officer=404),
        data=lambda c: dict(PROJECT_EVALUATION),
    ),
    "incentives.project_save_facts": Rule(
        "POST",
        lambda c: f"/projects/{c['project_id']}/incentives/facts",
        web(302, other_officer=404, leader=403),
        data=lambda c: dict(PROJECT_EVALUATION),
    ),
    "incentives.project_save_evaluation": Rule(
        "POST",
        lambda c: f"/projects/{c['project_id']}/incentives/evaluations",
        web(302, other_officer=404, leader=403),
        data=lambda c: dict(PROJECT_EVALUATION, note="matrix"),
    ),
    "incentives.saved_evaluation": Rule(
        "GET",
        lambda c: (
            f"/projects/{c['project_id']}/incentives/evaluations/{c['incentive_evaluation_id']}"
        ),
        web(other_officer=404),
    ),
    "incentives.compare": Rule("GET", lambda c: "/incentives/compare", web()),
    "incentives.compare_export": Rule(
        "GET", lambda c: "/incentives/compare.xlsx?go=1&zones=changsha-etdz", web()
    ),
    "incentives.policy_list": Rule("GET", lambda c: "/incentives/policies", web()),
    "incentives.policy_detail": Rule(
        "GET", lambda c: "/incentives/policies/mofcom-national-etdz-2025", web()
    ),
    "incentives.policy_upload": Rule(
        "GET", lambda c: "/incentives/policies/upload", admin_only_web()
    ),
    "incentives.policy_preview": Rule(
        "POST",
        lambda c: "/incentives/policies/upload",
        admin_only_web(),
        data=lambda c: {"text": changed_policy_text()},
    ),
    "incentives.policy_apply": Rule(
        "POST",
        lambda c: "/incentives/policies/apply",
        web(403, admin=302),
        data=lambda c: {"text": changed_policy_text(), "base_version": "1", "origin": "editor"},
    ),
    "api.incentives_evaluate": Rule(
        "POST",
        lambda c: "/api/v1/incentives/evaluate",
        api(),
        json=lambda c: {"zone": "changsha-etdz", "facts": {"rd_expense": "10"}},
    ),
    "api.incentives_compare": Rule(
        "POST",
        lambda c: "/api/v1/incentives/compare",
        api(),
        json=lambda c: {"zones": ["changsha-etdz", "changsha-hitech"], "facts": {}},
    ),
    "api.project_incentives": Rule(
        "GET",
        lambda c: f"/api/v1/projects/{c['project_id']}/incentives?zone=changsha-etdz",
        api(other_officer=404),
    ),
    "api.list_saved_evaluations": Rule(
        "GET",
        lambda c: f"/api/v1/projects/{c['project_id']}/evaluations",
        api(other_officer=404),
    ),
    "api.save_evaluation": Rule(
        "POST",
        lambda c: f"/api/v1/projects/{c['project_id']}/evaluations",
        api(other_officer=404, leader=403),
        json=lambda c: {"zone": "changsha-etdz", "as_of": "2026-06-01", "note": "matrix"},
    ),
    "api.get_saved_evaluation": Rule(
        "GET",
        lambda c: f"/api/v1/evaluations/{c['incentive_evaluation_id']}",
        api(other_officer=404),
    ),
    "api.get_project_facts": Rule(
        "GET",
        lambda c: f"/api/v1/projects/{c['project_id']}/incentive-facts",
        api(other_officer=404),
    ),
    "api.put_project_facts": Rule(
        "PUT",
        lambda c: f"/api/v1/projects/{c['project_id']}/incentive-facts",
        api(other_officer=404, leader=403),
        json=lambda c: {"facts": {"good_credit": True}},
    ),
    "api.list_policies": Rule("GET", lambda c: "/api/v1/policies", api()),
    "api.get_policy": Rule("GET", lambda c: "/api/v1/policies/guofa-2020-7-national-hitech", api()),
}
