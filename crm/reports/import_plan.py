"""What importing each valid ledger row would do: create, update (and what) or nothing.

Matching, within the importing team's live projects: a row with a 项目编号 matches the
project with that external id; otherwise (or when no project has it) the project of the same
company (credit code, else normalised name) with the same name. An empty ledger cell never
clears a value the project already has. The project fields a ledger fills are in
`PROJECT_FIELDS`; the other columns are kept in `project.facts["ledger"]`.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.accounts.models import User
from crm.enums import MAIN_STAGES, Stage
from crm.pipeline import names as _names
from crm.pipeline.models import Company, Project
from crm.reference.models import IndustrialChain, Region
from crm.reports.ledger import ValidRow
from crm.reports.ledger_headers import FIELDS_BY_KEY

CENT = Decimal("0.01")
CHUNK = 500

#: ledger field -> Project attribute
PROJECT_FIELDS = {
    "external_id": "external_id",
    "project_name": "name",
    "planned_investment": "planned_investment",
    "fixed_asset_investment": "fixed_asset_investment",
    "funds_in_place_total": "funds_in_place_total",
    "land_mu": "land_mu",
    "expected_output": "expected_annual_output",
    "expected_tax": "expected_annual_tax",
    "jobs": "jobs",
    "notes": "notes",
    "signed_on": "signed_on",
    "landed_on": "landed_on",
    "started_on": "started_on",
    "operating_on": "operating_on",
}
#: ledger fields kept as facts (no project column of their own)
FACT_FIELDS = (
    "company_type",
    "source_place",
    "registered_capital",
    "funds_in_place_month",
    "is_top500",
    "is_hq",
    "event_name",
    "contact",
    "responsible_unit",
    "owner",
)
DATE_STAGES = (
    ("signed_on", Stage.SIGNED),
    ("landed_on", Stage.LANDED),
    ("started_on", Stage.STARTED),
    ("operating_on", Stage.OPERATING),
)


@functools.lru_cache(maxsize=65536)
def normalize_company_name(name: str) -> str:
    """The pipeline's matching key of a company name (memoised: a ledger repeats names)."""
    return _names.normalize_company_name(name)


