"""Evaluating projects and free-form facts against the stored policies; saved evaluations.

Plain functions taking a Session; they flush, the caller commits. The web pages and the
API call the same functions, so the rules (which facts a project carries, which zone is
evaluated, what is assumed) are written once.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm import audit
from crm.accounts.models import User
from crm.incentives import engine
from crm.incentives.engine import Evaluation, compare, evaluate
from crm.incentives.facts import FACTS, facts_to_json, validate_facts
from crm.incentives.models import SavedEvaluation
from crm.incentives.store import PolicySet, current_policies
from crm.pipeline.models import Project
from crm.reference.models import IndustrialChain, Zone

# Facts a project carries in its own columns; the evaluation form shows them, read-only.
PROJECT_OWNED_FACTS = ("chain", "planned_investment")


def today() -> date:
    """Today in Asia/Shanghai: the default evaluation date (one clock for pages and API)."""
    return engine.today()


@dataclass(frozen=True)
class ZoneRef:
    id: int
    code: str
    level: str
    name_zh: str
    name_en: str


def _zone_ref(zone: Zone) -> ZoneRef:
    return ZoneRef(zone.id, zone.code, zone.level.value, zone.name_zh, zone.name_en)


def zones(session: Session) -> list[ZoneRef]:
    """Active zones, in reference order."""
    return [
        _zone_ref(z) for z in session.scalars(select(Zone).where(Zone.active).order_by(Zone.id))
    ]


def _plausible_code(code: str) -> bool:
    """Codes are short lower-case words; anything else (NUL bytes...) never reaches SQL."""
    return 0 < len(code) <= 64 and code.isascii() and code.isprintable()


def zone_by_code(session: Session, code: str | None) -> ZoneRef | None:
    if not code or not _plausible_code(code):
        return None
    zone = session.scalar(select(Zone).where(Zone.code == code))
    return _zone_ref(zone) if zone is not None else None


def zones_by_code(session: Session, codes: Iterable[str]) -> dict[str, ZoneRef]:
    """The zones with these codes (active or not), by code; unknown codes are left out."""
    wanted = {code for code in codes if _plausible_code(code)}
    if not wanted:
        return {}
    return {
        z.code: _zone_ref(z) for z in session.scalars(select(Zone).where(Zone.code.in_(wanted)))
    }


def chain_codes(session: Session) -> set[str]:
    """Codes a `chain` fact may take (chains not retired, any chain set)."""
    return set(
        session.scalars(select(IndustrialChain.code).where(IndustrialChain.retired.is_(False)))
    )


def assume_registered(facts: Mapping[str, object]) -> tuple[dict[str, object], dict[str, object]]:
    """Facts with `registered_in_zone` taken as true when not given, and what was assumed.

    An evaluation asks what a project gets if it lands in the zone, so it registers there.
    """
    if facts.get("registered_in_zone") is not None:
        return dict(facts), {}
    return {**facts, "registered_in_zone": True}, {"registered_in_zone": True}


@dataclass
class ProjectContext:
    """A project with what an evaluation of it needs: zones, chain and facts."""

    project: Project
    chain_code: str | None
    landed_zone: ZoneRef | None
    target_zone: ZoneRef | None
    facts: dict[str, object] = field(default_factory=dict)  # stored + project-owned
    derived: dict[str, object] = field(default_factory=dict)  # project-owned facts
    ignored: dict[str, str] = field(default_factory=dict)  # stored facts no longer valid

    @property
    def default_zone(self) -> ZoneRef | None:
        return self.landed_zone or self.target_zone


def project_facts(
    stored: Mapping[str, Any] | None, chain: str | None, planned_investment: Decimal | None
) -> tuple[dict[str, object], dict[str, object], dict[str, str]]:
    """A project's facts for the engine: `(facts, derived, ignored)`.

    `chain` and `planned_investment` come from the project's own columns (`derived`); the
    stored facts are validated again and those that no longer validate (the catalogue
    changed) are left out and reported in `ignored`.
    """
    kept = {k: v for k, v in (stored or {}).items() if k not in PROJECT_OWNED_FACTS}
    facts, ignored = validate_facts(kept)
    derived: dict[str, object] = {}
    if chain:
        derived["chain"] = chain
    if planned_investment is not None:
        derived["planned_investment"] = Decimal(planned_investment)
    facts.update(derived)
    return facts, derived, ignored


def project_context(session: Session, project: Project) -> ProjectContext:
    """The project's zones and chain and its facts (see `project_facts`). The reference
    rows come from the session when already loaded (the project page loads them), else by
    primary key."""
    chain_row = session.get(IndustrialChain, project.chain_id) if project.chain_id else None
    landed_zone = session.get(Zone, project.landed_zone_id) if project.landed_zone_id else None
    target_zone = session.get(Zone, project.target_zone_id) if project.target_zone_id else None
    chain = chain_row.code if chain_row is not None else None
    facts, derived, ignored = project_facts(project.facts, chain, project.planned_investment)
    return ProjectContext(
        project,
        chain,
        _zone_ref(landed_zone) if landed_zone is not None else None,
        _zone_ref(target_zone) if target_zone is not None else None,
        facts,
        derived,
        ignored,
    )


def facts_with_project(context: ProjectContext, raw: Mapping[str, Any]) -> tuple[dict, dict]:
    """Facts entered for a project (the project-owned ones ignored), validated, plus the
    project's own; returns `(facts, errors)`."""
    entered = {k: v for k, v in raw.items() if k not in PROJECT_OWNED_FACTS}
    facts, errors = validate_facts(entered)
    facts.update(context.derived)
    return facts, errors


