"""Saved project-list filters: each user keeps named query strings to apply again."""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.pipeline.list_models import SavedFilter

MAX_NAME = 100
MAX_PER_USER = 100


class SavedFilterError(ValueError):
    """The filter cannot be saved; the message says why."""


def saved_filters(session: Session, user_id: int) -> list[SavedFilter]:
    """The user's saved filters, by name."""
    return list(
        session.scalars(
            select(SavedFilter)
            .where(SavedFilter.user_id == user_id)
            .order_by(SavedFilter.name, SavedFilter.id)
        )
    )


def save_filter(session: Session, user_id: int, name: str, query: str) -> SavedFilter:
    """Save `query` under `name` for the user; an existing filter of that name is replaced.

    Refuses an empty or too long name, and more than MAX_PER_USER filters.
    """
    name = " ".join(name.split())
    if not name:
        raise SavedFilterError(_("Give the filter a name."))
    if len(name) > MAX_NAME:
        raise SavedFilterError(_("The name is longer than %(n)d characters.", n=MAX_NAME))
    existing = session.scalar(
        select(SavedFilter).where(SavedFilter.user_id == user_id, SavedFilter.name == name)
    )
    if existing is not None:
        existing.query = query
        session.flush()
        return existing
    count = len(saved_filters(session, user_id))
    if count >= MAX_PER_USER:
        raise SavedFilterError(_("You have %(n)d saved filters; delete one first.", n=MAX_PER_USER))
    saved = SavedFilter(user_id=user_id, name=name, query=query)
    session.add(saved)
    session.flush()
    return saved


def delete_saved_filter(session: Session, saved: SavedFilter) -> None:
    session.delete(saved)
    session.flush()
