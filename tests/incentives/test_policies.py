"""Loading policy files: what is accepted, and how malformed files are refused."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from crm.incentives.model import (
    BenefitKind,
    Frequency,
    PolicyLevel,
    describe_changes,
    policy_to_dict,
)
from crm.incentives.policies import PolicyLoadError, load_policies, load_policy_file
from tests.incentives.support import MINIMAL_POLICY, ZONE_LEVELS, ZONES, parse


def refusal(text: str, source: str = "test.yaml") -> list[str]:
    """The issues (as text) of a refused policy document."""
    with pytest.raises(PolicyLoadError) as caught:
        parse(text, source)
    return [str(issue) for issue in caught.value.issues]


def edited(old: str, new: str) -> str:
    """The minimal policy with one line changed."""
    assert old in MINIMAL_POLICY
    return MINIMAL_POLICY.replace(old, new)


class TestAcceptedFile:
    def test_minimal_policy_is_compiled(self) -> None:
        policy = parse(MINIMAL_POLICY)
        assert policy.id == "test-policy"
        assert policy.version == 1
        assert (policy.title_zh, policy.title_en) == ("测试政策", "Test policy")
        assert policy.level is PolicyLevel.ZONE
        assert policy.covers == ("changsha-etdz",)
        assert (policy.effective_from, policy.effective_to) == (
            date(2025, 1, 1),
            date(2025, 12, 31),
        )
        assert policy.dates_confirmed is True
        assert policy.source_name == "test.yaml"
        (measure,) = policy.measures
        assert measure.condition.text == "rd_expense > rd_expense_prev"
        assert measure.benefit.kind is BenefitKind.RATE
        assert measure.benefit.rate == Decimal("0.1")
        assert measure.benefit.cap == Decimal("200.00")
        assert measure.benefit.frequency is Frequency.PER_YEAR
        assert measure.facts_used == {"rd_expense", "rd_expense_prev"}

    def test_rate_as_a_fraction_and_quoted_dates(self) -> None:
        text = edited("rate: 10%", "rate: 0.1").replace("2025-01-01", '"2025-01-01"')
        policy = parse(text)
        assert policy.measures[0].benefit.rate == Decimal("0.1")
        assert policy.effective_from == date(2025, 1, 1)

    def test_open_ended_policy(self) -> None:
        policy = parse(edited("effective_to: 2025-12-31", "effective_to: null"))
        assert policy.effective_to is None
        assert policy.in_force(date(2099, 1, 1))

    def test_policy_as_json(self) -> None:
        data = policy_to_dict(parse(MINIMAL_POLICY))
        assert data["effective_to"] == "2025-12-31"
        measure = data["measures"][0]  # type: ignore[index]
        assert measure["benefit"]["cap"] == "200.00"
        assert (
            measure["benefit"]["description"]
            == "10% × (rd_expense - rd_expense_prev), cap 200 万元"
        )

    def test_changes_between_versions_are_listed(self) -> None:
        old = parse(MINIMAL_POLICY)
        new = parse(
            edited("version: 1", "version: 2").replace(
                "{amount: 200, unit: 万元}", "{amount: 300, unit: 万元}"
            )
        )
        assert describe_changes(old, new) == [
            "version: 1 -> 2",
            "measure incremental-rd changed",
        ]


class TestRefusedFile:
    """Each kind of error is refused with the file name, line, column and path."""

    def test_unknown_fact(self) -> None:
        text = edited("conditions: rd_expense >", "conditions: rd_expens >")
        assert refusal(text) == [
            "test.yaml:15:17: measures[0].conditions: unknown fact 'rd_expens'"
        ]

    def test_unknown_fact_in_a_benefit_base(self) -> None:
        text = edited("base: rd_expense - rd_expense_prev", "base: rd_expense - rnd_prev")
        assert refusal(text) == [
            "test.yaml:19:26: measures[0].benefit.base: unknown fact 'rnd_prev'"
        ]

    def test_unknown_operator(self) -> None:
        text = edited("conditions: rd_expense >", "conditions: rd_expense =>")
        assert refusal(text) == ["test.yaml:15:28: measures[0].conditions: unknown operator '=>'"]

    def test_unknown_operator_in_a_quoted_string(self) -> None:
        text = edited(
            "conditions: rd_expense > rd_expense_prev",
            'conditions: "rd_expense <> rd_expense_prev"',
        )
        assert refusal(text) == ["test.yaml:15:29: measures[0].conditions: unknown operator '<>'"]

    def test_unknown_zone_code(self) -> None:
        text = edited("covers: [changsha-etdz]", "covers: [changsha-etdz, mars-etdz]")
        assert refusal(text) == [
            "test.yaml:6:25: covers[1]: unknown zone code or level 'mars-etdz'"
        ]

    def test_unknown_zone_level(self) -> None:
        text = edited("covers: [changsha-etdz]", "covers: [national_free_trade_zone]")
        assert refusal(text) == [
            "test.yaml:6:10: covers[0]: unknown zone code or level 'national_free_trade_zone'"
        ]

    def test_cap_without_a_unit(self) -> None:
        text = edited("cap: {amount: 200, unit: 万元}", "cap: 200")
        assert refusal(text) == [
            "test.yaml:20:12: measures[0].benefit.cap: cap without a unit: "
            "write {amount: 200, unit: 万元}"
        ]

    def test_cap_mapping_without_a_unit(self) -> None:
        text = edited("cap: {amount: 200, unit: 万元}", "cap: {amount: 200}")
        assert refusal(text) == [
            "test.yaml:20:12: measures[0].benefit.cap: cap without a unit: add unit: 万元"
        ]

    def test_cap_in_another_unit(self) -> None:
        text = edited("cap: {amount: 200, unit: 万元}", "cap: {amount: 2000000, unit: 元}")
        assert refusal(text) == [
            "test.yaml:20:36: measures[0].benefit.cap.unit: unit must be 万元, not '元'"
        ]

    def test_malformed_date_no_such_day(self) -> None:
        text = edited("effective_from: 2025-01-01", "effective_from: 2025-02-30")
        assert refusal(text) == [
            "test.yaml:7:17: effective_from: malformed date '2025-02-30': no such day"
        ]

    def test_malformed_date_format(self) -> None:
        text = edited("effective_to: 2025-12-31", "effective_to: 2025/12/31")
        assert refusal(text) == [
            "test.yaml:8:15: effective_to: malformed date '2025/12/31': write YYYY-MM-DD"
        ]

    def test_duplicate_measure_ids(self) -> None:
        second = """\
  - id: incremental-rd
    area: rd
    summary_zh: 重复
    summary_en: duplicate
    benefit: {kind: qualitative}
