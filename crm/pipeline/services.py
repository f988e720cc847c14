"""Project operations: create, update (optimistic locking), key flags, sharing, reassigning,
deleting and restoring. Stage moves live in `crm.pipeline.stages`.

Functions take a session, the acting user and plain values; they flush, and the caller
commits once. Each change is recorded field by field in the audit log
(`crm.pipeline.changes.record_project_change`). The web UI and the API call the same
functions, so each rule is written once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm import audit
from crm.accounts.models import Team, User
from crm.enums import Role, Stage
from crm.pipeline.access import can_lead
from crm.pipeline.changes import changes_since, record_project_change
from crm.pipeline.errors import ConflictError, NotAllowed, ProjectError
from crm.pipeline.keys import key_state, recompute_key
from crm.pipeline.models import Company, Project, StageChange
from crm.pipeline.names import normalize_company_name, search_blob
from crm.pipeline.stages import TransitionError, local_today, transition
from crm.reference.models import ChainSet, IndustrialChain, Region, Zone

# Fields a person edits, by their API names (codes for reference data, ids for records).
EDITABLE_FIELDS = (
    "name",
    "name_en",
    "company_id",
    "company_name",
    "chain",
    "target_zone",
    "landed_zone",
    "planned_investment",
    "foreign_capital_usd",
    "source_region",
    "owner_id",
    "team",
    "notes",
    "external_id",
)
MAX_AMOUNT = Decimal("99999999999999.99")  # NUMERIC(16, 2)


@dataclass(frozen=True)
class CompanyChoice:
    company: Company
    created: bool


# --- small helpers -------------------------------------------------------------------------


def _json(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value.quantize(Decimal("0.01")), "f")
    if isinstance(value, date | datetime):
        return value.isoformat()
    return value


def parse_amount(value: Any, field: str) -> Decimal | None:
    """An amount from user input: empty means none; non-negative, at most two decimals."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        amount = Decimal(str(value).replace(",", "").strip())
    except ArithmeticError as exc:
        raise ProjectError(_l("Enter a number, e.g. 12500.50."), field) from exc
    if not amount.is_finite():
        raise ProjectError(_l("Enter a number, e.g. 12500.50."), field)
    if amount < 0:
        raise ProjectError(_l("The amount cannot be negative."), field)
    if amount > MAX_AMOUNT:
        raise ProjectError(_l("The amount is too large."), field)
    rounded = amount.quantize(Decimal("0.01"))
    if rounded != amount:
        raise ProjectError(_l("Use at most two decimals."), field)
    return rounded


def _chain_id(session: Session, code: str) -> int:
    chain_id = session.scalar(
        select(IndustrialChain.id)
        .join(ChainSet, ChainSet.id == IndustrialChain.set_id)
        .where(IndustrialChain.code == code)
        .order_by(ChainSet.current.desc(), IndustrialChain.retired, IndustrialChain.id)
        .limit(1)
    )
    if chain_id is None:
        raise ProjectError(_l("Unknown industrial chain."), "chain")
    return chain_id


def _code_id(session: Session, model: Any, code: str, field: str) -> int:
    found = session.scalar(select(model.id).where(model.code == code))
    if found is None:
        raise ProjectError(_l("Unknown code."), field)
    return int(found)


def find_company(session: Session, name: str) -> Company | None:
    """The live company whose normalised name, alias or English name matches `name`."""
    key = normalize_company_name(name)
    if not key:
        return None
    alive = (Company.deleted_at.is_(None), Company.merged_into_id.is_(None))
    found = session.scalar(
        select(Company).where(Company.normalized_name == key, *alive).order_by(Company.id).limit(1)
    )
    if found is not None:
        return found
    # Aliases and English names are keys of the search blob; confirm the exact match.
    candidates = session.scalars(
        select(Company)
        .where(Company.search_blob.contains(f"|{key}|", autoescape=True), *alive)
        .order_by(Company.id)
        .limit(20)
    )
    for company in candidates:
        names = [*(company.aliases or []), company.name_en or ""]
        if any(normalize_company_name(n) == key for n in names if n):
            return company
    return None


def company_for_name(session: Session, name: str, actor_id: int | None) -> CompanyChoice:
    """The existing company `name` matches (normalised), else a new company of that name."""
    name = " ".join(name.split())
    if not name:
        raise ProjectError(_l("Enter the investor's name."), "company_name")
    if len(name) > 300:
        raise ProjectError(_l("The name is too long."), "company_name")
    existing = find_company(session, name)
    if existing is not None:
        return CompanyChoice(existing, False)
    company = Company(
        name=name,
        aliases=[],
        normalized_name=normalize_company_name(name),
        tags=[],
        search_blob=search_blob(name),
    )
    session.add(company)
    session.flush()
    audit.record(
        session,
        user_id=actor_id,
        entity_type="company",
        entity_id=company.id,
        action="create",
        changes={"name": [None, name]},
    )
    return CompanyChoice(company, True)


