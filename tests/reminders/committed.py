"""A database of its own, with committed data, for tests of concurrency, crashes, the CLI
and the scheduler process (the usual fixture rolls each test back inside one transaction,
which other connections and processes cannot see)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from crm.enums import Role, Stage
from crm.extensions import db
from crm.reminders.models import Delivery, Notification, Reminder
from tests import factories
from tests.conftest import ROOT, make_app, new_database
from tests.reminders.helpers import only_rules

SIGNED = date(2026, 1, 5)


@dataclass
class CommittedDb:
    app: Flask
    url: str
    instance: Path
    ids: dict[str, int]

    def env(self, **extra: str) -> dict[str, str]:
        """Environment for a `flask --app crm ...` process on this database."""
        env = dict(os.environ)
        env.update(
            CRM_DATABASE_URL=self.url,
            CRM_INSTANCE_PATH=str(self.instance),
            CRM_SECRET_KEY="test-secret-key",
            PYTHONPATH=str(ROOT),
        )
        env.update(extra)
        return env

    def count(self, model: Any, **where: Any) -> int:
        with self.app.app_context():
            stmt = select(func.count()).select_from(model)
            for name, value in where.items():
                stmt = stmt.where(getattr(model, name) == value)
            value = db.session.scalar(stmt) or 0
            db.session.remove()
            return value


def committed_database(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, *, webhook_url: str | None = None
) -> Iterator[CommittedDb]:
    """Yield a migrated database with reference data and a team whose two projects stall
    (landed, signed on SIGNED: the 签约未开工 rule fires from SIGNED + 90 days)."""
    url, drop = new_database(tmp_path_factory, tmp_path)
    instance = tmp_path / "instance"
    saved_instance = os.environ.get("CRM_INSTANCE_PATH")
    app = make_app(url, instance)
    try:
        with app.app_context():
            only_rules("landed_not_started")
            team = factories.team("committed-team")
            if webhook_url:
                team.webhook_kind, team.webhook_url = "wecom", webhook_url
            officer = factories.user(Role.OFFICER, team, email="officer@committed.test")
            lead = factories.user(Role.LEAD, team, email="lead@committed.test")
            projects = [
                factories.project(
                    team,
                    owner=officer,
                    stage=Stage.LANDED,
                    signed_on=SIGNED,
                    landed_on=SIGNED + timedelta(days=7),
                )
                for _ in range(2)
            ]
            db.session.commit()
            ids = {"team": team.id, "officer": officer.id, "lead": lead.id}
            ids.update({f"project{i}": p.id for i, p in enumerate(projects)})
            db.session.remove()
        yield CommittedDb(app, url, instance, ids)
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        if saved_instance is not None:
            os.environ["CRM_INSTANCE_PATH"] = saved_instance
        drop()


__all__ = ["SIGNED", "CommittedDb", "Delivery", "Notification", "Reminder", "committed_database"]
