"""Fixtures of the reminders tests: a team with an officer, a lead, and a leader."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from crm.accounts.models import Team, User
from crm.enums import Role
from tests import factories


@dataclass
class People:
    team: Team
    officer: User
    lead: User
    leader: User
    admin: User
    other_team: Team
    other_officer: User


@pytest.fixture
def people(app: Any) -> People:
    team = factories.team()
    other = factories.team()
    return People(
        team=team,
        officer=factories.user(Role.OFFICER, team, name="李专员"),
        lead=factories.user(Role.LEAD, team, name="王队长"),
        leader=factories.user(Role.LEADER, name="张局长"),
        admin=factories.user(Role.ADMIN),
        other_team=other,
        other_officer=factories.user(Role.OFFICER, other),
    )