def project_search_blob(project: Project, company: Company) -> str:
    """Search keys of a project: its names and its investor's names and aliases."""
    return search_blob(
        project.name,
        [company.name, *(company.aliases or []), company.name_en or ""],
        project.name_en,
    )


def snapshot(session: Session, project: Project) -> dict[str, Any]:
    """The project's editable fields by API name, JSON-ready (codes for references)."""

    def code(model: Any, ident: int | None) -> Any:
        return select(model.code).where(model.id == ident).scalar_subquery()

    row = session.execute(
        select(
            code(IndustrialChain, project.chain_id),
            code(Zone, project.target_zone_id),
            code(Zone, project.landed_zone_id),
            code(Region, project.source_region_id),
            code(Team, project.team_id),
            select(Company.name).where(Company.id == project.company_id).scalar_subquery(),
        )
    ).one()
    return {
        "name": project.name,
        "name_en": project.name_en,
        "company_id": project.company_id,
        "company_name": row[5],
        "chain": row[0],
        "target_zone": row[1],
        "landed_zone": row[2],
        "planned_investment": _json(project.planned_investment),
        "foreign_capital_usd": _json(project.foreign_capital_usd),
        "source_region": row[3],
        "owner_id": project.owner_id,
        "team": row[4],
        "notes": project.notes,
        "external_id": project.external_id,
    }


def _text(values: Mapping[str, Any], field: str, limit: int) -> str | None:
    value = values.get(field)
    if value is None:
        return None
    value = str(value).strip()
    if len(value) > limit:
        raise ProjectError(_l("At most %(n)d characters.", n=limit), field)
    return value or None


def apply_values(
    session: Session, project: Project, values: Mapping[str, Any], actor: User
) -> tuple[Company | None, bool]:
    """Set the fields present in `values` on `project`; returns (company if changed, created)."""
    unknown = set(values) - set(EDITABLE_FIELDS)
    if unknown:
        raise ProjectError(_l("Unknown field."), sorted(unknown)[0])
    if "name" in values:
        name = _text(values, "name", 300)
        if not name:
            raise ProjectError(_l("Enter the project's name."), "name")
        project.name = name
    for field, limit in (("name_en", 300), ("external_id", 100), ("notes", 20000)):
        if field in values:
            setattr(project, field, _text(values, field, limit))
    company, created = None, False
    if values.get("company_id") is not None:
        company = session.get(Company, values["company_id"])
        if company is None or company.deleted_at is not None:
            raise ProjectError(_l("No such company."), "company_id")
        if company.merged_into_id:
            company = session.get(Company, company.merged_into_id) or company
    elif "company_name" in values:
        choice = company_for_name(session, str(values["company_name"] or ""), actor.id)
        company, created = choice.company, choice.created
    if company is not None:
        project.company_id = company.id
    for field, attr, model in (
        ("target_zone", "target_zone_id", Zone),
        ("landed_zone", "landed_zone_id", Zone),
        ("source_region", "source_region_id", Region),
    ):
        if field in values:
            value = values[field]
            setattr(project, attr, _code_id(session, model, value, field) if value else None)
    if "chain" in values:
        project.chain_id = _chain_id(session, values["chain"]) if values["chain"] else None
    for field in ("planned_investment", "foreign_capital_usd"):
        if field in values:
            setattr(project, field, parse_amount(values[field], field))
    if "team" in values:
        _set_team(session, project, values["team"], actor)
    if "owner_id" in values:
        set_owner(session, project, values["owner_id"])
    return company, created


def _set_team(session: Session, project: Project, team_code: str | None, actor: User) -> None:
    if not team_code:
        raise ProjectError(_l("Choose a team."), "team")
    team_id = session.scalar(select(Team.id).where(Team.code == team_code, Team.active.is_(True)))
    if team_id is None:
        raise ProjectError(_l("Unknown team."), "team")
    if team_id == project.team_id:
        return
    # Officers work within their team; leads and admins may move projects between teams.
    if project.team_id is None:
        if actor.role not in (Role.ADMIN, Role.LEAD) and team_id != actor.team_id:
            raise NotAllowed("Officers create projects for their own team.")
    elif not can_lead(actor, project):
        raise NotAllowed("Only a lead of the project's team or an admin may move it.")
    project.team_id = team_id


