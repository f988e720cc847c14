"""The incentive API: worked examples from the seed texts, validity edges, coverage by zone
level, 422 with the field named, and scoping of a project's incentives."""

from __future__ import annotations

from datetime import date

import pytest

from crm.enums import Role
from crm.extensions import db
from crm.incentives import store
from tests import factories
from tests.incentives.app_support import (
    CHANGNING,
    CHANGSHA_ETDZ,
    HITECH,
    MOFCOM,
    bearer,
    changed_policy_text,
    officer_with_team,
    project_in,
)

ALL_ZONES = [
    "changsha-etdz",
    "wangcheng-etdz",
    "ningxiang-etdz",
    "liuyang-etdz",
    "changsha-hitech",
    "changsha-county",
    "shanghai-changning",
]


@pytest.fixture
def headers(app):
    officer, _team = officer_with_team()
    return bearer(officer)


def evaluate(client, headers, zone="changsha-etdz", as_of="2026-06-01", **facts):
    body = {"zone": zone, "facts": facts}
    if as_of is not None:
        body["as_of"] = as_of
    return client.post("/api/v1/incentives/evaluate", json=body, headers=headers)


def result(data, measure, policy=None):
    found = [
        r for r in data["results"] if r["measure"] == measure and policy in (None, r["policy"])
    ]
    assert len(found) == 1, (measure, len(found))
    return found[0]


class TestWorkedExamples:
    def test_rd_increment_capped_at_200(self, client, headers):
        response = evaluate(client, headers, rd_expense="5000", rd_expense_prev="2000")
        assert response.status_code == 200, response.json
        data = response.json
        rd = result(data, "rd-incremental-expense", CHANGSHA_ETDZ)
        assert rd["status"] == "applies"
        assert rd["amount"] == "200.00"
        assert rd["cap"] == "200.00"
        assert rd["cap_applied"] is True
        assert rd["threshold_unconfirmed"] is True
        assert rd["explanations"]["en"] == "10% × (5,000 − 2,000) = 300, capped at 200"
        # The caller's language is Chinese by default.
        assert rd["explanation"] == "10% × (5,000 − 2,000) = 300，超过上限，按上限 200 计"
        assert rd["title"]["zh"].startswith("年度研发投入")
        assert data["total_applies"] == "200.00"
        assert data["policy_versions"] == {CHANGSHA_ETDZ: 1, MOFCOM: 1}
        assert data["assumed_facts"] == {"registered_in_zone": True}
        assert sum(data["counts"].values()) == len(data["results"]) == 19 + 5

    @pytest.mark.parametrize(
        ("rd_expense", "amount", "explanation"),
        [
            ("2999.9", "199.99", "10% × (2,999.9 − 1,000) = 199.99"),
            ("3000", "200.00", "10% × (3,000 − 1,000) = 200"),
            ("3000.1", "200.00", "10% × (3,000.1 − 1,000) = 200.01, capped at 200"),
        ],
    )
    def test_rd_around_the_cap(self, client, headers, rd_expense, amount, explanation):
        data = evaluate(client, headers, rd_expense=rd_expense, rd_expense_prev="1000").json
        rd = result(data, "rd-incremental-expense")
        assert (rd["amount"], rd["explanations"]["en"]) == (amount, explanation)

    def test_equipment_threshold_and_totals(self, client, headers):
        under = evaluate(client, headers, annual_new_equipment_investment="499.99").json
        assert result(under, "equipment-upgrade")["status"] == "not_applicable"
        data = evaluate(
            client,
            headers,
            annual_new_equipment_investment="6000",
            rd_expense="5000",
            rd_expense_prev="2000",
        ).json
        equipment = result(data, "equipment-upgrade")
        assert equipment["amount"] == "600.00"
        assert equipment["explanations"]["en"] == "up to 10% × 6,000 = 600"
        assert data["total_applies"] == "800.00"  # 200 (R&D, capped) + 600

    def test_english_user_gets_english_explanations(self, client):
        officer, _team = officer_with_team()
        officer.locale = "en"
        db.session.flush()
        data = evaluate(client, bearer(officer), rd_expense="5000", rd_expense_prev="2000").json
        assert (
            result(data, "rd-incremental-expense")["explanation"]
            == "10% × (5,000 − 2,000) = 300, capped at 200"
        )

    def test_by_assessment_caps_are_summed(self, client, headers):
        data = evaluate(
            client,
            headers,
            zone="shanghai-changning",
            registered_in_zone=True,
            good_credit=True,
            industry_tags=["life_health"],
        ).json
        life = result(data, "life-health", CHANGNING)
        assert life["status"] == "by_assessment"
        assert life["amount"] is None
        caps = sum(
            float(r["cap"]) for r in data["results"] if r["status"] == "by_assessment" and r["cap"]
        )
        assert float(data["total_by_assessment_cap"]) == caps > 0


