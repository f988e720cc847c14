"""Evaluate incentive policies for a project's facts in a zone, and compare zones.

Pure functions over compiled `Policy` objects and normalised facts (see
`crm.incentives.facts.validate_facts`); no database, no Flask. Results are immutable.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from enum import StrEnum
from operator import itemgetter
from weakref import WeakKeyDictionary
from zoneinfo import ZoneInfo

from crm.incentives import explain_zh
from crm.incentives.expressions import Facts, format_number
from crm.incentives.model import BenefitKind, Measure, Policy, measure_condition
from crm.incentives.rules import Condition, Outcome, list_fact_projections

CENT = Decimal("0.01")  # amounts are rounded to 0.01 万元 (100 yuan)
ZERO = Decimal(0)
LOCAL_TIMEZONE = ZoneInfo("Asia/Shanghai")


class Status(StrEnum):
    """What a measure means for the project."""

    APPLIES = "applies"  # eligible, with an estimated amount
    BY_ASSESSMENT = "by_assessment"  # eligible; the zone decides the amount, up to the cap
    QUALITATIVE = "qualitative"  # eligible; no money
    NEEDS_DATA = "needs_data"  # facts are missing to decide
    NOT_APPLICABLE = "not_applicable"  # a condition is not met
    NOT_IN_FORCE = "not_in_force"  # the policy's window does not include the date


STATUS_VALUES = tuple(status.value for status in Status)


@dataclass(frozen=True, slots=True)
class MeasureResult:
    """The outcome of one measure for one project.

    `amount` is set for `applies` (万元, after the cap); `cap` is the measure's cap when it
    has one. `explanation` writes the arithmetic out with the numbers, or says what is
    missing or which condition failed. `threshold_unconfirmed` is True when eligibility
    rests on a threshold the source text leaves open; `open_thresholds` quotes them.
    """

    policy_id: str
    policy_version: int
    measure_id: str
    area: str
    title_zh: str
    title_en: str
    status: Status
    amount: Decimal | None
    cap: Decimal | None
    frequency: str
    explanation: str
    missing_facts: tuple[str, ...] = ()
    failed_condition: str | None = None
    threshold_unconfirmed: bool = False
    open_thresholds: tuple[str, ...] = ()
    cap_applied: bool = False

    @property
    def explanation_zh(self) -> str:
        """The explanation in Chinese."""
        return explain_zh.explanation(self.status.value, self.explanation, self.missing_facts)

    def to_dict(self) -> dict[str, object]:
        """The API shape of the result (money as strings)."""
        return {
            "policy": self.policy_id,
            "policy_version": self.policy_version,
            "measure": self.measure_id,
            "area": self.area,
            "title": {"zh": self.title_zh, "en": self.title_en},
            "status": self.status.value,
            "amount": None if self.amount is None else format(self.amount, "f"),
            "cap": None if self.cap is None else format(self.cap, "f"),
            "cap_applied": self.cap_applied,
            "frequency": self.frequency,
            "explanation": self.explanation,
            "explanation_zh": self.explanation_zh,
            "missing_facts": list(self.missing_facts),
            "failed_condition": self.failed_condition,
            "threshold_unconfirmed": self.threshold_unconfirmed,
            "open_thresholds": list(self.open_thresholds),
            "open_thresholds_zh": [explain_zh.condition_text(t) for t in self.open_thresholds],
        }


@dataclass(frozen=True)
class Evaluation:
    """Every measure of every policy covering one zone, for one set of facts, on one date.

    `total_applies` sums the `applies` amounts; `total_by_assessment_cap` sums the caps of
    the `by_assessment` results that state one (`by_assessment_without_cap` counts the
    others). `counts` has every status (zero included). `policy_versions` maps each policy
    evaluated to its version; `missing_facts` is the union over `needs_data` results.
    """

    zone_code: str
    zone_level: str
    as_of: date
    results: tuple[MeasureResult, ...]
    total_applies: Decimal
    total_by_assessment_cap: Decimal
    by_assessment_without_cap: int
    counts: dict[str, int]
    policy_versions: dict[str, int]
    missing_facts: tuple[str, ...]

    def by_status(self, status: Status) -> tuple[MeasureResult, ...]:
        """The results with this status, in policy and measure order."""
        return tuple(result for result in self.results if result.status is status)

    def to_dict(self) -> dict[str, object]:
        """The API shape of the evaluation."""
        return {
            "zone": self.zone_code,
            "zone_level": self.zone_level,
            "as_of": self.as_of.isoformat(),
            "results": [result.to_dict() for result in self.results],
            "total_applies": format(self.total_applies, "f"),
            "total_by_assessment_cap": format(self.total_by_assessment_cap, "f"),
            "by_assessment_without_cap": self.by_assessment_without_cap,
            "counts": dict(self.counts),
            "policy_versions": dict(self.policy_versions),
            "missing_facts": list(self.missing_facts),
        }


def today() -> date:
    """Today's date in Asia/Shanghai, the default evaluation date."""
    return datetime.now(LOCAL_TIMEZONE).date()


