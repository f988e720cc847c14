"""The chain admin pages: the current set's chains with their confirmed flag and source
note; rename, add, retire (hidden from pickers, kept on old projects), merge (projects
move, recorded); errors next to the field with the input kept; admins only; and `crm seed`
run again leaves the administrators' edits alone."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from crm.audit import AuditLog
from crm.enums import Role
from crm.extensions import db
from crm.pipeline.models import Project
from crm.reference.models import CHAIN_AUDIT_ENTITY, IndustrialChain
from crm.reference.seed import load_reference_data
from tests import factories
from tests.conftest import login

SEED = Path(__file__).resolve().parents[2] / "seed"


@pytest.fixture
def admin_client(make_client):
    client = make_client()
    login(client, factories.user(Role.ADMIN).email)
    return client


def chain(code: str) -> IndustrialChain:
    return db.session.scalar(select(IndustrialChain).where(IndustrialChain.code == code))


def chain_audit(code: str) -> list[AuditLog]:
    return list(
        db.session.scalars(
            select(AuditLog)
            .where(AuditLog.entity_type == CHAIN_AUDIT_ENTITY, AuditLog.entity_id == chain(code).id)
            .order_by(AuditLog.id)
        )
    )


def picker_codes(client) -> set[str]:
    form = client.get("/projects/new").get_data(as_text=True)
    select_html = re.search(r'<select[^>]*name="chain".*?</select>', form, re.S).group(0)
    return set(re.findall(r'value="([^"]+)"', select_html))


def test_list_shows_every_chain_with_its_flag_source_and_projects(admin_client):
    team = factories.team()
    factories.project(team, chain="automobile")
    html = admin_client.get("/admin/chains").get_data(as_text=True)
    assert html.count('data-testid="chain-') >= 22
    assert html.count(">Not confirmed<") == 9
    row = re.search(r'data-testid="chain-automobile".*?</tr>', html, re.S).group(0)
    assert "汽车" in row and ">Yes<" in row
    assert chain("automobile").source and chain("automobile").source[:20] in row
    assert "/projects?chain=automobile" in row


def test_rename_keeps_the_old_name_as_an_alias_and_is_audited(admin_client):
    response = admin_client.form(
        "/admin/chains/energy-storage-materials/edit",
        {
            "name_zh": "先进能源材料",
            "name_en": "Advanced energy materials",
            "confirmed": "y",
            "source": "2024 report",
        },
    )
    assert response.status_code == 302
    renamed = chain("energy-storage-materials")
    assert renamed.name_zh == "先进能源材料" and renamed.name_en == "Advanced energy materials"
    assert "先进储能材料" in renamed.aliases_zh and renamed.source == "2024 report"
    entry = chain_audit("energy-storage-materials")[-1]
    assert entry.action == "update"
    assert entry.changes["name_zh"] == ["先进储能材料", "先进能源材料"]
    listing = admin_client.get("/admin/chains").get_data(as_text=True)
    assert "先进能源材料" in listing and 'data-testid="chain-changes"' in listing


def test_an_empty_name_is_refused_next_to_the_field_with_the_input_kept(admin_client):
    response = admin_client.form(
        "/admin/chains/automobile/edit", {"name_zh": "  ", "name_en": "Cars", "source": "my note"}
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'id="name_zh-error"' in html and "Enter the Chinese name." in html
    assert 'value="Cars"' in html and "my note" in html
    assert chain("automobile").name_zh.startswith("汽车")


def test_add_a_chain_at_the_end_and_offer_it_in_the_project_form(admin_client):
    response = admin_client.form(
        "/admin/chains/new",
        {"code": "new-materials", "name_zh": "新材料", "name_en": "", "source": "2025 plan"},
    )
    assert response.status_code == 302
    added = chain("new-materials")
    assert added.name_en == "新材料" and not added.confirmed and not added.retired
    assert added.sort > chain("intelligent-equipment").sort
    assert chain_audit("new-materials")[0].action == "create"
    assert "new-materials" in picker_codes(admin_client)


@pytest.mark.parametrize(
    ("code", "name", "field", "message"),
    [
        ("automobile", "重复", "code", "A chain with this code already exists."),
        ("Bad Code!", "坏代码", "code", "Use lowercase letters, digits and hyphens"),
        ("", "无代码", "code", "Enter a code."),
        ("no-name", "", "name_zh", "Enter the Chinese name."),
    ],
)
def test_add_refusals_are_shown_next_to_the_field(admin_client, code, name, field, message):
    response = admin_client.form(
        "/admin/chains/new", {"code": code, "name_zh": name, "source": "kept note"}
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    error = re.search(rf'id="{field}-error">(.*?)</div>', html, re.S)
    assert error and message in error.group(1)
    assert "kept note" in html and (not name or f'value="{name}"' in html)


def test_retire_hides_from_pickers_but_old_projects_keep_their_chain(admin_client):
    team = factories.team()
    old = factories.project(team, chain="mobile-internet", name="老项目")
    assert admin_client.form("/admin/chains/mobile-internet/retire").status_code == 302
    assert chain("mobile-internet").retired
    assert "mobile-internet" not in picker_codes(admin_client)
    page = admin_client.get(f"/projects/{old.id}").get_data(as_text=True)
    assert "Mobile internet" in page
    edit = admin_client.get(f"/projects/{old.id}/edit").get_data(as_text=True)
    assert '<option selected value="mobile-internet">Mobile internet (retired)<' in edit
    assert db.session.get(Project, old.id).chain_id == chain("mobile-internet").id
    assert [e.action for e in chain_audit("mobile-internet")] == ["retire"]
    assert admin_client.form("/admin/chains/mobile-internet/restore").status_code == 302
    assert not chain("mobile-internet").retired
    assert "mobile-internet" in picker_codes(admin_client)


def test_merge_asks_for_confirmation_then_moves_projects_and_records_it(admin_client):
    team = factories.team()
    moving = [factories.project(team, chain="new-energy-vehicles") for _ in range(3)]
    versions = {p.id: p.version for p in moving}
    kept = factories.project(team, chain="automobile")
    choose = admin_client.get("/admin/chains/new-energy-vehicles/merge").get_data(as_text=True)
    assert 'name="into"' in choose and 'value="automobile"' in choose
    assert 'value="new-energy-vehicles"' not in choose  # not into itself
    confirm = admin_client.get("/admin/chains/new-energy-vehicles/merge?into=automobile")
    html = confirm.get_data(as_text=True)
    assert confirm.status_code == 200 and "3 projects move to" in html
    assert 'name="into" type="hidden" value="automobile"' in html
    assert chain("new-energy-vehicles").retired is False  # nothing happens before the POST

    response = admin_client.form("/admin/chains/new-energy-vehicles/merge", {"into": "automobile"})
    assert response.status_code == 302
    source, target = chain("new-energy-vehicles"), chain("automobile")
    assert source.retired and "新能源汽车" in target.aliases_zh
    for project in moving:
        moved = db.session.get(Project, project.id)
        assert moved.chain_id == target.id and moved.version == versions[project.id] + 1
        history = db.session.scalars(
            select(AuditLog).where(
                AuditLog.entity_type == "project", AuditLog.entity_id == project.id
            )
        ).all()
        step = ["new-energy-vehicles", "automobile"]
        assert any(e.action == "chain_merge" and e.changes["chain"] == step for e in history)
    assert db.session.get(Project, kept.id).chain_id == target.id
    merge = chain_audit("automobile")[-1]
    assert merge.action == "merge" and merge.changes["from"] == "new-energy-vehicles"
    assert merge.changes["projects"] == 3
    assert chain_audit("new-energy-vehicles")[-1].action == "merged_into"
    assert "new-energy-vehicles" not in picker_codes(admin_client)
    page = admin_client.get(f"/projects/{moving[0].id}/history").get_data(as_text=True)
    assert "Chain merged into another" in page and "Automobiles incl." in page


def test_merge_refusals_are_shown_next_to_the_choice(admin_client):
    admin_client.form("/admin/chains/biomedicine/retire")
    for into in ("nonexistent", "biomedicine", "gene-technology"):  # unknown, retired, itself
        response = admin_client.get(f"/admin/chains/gene-technology/merge?into={into}")
        assert response.status_code == 422
        assert 'id="merge-into-error"' in response.get_data(as_text=True)
    posted = admin_client.form("/admin/chains/gene-technology/merge", {"into": "biomedicine"})
    assert posted.status_code == 422
    assert "retired" in posted.get_data(as_text=True)
    itself = admin_client.form("/admin/chains/gene-technology/merge", {"into": "gene-technology"})
    assert itself.status_code == 422
    assert not chain("gene-technology").retired
    assert admin_client.get("/admin/chains/no-such-chain/merge").status_code == 404


@pytest.mark.parametrize("role", [Role.OFFICER, Role.LEAD, Role.LEADER])
def test_only_admins_change_chains(make_client, role, app):
    client = make_client()
    login(client, factories.user(role).email)
    assert client.get("/admin/chains").status_code == 403
    assert client.form("/admin/chains/new", {"code": "x-y", "name_zh": "某链"}).status_code == 403
    assert client.form("/admin/chains/automobile/retire").status_code == 403
    assert client.form("/admin/chains/big-data/merge", {"into": "automobile"}).status_code == 403
    assert chain("x-y") is None and not chain("automobile").retired
    assert not chain("big-data").retired


def test_seed_rerun_keeps_admin_edits_and_still_updates_untouched_chains(admin_client, tmp_path):
    admin_client.form(
        "/admin/chains/display-devices/edit",
        {"name_zh": "新型显示", "name_en": "New displays", "confirmed": "y", "source": "admin"},
    )
    admin_client.form("/admin/chains/power-chips/retire")
    admin_client.form("/admin/chains/new", {"code": "admin-added", "name_zh": "管理员新增"})
    copy = tmp_path / "seed"
    shutil.copytree(SEED, copy)
    chains_file = copy / "chains.yaml"
    text = chains_file.read_text(encoding="utf-8")
    chains_file.write_text(text.replace("name_zh: 碳基材料", "name_zh: 碳基材料(改)"), "utf-8")
    report = load_reference_data(db.session, copy)
    assert report.updated.get("chains") == 1  # the untouched chain follows the file
    assert report.kept.get("chains") == 1  # the renamed one differs from the file: kept
    assert "kept 1 chains edited by an administrator" in report.summary()
    assert chain("carbon-materials").name_zh == "碳基材料(改)"
    assert chain("display-devices").name_zh == "新型显示"
    assert chain("power-chips").retired
    assert chain("admin-added").name_zh == "管理员新增"
    again = load_reference_data(db.session, copy)
    assert not again.changed
