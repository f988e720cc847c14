"""Contact endpoints of the JSON API."""

from __future__ import annotations

import datetime as dt

from pydantic import Field
from sqlalchemy import func, or_, select

from crm.api.framework import ApiError, Page, PageQuery, Schema, api_user, route
from crm.enums import Role
from crm.extensions import db
from crm.visits import contacts as contact_service
from crm.visits.leads import local_today
from crm.visits.models import Contact

WRITERS = (Role.ADMIN, Role.LEAD, Role.OFFICER)


class EmploymentOut(Schema):
    company_id: int
    company_name: str
    title: str | None
    started_on: dt.date | None
    ended_on: dt.date | None


class ContactOut(Schema):
    id: int
    name: str
    company_id: int | None
    title: str | None
    phone: str | None
    email: str | None
    wechat: str | None
    notes: str | None
    created_at: dt.datetime
    employment: list[EmploymentOut] | None = Field(
        None, description="companies over time, newest first (single contact only)"
    )


class ContactQuery(PageQuery):
    company_id: int | None = None
    q: str | None = Field(None, max_length=100, description="part of the name or phone")


class ContactIn(Schema):
    name: str = Field(min_length=1, max_length=100)
    company_id: int | None = None
    title: str | None = Field(None, max_length=200)
    phone: str | None = Field(None, max_length=40)
    email: str | None = Field(None, max_length=254)
    wechat: str | None = Field(None, max_length=100)
    notes: str | None = None


class ContactPatch(Schema):
    name: str | None = Field(None, min_length=1, max_length=100)
    company_id: int | None = None
    title: str | None = Field(None, max_length=200)
    phone: str | None = Field(None, max_length=40)
    email: str | None = Field(None, max_length=254)
    wechat: str | None = Field(None, max_length=100)
    notes: str | None = None


def contact_out(contact: Contact, employment: list[EmploymentOut] | None = None) -> ContactOut:
    return ContactOut(
        id=contact.id,
        name=contact.name,
        company_id=contact.company_id,
        title=contact.title,
        phone=contact.phone,
        email=contact.email,
        wechat=contact.wechat,
        notes=contact.notes,
        created_at=contact.created_at,
        employment=employment,
    )


def _contact(contact_id: int) -> Contact:
    contact = db.session.scalar(
        select(Contact).where(Contact.id == contact_id, Contact.deleted_at.is_(None))
    )
    if contact is None:
        raise ApiError(404, "No such contact.")
    return contact


def _contact_with_history(contact: Contact) -> ContactOut:
    history = [
        EmploymentOut(
            company_id=row.company_id,
            company_name=name,
            title=row.title,
            started_on=row.started_on,
            ended_on=row.ended_on,
        )
        for row, name in contact_service.employment_history(db.session, contact.id)
    ]
    return contact_out(contact, history)


@route(
    "/contacts",
    summary="Contacts (people at companies)",
    query=ContactQuery,
    response=Page[ContactOut],
    tags=["contacts"],
)
def list_contacts(query: ContactQuery) -> Page[ContactOut]:
    where = [Contact.deleted_at.is_(None)]
    if query.company_id:
        where.append(Contact.company_id == query.company_id)
    if query.q:
        like = f"%{query.q.replace('%', '').replace('_', '')}%"
        where.append(or_(Contact.name.like(like), Contact.phone.like(like)))
    total = db.session.scalar(select(func.count()).select_from(Contact).where(*where)) or 0
    contacts = db.session.scalars(
        select(Contact)
        .where(*where)
        .order_by(Contact.name, Contact.id)
        .limit(query.per_page)
        .offset((query.page - 1) * query.per_page)
    ).all()
    return Page[ContactOut](
        items=[contact_out(c) for c in contacts],
        total=total,
        page=query.page,
        per_page=query.per_page,
    )


@route(
    "/contacts",
    "POST",
    summary="Create a contact",
    body=ContactIn,
    response=ContactOut,
    status=201,
    roles=WRITERS,
    tags=["contacts"],
)
def create_contact(body: ContactIn) -> tuple[ContactOut, dict[str, str]]:
    user = api_user()
    try:
        contact = contact_service.create_contact(
            db.session,
            contact_service.ContactInput(**body.model_dump()),
            user_id=user.id,
            today=local_today(),
        )
    except contact_service.ContactError as exc:
        db.session.rollback()
        raise ApiError(422, str(exc), [(exc.field, str(exc))]) from exc
    db.session.commit()
    return _contact_with_history(contact), {"Location": f"/api/v1/contacts/{contact.id}"}


@route(
    "/contacts/<int:contact_id>",
    summary="One contact with their employment history",
    response=ContactOut,
    tags=["contacts"],
)
def get_contact(contact_id: int) -> ContactOut:
    return _contact_with_history(_contact(contact_id))


@route(
    "/contacts/<int:contact_id>",
    "PATCH",
    summary="Change a contact (a new company_id keeps the old employment in the history)",
    body=ContactPatch,
    response=ContactOut,
    roles=WRITERS,
    tags=["contacts"],
)
def update_contact(contact_id: int, body: ContactPatch) -> ContactOut:
    user = api_user()
    contact = _contact(contact_id)
    current = {
        k: getattr(contact, k)
        for k in ("name", "company_id", "title", "phone", "email", "wechat", "notes")
    }
    current.update(body.model_dump(include=body.model_fields_set))
    if current["name"] is None:
        raise ApiError(422, "A contact needs a name.", [("name", "Give the contact's name.")])
    try:
        contact_service.update_contact(
            db.session,
            contact,
            contact_service.ContactInput(**current),
            user_id=user.id,
            today=local_today(),
        )
    except contact_service.ContactError as exc:
        db.session.rollback()
        raise ApiError(422, str(exc), [(exc.field, str(exc))]) from exc
    db.session.commit()
    return _contact_with_history(contact)


@route(
    "/contacts/<int:contact_id>",
    "DELETE",
    summary="Delete a contact (soft: kept in the history)",
    status=204,
    roles=WRITERS,
    tags=["contacts"],
)
def delete_contact(contact_id: int) -> None:
    contact_service.delete_contact(db.session, _contact(contact_id), user_id=api_user().id)
    db.session.commit()
