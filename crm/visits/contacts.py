"""Contacts: people at companies, with their phone and email checked for shape.

A contact's `company_id` is where they work now; each period at a company is a
ContactEmployment row, so a contact who moves keeps their history (and the visits they
attended keep the company of the time, recorded on the visit).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from email_validator import EmailNotValidError, validate_email
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm import audit
from crm.db import utcnow
from crm.pipeline.models import Company
from crm.visits.models import Contact, ContactEmployment

_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_INTERNATIONAL = re.compile(r"^\+[1-9]\d{6,14}$")


class ContactError(ValueError):
    def __init__(self, message: object, field: str) -> None:
        super().__init__(str(message))
        self.field = field


PHONE_HELP = _l(
    "A Chinese mobile (11 digits starting 13-19), a landline with its area code "
    "(0731-88889999), or an international number starting with + and the country code."
)


def normalize_phone(raw: str | None) -> str | None:
    """The phone in a canonical form, None when empty; ContactError("phone") when malformed.

    Accepted: Chinese mobiles `1[3-9]` + 9 digits (an optional +86/0086 is dropped), landlines
    with an area code (`0731-88889999`, optional extension `-123`, `转123` or `ext 123`), and
    international numbers `+<country code><number>` (E.164: 7 to 15 digits).
    """
    text = (raw or "").strip()
    if not text:
        return None
    compact = re.sub(r"[\s()（）.]", "", text)
    extension = None
    match = re.search(r"(?:ext|转|#|x)(\d{1,6})$", compact, flags=re.IGNORECASE)
    if match:
        extension, compact = match.group(1), compact[: match.start()]
    else:
        match = re.fullmatch(r"(0\d{2,3}-\d{7,8})-(\d{1,6})", compact)
        if match:
            compact, extension = match.group(1), match.group(2)
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    if compact.startswith("+86"):
        national = compact[3:].replace("-", "")
        compact = (
            national if _MOBILE.match(national) or national.startswith("0") else "0" + national
        )
    elif compact.startswith("+"):
        number = "+" + compact[1:].replace("-", "")
        if _INTERNATIONAL.match(number):
            return number + (f" ext. {extension}" if extension else "")
        raise ContactError(
            _l("An international number is + then the country code and 7 to 15 digits in all."),
            "phone",
        )
    digits = compact.replace("-", "")
    if digits.isdigit():
        if _MOBILE.match(digits) and not extension:
            return digits
        if digits.startswith("0") and len(digits) > 4:
            # The area code is 3 digits for 010 and 02x (Beijing, Shanghai...), else 4 (0731).
            area_len = 3 if digits[1] in "12" else 4
            area, local = digits[:area_len], digits[area_len:]
            if re.fullmatch(r"\d{7,8}", local):
                return f"{area}-{local}" + (f"-{extension}" if extension else "")
            raise ContactError(
                _l("A landline is the area code then 7 or 8 digits (e.g. 0731-88889999)."),
                "phone",
            )
        if digits.startswith("1"):
            raise ContactError(
                _l("A mobile number has 11 digits and starts with 13 to 19 (e.g. 13812345678)."),
                "phone",
            )
        if re.fullmatch(r"\d{7,8}", digits):
            raise ContactError(
                _l("Add the area code to a landline number (e.g. 0731-88889999)."), "phone"
            )
    raise ContactError(
        _l(
            "This does not look like a phone number. Use a Chinese mobile (13812345678), a "
            "landline with its area code (0731-88889999) or + country code and number "
            "(+6561234567)."
        ),
        "phone",
    )


def normalize_email(raw: str | None) -> str | None:
    """The email address (domain lower-cased), None when empty; ContactError("email")."""
    text = (raw or "").strip()
    if not text:
        return None
    try:
        result = validate_email(text, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ContactError(
            _l(
                "This is not a valid email address (%(reason)s). Example: li.ming@example.com",
                reason=str(exc),
            ),
            "email",
        ) from exc
    return result.normalized


@dataclass
class ContactInput:
    name: str
    company_id: int | None = None
    title: str | None = None
    phone: str | None = None
    email: str | None = None
    wechat: str | None = None
    notes: str | None = None


def _clean(value: str | None, limit: int, field: str) -> str | None:
    text = (value or "").strip()
    if len(text) > limit:
        raise ContactError(_l("At most %(n)d characters.", n=limit), field)
    return text or None


def _validated(session: Session, data: ContactInput) -> dict[str, object]:
    name = _clean(data.name, 100, "name")
    if not name:
        raise ContactError(_l("Give the contact's name."), "name")
    if (
        data.company_id is not None
        and session.scalar(
            select(Company.id).where(Company.id == data.company_id, Company.deleted_at.is_(None))
        )
        is None
    ):
        raise ContactError(_l("No such company."), "company_id")
    return {
        "name": name,
        "company_id": data.company_id,
        "title": _clean(data.title, 200, "title"),
        "phone": normalize_phone(data.phone),
        "email": normalize_email(data.email),
        "wechat": _clean(data.wechat, 100, "wechat"),
        "notes": (data.notes or "").strip() or None,
    }


def create_contact(
    session: Session, data: ContactInput, *, user_id: int | None, today: date
) -> Contact:
    """A new contact (and their first employment when a company is given)."""
    values = _validated(session, data)
    contact = Contact(**values)
    session.add(contact)
    session.flush()
    if contact.company_id is not None:
        session.add(
            ContactEmployment(
                contact_id=contact.id,
                company_id=contact.company_id,
                title=contact.title,
                started_on=today,
            )
        )
    audit.record(
        session,
        user_id=user_id,
        entity_type="contact",
        entity_id=contact.id,
        action="create",
        changes={k: [None, v] for k, v in values.items() if v is not None},
    )
    session.flush()
    return contact


def update_contact(
    session: Session, contact: Contact, data: ContactInput, *, user_id: int | None, today: date
) -> Contact:
    """Change a contact; a change of company closes the old employment and opens a new one."""
    values = _validated(session, data)
    changes = {k: [getattr(contact, k), v] for k, v in values.items() if getattr(contact, k) != v}
    if not changes:
        return contact
    if "company_id" in changes:
        current = session.scalar(
            select(ContactEmployment).where(
                ContactEmployment.contact_id == contact.id, ContactEmployment.ended_on.is_(None)
            )
        )
        if current is not None:
            current.ended_on = today
        if values["company_id"] is not None:
            session.add(
                ContactEmployment(
                    contact_id=contact.id,
                    company_id=values["company_id"],
                    title=values["title"],
                    started_on=today,
                )
            )
    elif "title" in changes and contact.company_id is not None:
        current = session.scalar(
            select(ContactEmployment).where(
                ContactEmployment.contact_id == contact.id, ContactEmployment.ended_on.is_(None)
            )
        )
        if current is not None:
            current.title = values["title"]  # type: ignore[assignment]
    for key, value in values.items():
        setattr(contact, key, value)
    audit.record(
        session,
        user_id=user_id,
        entity_type="contact",
        entity_id=contact.id,
        action="update",
        changes=changes,
    )
    session.flush()
    return contact


def delete_contact(session: Session, contact: Contact, *, user_id: int | None) -> None:
    """Soft delete: the contact disappears from lists; visits still show who was there."""
    contact.deleted_at = utcnow()
    audit.record(
        session, user_id=user_id, entity_type="contact", entity_id=contact.id, action="delete"
    )
    session.flush()


def employment_history(session: Session, contact_id: int) -> list[tuple[ContactEmployment, str]]:
    """Each period at a company (newest first) with the company's name."""
    return [
        (row, name)
        for row, name in session.execute(
            select(ContactEmployment, Company.name)
            .join(Company, Company.id == ContactEmployment.company_id)
            .where(ContactEmployment.contact_id == contact_id)
            .order_by(ContactEmployment.id.desc())
        )
    ]