def set_owner(session: Session, project: Project, owner_id: int | None) -> None:
    if owner_id is None:
        project.owner_id = None
        return
    owner_team = session.scalar(
        select(User.team_id).where(User.id == owner_id, User.active.is_(True))
    )
    if owner_team is None or owner_team != project.team_id:
        raise ProjectError(
            _l("The owner must be an active member of the project's team."), "owner_id"
        )
    project.owner_id = owner_id


def _refresh_derived(session: Session, project: Project, company: Company | None) -> None:
    company = company or session.get(Company, project.company_id)
    assert company is not None
    project.search_blob = project_search_blob(project, company)
    recompute_key(session, project)


def _diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, list[Any]]:
    return {k: [before.get(k), v] for k, v in after.items() if before.get(k) != v}


# --- create and update -------------------------------------------------------------------


def create_project(
    session: Session,
    actor: User,
    values: Mapping[str, Any],
    *,
    stage: Stage = Stage.LEAD,
    stage_dates: Mapping[Stage, date] | None = None,
    today: date | None = None,
) -> Project:
    """Create a project for the actor's team (or the team given, by a lead or admin).

    The investor is `company_id`, or `company_name`: an existing company whose normalised
    name matches, else a new one. The project starts as a lead on `stage_dates[lead]` (or
    the earliest date given, or today); a later `stage` is reached through the transition
    rules (every skipped stage needs its date). Raises ProjectError, NotAllowed or
    stages.TransitionError.
    """
    if not actor.can_write:
        raise NotAllowed("Leaders do not change projects.")
    if values.get("company_id") is None and not values.get("company_name"):
        raise ProjectError(_l("Choose or name the investor."), "company_name")
    today = today or local_today()
    dates = dict(stage_dates or {})
    lead_on = dates.pop(Stage.LEAD, None) or (min(dates.values()) if dates else today)
    project = Project(name="", stage=Stage.LEAD, lead_on=lead_on)
    values = dict(values)
    values.setdefault("team", _team_code(session, actor.team_id))
    company, _created = apply_values(session, project, values, actor)
    if not project.name:
        raise ProjectError(_l("Enter the project's name."), "name")
    if project.owner_id is None and actor.team_id == project.team_id and "owner_id" not in values:
        project.owner_id = actor.id
    project.created_by_id = actor.id
    project.last_activity_at = datetime.now(UTC)
    _refresh_derived(session, project, company)
    session.add(project)
    session.flush()
    session.add(
        StageChange(
            project_id=project.id,
            from_stage=None,
            to_stage=Stage.LEAD,
            on=lead_on,
            user_id=actor.id,
        )
    )
    after = snapshot(session, project)
    record_project_change(
        session,
        project,
        user_id=actor.id,
        action="create",
        changes={
            **{k: [None, v] for k, v in after.items() if v is not None},
            "stage": [None, Stage.LEAD.value],
            "lead_on": [None, lead_on.isoformat()],
            **{k: [None, v] for k, v in key_state(project).items() if v},
        },
    )
    if stage != Stage.LEAD:
        on = dates.get(stage)
        if on is None:
            raise TransitionError(_l("Give the date the project reached this stage."), "date")
        skipped = {s: d for s, d in dates.items() if s != stage}
        transition(
            session, project, to=stage, on=on, user_id=actor.id, skipped_dates=skipped, today=today
        )
    return project


def _team_code(session: Session, team_id: int | None) -> str | None:
    return session.scalar(select(Team.code).where(Team.id == team_id)) if team_id else None


def update_project(
    session: Session,
    project: Project,
    actor: User,
    values: Mapping[str, Any],
    *,
    expected_version: int,
) -> dict[str, list[Any]]:
    """Change the fields present in `values`; returns the field-level changes made.

    Refuses with ConflictError when the project is no longer at `expected_version`,
    listing what the others changed since; nothing is changed then. The caller checks the
    actor may edit the project (`access.can_edit`).
    """
    if expected_version != project.version:
        raise ConflictError(project.version, changes_since(session, project.id, expected_version))
    version = project.version
    before = {**snapshot(session, project), **key_state(project)}
    with session.no_autoflush:
        company, _created = apply_values(session, project, values, actor)
        _refresh_derived(session, project, company)
        after = {**snapshot(session, project), **key_state(project)}
    changes = _diff(before, after)
    if changes:
        # A concurrent save that got in first makes this flush fail with StaleDataError:
        # the caller rolls back and reports the conflict (`conflict_for`).
        record_project_change(
            session,
            project,
            user_id=actor.id,
            action="update",
            changes=changes,
            version_before=version,
        )
    return changes


def conflict_for(session: Session, project_id: int, since_version: int) -> ConflictError:
    """After a refused flush (and a rollback): the conflict with the changes made since."""
    current = session.scalar(select(Project.version).where(Project.id == project_id)) or 0
    return ConflictError(current, changes_since(session, project_id, since_version))
