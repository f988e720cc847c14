"""A short-lived cache of dashboard numbers, refreshed as soon as the data changes.

Computing every number over 100,000 projects and 1,000,000 visits takes about a second on
SQLite; the dashboard must answer in 200 ms. So the computed `Dashboard` is kept per
process under (database, scope, week, data stamp) for `CRM_REPORT_CACHE_SECONDS`
(default 120; 0 disables the cache). The *data stamp* is read on every request with one
statement of index look-ups (well under a millisecond):

- the latest `updated_at` of any project (one look-up per stage in the existing
  (stage, updated_at) index; every change through the ORM bumps it, soft deletes too),
- the highest visit, stage-change and Top-500 confirmation ids (new rows),
- the latest change of an annual target.

Any of those changing computes afresh. What the stamp cannot see (a visit edited or
deleted, a bulk SQL update) shows within the cache lifetime. The weekly workbook is never
served from the cache.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import func, select, union_all
from sqlalchemy.orm import Session

from crm.enums import ALL_STAGES
from crm.pipeline.models import CompanyTop500, Project, StageChange
from crm.reports.models import AnnualTarget
from crm.visits.models import Visit

T = TypeVar("T")
MAX_ENTRIES = 128

_lock = threading.Lock()
_entries: OrderedDict[tuple[Any, ...], tuple[float, Any]] = OrderedDict()


def data_stamp(session: Session) -> tuple[Any, ...]:
    """A value that changes whenever the numbers may have changed (see the module doc)."""
    per_stage = union_all(
        *(
            select(func.max(Project.updated_at).label("at")).where(Project.stage == stage)
            for stage in ALL_STAGES
        )
    ).subquery()
    row = session.execute(
        select(
            select(func.max(per_stage.c.at)).scalar_subquery(),
            select(func.max(Visit.id)).scalar_subquery(),
            select(func.max(StageChange.id)).scalar_subquery(),
            select(func.max(CompanyTop500.id)).scalar_subquery(),
            select(func.max(AnnualTarget.updated_at)).scalar_subquery(),
            select(func.count(AnnualTarget.id)).scalar_subquery(),
        )
    ).one()
    return tuple(str(v) for v in row)


def cached(session: Session, key: tuple[Any, ...], ttl: float, compute: Callable[[], T]) -> T:
    """`compute()`, or its value from less than `ttl` seconds ago for the same data."""
    if ttl <= 0:
        return compute()
    bind = session.get_bind()
    full_key = (str(bind.engine.url), *key, data_stamp(session))
    now = time.monotonic()
    with _lock:
        hit = _entries.get(full_key)
        if hit is not None and now - hit[0] < ttl:
            _entries.move_to_end(full_key)
            return hit[1]  # type: ignore[no-any-return]
    value = compute()
    with _lock:
        _entries[full_key] = (now, value)
        _entries.move_to_end(full_key)
        while len(_entries) > MAX_ENTRIES:
            _entries.popitem(last=False)
    return value


def clear() -> None:
    with _lock:
        _entries.clear()