class TestValidityOfSeed001:
    FACTS = {"registered_in_zone": True, "good_credit": True}

    def statuses(self, client, headers, as_of):
        data = evaluate(client, headers, zone="shanghai-changning", as_of=as_of, **self.FACTS)
        assert data.status_code == 200
        return {r["status"] for r in data.json["results"]}

    def test_last_day_is_in_force(self, client, headers):
        assert "not_in_force" not in self.statuses(client, headers, "2026-11-14")

    def test_day_after_is_not(self, client, headers):
        assert self.statuses(client, headers, "2026-11-15") == {"not_in_force"}

    def test_today_defaults_to_shanghai_date(self, client, headers, monkeypatch):
        monkeypatch.setattr("crm.incentives.engine.today", lambda: date(2026, 11, 22))
        response = evaluate(client, headers, zone="shanghai-changning", as_of=None, **self.FACTS)
        assert response.json["as_of"] == "2026-11-22"
        assert {r["status"] for r in response.json["results"]} == {"not_in_force"}
        assert response.json["total_by_assessment_cap"] == "0"


def test_zone_level_policies_reach_the_right_zones(client, headers):
    response = client.post(
        "/api/v1/incentives/compare",
        json={"zones": ALL_ZONES, "as_of": "2026-06-01", "facts": {}},
        headers=headers,
    )
    assert response.status_code == 200, response.json
    versions = {z["zone"]: set(z["policy_versions"]) for z in response.json["zones"]}
    for etdz in ("wangcheng-etdz", "ningxiang-etdz", "liuyang-etdz", "changsha-etdz"):
        assert MOFCOM in versions[etdz] and HITECH not in versions[etdz]
    assert HITECH in versions["changsha-hitech"] and MOFCOM not in versions["changsha-hitech"]
    assert versions["changsha-county"] == set()
    assert versions["shanghai-changning"] == {CHANGNING}


def test_compare_sorts_by_estimated_total(client, headers):
    response = client.post(
        "/api/v1/incentives/compare",
        json={
            "zones": ["wangcheng-etdz", "changsha-hitech", "changsha-etdz"],
            "as_of": "2026-06-01",
            "facts": {"rd_expense": 5000, "rd_expense_prev": 2000},
        },
        headers=headers,
    )
    zones = response.json["zones"]
    assert zones[0]["zone"] == "changsha-etdz" and zones[0]["total_applies"] == "200.00"
    assert [z["zone"] for z in zones[1:]] == ["changsha-hitech", "wangcheng-etdz"]
    assert response.json["policy_versions"][CHANGSHA_ETDZ] == 1


class TestRefusals:
    def fields(self, response):
        assert response.status_code == 422
        assert response.mimetype == "application/problem+json"
        return {error["field"] for error in response.json["errors"]}

    def test_bad_zone(self, client, headers):
        assert self.fields(evaluate(client, headers, zone="atlantis")) == {"zone"}

    @pytest.mark.parametrize("as_of", ["2026-02-30", "tomorrow", "2026/06/01", 20260601, ""])
    def test_date_that_is_not_a_date(self, client, headers, as_of):
        assert self.fields(evaluate(client, headers, as_of=as_of)) == {"as_of"}

    def test_unknown_fact_and_negative_amount(self, client, headers):
        response = evaluate(client, headers, rd_expens="1", rd_expense="-5", good_credit="maybe")
        assert self.fields(response) == {
            "facts.rd_expens",
            "facts.rd_expense",
            "facts.good_credit",
        }

    def test_odd_characters_never_reach_the_database(self, client, headers):
        assert self.fields(evaluate(client, headers, zone="changsha\x00etdz")) == {"zone"}
        response = client.post(
            "/api/v1/incentives/compare",
            json={"zones": ["changsha-etdz", "\x00"], "facts": {"chain": "a\x00"}},
            headers=headers,
        )
        # Every text holding NUL is named, the fact's too (refused before any check of it).
        assert self.fields(response) == {"zones.1", "facts.chain"}
        assert client.get("/api/v1/policies/x%00y", headers=headers).status_code == 404

    def test_amounts_beyond_any_project(self, client, headers):
        response = evaluate(client, headers, rd_expense=10**30, rd_expense_prev=1)
        assert self.fields(response) == {"facts.rd_expense"}

    def test_unknown_chain(self, client, headers):
        assert self.fields(evaluate(client, headers, chain="perpetual-motion")) == {"facts.chain"}

    def test_compare_names_the_bad_zone(self, client, headers):
        response = client.post(
            "/api/v1/incentives/compare",
            json={"zones": ["changsha-etdz", "atlantis"], "facts": {}},
            headers=headers,
        )
        assert self.fields(response) == {"zones.1"}
        empty = client.post("/api/v1/incentives/compare", json={"zones": []}, headers=headers)
        assert self.fields(empty) == {"zones"}

    def test_project_endpoint(self, client):
        officer, team = officer_with_team()
        project = project_in(team)
        url = f"/api/v1/projects/{project.id}/incentives"
        auth = bearer(officer)
        assert self.fields(client.get(url, headers=auth)) == {"zone"}  # no zone on the project
        assert self.fields(client.get(url + "?zone=atlantis", headers=auth)) == {"zone"}
        bad_day = client.get(url + "?zone=changsha-etdz&as_of=2026-13-01", headers=auth)
        assert self.fields(bad_day) == {"as_of"}