@dataclass(frozen=True)
class ZoneEvaluation:
    """An evaluation with the zone and the policy set it used, and the facts assumed."""

    zone: ZoneRef
    evaluation: Evaluation
    policies: PolicySet
    assumed: dict[str, object]

    def to_dict(self) -> dict[str, Any]:
        data = self.evaluation.to_dict()
        data["zone_name"] = {"zh": self.zone.name_zh, "en": self.zone.name_en}
        data["assumed_facts"] = facts_to_json(self.assumed)
        return data


def evaluate_in_zone(
    session: Session, zone: ZoneRef, facts: Mapping[str, object], as_of: date | None = None
) -> ZoneEvaluation:
    """Every measure of the current policies covering `zone` for normalised `facts`."""
    policies = current_policies(session)
    assumed_facts, assumed = assume_registered(facts)
    evaluation = evaluate(policies.policies, zone.code, zone.level, assumed_facts, as_of or today())
    return ZoneEvaluation(zone, evaluation, policies, assumed)


def compare_zones(
    session: Session,
    zone_refs: Iterable[ZoneRef],
    facts: Mapping[str, object],
    as_of: date,
    *,
    policies: PolicySet | None = None,
) -> tuple[list[ZoneEvaluation], PolicySet]:
    """The same facts evaluated in each zone, best estimated total first.

    `policies` (from `current_policies`) may be passed when evaluating many fact sets, so
    the current versions are looked up once.
    """
    policies = policies or current_policies(session)
    by_code = {zone.code: zone for zone in zone_refs}
    assumed_facts, assumed = assume_registered(facts)
    pairs = [(zone.code, zone.level) for zone in by_code.values()]
    evaluations = compare(policies.policies, pairs, assumed_facts, as_of, assume_registered=False)
    return [ZoneEvaluation(by_code[e.zone_code], e, policies, assumed) for e in evaluations], (
        policies
    )


def save_project_facts(
    session: Session, context: ProjectContext, raw: Mapping[str, Any], user_id: int | None
) -> dict[str, str]:
    """Replace the project's stored facts with the valid entered ones; errors by key.

    Nothing is stored when any fact is invalid. `chain` and `planned_investment` stay the
    project's own columns.
    """
    entered = {k: v for k, v in raw.items() if k not in PROJECT_OWNED_FACTS}
    facts, errors = validate_facts(entered)
    if errors:
        return errors
    project = context.project
    before = dict(project.facts or {})
    after = facts_to_json(facts)
    if before != after:
        project.facts = after
        changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
        audit.record(
            session,
            user_id=user_id,
            entity_type="project",
            entity_id=project.id,
            action="incentive_facts",
            changes={k: [before.get(k), after.get(k)] for k in changed},
        )
        session.flush()
    context.facts = {**facts, **context.derived}
    return {}


