"""Foundation endpoints: the current user and the reference data."""

from __future__ import annotations

from sqlalchemy import func, select

from crm.accounts.models import Team
from crm.api.framework import Page, PageQuery, Schema, api_user, route
from crm.enums import ZoneLevel
from crm.extensions import db
from crm.reference.models import ChainSet, IndustrialChain, Region, Zone


class TeamRef(Schema):
    code: str
    name_zh: str
    name_en: str


class MeOut(Schema):
    id: int
    email: str
    name: str
    role: str
    team: TeamRef | None
    locale: str | None


class ChainOut(Schema):
    code: str
    name_zh: str
    name_en: str
    confirmed: bool
    source: str | None
    chain_set: str
    retired: bool = False
    aliases_zh: list[str] = []


class ChainQuery(PageQuery):
    include_retired: bool = False


def chain_out(chain: IndustrialChain, set_code: str) -> ChainOut:
    return ChainOut(
        code=chain.code,
        name_zh=chain.name_zh,
        name_en=chain.name_en,
        confirmed=chain.confirmed,
        source=chain.source,
        chain_set=set_code,
        retired=chain.retired,
        aliases_zh=list(chain.aliases_zh or []),
    )


class ZoneOut(Schema):
    code: str
    name_zh: str
    name_en: str
    level: ZoneLevel
    city: str | None


class RegionOut(Schema):
    code: str
    name_zh: str
    name_en: str


class TeamOut(Schema):
    code: str
    name_zh: str
    name_en: str
    zone: str | None


@route("/me", summary="The authenticated user", response=MeOut, tags=["accounts"])
def me() -> MeOut:
    user = api_user()
    team = db.session.get(Team, user.team_id) if user.team_id else None
    return MeOut(
        id=user.id,
        email=user.email,
        name=user.name,
        role=user.role.value,
        team=TeamRef(code=team.code, name_zh=team.name_zh, name_en=team.name_en) if team else None,
        locale=user.locale,
    )


def _paged(stmt, query: PageQuery):  # type: ignore[no-untyped-def]
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = db.session.execute(
        stmt.limit(query.per_page).offset((query.page - 1) * query.per_page)
    ).all()
    return rows, total


@route(
    "/chains",
    summary="Industrial chains of the current chain set (retired ones with include_retired)",
    query=ChainQuery,
    response=Page[ChainOut],
    tags=["reference"],
)
def list_chains(query: ChainQuery) -> Page[ChainOut]:
    stmt = (
        select(IndustrialChain, ChainSet.code)
        .join(ChainSet, ChainSet.id == IndustrialChain.set_id)
        .where(ChainSet.current.is_(True))
        .order_by(IndustrialChain.retired, IndustrialChain.sort, IndustrialChain.id)
    )
    if not query.include_retired:
        stmt = stmt.where(IndustrialChain.retired.is_(False))
    rows, total = _paged(stmt, query)
    items = [chain_out(c, set_code) for c, set_code in rows]
    return Page[ChainOut](items=items, total=total, page=query.page, per_page=query.per_page)


@route(
    "/zones",
    summary="Development zones, counties and districts",
    query=PageQuery,
    response=Page[ZoneOut],
    tags=["reference"],
)
def list_zones(query: PageQuery) -> Page[ZoneOut]:
    from crm.reference.models import City

    stmt = (
        select(Zone, City.code)
        .outerjoin(City, City.id == Zone.city_id)
        .where(Zone.active.is_(True))
        .order_by(Zone.id)
    )
    rows, total = _paged(stmt, query)
    items = [
        ZoneOut(code=z.code, name_zh=z.name_zh, name_en=z.name_en, level=z.level, city=city)
        for z, city in rows
    ]
    return Page[ZoneOut](items=items, total=total, page=query.page, per_page=query.per_page)


@route(
    "/regions",
    summary='The "4+N" source regions',
    query=PageQuery,
    response=Page[RegionOut],
    tags=["reference"],
)
def list_regions(query: PageQuery) -> Page[RegionOut]:
    stmt = select(Region).order_by(Region.sort, Region.id)
    rows, total = _paged(stmt, query)
    items = [RegionOut(code=r.code, name_zh=r.name_zh, name_en=r.name_en) for (r,) in rows]
    return Page[RegionOut](items=items, total=total, page=query.page, per_page=query.per_page)


@route("/teams", summary="Teams", query=PageQuery, response=Page[TeamOut], tags=["accounts"])
def list_teams(query: PageQuery) -> Page[TeamOut]:
    stmt = (
        select(Team, Zone.code)
        .outerjoin(Zone, Zone.id == Team.zone_id)
        .where(Team.active.is_(True))
        .order_by(Team.code)
    )
    rows, total = _paged(stmt, query)
    items = [
        TeamOut(code=t.code, name_zh=t.name_zh, name_en=t.name_en, zone=zone) for t, zone in rows
    ]
    return Page[TeamOut](items=items, total=total, page=query.page, per_page=query.per_page)