"""
        assert refusal(MINIMAL_POLICY + second) == [
            "test.yaml:22:9: measures[1].id: duplicate measure id 'incremental-rd' "
            "(also measures[0])"
        ]

    def test_yaml_syntax_error(self) -> None:
        text = edited("covers: [changsha-etdz]", "covers: [changsha-etdz")
        (issue,) = refusal(text)
        assert issue.startswith("test.yaml:7:")
        assert "invalid YAML" in issue

    def test_duplicate_key(self) -> None:
        text = edited("version: 1\n", "version: 1\nversion: 2\n")
        assert refusal(text) == ["test.yaml:3:1: version: duplicate key 'version'"]

    def test_unknown_key_is_a_typo(self) -> None:
        text = edited("effective_to:", "efective_to:")
        assert refusal(text) == [
            "test.yaml:8:1: efective_to: unknown key 'efective_to'",
            "test.yaml:1:1: missing 'effective_to'",
        ]

    def test_by_assessment_needs_a_cap_or_none_stated(self) -> None:
        text = MINIMAL_POLICY.split("    benefit:")[0] + "    benefit: {kind: by_assessment}\n"
        assert refusal(text) == ["test.yaml:16:14: measures[0].benefit: missing 'cap'"]
        stated = text.replace("{kind: by_assessment}", "{kind: by_assessment, cap: none_stated}")
        assert parse(stated).measures[0].benefit.cap is None

    def test_rate_above_one_hundred_percent(self) -> None:
        (issue,) = refusal(edited("rate: 10%", "rate: 10"))
        assert issue.startswith("test.yaml:18:13: measures[0].benefit.rate: rate must be")

    def test_end_before_start(self) -> None:
        text = edited("effective_to: 2025-12-31", "effective_to: 2024-12-31")
        assert refusal(text) == [
            "test.yaml:8:15: effective_to: effective_to is before effective_from"
        ]

    def test_every_problem_is_reported_at_once(self) -> None:
        text = edited("level: zone", "level: galactic").replace("rate: 10%", "rate: lots")
        issues = refusal(text)
        assert len(issues) == 2
        assert issues[0].startswith("test.yaml:5:8: level: unknown level 'galactic'")
        assert issues[1].startswith("test.yaml:18:13: measures[0].benefit.rate:")


class TestDirectory:
    def write(self, directory: Path, name: str, text: str) -> None:
        (directory / name).write_text(text, encoding="utf-8")

    def test_good_files_load_in_name_order(self, tmp_path: Path) -> None:
        self.write(tmp_path, "b.yaml", MINIMAL_POLICY)
        self.write(tmp_path, "a.yaml", edited("id: test-policy", "id: another-policy"))
        self.write(tmp_path, "notes.txt", "not a policy")
        policies = load_policies(tmp_path, zone_codes=ZONES, zone_levels=ZONE_LEVELS)
        assert [policy.id for policy in policies] == ["another-policy", "test-policy"]

    def test_one_bad_file_refuses_the_load_and_names_the_file(self, tmp_path: Path) -> None:
        self.write(tmp_path, "good.yaml", MINIMAL_POLICY)
        self.write(tmp_path, "bad.yaml", edited("covers: [changsha-etdz]", "covers: [atlantis]"))
        with pytest.raises(PolicyLoadError) as caught:
            load_policies(tmp_path, zone_codes=ZONES, zone_levels=ZONE_LEVELS)
        assert str(caught.value) == (
            f"{tmp_path / 'bad.yaml'}:6:10: covers[0]: unknown zone code or level 'atlantis'"
        )

    def test_two_files_with_one_policy_id(self, tmp_path: Path) -> None:
        self.write(tmp_path, "a.yaml", MINIMAL_POLICY)
        self.write(tmp_path, "b.yaml", MINIMAL_POLICY)
        with pytest.raises(PolicyLoadError, match="policy id 'test-policy' is also used by"):
            load_policies(tmp_path, zone_codes=ZONES, zone_levels=ZONE_LEVELS)

    def test_single_file(self, tmp_path: Path) -> None:
        self.write(tmp_path, "one.yaml", MINIMAL_POLICY)
        policy = load_policy_file(tmp_path / "one.yaml", zone_codes=ZONES, zone_levels=ZONE_LEVELS)
        assert policy.source_name == str(tmp_path / "one.yaml")