def save_evaluation(
    session: Session,
    project: Project,
    result: ZoneEvaluation,
    facts: Mapping[str, object],
    *,
    note: str | None,
    user_id: int | None,
) -> SavedEvaluation:
    """Keep an evaluation as shown: facts, results (both languages), totals, versions."""
    evaluation = result.evaluation
    data = result.to_dict()
    saved = SavedEvaluation(
        project_id=project.id,
        zone_id=result.zone.id,
        zone_code=result.zone.code,
        zone_level=result.zone.level,
        as_of=evaluation.as_of,
        facts={**facts_to_json(facts), **data["assumed_facts"]},
        results=data["results"],
        total_applies=evaluation.total_applies,
        total_by_assessment_cap=evaluation.total_by_assessment_cap,
        by_assessment_without_cap=evaluation.by_assessment_without_cap,
        counts=dict(evaluation.counts),
        policy_versions=dict(evaluation.policy_versions),
        note=(note or "").replace("\x00", "").strip() or None,
        created_by_id=user_id,
    )
    session.add(saved)
    session.flush()
    audit.record(
        session,
        user_id=user_id,
        entity_type="project",
        entity_id=project.id,
        action="incentive_evaluation_saved",
        changes={"evaluation": saved.id, "zone": result.zone.code, "as_of": str(saved.as_of)},
    )
    return saved


@dataclass(frozen=True)
class SavedRow:
    evaluation: SavedEvaluation
    user_name: str | None
    zone_name_zh: str | None
    zone_name_en: str | None


@functools.cache
def _saved_select() -> Any:
    return (
        select(
            SavedEvaluation,
            func.coalesce(func.nullif(User.name, ""), User.email),
            Zone.name_zh,
            Zone.name_en,
        )
        .outerjoin(User, User.id == SavedEvaluation.created_by_id)
        .outerjoin(Zone, Zone.id == SavedEvaluation.zone_id)
    )


def saved_evaluations(
    session: Session, project_id: int, limit: int | None = None, offset: int = 0
) -> tuple[list[SavedRow], int]:
    """A project's saved evaluations, newest first (at most `limit`, after skipping
    `offset`), and how many exist.

    One query whatever the number (the total is a window count); a second one only for a
    page past the end.
    """
    mine = SavedEvaluation.project_id == project_id
    stmt = (
        _saved_select()
        .add_columns(func.count().over())
        .where(mine)
        .order_by(SavedEvaluation.created_at.desc(), SavedEvaluation.id.desc())
    )
    if limit is not None:
        stmt = stmt.limit(limit)
    if offset:
        stmt = stmt.offset(offset)
    result = session.execute(stmt).all()
    if result:
        total = int(result[0][-1])
    elif offset:
        total = session.scalar(select(func.count()).select_from(SavedEvaluation).where(mine)) or 0
    else:
        total = 0
    return [SavedRow(*row[:-1]) for row in result], total


def saved_evaluation_by_id(session: Session, evaluation_id: int) -> SavedRow | None:
    """A saved evaluation whatever its project (the caller checks the project's scope)."""
    row = session.execute(_saved_select().where(SavedEvaluation.id == evaluation_id)).first()
    return SavedRow(*row) if row else None


def saved_evaluation(session: Session, project_id: int, evaluation_id: int) -> SavedRow | None:
    """The saved evaluation if it is one of the project's."""
    row = saved_evaluation_by_id(session, evaluation_id)
    return row if row is not None and row.evaluation.project_id == project_id else None


def facts_used_by(policies: PolicySet, zone: ZoneRef | None) -> set[str]:
    """The facts the policies covering `zone` read (every policy's when no zone)."""
    used: set[str] = set()
    for policy in policies.policies:
        if zone is None or policy.covers_zone(zone.code, zone.level):
            used |= policy.facts_used
    return used & set(FACTS)