class TestProjectIncentives:
    def test_uses_the_project_facts_and_landed_zone(self, client):
        officer, team = officer_with_team()
        project = project_in(
            team,
            landed="changsha-etdz",
            facts={"rd_expense": "5000", "rd_expense_prev": "2000"},
            amount="250000",
        )
        response = client.get(
            f"/api/v1/projects/{project.id}/incentives?as_of=2026-06-01", headers=bearer(officer)
        )
        assert response.status_code == 200, response.json
        assert response.json["zone"] == "changsha-etdz"
        assert result(response.json, "rd-incremental-expense")["amount"] == "200.00"
        other = client.get(
            f"/api/v1/projects/{project.id}/incentives?zone=changsha-hitech&as_of=2026-06-01",
            headers=bearer(officer),
        )
        assert other.json["zone"] == "changsha-hitech"
        assert set(other.json["policy_versions"]) == {HITECH}

    def test_another_teams_project_is_not_found(self, client):
        _officer, team = officer_with_team()
        project = project_in(team, landed="changsha-etdz")
        stranger, _other = officer_with_team()
        response = client.get(f"/api/v1/projects/{project.id}/incentives", headers=bearer(stranger))
        assert response.status_code == 404
        leader = factories.user(Role.LEADER, locale="zh_CN")
        seen = client.get(f"/api/v1/projects/{project.id}/incentives", headers=bearer(leader))
        assert seen.status_code == 200


class TestPolicies:
    def test_list_and_detail(self, client, headers):
        listing = client.get("/api/v1/policies", headers=headers).json
        ids = {item["id"]: item for item in listing["items"]}
        assert {CHANGSHA_ETDZ, CHANGNING, MOFCOM, HITECH} <= set(ids)
        assert ids[CHANGNING]["effective_to"] == "2026-11-14"
        assert ids[CHANGSHA_ETDZ]["measure_count"] == 19
        detail = client.get(f"/api/v1/policies/{HITECH}", headers=headers).json
        assert detail["covers"] == ["national_hitech"]
        assert len(detail["measures"]) == 13
        assert detail["versions"][0]["number"] == detail["current_version"] == 1
        assert client.get("/api/v1/policies/nope", headers=headers).status_code == 404
        missing = client.get(f"/api/v1/policies/{HITECH}?version=9", headers=headers)
        assert missing.status_code == 404

    def test_old_versions_stay_readable(self, client, headers):
        admin = factories.user(Role.ADMIN, locale="zh_CN")
        store.save_version(
            db.session,
            changed_policy_text("2030-12-31"),
            file_name="mofcom.yaml",
            origin="upload",
            user_id=admin.id,
        )
        current = client.get(f"/api/v1/policies/{MOFCOM}", headers=headers).json
        assert (current["version"], current["effective_to"]) == (2, "2030-12-31")
        assert [v["number"] for v in current["versions"]] == [2, 1]
        assert current["versions"][0]["created_by"] == admin.name
        old = client.get(f"/api/v1/policies/{MOFCOM}?version=1", headers=headers).json
        assert (old["version"], old["effective_to"]) == (1, None)
        data = evaluate(client, headers, as_of="2031-01-01").json
        assert data["policy_versions"][MOFCOM] == 2
        assert {r["status"] for r in data["results"] if r["policy"] == MOFCOM} == {"not_in_force"}
