"""Administrators' chain endpoints: add, change (rename, confirm, note, retire, restore)
and merge chains of the current set. Reading is `GET /chains` (crm/api/core.py)."""

from __future__ import annotations

from typing import NoReturn

from pydantic import Field

from crm.api.core import ChainOut, chain_out
from crm.api.framework import ApiError, Schema, api_user, route
from crm.enums import Role
from crm.extensions import db
from crm.pipeline import chain_admin as services
from crm.pipeline.chain_admin import MAX_CODE, MAX_NAME_EN, MAX_NAME_ZH, MAX_SOURCE
from crm.reference.models import ChainSet, IndustrialChain

ADMINS = (Role.ADMIN,)
CODE = services.CODE_PATTERN.pattern
NOT_BLANK = r"[^\s\x1c-\x1f]"  # not only what str.strip() removes


class ChainIn(Schema):
    code: str = Field(
        max_length=MAX_CODE,
        pattern=CODE,
        description="Lowercase letters, digits and hyphens; new in the set (409 if taken)",
    )
    name_zh: str = Field(min_length=1, max_length=MAX_NAME_ZH, pattern=NOT_BLANK)
    name_en: str | None = Field(
        None, max_length=MAX_NAME_EN, description="Empty or absent: the Chinese name"
    )
    confirmed: bool = False
    source: str | None = Field(None, max_length=MAX_SOURCE)


class ChainPatch(Schema):
    name_zh: str | None = Field(None, min_length=1, max_length=MAX_NAME_ZH, pattern=NOT_BLANK)
    name_en: str | None = Field(None, max_length=MAX_NAME_EN)
    confirmed: bool | None = None
    source: str | None = Field(None, max_length=MAX_SOURCE)
    retired: bool | None = Field(None, description="true retires, false restores")


class MergeIn(Schema):
    into: str = Field(
        max_length=MAX_CODE,
        description="Code of the chain to keep, in the same set (404 if none; 409 if retired)",
    )


class MergeOut(Schema):
    merged: str
    into: ChainOut
    projects_moved: int
    aliases_added: list[str]


def _raise(exc: services.ChainError) -> NoReturn:
    db.session.rollback()
    raise ApiError(409 if exc.conflict else 422, str(exc), [(exc.field, str(exc))]) from exc


def _chain(code: str) -> IndustrialChain:
    chain = services.get_chain(db.session, code)
    if chain is None:
        raise ApiError(404, "No such chain in the current set.")
    return chain


def _out(chain: IndustrialChain) -> ChainOut:
    chain_set = db.session.get(ChainSet, chain.set_id)
    return chain_out(chain, chain_set.code if chain_set else "")


@route(
    "/chains",
    "POST",
    summary="Add a chain to the current set (admins; 409 when the code is taken)",
    body=ChainIn,
    response=ChainOut,
    status=201,
    roles=ADMINS,
    tags=["reference"],
    extra_responses=(409,),
)
def create_chain(body: ChainIn) -> ChainOut:
    chain_set = services.current_set(db.session)
    if chain_set is None:
        raise ApiError(404, "No current chain set: load the reference data first.")
    try:
        chain = services.add_chain(db.session, chain_set, body.model_dump(), actor_id=api_user().id)
    except services.ChainError as exc:
        _raise(exc)
    db.session.commit()
    return _out(chain)


@route(
    "/chains/<code>",
    "PATCH",
    summary="Rename, confirm, note the source of, retire or restore a chain (admins); "
    "only the fields given change",
    body=ChainPatch,
    response=ChainOut,
    roles=ADMINS,
    tags=["reference"],
)
def update_chain(code: str, body: ChainPatch) -> ChainOut:
    chain = _chain(code)
    # null means "unchanged" for the fields that cannot be empty.
    values = {
        key: value
        for key, value in body.model_dump(exclude_unset=True).items()
        if value is not None or key in ("name_en", "source")
    }
    try:
        services.update_chain(db.session, chain, values, actor_id=api_user().id)
    except services.ChainError as exc:
        _raise(exc)
    db.session.commit()
    return _out(chain)


@route(
    "/chains/<code>/merge",
    "POST",
    summary="Merge a chain into another of the same set: its projects move, it is retired",
    body=MergeIn,
    response=MergeOut,
    roles=ADMINS,
    tags=["reference"],
    extra_responses=(409,),
)
def merge_chain(code: str, body: MergeIn) -> MergeOut:
    source = _chain(code)
    target = services.get_chain(db.session, body.into.strip())
    if target is None:
        raise ApiError(404, "No such chain in the current set.", [("into", "No such chain.")])
    try:
        summary = services.merge_chain(db.session, source, target, actor_id=api_user().id)
    except services.ChainError as exc:
        _raise(exc)
    db.session.commit()
    return MergeOut(
        merged=summary.source,
        into=_out(target),
        projects_moved=summary.projects,
        aliases_added=summary.aliases_added,
    )
