"""Incentive endpoints of the JSON API: evaluate, compare, a project's incentives, policies.

Amounts are 万元 as decimal strings. `explanation` is in the caller's language (their
profile's, Chinese by default); `explanations` has both. Bad input is answered 422 with
the field named: `zone`, `zones.1`, `as_of`, `facts.rd_expense`.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from crm.api.framework import ApiError, Page, PageQuery, Schema, api_user, route
from crm.extensions import db
from crm.incentives import services, store
from crm.incentives.engine import STATUS_VALUES
from crm.incentives.facts import validate_facts
from crm.incentives.model import policy_to_dict
from crm.incentives.policies import PolicyLoadError
from crm.pipeline.access import get_visible_project

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _iso_date(value: object) -> object:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and _DATE.match(value):
        return date.fromisoformat(value)  # a ValueError names impossible days (2026-02-30)
    raise ValueError("must be a date written YYYY-MM-DD")


IsoDate = Annotated[date, BeforeValidator(_iso_date)]


class TextPair(Schema):
    zh: str
    en: str


class ResultOut(Schema):
    policy: str
    policy_version: int
    measure: str
    area: str
    title: TextPair
    status: str = Field(description=f"one of: {', '.join(STATUS_VALUES)}")
    amount: str | None = Field(description="万元, a decimal string (applies only)")
    cap: str | None = Field(description="万元, a decimal string, when the measure has a cap")
    cap_applied: bool
    frequency: str
    explanation: str = Field(description="the arithmetic or the reason, in your language")
    explanations: TextPair
    missing_facts: list[str]
    failed_condition: str | None
    threshold_unconfirmed: bool
    open_thresholds: list[str]


class EvaluationOut(Schema):
    zone: str
    zone_level: str
    zone_name: TextPair
    as_of: date
    results: list[ResultOut]
    total_applies: str = Field(description="万元: sum of the amounts of `applies` results")
    total_by_assessment_cap: str = Field(description="万元: sum of by-assessment caps")
    by_assessment_without_cap: int
    counts: dict[str, int]
    policy_versions: dict[str, int] = Field(description="policy id -> version used")
    missing_facts: list[str]
    assumed_facts: dict[str, Any]


class CompareOut(Schema):
    as_of: date
    zones: list[EvaluationOut] = Field(description="best estimated total first")
    policy_versions: dict[str, int]


class EvaluateIn(Schema):
    zone: str = Field(description="zone code, e.g. changsha-etdz")
    as_of: IsoDate | None = Field(None, description="YYYY-MM-DD; default today (Asia/Shanghai)")
    facts: dict[str, Any] = Field(default_factory=dict)


class CompareIn(Schema):
    zones: list[str] = Field(min_length=1, max_length=100)
    as_of: IsoDate | None = None
    facts: dict[str, Any] = Field(default_factory=dict)


class ProjectIncentivesQuery(Schema):
    zone: str | None = Field(None, description="default: the landed zone, else the target")
    as_of: IsoDate | None = None


def caller_reads_english() -> bool:
    return (getattr(api_user(), "locale", None) or "zh_CN") == "en"


def result_out(data: dict[str, Any], english: bool) -> ResultOut:
    return ResultOut(
        policy=data["policy"],
        policy_version=data["policy_version"],
        measure=data["measure"],
        area=data["area"],
        title=TextPair(**data["title"]),
        status=data["status"],
        amount=data["amount"],
        cap=data["cap"],
        cap_applied=data["cap_applied"],
        frequency=data["frequency"],
        explanation=data["explanation"] if english else data["explanation_zh"],
        explanations=TextPair(zh=data["explanation_zh"], en=data["explanation"]),
        missing_facts=data["missing_facts"],
        failed_condition=data["failed_condition"],
        threshold_unconfirmed=data["threshold_unconfirmed"],
        open_thresholds=data["open_thresholds"] if english else data["open_thresholds_zh"],
    )


def _evaluation_out(item: services.ZoneEvaluation) -> EvaluationOut:
    data = item.to_dict()
    english = caller_reads_english()
    return EvaluationOut(
        zone=data["zone"],
        zone_level=data["zone_level"],
        zone_name=TextPair(**data["zone_name"]),
        as_of=item.evaluation.as_of,
        results=[result_out(result, english) for result in data["results"]],
        total_applies=data["total_applies"],
        total_by_assessment_cap=data["total_by_assessment_cap"],
        by_assessment_without_cap=data["by_assessment_without_cap"],
        counts=data["counts"],
        policy_versions=data["policy_versions"],
        missing_facts=data["missing_facts"],
        assumed_facts=data["assumed_facts"],
    )


def _facts(raw: dict[str, Any]) -> dict[str, object]:
    facts, errors = validate_facts(raw, chain_codes=services.chain_codes(db.session))
    if errors:
        raise ApiError(
            422, "Invalid facts.", [(f"facts.{key}", message) for key, message in errors.items()]
        )
    return facts


def zone_or_422(code: str, field: str) -> services.ZoneRef:
    zone = services.zone_by_code(db.session, code)
    if zone is None:
        raise ApiError(422, "Unknown zone.", [(field, f"unknown zone code {code!r}")])
    return zone


@route(
    "/incentives/evaluate",
    "POST",
    summary="Evaluate facts in a zone: every measure of the policies covering it",
    body=EvaluateIn,
    response=EvaluationOut,
    tags=["incentives"],
)
def incentives_evaluate(body: EvaluateIn) -> EvaluationOut:
    zone = zone_or_422(body.zone, "zone")
    facts = _facts(body.facts)
    return _evaluation_out(services.evaluate_in_zone(db.session, zone, facts, body.as_of))


@route(
    "/incentives/compare",
    "POST",
    summary="The same facts in several zones, best estimated total first",
    body=CompareIn,
    response=CompareOut,
    tags=["incentives"],
)
def incentives_compare(body: CompareIn) -> CompareOut:
    known = services.zones_by_code(db.session, body.zones)
    errors = [
        (f"zones.{index}", f"unknown zone code {code!r}")
        for index, code in enumerate(body.zones)
        if code not in known
    ]
    if errors:
        raise ApiError(422, "Unknown zone.", errors)
    facts = _facts(body.facts)
    refs = [known[code] for code in dict.fromkeys(body.zones)]
    as_of = body.as_of or services.today()
    evaluations, policies = services.compare_zones(db.session, refs, facts, as_of)
    return CompareOut(
        as_of=as_of,
        zones=[_evaluation_out(item) for item in evaluations],
        policy_versions={p.id: p.version for p in policies.policies},
    )


@route(
    "/projects/<int:project_id>/incentives",
    summary="A project's incentives in its landed (or target) zone, or ?zone=",
    query=ProjectIncentivesQuery,
    response=EvaluationOut,
    tags=["incentives", "projects"],
)
def project_incentives(project_id: int, query: ProjectIncentivesQuery) -> EvaluationOut:
    project = get_visible_project(db.session, api_user(), project_id)  # 404 when hidden
    context = services.project_context(db.session, project)
    zone = zone_or_422(query.zone, "zone") if query.zone else context.default_zone
    if zone is None:
        raise ApiError(
            422, "The project has no zone.", [("zone", "give ?zone=CODE: no landed or target zone")]
        )
    return _evaluation_out(services.evaluate_in_zone(db.session, zone, context.facts, query.as_of))


class PolicySummaryOut(Schema):
    id: str
    title: TextPair
    level: str
    covers: list[str]
    effective_from: date
    effective_to: date | None
    measure_count: int
    current_version: int
    version_count: int
    updated_at: datetime


class SourceOut(Schema):
    document: str | None
    note: str


class BenefitOut(Schema):
    kind: str
    frequency: str
    rate: str | None
    rate_up_to: bool
    base: str | None
    amount: str | None
    cap: str | None
    unit: str
    description: str
    note: str | None


class MeasureOut(Schema):
    id: str
    area: str
    summary_zh: str
    summary_en: str
    conditions: str
    benefit: BenefitOut
    note: str | None
    facts: list[str]


class VersionOut(Schema):
    number: int
    created_at: datetime
    created_by: str | None
    origin: str
    file_name: str | None
    note: str | None
    content_hash: str


class PolicyDetailOut(Schema):
    id: str
    version: int
    current_version: int
    title: TextPair
    issuer: TextPair
    level: str
    covers: list[str]
    effective_from: date
    effective_to: date | None
    dates_confirmed: bool
    source: SourceOut
    eligibility: str | None
    areas: dict[str, TextPair]
    measures: list[MeasureOut]
    versions: list[VersionOut]


class PolicyQuery(Schema):
    version: int | None = Field(
        None, ge=1, le=1_000_000, description="a past version; default the current"
    )


@route(
    "/policies",
    summary="Incentive policies with their current version",
    query=PageQuery,
    response=Page[PolicySummaryOut],
    tags=["incentives"],
)
def list_policies(query: PageQuery) -> Page[PolicySummaryOut]:
    summaries = store.policy_summaries(db.session)
    start = (query.page - 1) * query.per_page
    items = [
        PolicySummaryOut(
            id=s.policy.code,
            title=TextPair(zh=s.current.title_zh, en=s.current.title_en),
            level=s.current.level,
            covers=list(s.current.covers),
            effective_from=s.current.effective_from,
            effective_to=s.current.effective_to,
            measure_count=s.current.measure_count,
            current_version=s.policy.current_version,
            version_count=s.version_count,
            updated_at=s.current.created_at,
        )
        for s in summaries[start : start + query.per_page]
    ]
    return Page[PolicySummaryOut](
        items=items, total=len(summaries), page=query.page, per_page=query.per_page
    )


@route(
    "/policies/<policy_id>",
    summary="One policy: its measures (conditions, benefits) and its version history",
    query=PolicyQuery,
    response=PolicyDetailOut,
    tags=["incentives"],
)
def get_policy(policy_id: str, query: PolicyQuery) -> PolicyDetailOut:
    stored = store.find_policy(db.session, policy_id)
    if stored is None:
        raise ApiError(404, "No such policy.")
    version = store.find_version(db.session, stored, query.version or stored.current_version)
    if version is None:
        raise ApiError(404, "No such version.")
    try:
        data = policy_to_dict(store.compiled_version(db.session, version))
    except PolicyLoadError as error:
        raise ApiError(409, f"This version no longer loads: {error}") from error
    history = store.versions_of(db.session, stored)
    return PolicyDetailOut(
        **{k: v for k, v in data.items() if k not in ("title", "issuer", "areas", "measures")},
        current_version=stored.current_version,
        title=TextPair(**data["title"]),
        issuer=TextPair(**data["issuer"]),
        areas={code: TextPair(**names) for code, names in data["areas"].items()},
        measures=[MeasureOut(**measure) for measure in data["measures"]],
        versions=[
            VersionOut(
                number=v.number,
                created_at=v.created_at,
                created_by=who,
                origin=v.origin,
                file_name=v.file_name,
                note=v.note,
                content_hash=v.content_hash,
            )
            for v, who in history
        ],
    )
