"""Stored policies: seed loading (idempotent, refusing bad files), versions, the compiled
cache, and the administrators' upload -> validate -> preview -> apply flow."""

from __future__ import annotations

import io
import shutil

import pytest
from sqlalchemy import event, func, select

from crm.audit import AuditLog
from crm.enums import Role
from crm.extensions import db
from crm.incentives import seed_data, store
from crm.incentives.models import PolicyVersion, StoredPolicy
from crm.reference.seed import SeedError, SeedReport
from tests import factories
from tests.conftest import login
from tests.incentives.app_support import (
    CHANGSHA_ETDZ,
    MOFCOM,
    ROOT,
    changed_policy_text,
    seed_text,
)


def versions(code: str) -> list[tuple[int, str]]:
    return [
        (number, origin)
        for number, origin in db.session.execute(
            select(PolicyVersion.number, PolicyVersion.origin)
            .join(StoredPolicy, StoredPolicy.id == PolicyVersion.policy_id)
            .where(StoredPolicy.code == code)
            .order_by(PolicyVersion.number)
        )
    ]


def current(code: str) -> int:
    return db.session.scalar(select(StoredPolicy.current_version).where(StoredPolicy.code == code))


@pytest.fixture
def seed_dir(tmp_path):
    """A copy of seed/ whose policy files a test may change."""
    (tmp_path / "policies").mkdir()
    for path in (ROOT / "seed" / "policies").glob("*.yaml"):
        shutil.copy(path, tmp_path / "policies" / path.name)
    return tmp_path


class TestSeedLoading:
    def test_the_test_database_holds_the_four_seed_policies(self, app):
        codes = set(db.session.scalars(select(StoredPolicy.code)))
        assert codes == {
            CHANGSHA_ETDZ,
            MOFCOM,
            "shanghai-changning-industrial-system-2024",
            "guofa-2020-7-national-hitech",
        }
        assert versions(MOFCOM) == [(1, "seed")]

    def test_a_second_load_changes_nothing(self, app):
        before = db.session.scalar(select(func.count()).select_from(PolicyVersion))
        report = SeedReport()
        seed_data.load(db.session, ROOT / "seed", report)
        assert not report.changed
        assert db.session.scalar(select(func.count()).select_from(PolicyVersion)) == before

    def test_comments_and_layout_are_not_a_new_version(self, app, seed_dir):
        path = seed_dir / "policies" / f"{MOFCOM}.yaml"
        path.write_text("# reformatted\n\n" + seed_text(MOFCOM), encoding="utf-8")
        report = SeedReport()
        seed_data.load(db.session, seed_dir, report)
        assert not report.changed and versions(MOFCOM) == [(1, "seed")]

    def test_a_changed_file_is_a_new_version_once(self, app, seed_dir):
        path = seed_dir / "policies" / f"{MOFCOM}.yaml"
        path.write_text(changed_policy_text(), encoding="utf-8")
        report = SeedReport()
        seed_data.load(db.session, seed_dir, report)
        assert report.updated == {"incentive policies": 1}
        assert versions(MOFCOM) == [(1, "seed"), (2, "seed")]
        again = SeedReport()
        seed_data.load(db.session, seed_dir, again)
        assert not again.changed and current(MOFCOM) == 2

    def test_reseeding_does_not_undo_an_administrators_version(self, app):
        admin = factories.user(Role.ADMIN, locale="zh_CN")
        text = changed_policy_text()
        store.save_version(db.session, text, file_name="x.yaml", origin="upload", user_id=admin.id)
        seed_data.load(db.session, ROOT / "seed", SeedReport())
        assert current(MOFCOM) == 2 and versions(MOFCOM) == [(1, "seed"), (2, "upload")]

    def test_a_bad_file_is_refused_whole_with_its_position(self, app, tmp_path):
        (tmp_path / "policies").mkdir()
        bad = seed_text(MOFCOM).replace("id: mofcom-national-etdz-2025", "id: brand-new-policy")
        bad = bad.replace("effective_from: 2025-05-27", "effective_from: 2025-02-30")
        (tmp_path / "policies" / "brand-new-policy.yaml").write_text(bad, encoding="utf-8")
        with pytest.raises(SeedError) as refused:
            seed_data.load(db.session, tmp_path, SeedReport())
        message = str(refused.value)
        assert "policies/brand-new-policy.yaml:16:" in message
        assert "effective_from" in message
        assert store.find_policy(db.session, "brand-new-policy") is None


class TestCompiledCache:
    def test_compiled_once_and_recompiled_after_a_new_version(self, app, monkeypatch):
        first = store.current_policies(db.session)
        parsed = []
        original = store.parse_policy
        monkeypatch.setattr(
            store, "parse_policy", lambda *a, **k: parsed.append(a[1]) or original(*a, **k)
        )
        statements = []

        def count(*_args):
            statements.append(1)

        event.listen(db.engine, "before_cursor_execute", count)
        try:
            again = store.current_policies(db.session)
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        assert again is first and parsed == [] and len(statements) == 1
        admin = factories.user(Role.ADMIN, locale="zh_CN")
        saved = store.save_version(
            db.session, changed_policy_text(), file_name="m.yaml", origin="editor", user_id=admin.id
        )
        assert saved is not None and saved.number == 2
        fresh = store.current_policies(db.session)
        assert fresh is not first
        by_id = {policy.id: policy for policy in fresh.policies}
        assert by_id[MOFCOM].version == 2
        assert str(by_id[MOFCOM].effective_to) == "2030-12-31"
        assert fresh.version_ids[MOFCOM] == saved.id

    def test_unchanged_text_is_not_saved(self, app):
        admin = factories.user(Role.ADMIN, locale="zh_CN")
        result = store.save_version(
            db.session, seed_text(MOFCOM), file_name="m.yaml", origin="upload", user_id=admin.id
        )
        assert result is None and versions(MOFCOM) == [(1, "seed")]

    def test_stale_preview_is_refused(self, app):
        with pytest.raises(store.StalePolicyVersion):
            store.save_version(
                db.session,
                changed_policy_text(),
                file_name="m.yaml",
                origin="editor",
                user_id=None,
                expected_current=0,
            )