def _result(
    policy: Policy,
    measure: Measure,
    status: Status,
    explanation: str,
    *,
    amount: Decimal | None = None,
    missing: Iterable[str] = (),
    failed: str | None = None,
    outcome: Outcome | None = None,
    cap_applied: bool = False,
) -> MeasureResult:
    notes = outcome.open_thresholds if outcome is not None else ()
    return MeasureResult(
        policy.id,
        policy.version,
        measure.id,
        measure.area,
        measure.summary_zh,
        measure.summary_en,
        status,
        amount,
        measure.benefit.cap,
        measure.benefit.frequency_text,
        explanation,
        tuple(sorted(missing)),
        failed,
        bool(notes),
        notes,
        cap_applied,
    )


def _needs(missing: Iterable[str]) -> str:
    return "needs: " + ", ".join(sorted(missing))


def _rate_result(policy: Policy, measure: Measure, facts: Facts, outcome: Outcome) -> MeasureResult:
    benefit = measure.benefit
    base = benefit.base
    assert base is not None and benefit.rate is not None
    missing = [key for key in base.facts_used if facts.get(key) is None]
    if missing:
        return _result(
            policy, measure, Status.NEEDS_DATA, _needs(missing), missing=missing, outcome=outcome
        )
    rendered = base.render(facts)
    if base.precedence < 2:
        rendered = f"({rendered})"
    formula = f"{'up to ' if benefit.rate_up_to else ''}{benefit.rate_text} × {rendered}"
    try:
        raw = benefit.rate * base.evaluate(facts)  # type: ignore[operator]
    except (ZeroDivisionError, InvalidOperation):
        text = f"{formula} cannot be computed (division by zero)"
        return _result(
            policy, measure, Status.NOT_APPLICABLE, text, failed=base.text, outcome=outcome
        )
    amount = raw.quantize(CENT, ROUND_HALF_UP)
    if amount <= 0:
        text = f"{formula} = {format_number(amount)}: nothing to claim"
        return _result(
            policy, measure, Status.NOT_APPLICABLE, text, failed=f"{base.text} > 0", outcome=outcome
        )
    text = f"{formula} = {format_number(amount)}"
    cap = benefit.cap
    if cap is not None and amount > cap:
        text += f", capped at {format_number(cap)}"
        return _result(
            policy, measure, Status.APPLIES, text, amount=cap, outcome=outcome, cap_applied=True
        )
    return _result(policy, measure, Status.APPLIES, text, amount=amount, outcome=outcome)


def _benefit_result(
    policy: Policy, measure: Measure, facts: Facts, outcome: Outcome
) -> MeasureResult:
    benefit = measure.benefit
    kind = benefit.kind
    if kind is BenefitKind.RATE:
        return _rate_result(policy, measure, facts, outcome)
    if kind is BenefitKind.FIXED:
        assert benefit.amount is not None
        text = f"fixed sum {format_number(benefit.amount)}"
        return _result(
            policy, measure, Status.APPLIES, text, amount=benefit.amount, outcome=outcome
        )
    if kind is BenefitKind.BY_ASSESSMENT:
        if benefit.cap is None:
            text = "eligible; amount decided by assessment, no cap stated"
        else:
            text = f"eligible; amount decided by assessment, up to {format_number(benefit.cap)}"
        return _result(policy, measure, Status.BY_ASSESSMENT, text, outcome=outcome)
    return _result(
        policy, measure, Status.QUALITATIVE, "eligible; non-monetary support", outcome=outcome
    )


def evaluate_measure(policy: Policy, measure: Measure, facts: Facts, as_of: date) -> MeasureResult:
    """One measure's result for normalised facts on `as_of` (zone coverage not checked)."""
    if not policy.in_force(as_of):
        return _not_in_force(policy, measure, as_of)
    return _evaluate_in_force(policy, measure, measure_condition(policy, measure), facts)


def _not_in_force(policy: Policy, measure: Measure, as_of: date) -> MeasureResult:
    text = f"policy in force {policy.window_text()}; not on {as_of.isoformat()}"
    return _result(policy, measure, Status.NOT_IN_FORCE, text)


