"""Forms for visits and follow-up tasks (events, contacts, inquiries: `other_forms.py`)."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    DecimalField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional, ValidationError

from crm.visits.contacts import ContactError, normalize_phone
from crm.visits.models import VisitType

VISIT_TYPE_LABELS = {
    VisitType.COMPANY_VISIT.value: _l("We visited the company"),
    VisitType.COMPANY_CAME.value: _l("The company visited us"),
    VisitType.ONLINE.value: _l("Online meeting"),
    VisitType.EVENT.value: _l("At an event"),
}


def visit_type_labels() -> dict[str, str]:
    """The kinds of visit in the current language, translated once for a whole page."""
    return {key: str(label) for key, label in VISIT_TYPE_LABELS.items()}


MAX_AMOUNT = 10**12
NEXT_STEP_ROWS = 3


def _int_or_none(value: Any) -> int | None:
    if value in (None, "", "None"):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def amount_field(label: Any, description: Any = None) -> DecimalField:
    return DecimalField(
        label,
        places=2,
        description=description,
        validators=[
            Optional(),
            NumberRange(min=0, max=MAX_AMOUNT, message=_l("Give a positive amount.")),
        ],
    )


class NextStepForm(Form):
    """One next step of a visit; a row with a title becomes a follow-up task."""

    title = StringField(_l("Next step"), validators=[Optional(), Length(max=300)])
    due_on = DateField(_l("Due"), validators=[Optional()])
    owner_id = SelectField(_l("Owner"), coerce=_int_or_none, validate_choice=False)
    project = SelectField(_l("Project"), validate_choice=False)

    # (An empty field stops at Optional(), so each check sits on the field that has data.)
    def validate_title(self, field: StringField) -> None:
        if (field.data or "").strip() and self.due_on.data is None and not self.due_on.errors:
            raise ValidationError(_l("Give a due date for this next step."))

    def validate_due_on(self, field: DateField) -> None:
        if field.data is not None and not (self.title.data or "").strip():
            raise ValidationError(_l("Say what needs doing by this date."))


def parse_new_contacts(text: str | None) -> list[tuple[str, str | None, str | None]]:
    """Lines of "name, title, phone" (title and phone optional; Chinese commas work too)."""
    people = []
    for number, line in enumerate((text or "").splitlines(), start=1):
        parts = [p.strip() for p in line.replace("，", ",").split(",")]
        if not any(parts):
            continue
        if len(parts) > 3 or not parts[0]:
            raise ValidationError(
                _l("Line %(n)d: write name, title, phone (title and phone are optional).", n=number)
            )
        name = parts[0]
        title = parts[1] if len(parts) > 1 and parts[1] else None
        phone = parts[2] if len(parts) > 2 and parts[2] else None
        if phone:
            try:
                normalize_phone(phone)
            except ContactError as exc:
                raise ValidationError(
                    _l("Line %(n)d: %(error)s", n=number, error=str(exc))
                ) from exc
        people.append((name, title, phone))
    return people


class VisitForm(FlaskForm):
    on = DateField(_l("Date"), validators=[DataRequired(message=_l("Give the date."))])
    type = SelectField(_l("Kind"), choices=list(VISIT_TYPE_LABELS.items()))
    company_id = HiddenField()
    company_name = StringField(
        _l("Company"),
        validators=[Optional(), Length(max=300)],
        description=_l("Type to find it; a new name creates the company."),
    )
    create_company = BooleanField(_l("It is a new company: create it"))
    project_ids = SelectMultipleField(
        _l("Projects discussed"), coerce=int, validate_choice=False, choices=[]
    )
    new_project_name = StringField(
        _l("New lead project"),
        validators=[Optional(), Length(max=300)],
        description=_l("Optional: name a project to create it as a lead."),
    )
    city = StringField(_l("City"), validators=[Optional(), Length(max=100)])
    province = StringField(_l("Province"), validators=[Optional(), Length(max=100)])
    region = SelectField(_l("Region (4+N)"), choices=[], validate_choice=False)
    event_id = SelectField(_l("Event"), coerce=_int_or_none, choices=[], validate_choice=False)
    participant_user_ids = SelectMultipleField(
        _l("Our participants"), coerce=int, choices=[], validate_choice=False
    )
    contact_ids = SelectMultipleField(
        _l("Their participants"), coerce=int, choices=[], validate_choice=False
    )
    new_contacts = TextAreaField(
        _l("New contacts"),
        validators=[Optional(), Length(max=5000)],
        description=_l("One per line: name, title, phone."),
    )
    purpose = TextAreaField(_l("Purpose"), validators=[Optional(), Length(max=10000)])
    intent = TextAreaField(_l("Investment intent"), validators=[Optional(), Length(max=10000)])
    intent_amount = amount_field(_l("Amount (万元)"))
    land_mu = amount_field(_l("Land (亩)"))
    expected_output = amount_field(_l("Expected annual output (万元)"))
    conditions_asked = TextAreaField(
        _l("Conditions asked for"), validators=[Optional(), Length(max=10000)]
    )
    learned = TextAreaField(_l("Other things learned"), validators=[Optional(), Length(max=10000)])
    outcome = TextAreaField(_l("Outcome"), validators=[Optional(), Length(max=10000)])
    next_steps = TextAreaField(_l("Next steps (notes)"), validators=[Optional(), Length(max=10000)])
    steps = FieldList(FormField(NextStepForm), min_entries=NEXT_STEP_ROWS, max_entries=10)
    submit = SubmitField(_l("Save visit"))

    def validate_new_contacts(self, field: TextAreaField) -> None:
        self.parsed_contacts = parse_new_contacts(field.data)

    def validate_on(self, field: DateField) -> None:
        today = getattr(self, "today", None)
        if field.data and today and field.data > today:
            raise ValidationError(
                _l("A visit is logged once it has happened: the date is in the future.")
            )

    def validate_new_project_name(self, field: StringField) -> None:
        has_company = _int_or_none(self.company_id.data) or (self.company_name.data or "").strip()
        if (field.data or "").strip() and not has_company:
            raise ValidationError(_l("Give the company the new project is with."))


class LeadFromVisitForm(FlaskForm):
    name = StringField(
        _l("Project name"),
        validators=[DataRequired(message=_l("Give the project a name.")), Length(max=300)],
    )
    submit = SubmitField(_l("Create lead project"))


class TaskForm(FlaskForm):
    title = StringField(
        _l("Follow-up"),
        validators=[DataRequired(message=_l("Say what needs doing.")), Length(max=300)],
    )
    due_on = DateField(_l("Due"), validators=[DataRequired(message=_l("Give a due date."))])
    owner_id = SelectField(_l("Owner"), coerce=_int_or_none, choices=[], validate_choice=False)
    submit = SubmitField(_l("Add follow-up"))

    def validate_owner_id(self, field: SelectField) -> None:
        allowed = {value for value, _label in field.choices}  # type: ignore[union-attr]
        if field.data is None or field.data not in allowed:
            raise ValidationError(_l("Choose the owner from the list."))


class CompleteTaskForm(FlaskForm):
    note = TextAreaField(_l("Note (optional)"), validators=[Optional(), Length(max=5000)])
    submit = SubmitField(_l("Done"))


def default_visit_date(form: VisitForm, today: date) -> None:
    if form.on.data is None:
        form.on.data = today