@pytest.fixture
def admin_client(client):
    admin = factories.user(Role.ADMIN, locale="zh_CN")
    login(client, admin.email)
    return client


class TestUploadFlow:
    def test_errors_are_shown_with_their_position(self, admin_client):
        text = changed_policy_text().replace("covers: [national_etdz]", "covers: [national_etdx]")
        text = text.replace("kind: qualitative", "kind: qualitativ", 1)
        response = admin_client.form("/incentives/policies/upload", {"text": text})
        assert response.status_code == 422
        page = response.get_data(as_text=True)
        assert "national_etdx" in page
        assert "第 13 行，第" in page  # covers: (line 13, in Chinese)
        assert "measures[0].benefit.kind" in page
        assert 'class="policy-error-line"' in page
        assert versions(MOFCOM) == [(1, "seed")]

    def test_preview_then_apply_makes_a_new_version(self, admin_client):
        text = changed_policy_text()
        preview = admin_client.form(
            "/incentives/policies/upload", {"text": text, "note": "end date announced"}
        )
        assert preview.status_code == 200
        page = preview.get_data(as_text=True)
        assert 'data-testid="preview-changes"' in page and "effective_to" in page
        assert "2030-12-31" in page
        assert versions(MOFCOM) == [(1, "seed")]  # a preview saves nothing
        applied = admin_client.form(
            "/incentives/policies/apply",
            {"text": text, "base_version": "1", "origin": "editor", "note": "end date announced"},
        )
        assert applied.status_code == 302
        assert applied.headers["Location"].endswith(f"/incentives/policies/{MOFCOM}")
        assert versions(MOFCOM) == [(1, "seed"), (2, "editor")]
        entry = db.session.scalar(
            select(AuditLog).where(
                AuditLog.entity_type == "incentive_policy", AuditLog.action == "new_version"
            )
        )
        assert entry.changes["version"] == 2 and entry.changes["origin"] == "editor"
        detail = admin_client.get(f"/incentives/policies/{MOFCOM}").get_data(as_text=True)
        assert 'data-testid="version-number">2<' in detail and "end date announced" in detail
        old = admin_client.get(f"/incentives/policies/{MOFCOM}?version=1").get_data(as_text=True)
        assert 'data-testid="version-number">1<' in old and "effective_to: null" in old

    def test_applying_twice_or_after_another_version(self, admin_client):
        text = changed_policy_text()
        form = {"text": text, "base_version": "1", "origin": "editor"}
        assert admin_client.form("/incentives/policies/apply", form).status_code == 302
        assert admin_client.form("/incentives/policies/apply", form).status_code == 302
        assert versions(MOFCOM) == [(1, "seed"), (2, "editor")]  # nothing changed the 2nd time
        other = dict(form, text=changed_policy_text("2031-06-30"))
        stale = admin_client.form("/incentives/policies/apply", other)
        assert stale.status_code == 409  # previewed against version 1; version 2 exists now
        assert current(MOFCOM) == 2

    def test_upload_a_file_for_a_new_policy(self, admin_client, app):
        text = seed_text(MOFCOM).replace("id: mofcom-national-etdz-2025", "id: county-pilot")
        text = text.replace("covers: [national_etdz]", "covers: [changsha-county]")
        data = {
            "file": (io.BytesIO(text.encode("utf-8")), "county-pilot.yaml"),
            "csrf_token": admin_client.csrf_token(),
        }
        preview = admin_client.post(
            "/incentives/policies/upload", data=data, content_type="multipart/form-data"
        )
        assert preview.status_code == 200
        assert 'data-testid="preview-new"' in preview.get_data(as_text=True)
        applied = admin_client.form(
            "/incentives/policies/apply",
            {
                "text": text,
                "base_version": "0",
                "origin": "upload",
                "file_name": "county-pilot.yaml",
            },
        )
        assert applied.status_code == 302
        assert versions("county-pilot") == [(1, "upload")]
        county = store.current_policies(db.session).version_ids
        assert "county-pilot" in county

    def test_a_file_that_is_not_text(self, admin_client):
        data = {
            "file": (io.BytesIO(b"\xff\xfe\x00\x81 binary"), "policy.yaml"),
            "csrf_token": admin_client.csrf_token(),
        }
        response = admin_client.post(
            "/incentives/policies/upload", data=data, content_type="multipart/form-data"
        )
        assert response.status_code == 422
        assert "UTF-8" in response.get_data(as_text=True)

    def test_editor_opens_the_current_text(self, admin_client):
        page = admin_client.get(f"/incentives/policies/upload?policy={MOFCOM}")
        assert page.status_code == 200
        assert "id: mofcom-national-etdz-2025" in page.get_data(as_text=True)


def test_leaders_read_policies(client):
    leader = factories.user(Role.LEADER, locale="zh_CN")
    login(client, leader.email)
    listing = client.get("/incentives/policies").get_data(as_text=True)
    assert f'data-policy="{CHANGSHA_ETDZ}"' in listing
    assert "长沙经济技术开发区" in listing  # zones covered, by name
    detail = client.get(f"/incentives/policies/{CHANGSHA_ETDZ}").get_data(as_text=True)
    assert 'data-measure="rd-incremental-expense"' in detail
    assert "Edit in the browser" not in detail and "在浏览器中编辑" not in detail