def _evaluate_in_force(
    policy: Policy, measure: Measure, condition: Condition, facts: Facts
) -> MeasureResult:
    outcome = condition.evaluate(facts)
    if outcome.value is True:
        return _benefit_result(policy, measure, facts, outcome)
    if outcome.value is None:
        missing = set(outcome.missing)
        if measure.benefit.base is not None:
            missing.update(k for k in measure.benefit.base.facts_used if facts.get(k) is None)
        return _result(
            policy, measure, Status.NEEDS_DATA, _needs(missing), missing=missing, outcome=outcome
        )
    failed = outcome.failed
    text = failed.text if failed is not None else "condition not met"
    detail = failed.describe_failure(facts) if failed is not None else text
    return _result(policy, measure, Status.NOT_APPLICABLE, f"not met: {detail}", failed=text)


# A measure's result depends only on the values of the facts it (and its policy's
# eligibility) reads, so results are memoised per measure on those values. Results are
# immutable, so sharing them is safe; each cache is bounded.
_CACHE_LIMIT = 1024


@dataclass(frozen=True, slots=True, eq=False)
class _Plan:
    """How to read one policy's inputs once per fact set and key each measure's memo.

    `raw_keys` are facts read as they are; `tests` are the list-fact questions the
    conditions ask (`industry_tags has_any {...}`), answered once per fact set. Each
    measure's key picks its positions out of the resulting row with an `itemgetter`.
    """

    raw_keys: tuple[str, ...]
    tests: tuple[tuple[str, frozenset[str]], ...]
    # (measure, full condition, key getter over the row, memo of results)
    measures: tuple[tuple[Measure, Condition, Callable[[list[object]], object], dict], ...]


@dataclass(frozen=True, slots=True)
class _Tally:
    """Results of one or more policies for one fact set, with the sums a summary needs."""

    results: tuple[MeasureResult, ...]
    counts: dict[str, int]
    total_applies: Decimal
    total_caps: Decimal
    uncapped: int
    missing: tuple[str, ...]
    versions: dict[str, int]


_PLANS: WeakKeyDictionary[Policy, _Plan] = WeakKeyDictionary()


def _no_key(_row: list[object]) -> tuple[()]:
    return ()


def _build_plan(policy: Policy) -> _Plan:
    raw: dict[str, int] = {}
    tests: dict[tuple[str, frozenset[str]], int] = {}
    layouts = []
    for measure in policy.measures:
        condition = measure_condition(policy, measure)
        projections = list_fact_projections(condition)
        slots: list[tuple[str, int]] = []
        for key in sorted(condition.facts_used | measure.benefit.facts_used):
            sets = projections.get(key)
            if sets is None:  # read the value itself
                slots.append(("raw", raw.setdefault(key, len(raw))))
            else:  # only the answers to the list tests matter
                slots.extend(("test", tests.setdefault((key, s), len(tests))) for s in sets)
        layouts.append((measure, condition, slots))
    measures = []
    for measure, condition, slots in layouts:
        positions = [index if kind == "raw" else len(raw) + index for kind, index in slots]
        getter = itemgetter(*positions) if positions else _no_key
        measures.append((measure, condition, getter, {}))
    return _Plan(tuple(raw), tuple(tests), tuple(measures))


def _policy_results(policy: Policy, facts: Facts, as_of: date) -> list[MeasureResult]:
    if not policy.in_force(as_of):
        return [_not_in_force(policy, measure, as_of) for measure in policy.measures]
    plan = _PLANS.get(policy)
    if plan is None:
        plan = _PLANS[policy] = _build_plan(policy)
    get = facts.get
    row = [get(key) for key in plan.raw_keys]
    for key, test in plan.tests:
        value = get(key)
        row.append(None if value is None else not test.isdisjoint(value))  # type: ignore[arg-type]
    results = []
    append = results.append
    for measure, condition, getter, cache in plan.measures:
        key = getter(row)
        result = cache.get(key)
        if result is None:
            result = _evaluate_in_force(policy, measure, condition, facts)
            if len(cache) >= _CACHE_LIMIT:
                cache.clear()
            cache[key] = result
        append(result)
    return results


def evaluate_policy(policy: Policy, facts: Facts, as_of: date) -> tuple[MeasureResult, ...]:
    """Results for every measure of one policy, in file order, whatever zone it covers."""
    return tuple(_policy_results(policy, facts, as_of))


