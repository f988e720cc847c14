"""Finding projects: the filters, sorts and pages shared by the list, the board and the export.

A filter arrives as a query string (`?stage=signed&stage=landed&chain=automobile&key=1`).
`parse_filter` turns it into a `ProjectFilter` and a list of problems (a bad value is
reported and left out, never a 500); `filter_conditions` turns the filter into WHERE clauses
on `project` alone (codes are resolved in sub-selects), so the count/sum query needs no join.

Parameters (each may repeat where it says "list"; values of one parameter are OR-ed, different
parameters AND-ed):

- `stage` (list of stage keys), `chain`, `zone`, `team`, `region` (lists of codes),
  `owner` (list of user ids, or `me`), `company` (company id), `key=1` (key projects only),
  `tag` (list of investor tags: `fortune_global_500`, `china_top_500`,
  `china_private_top_500`, `top500` for any of the three, `central_soe`, `listed`,
  `industry_leader`, `hq_corporate`, `hq_regional`, `hq_functional`),
  `min` / `max` (planned investment in 万元), `<stage>_from` / `<stage>_to` (the date the
  project reached that stage, e.g. `signed_from=2022-01-01`), `q` (search words, as in the
  search box), `stalled=1` (stalled projects only, by the reminder rules),
  `stalled_rule` (list of rule codes: stalled on one of these rules; implies `stalled=1`).
- A project's zone is its landed zone once it has landed, otherwise its target zone.
- Top-500 tags count for the current and the previous year (as for key projects).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlencode

from flask_babel import gettext as _
from sqlalchemy import Text, and_, case, cast, false, func, literal, or_, select, union_all
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from crm.accounts.models import Team, User
from crm.enums import ALL_STAGES, TOP500_LISTS, InvestorTag, Stage
from crm.pipeline.models import Company, CompanyTop500, Project
from crm.pipeline.names import query_variants
from crm.pipeline.sql_hints import unselective
from crm.reference.models import IndustrialChain, Region, Zone
from crm.reminders.rules import RULE_CODES

TOP500_ANY = "top500"
TAG_VALUES: tuple[str, ...] = (TOP500_ANY, *(t.value for t in InvestorTag))
MAX_LIST_VALUES = 50
MAX_AMOUNT = Decimal("99999999999999.99")
MAX_QUERY_LENGTH = 100

Problem = tuple[str, str]  # (parameter, message)


@dataclass(frozen=True)
class DateRange:
    stage: Stage
    start: date | None = None
    end: date | None = None


@dataclass(frozen=True)
class ProjectFilter:
    """What the user asked to see; empty means everything in scope."""

    stages: tuple[Stage, ...] = ()
    chains: tuple[str, ...] = ()
    zones: tuple[str, ...] = ()
    teams: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    owners: tuple[int, ...] = ()
    owner_me: bool = False
    company_id: int | None = None
    key_only: bool = False
    tags: tuple[str, ...] = ()
    amount_min: Decimal | None = None
    amount_max: Decimal | None = None
    dates: tuple[DateRange, ...] = ()
    q: str = ""
    stalled: bool = False
    stalled_rules: tuple[str, ...] = ()
    # (kind, ids) for the codes above when the options knew their ids; not part of args().
    resolved: tuple[tuple[str, tuple[int, ...]], ...] = ()
    # The reminder rules' thresholds and date a stalled filter is judged with
    # (`list_queries.prepare_filter` sets it); not part of args().
    stalled_context: Any = field(default=None, compare=False, repr=False)

    def ids_for(self, kind: str) -> tuple[int, ...] | None:
        return next((ids for k, ids in self.resolved if k == kind), None)

    def args(self) -> list[tuple[str, str]]:
        """The filter as canonical query parameters (what `parse_filter` reads back)."""
        out: list[tuple[str, str]] = []
        out += [("stage", s.value) for s in self.stages]
        out += [("chain", c) for c in self.chains]
        out += [("zone", z) for z in self.zones]
        out += [("team", t) for t in self.teams]
        out += [("region", r) for r in self.regions]
        if self.owner_me:
            out.append(("owner", "me"))
        out += [("owner", str(o)) for o in self.owners]
        if self.company_id is not None:
            out.append(("company", str(self.company_id)))
        if self.key_only:
            out.append(("key", "1"))
        out += [("tag", t) for t in self.tags]
        if self.amount_min is not None:
            out.append(("min", _plain(self.amount_min)))
        if self.amount_max is not None:
            out.append(("max", _plain(self.amount_max)))
        for rng in self.dates:
            if rng.start:
                out.append((f"{rng.stage.value}_from", rng.start.isoformat()))
            if rng.end:
                out.append((f"{rng.stage.value}_to", rng.end.isoformat()))
        if self.q:
            out.append(("q", self.q))
        if self.stalled:
            out.append(("stalled", "1"))
        out += [("stalled_rule", r) for r in self.stalled_rules]
        return out

    def values(self, name: str) -> list[str]:
        """The values of one query parameter, as `args` writes them."""
        return [v for k, v in self.args() if k == name]

    def is_empty(self) -> bool:
        return not self.args()

    def date_range(self, stage: Stage) -> DateRange:
        return next((r for r in self.dates if r.stage == stage), DateRange(stage))

    def with_stages(self, *stages: Stage) -> ProjectFilter:
        return replace(self, stages=tuple(stages))


@dataclass(frozen=True)
class ListSort:
    key: str = "updated"
    descending: bool = True

    def args(self) -> list[tuple[str, str]]:
        if self == ListSort():
            return []
        return [("sort", self.key), ("dir", "desc" if self.descending else "asc")]


@dataclass(frozen=True)
class FilterOptions:
    """The codes a filter may use (also the choices of the filter form)."""

    chains: Sequence[tuple[str, str, str]] = ()  # (code, name_zh, name_en)
    zones: Sequence[tuple[str, str, str]] = ()
    teams: Sequence[tuple[str, str, str]] = ()
    regions: Sequence[tuple[str, str, str]] = ()
    owners: Sequence[tuple[int, str]] = ()  # (user id, display name)
    validate_codes: bool = True
    # kind ("chains", ...) -> code -> database ids, so filters compare ids the planner
    # can estimate instead of sub-selecting codes.
    ids: Mapping[str, Mapping[str, tuple[int, ...]]] = field(default_factory=dict)

    def codes(self, kind: str) -> set[str]:
        return {row[0] for row in getattr(self, kind)}


def local_today() -> date:
    """Today in the configured time zone (Asia/Shanghai unless set otherwise)."""
    from zoneinfo import ZoneInfo

    from flask import current_app, has_app_context

    name = "Asia/Shanghai"
    if has_app_context():
        name = current_app.config.get("BABEL_DEFAULT_TIMEZONE") or name
    return datetime.now(ZoneInfo(name)).date()


def _plain(value: Decimal) -> str:
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def load_filter_options(session: Session, user: User) -> FilterOptions:
    """Codes, names and ids for the filter form: two small queries (the reference lists in
    one UNION ALL, sorted here; the owners)."""
    lists: dict[str, list[Any]] = {"chain": [], "zone": [], "region": [], "team": []}
    for row in session.execute(_reference_lists()):
        lists[row.kind].append(row)
    chains = sorted(lists["chain"], key=lambda r: (r.sort, r.id))
    zones = sorted(lists["zone"], key=lambda r: r.id)
    regions = sorted(lists["region"], key=lambda r: (r.sort, r.id))
    teams = sorted(lists["team"], key=lambda r: r.code)
    owners_stmt = select(User.id, func.coalesce(func.nullif(User.name, ""), User.email)).where(
        User.active.is_(True)
    )
    if not user.sees_all_teams:
        # Officers and leads pick owners among their own team.
        owners_stmt = owners_stmt.where(User.team_id == user.team_id)
    owners = session.execute(owners_stmt.order_by(User.name, User.id)).all()
    chain_ids: dict[str, list[int]] = {}
    for row in chains:  # a code can live in several chain sets; a filter takes them all
        chain_ids.setdefault(row.code, []).append(row.id)
    return FilterOptions(
        chains=_unique_codes([(r.code, r.name_zh, r.name_en) for r in chains if not r.retired]),
        zones=[(r.code, r.name_zh, r.name_en) for r in zones],
        teams=[(r.code, r.name_zh, r.name_en) for r in teams],
        regions=[(r.code, r.name_zh, r.name_en) for r in regions],
        owners=[(int(i), str(n)) for i, n in owners],
        ids={
            "chains": {code: tuple(ids) for code, ids in chain_ids.items()},
            "zones": {r.code: (r.id,) for r in zones},
            "teams": {r.code: (r.id,) for r in teams},
            "regions": {r.code: (r.id,) for r in regions},
        },
    )


@functools.cache
def _reference_lists() -> Any:
    """Every chain, active zone, region and active team: (kind, code, name_zh, name_en,
    id, retired, sort), one statement."""

    def part(kind: str, model: Any, retired: Any, sort: Any, *where: Any) -> Any:
        return select(
            literal(kind).label("kind"),
            model.code.label("code"),
            model.name_zh.label("name_zh"),
            model.name_en.label("name_en"),
            model.id.label("id"),
            retired.label("retired"),
            sort.label("sort"),
        ).where(*where)

    no = literal(False)
    return union_all(
        part("chain", IndustrialChain, IndustrialChain.retired, IndustrialChain.sort),
        part("zone", Zone, no, literal(0), Zone.active.is_(True)),
        part("region", Region, no, Region.sort),
        part("team", Team, no, literal(0), Team.active.is_(True)),
    )


def _unique_codes(rows: Iterable[Any]) -> list[tuple[str, str, str]]:
    seen: dict[str, tuple[str, str, str]] = {}
    for row in rows:
        seen.setdefault(row[0], (row[0], row[1], row[2]))
    return list(seen.values())


def _values(args: Mapping[str, Any], name: str) -> list[str]:
    getlist = getattr(args, "getlist", None)
    raw = getlist(name) if getlist else args.get(name, [])
    if isinstance(raw, str):
        raw = [raw]
    return [v.strip() for v in raw if v is not None and str(v).strip()]


def _one(args: Mapping[str, Any], name: str) -> str | None:
    values = _values(args, name)
    return values[-1] if values else None


def parse_filter(
    args: Mapping[str, Any], options: FilterOptions | None = None
) -> tuple[ProjectFilter, list[Problem]]:
    """Read a filter from query parameters; each bad value is reported and left out."""
    problems: list[Problem] = []
    known = options or FilterOptions(validate_codes=False)

    def listed(name: str) -> list[str]:
        values = list(dict.fromkeys(_values(args, name)))
        if len(values) > MAX_LIST_VALUES:
            problems.append((name, _("At most %(n)d values.", n=MAX_LIST_VALUES)))
            values = values[:MAX_LIST_VALUES]
        return values

    stages: list[Stage] = []
    for value in listed("stage"):
        try:
            stages.append(Stage(value))
        except ValueError:
            problems.append(("stage", _("Unknown stage: %(value)s", value=value)))

    def codes(name: str, kind: str, label: str) -> tuple[str, ...]:
        values = listed(name)
        if not known.validate_codes:
            return tuple(values)
        valid = known.codes(kind)
        good = []
        for value in values:
            if value in valid:
                good.append(value)
            else:
                problems.append((name, _("Unknown %(what)s: %(value)s", what=label, value=value)))
        return tuple(good)

    chains = codes("chain", "chains", _("chain"))
    zones = codes("zone", "zones", _("zone"))
    teams = codes("team", "teams", _("team"))
    regions = codes("region", "regions", _("source region"))

    owners: list[int] = []
    owner_me = False
    for value in listed("owner"):
        if value == "me":
            owner_me = True
        elif value.isascii() and value.isdigit() and len(value) < 10:
            owners.append(int(value))
        else:
            problems.append(("owner", _("Not a user: %(value)s", value=value)))

    company_id = None
    if (value := _one(args, "company")) is not None:
        if value.isascii() and value.isdigit() and len(value) < 10:
            company_id = int(value)
        else:
            problems.append(("company", _("Not a company: %(value)s", value=value)))

    key_only = _flag(args, "key", problems, _("Use key=1 for key projects only."))
    stalled = _flag(args, "stalled", problems, _("Use stalled=1 for stalled projects only."))
    stalled_rules = []
    for value in listed("stalled_rule"):
        if value in RULE_CODES:
            stalled_rules.append(value)
        else:
            problems.append(("stalled_rule", _("Unknown reminder rule: %(value)s", value=value)))

    tags = []
    for value in listed("tag"):
        if value in TAG_VALUES:
            tags.append(value)
        else:
            problems.append(("tag", _("Unknown investor tag: %(value)s", value=value)))

    amount_min = _amount(args, "min", problems)
    amount_max = _amount(args, "max", problems)
    if amount_min is not None and amount_max is not None and amount_min > amount_max:
        problems.append(("max", _("The maximum amount is below the minimum.")))
        amount_max = None

    dates = []
    for stage in ALL_STAGES:
        start = _date(args, f"{stage.value}_from", problems)
        end = _date(args, f"{stage.value}_to", problems)
        if start and end and start > end:
            problems.append((f"{stage.value}_to", _("The end date is before the start date.")))
            end = None
        if start or end:
            dates.append(DateRange(stage, start, end))

    q = (_one(args, "q") or "")[:MAX_QUERY_LENGTH]
    resolved = []
    if known.validate_codes and known.ids:
        for kind, values in (
            ("chains", chains),
            ("zones", zones),
            ("teams", teams),
            ("regions", regions),
        ):
            if values:
                mapping = known.ids.get(kind, {})
                ids = tuple(sorted({i for v in values for i in mapping.get(v, ())}))
                resolved.append((kind, ids))
    return (
        ProjectFilter(
            stages=tuple(stages),
            chains=chains,
            zones=zones,
            teams=teams,
            regions=regions,
            owners=tuple(dict.fromkeys(owners)),
            owner_me=owner_me,
            company_id=company_id,
            key_only=key_only,
            tags=tuple(tags),
            amount_min=amount_min,
            amount_max=amount_max,
            dates=tuple(dates),
            q=q,
            stalled=stalled or bool(stalled_rules),
            stalled_rules=tuple(stalled_rules),
            resolved=tuple(resolved),
        ),
        problems,
    )


def _flag(args: Mapping[str, Any], name: str, problems: list[Problem], message: str) -> bool:
    """A yes/no parameter (1, true, yes, on / 0, false, no, off); anything else is a problem."""
    value = _one(args, name)
    if value is None or value.lower() in ("0", "false", "no", "off"):
        return False
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    problems.append((name, message))
    return False


def _amount(args: Mapping[str, Any], name: str, problems: list[Problem]) -> Decimal | None:
    value = _one(args, name)
    if value is None:
        return None
    try:
        amount = Decimal(value.replace(",", ""))
    except InvalidOperation:
        amount = None
    if amount is None or not amount.is_finite() or amount < 0 or amount > MAX_AMOUNT:
        problems.append((name, _("Not an amount in 万元: %(value)s", value=value)))
        return None
    return amount


def _date(args: Mapping[str, Any], name: str, problems: list[Problem]) -> date | None:
    value = _one(args, name)
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        problems.append((name, _("Not a date (YYYY-MM-DD): %(value)s", value=value)))
        return None


SORT_KEYS = (
    "name",
    "company",
    "chain",
    "stage",
    "amount",
    "team",
    "owner",
    "signed",
    "updated",
)


def parse_sort(args: Mapping[str, Any]) -> tuple[ListSort, list[Problem]]:
    problems: list[Problem] = []
    key = _one(args, "sort") or "updated"
    if key not in SORT_KEYS:
        problems.append(("sort", _("Cannot sort by %(value)s", value=key)))
        key = "updated"
    direction = (_one(args, "dir") or "").lower()
    if direction not in ("", "asc", "desc"):
        problems.append(("dir", _("Sort direction is asc or desc.")))
        direction = ""
    descending = direction == "desc" if direction else key in ("amount", "signed", "updated")
    return ListSort(key, descending), problems


def _codes_in(f: ProjectFilter, kind: str, model: Any, codes: Sequence[str]) -> Any:
    """The ids of these codes: known ones as literals, else a sub-select."""
    ids = f.ids_for(kind)
    if ids is not None:
        return list(ids)
    return select(model.id).where(model.code.in_(codes)).scalar_subquery()


def search_condition(column: Any, q: str) -> ColumnElement[bool] | None:
    """`column LIKE '%v%'` for each variant of the query; None for a query with no letters.

    Variants hold only letters and digits (never % or _), so nothing needs escaping.
    """
    variants = query_variants(q)
    if not variants:
        return None
    return or_(*(column.like(f"%{v}%") for v in variants))


def stage_order() -> Any:
    """The stages in pipeline order, for ORDER BY."""
    return case({s.value: i for i, s in enumerate(ALL_STAGES)}, value=Project.stage, else_=99)


def filter_conditions(
    f: ProjectFilter, *, user_id: int | None, today: date
) -> list[ColumnElement[bool]]:
    """WHERE clauses on `project` for the filter (scope is added by the caller)."""
    conds: list[ColumnElement[bool]] = []
    if f.stages:
        conds.append(Project.stage.in_(f.stages))
    if f.chains:
        conds.append(Project.chain_id.in_(_codes_in(f, "chains", IndustrialChain, f.chains)))
    if f.zones:
        zone_ids = _codes_in(f, "zones", Zone, f.zones)
        conds.append(
            or_(
                Project.landed_zone_id.in_(zone_ids),
                and_(Project.landed_zone_id.is_(None), Project.target_zone_id.in_(zone_ids)),
            )
        )
    if f.teams:
        conds.append(Project.team_id.in_(_codes_in(f, "teams", Team, f.teams)))
    if f.regions:
        conds.append(Project.source_region_id.in_(_codes_in(f, "regions", Region, f.regions)))
    owners = list(f.owners)
    if f.owner_me and user_id is not None:
        owners.append(user_id)
    if owners:
        conds.append(Project.owner_id.in_(owners))
    elif f.owner_me:
        conds.append(false())
    if f.company_id is not None:
        conds.append(Project.company_id == f.company_id)
    if f.key_only:
        conds.append(Project.is_key.is_(True))
    if f.tags:
        conds.append(_tag_condition(f.tags, today))
    # Ranges are marked unselective so SQLite prefers an index on an equality filter.
    if f.amount_min is not None:
        conds.append(unselective(Project.planned_investment >= f.amount_min))
    if f.amount_max is not None:
        conds.append(unselective(Project.planned_investment <= f.amount_max))
    for rng in f.dates:
        column = getattr(Project, f"{rng.stage.value}_on")
        if rng.start:
            conds.append(unselective(column >= rng.start))
        if rng.end:
            conds.append(unselective(column <= rng.end))
    if f.q:
        found = search_condition(Project.search_blob, f.q)
        conds.append(found if found is not None else false())
    return conds


def _tag_condition(tags: Sequence[str], today: date) -> ColumnElement[bool]:
    lists = {t.value for t in TOP500_LISTS}
    wanted_lists = sorted(lists if TOP500_ANY in tags else lists & set(tags))
    other = sorted(set(tags) - lists - {TOP500_ANY})
    parts: list[ColumnElement[bool]] = []
    if wanted_lists:
        parts.append(
            Project.company_id.in_(
                select(CompanyTop500.company_id).where(
                    CompanyTop500.list_code.in_(wanted_lists),
                    CompanyTop500.year.in_((today.year, today.year - 1)),
                )
            )
        )
    if other:
        # Tags are a JSON list of plain words: match the quoted word in its text form
        # (portable between SQLite and PostgreSQL).
        tag_text = cast(Company.tags, Text)
        parts.append(
            Project.company_id.in_(
                select(Company.id).where(or_(*(tag_text.like(f'%"{t}"%') for t in other)))
            )
        )
    return or_(*parts)


def query_string(*parts: Iterable[tuple[str, str]], **extra: Any) -> str:
    """`urlencode` of the given (key, value) pairs plus keyword pairs (None left out)."""
    pairs = [pair for part in parts for pair in part]
    pairs += [(k, str(v)) for k, v in extra.items() if v is not None]
    return urlencode(pairs)