def plain(value: Any) -> Any:
    """A JSON-safe form of a value (for facts, previews and undo records)."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Stage):
        return value.value
    return value


def dump_rows(rows: list[ValidRow]) -> list[Any]:
    """Validated rows in JSON form (see `load_rows`)."""
    return [[r.row, {k: plain(v) for k, v in r.values.items()}] for r in rows]


def _typed(key: str, value: Any) -> Any:
    if value is None:
        return None
    kind = FIELDS_BY_KEY[key].kind
    if kind == "date":
        return date.fromisoformat(value)
    if kind in ("money", "area"):
        return Decimal(value)
    if kind == "int":
        return int(value)
    if kind == "stage":
        return Stage(value)
    return value


def load_rows(data: list[Any]) -> list[ValidRow]:
    """The validated rows back from their JSON form, with their Python types."""
    return [
        ValidRow(number, {k: _typed(k, v) for k, v in values.items()}) for number, values in data
    ]


@dataclass
class RowPlan:
    row: int
    action: str  # create, update, unchanged
    project_id: int | None
    company_id: int | None
    company_name: str
    uscc: str | None
    values: dict[str, Any]  # Project attributes to set (None: leave as is)
    facts: dict[str, Any]
    stage: Stage | None  # the stage to move to, None: unchanged
    changes: dict[str, list[Any]] = field(default_factory=dict)  # attr -> [old, new]

    def preview(self) -> dict[str, Any]:
        return {
            "row": self.row,
            "action": self.action,
            "project_id": self.project_id,
            "name": self.values.get("name"),
            "company": self.company_name,
            "stage": plain(self.stage),
            "values": {k: plain(v) for k, v in self.values.items() if v is not None},
            "changes": self.changes,
        }


@dataclass
class Plan:
    rows: list[RowPlan]
    projects: dict[int, Project]  # matched projects, loaded once
    companies: dict[int, Company]

    def count(self, action: str) -> int:
        return sum(1 for r in self.rows if r.action == action)


def _chunks(items: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


def _amount(value: Any) -> Any:
    return value.quantize(CENT) if isinstance(value, Decimal) else value


class _Lookups:
    def __init__(self, session: Session, team_id: int, rows: list[ValidRow]) -> None:
        self.chain_ids = dict(
            session.execute(
                select(IndustrialChain.code, IndustrialChain.id)
                .where(IndustrialChain.retired.is_(False))
                .order_by(IndustrialChain.id)
            ).all()
        )
        self.regions = [
            (rid, [_bare(n) for n in (cities or [])], [_bare(n) for n in (provinces or [])])
            for rid, cities, provinces in session.execute(
                select(Region.id, Region.cities_zh, Region.provinces_zh).order_by(Region.sort)
            )
        ]
        self.owners: dict[str, int] = {}
        for uid, name in session.execute(
            select(User.id, User.name).where(User.team_id == team_id, User.active.is_(True))
        ):
            if name:
                self.owners.setdefault(name.strip(), uid)
        values = [r.values for r in rows]
        usccs = sorted({v["uscc"] for v in values if v.get("uscc")})
        names = sorted({normalize_company_name(str(v["company_name"])) for v in values})
        self.companies: dict[int, Company] = {}
        for chunk in _chunks(usccs):
            for company in session.scalars(select(Company).where(Company.uscc.in_(chunk))):
                self.companies[company.id] = company
        for chunk in _chunks(names):
            for company in session.scalars(
                select(Company).where(
                    Company.normalized_name.in_(chunk),
                    Company.deleted_at.is_(None),
                    Company.merged_into_id.is_(None),
                )
            ):
                self.companies[company.id] = company
        # A credit code is unique: a company undone by an earlier import is revived.
        self.by_uscc = {c.uscc: c for c in self.companies.values() if c.uscc}
        self.by_name: dict[str, Company] = {}
        for c in sorted(self.companies.values(), key=lambda c: c.id):
            if c.deleted_at is None and c.merged_into_id is None:
                self.by_name.setdefault(c.normalized_name, c)
        ids = sorted({str(v["external_id"]) for v in values if v.get("external_id")})
        self.projects: dict[int, Project] = {}
        live = (Project.team_id == team_id) & Project.deleted_at.is_(None)
        for chunk in _chunks(ids):
            for p in session.scalars(select(Project).where(live, Project.external_id.in_(chunk))):
                self.projects[p.id] = p
        # Same company and name: only the found companies' projects can match.
        company_ids = sorted(self.companies)
        for chunk in _chunks(company_ids):
            for p in session.scalars(select(Project).where(live, Project.company_id.in_(chunk))):
                self.projects[p.id] = p
        self.by_external = {}
        self.by_company_name = {}
        for p in sorted(self.projects.values(), key=lambda p: p.id):
            if p.external_id:
                self.by_external.setdefault(p.external_id, p)
            self.by_company_name.setdefault((p.company_id, p.name), p)

    def region_for(self, place: str | None) -> int | None:
        if not place:
            return None
        for rid, cities, _ in self.regions:
            if any(c and c in place for c in cities):
                return rid
        for rid, _, provinces in self.regions:
            if any(p and p in place for p in provinces):
                return rid
        return None


def _bare(name: str) -> str:
    for suffix in ("特别行政区", "维吾尔自治区", "壮族自治区", "回族自治区", "自治区", "省", "市"):
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


def _target_stage(values: dict[str, Any], project: Project | None) -> Stage | None:
    stated = values.get("stage")
    if isinstance(stated, Stage):
        return None if project is not None and project.stage == stated else stated
    dated = [stage for key, stage in DATE_STAGES if values.get(key)]
    if not dated:
        return Stage.LEAD if project is None else None
    furthest = dated[-1]
    if project is None:
        return furthest
    if project.stage in MAIN_STAGES and MAIN_STAGES.index(furthest) > MAIN_STAGES.index(
        project.stage
    ):
        return furthest
    return None


def plan_rows(session: Session, team_id: int, rows: list[ValidRow]) -> Plan:
    """Decide for every valid row what importing it does (queries in bulk, writes nothing)."""
    look = _Lookups(session, team_id, rows)
    plans = []
    for valid in rows:
        v = valid.values
        company_name = str(v["company_name"])
        uscc = v.get("uscc") or None
        company = (look.by_uscc.get(uscc) if uscc else None) or look.by_name.get(
            normalize_company_name(company_name)
        )
        project = None
        if v.get("external_id"):
            project = look.by_external.get(str(v["external_id"]))
        if project is None and company is not None:
            project = look.by_company_name.get((company.id, str(v["project_name"])))
        values: dict[str, Any] = {
            attr: _amount(v.get(key)) for key, attr in PROJECT_FIELDS.items() if key in v
        }
        if "external_id" in values and values["external_id"] is not None:
            values["external_id"] = str(values["external_id"])
        if v.get("chain"):
            values["chain_id"] = look.chain_ids.get(str(v["chain"]))
        region = look.region_for(v.get("source_place"))  # type: ignore[arg-type]
        if region is not None:
            values["source_region_id"] = region
        owner = v.get("owner")
        if owner and str(owner).strip() in look.owners:
            values["owner_id"] = look.owners[str(owner).strip()]
        facts = {k: plain(v[k]) for k in FACT_FIELDS if v.get(k) is not None}
        plan = RowPlan(
            row=valid.row,
            action="create",
            project_id=None,
            company_id=company.id if company else None,
            company_name=company.name if company else company_name,
            uscc=uscc,
            values=values,
            facts=facts,
            stage=_target_stage(v, project),
        )
        if project is not None:
            plan.project_id = project.id
            plan.changes = _changes(project, plan)
            plan.action = "update" if plan.changes else "unchanged"
        plans.append(plan)
    return Plan(plans, look.projects, look.companies)


def _changes(project: Project, plan: RowPlan) -> dict[str, list[Any]]:
    changes: dict[str, list[Any]] = {}
    for attr, new in plan.values.items():
        if new is None:
            continue  # an empty cell keeps what the project has
        old = getattr(project, attr)
        if old != new:
            changes[attr] = [plain(old), plain(new)]
    if plan.stage is not None and plan.stage != project.stage:
        changes["stage"] = [project.stage.value, plan.stage.value]
    old_facts = (project.facts or {}).get("ledger") or {}
    for key, new in plan.facts.items():
        if old_facts.get(key) != new:
            changes[f"facts.{key}"] = [old_facts.get(key), new]
    return changes