def _policy_tally(policy: Policy, facts: Facts, as_of: date) -> _Tally:
    counts = dict.fromkeys(STATUS_VALUES, 0)
    total = caps = ZERO
    uncapped = 0
    missing: set[str] = set()
    applies, by_assessment, needs_data = Status.APPLIES, Status.BY_ASSESSMENT, Status.NEEDS_DATA
    results = _policy_results(policy, facts, as_of)
    for result in results:
        status = result.status
        counts[status] += 1
        if status is applies:
            total += result.amount  # type: ignore[operator]
        elif status is by_assessment:
            if result.cap is None:
                uncapped += 1
            else:
                caps += result.cap
        elif status is needs_data:
            missing.update(result.missing_facts)
    versions = {policy.id: policy.version}
    return _Tally(tuple(results), counts, total, caps, uncapped, tuple(sorted(missing)), versions)


_EMPTY = _Tally((), dict.fromkeys(STATUS_VALUES, 0), ZERO, ZERO, 0, (), {})


def _merge(tallies: Sequence[_Tally]) -> _Tally:
    if len(tallies) == 1:
        return tallies[0]
    if not tallies:
        return _EMPTY
    counts = dict.fromkeys(STATUS_VALUES, 0)
    results: list[MeasureResult] = []
    versions: dict[str, int] = {}
    total = caps = ZERO
    uncapped = 0
    missing: set[str] = set()
    for tally in tallies:
        results.extend(tally.results)
        for status, count in tally.counts.items():
            counts[status] += count
        total += tally.total_applies
        caps += tally.total_caps
        uncapped += tally.uncapped
        missing.update(tally.missing)
        versions.update(tally.versions)
    return _Tally(tuple(results), counts, total, caps, uncapped, tuple(sorted(missing)), versions)


def _evaluation(zone_code: str, zone_level: str, as_of: date, tally: _Tally) -> Evaluation:
    return Evaluation(
        zone_code,
        zone_level,
        as_of,
        tally.results,
        tally.total_applies,
        tally.total_caps,
        tally.uncapped,
        dict(tally.counts),
        dict(tally.versions),
        tally.missing,
    )


def evaluate(
    policies: Iterable[Policy],
    zone_code: str,
    zone_level: str,
    facts: Facts,
    as_of: date | None = None,
) -> Evaluation:
    """Evaluate every measure of every policy covering the zone, as of a date (default today).

    A policy covers the zone when its `covers` names the zone code or the zone level.
    Each measure gets exactly one result; a policy outside its validity window (both ends
    inclusive) gives `not_in_force` for all its measures. `facts` must be normalised
    (`validate_facts`); missing facts give `needs_data`, never an error.
    """
    day = as_of or today()
    covering = [policy for policy in policies if policy.covers_zone(zone_code, zone_level)]
    tally = _merge([_policy_tally(policy, facts, day) for policy in covering])
    return _evaluation(zone_code, zone_level, day, tally)


def compare(
    policies: Iterable[Policy],
    zones: Iterable[tuple[str, str]] | Mapping[str, str],
    facts: Facts,
    as_of: date | None = None,
    *,
    assume_registered: bool = True,
) -> tuple[Evaluation, ...]:
    """Evaluate the same facts in several zones, best first.

    `zones` is a sequence of `(zone_code, zone_level)` pairs or a mapping code -> level.
    Zones are sorted by estimated total (`total_applies`), then by the sum of
    by-assessment caps, then by zone code. With `assume_registered` (the default), a
    project whose facts do not say `registered_in_zone` is evaluated as if it registered
    in each zone compared, which is the question a comparison asks. Each policy is
    evaluated once and its results shared by every zone it covers.
    """
    day = as_of or today()
    pairs = list(zones.items()) if isinstance(zones, Mapping) else list(zones)
    if assume_registered and facts.get("registered_in_zone") is None:
        facts = {**facts, "registered_in_zone": True}
    all_policies = list(policies)
    by_policy: dict[int, _Tally] = {}
    by_cover: dict[tuple[int, ...], _Tally] = {}
    evaluations: list[Evaluation] = []
    for zone_code, zone_level in pairs:
        covering = tuple(
            i for i, p in enumerate(all_policies) if p.covers_zone(zone_code, zone_level)
        )
        tally = by_cover.get(covering)
        if tally is None:
            for index in covering:
                if index not in by_policy:
                    by_policy[index] = _policy_tally(all_policies[index], facts, day)
            tally = by_cover[covering] = _merge([by_policy[index] for index in covering])
        evaluations.append(_evaluation(zone_code, zone_level, day, tally))
    evaluations.sort(key=lambda e: (-e.total_applies, -e.total_by_assessment_cap, e.zone_code))
    return tuple(evaluations)
