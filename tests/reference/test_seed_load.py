"""`crm seed` loads reference data idempotently and picks up edits."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select

from crm.extensions import db
from crm.reference.models import IndustrialChain, Region, StageLabel, Zone
from crm.reference.seed import SeedError, load_reference_data

SEED = Path(__file__).resolve().parents[2] / "seed"


def test_loading_twice_changes_nothing(app):
    report = load_reference_data(db.session, SEED)  # already loaded by the app fixture
    assert not report.changed, report.summary()
    assert db.session.scalar(select(func.count()).select_from(IndustrialChain)) == 22
    assert db.session.scalar(select(func.count()).select_from(Region)) == 6
    assert db.session.scalar(select(func.count()).select_from(StageLabel)) == 8


def test_an_edited_seed_file_updates_what_changed(app, tmp_path):
    copy = tmp_path / "seed"
    shutil.copytree(SEED, copy)
    zones = copy / "zones.yaml"
    zones.write_text(
        zones.read_text(encoding="utf-8").replace("浏阳经济技术开发区", "浏阳经济技术开发区(改)"),
        encoding="utf-8",
    )
    report = load_reference_data(db.session, copy)
    assert report.updated == {"zones": 1}
    assert db.session.scalar(select(Zone.name_zh).where(Zone.code == "liuyang-etdz")).endswith(
        "(改)"
    )


def test_malformed_seed_file_is_refused_with_its_name(app, tmp_path):
    copy = tmp_path / "seed"
    shutil.copytree(SEED, copy)
    (copy / "zones.yaml").write_text(
        "zones:\n  - code: x\n    name_zh: X\n    level: galaxy\n", encoding="utf-8"
    )
    with pytest.raises(SeedError, match=r"zones\.yaml.*galaxy"):
        load_reference_data(db.session, copy)


def test_cli_seed_is_idempotent(runner):
    result = runner.invoke(args=["seed"])
    assert result.exit_code == 0
    assert "nothing changed" in result.output
