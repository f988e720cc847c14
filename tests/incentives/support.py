"""Shared helpers for the incentive tests (imported directly: the suite runs --noconftest)."""

from __future__ import annotations

import textwrap
from datetime import date
from decimal import Decimal
from functools import cache
from pathlib import Path

from crm.incentives.engine import Evaluation, MeasureResult, evaluate
from crm.incentives.facts import validate_facts
from crm.incentives.model import Policy
from crm.incentives.policies import load_policies, parse_policy

ROOT = Path(__file__).resolve().parents[2]
SEED_POLICIES = ROOT / "seed" / "policies"

ZONES: dict[str, str] = {
    "changsha-etdz": "national_etdz",
    "wangcheng-etdz": "national_etdz",
    "ningxiang-etdz": "national_etdz",
    "liuyang-etdz": "national_etdz",
    "changsha-hitech": "national_hitech",
    "changsha-county": "county",
    "shanghai-changning": "district",
}
ZONE_LEVELS = ("national_etdz", "national_hitech", "provincial", "county", "district")
NATIONAL_ETDZS = ("changsha-etdz", "wangcheng-etdz", "ningxiang-etdz", "liuyang-etdz")

IN_FORCE_DAY = date(2026, 6, 1)  # every seed policy is in force on this day


@cache
def seed_policies() -> tuple[Policy, ...]:
    """The committed seed policies, loaded once."""
    return load_policies(SEED_POLICIES, zone_codes=ZONES, zone_levels=ZONE_LEVELS)


def seed_policy(policy_id: str) -> Policy:
    """One seed policy by id."""
    return next(policy for policy in seed_policies() if policy.id == policy_id)


def facts(**raw: object) -> dict[str, object]:
    """Normalised facts; fails the test if any is invalid."""
    normalised, errors = validate_facts(raw)
    assert not errors, errors
    return normalised


def parse(text: str, source: str = "test.yaml") -> Policy:
    """A policy from YAML text (dedented), validated against the test zones."""
    return parse_policy(textwrap.dedent(text), source, zone_codes=ZONES, zone_levels=ZONE_LEVELS)


def evaluate_in(zone: str, raw_facts: dict[str, object], as_of: date = IN_FORCE_DAY) -> Evaluation:
    """Evaluate the seed policies for `zone` with raw facts."""
    return evaluate(seed_policies(), zone, ZONES[zone], facts(**raw_facts), as_of)


def result_of(
    evaluation: Evaluation, measure_id: str, policy_id: str | None = None
) -> MeasureResult:
    """The result of one measure in an evaluation."""
    found = [
        result
        for result in evaluation.results
        if result.measure_id == measure_id and policy_id in (None, result.policy_id)
    ]
    assert len(found) == 1, f"{measure_id}: {len(found)} results"
    return found[0]


def wan(text: str) -> Decimal:
    """A Decimal amount in 万元."""
    return Decimal(text)


MINIMAL_POLICY = """\
id: test-policy
version: 1
title: {zh: 测试政策, en: Test policy}
issuer: {zh: 测试, en: Tester}
level: zone
covers: [changsha-etdz]
effective_from: 2025-01-01
effective_to: 2025-12-31
source: {note: written for the tests}
measures:
  - id: incremental-rd
    area: rd
    summary_zh: 研发增量10%
    summary_en: 10% of incremental R&D
    conditions: rd_expense > rd_expense_prev
    benefit:
      kind: rate
      rate: 10%
      base: rd_expense - rd_expense_prev
      cap: {amount: 200, unit: 万元}
      frequency: per_year
"""
