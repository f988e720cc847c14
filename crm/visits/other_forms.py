"""Forms for contacts, inbound inquiries, events, attachments and the feature's settings."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)

from crm.visits.contacts import ContactError, normalize_email, normalize_phone
from crm.visits.event_models import EventKind
from crm.visits.forms import _int_or_none, amount_field
from crm.visits.settings import parse_dates


def _phone(form: FlaskForm, field: StringField) -> None:
    try:
        normalize_phone(field.data)
    except ContactError as exc:
        raise ValidationError(str(exc)) from exc


def _email(form: FlaskForm, field: StringField) -> None:
    try:
        normalize_email(field.data)
    except ContactError as exc:
        raise ValidationError(str(exc)) from exc


class ContactForm(FlaskForm):
    name = StringField(
        _l("Name"),
        validators=[DataRequired(message=_l("Give the contact's name.")), Length(max=100)],
    )
    company_id = HiddenField()
    company_name = StringField(_l("Company"), validators=[Optional(), Length(max=300)])
    create_company = BooleanField(_l("It is a new company: create it"))
    title = StringField(_l("Title"), validators=[Optional(), Length(max=200)])
    phone = StringField(_l("Phone"), validators=[Optional(), Length(max=40), _phone])
    email = StringField(_l("Email"), validators=[Optional(), Length(max=254), _email])
    wechat = StringField(_l("WeChat id"), validators=[Optional(), Length(max=100)])
    notes = TextAreaField(_l("Notes"), validators=[Optional(), Length(max=5000)])
    submit = SubmitField(_l("Save contact"))


class InquiryForm(FlaskForm):
    company_id = HiddenField()
    company_name = StringField(
        _l("Company"),
        validators=[DataRequired(message=_l("Give the company's name.")), Length(max=300)],
    )
    create_company = BooleanField(_l("It is a new company: create it"))
    project_name = StringField(
        _l("What they asked about (project name)"),
        validators=[DataRequired(message=_l("Give the project a name.")), Length(max=300)],
    )
    received_on = DateField(
        _l("Received on"), validators=[DataRequired(message=_l("Give the date it was received."))]
    )
    contact_name = StringField(_l("Contact name"), validators=[Optional(), Length(max=100)])
    contact_phone = StringField(
        _l("Contact phone"), validators=[Optional(), Length(max=40), _phone]
    )
    contact_email = StringField(
        _l("Contact email"), validators=[Optional(), Length(max=254), _email]
    )
    notes = TextAreaField(_l("What they asked"), validators=[Optional(), Length(max=10000)])
    submit = SubmitField(_l("Log inquiry"))

    def validate_contact_name(self, field: StringField) -> None:
        if not (field.data or "").strip() and (self.contact_phone.data or self.contact_email.data):
            raise ValidationError(_l("Give the name of the person behind this phone or email."))


class AnsweredForm(FlaskForm):
    answered_on = DateField(
        _l("Answered on"), validators=[DataRequired(message=_l("Give the date it was answered."))]
    )
    submit = SubmitField(_l("Mark answered"))


EVENT_KIND_LABELS = {
    EventKind.SIGNING.value: _l("Signing ceremony"),
    EventKind.PROMOTION.value: _l("Promotion event"),
}


class EventForm(FlaskForm):
    name = StringField(
        _l("Name"), validators=[DataRequired(message=_l("Give the event's name.")), Length(max=300)]
    )
    kind = SelectField(_l("Kind"), choices=list(EVENT_KIND_LABELS.items()))
    on = DateField(_l("Date"), validators=[Optional()])
    place = StringField(_l("Place"), validators=[Optional(), Length(max=200)])
    organiser = StringField(_l("Organiser"), validators=[Optional(), Length(max=200)])
    zone_id = SelectField(_l("Zone"), coerce=_int_or_none, choices=[], validate_choice=False)
    # Only for users without a team (administrators): which team maintains the event.
    team_id = SelectField(_l("Team"), coerce=_int_or_none, choices=[], validate_choice=False)
    reported_projects = IntegerField(
        _l("Projects announced"),
        validators=[
            Optional(),
            NumberRange(min=0, max=100000, message=_l("Give a positive number.")),
        ],
    )
    reported_total = amount_field(_l("Total announced (万元)"))
    notes = TextAreaField(_l("Notes"), validators=[Optional(), Length(max=10000)])
    submit = SubmitField(_l("Save event"))


class LinkProjectsForm(FlaskForm):
    project_ids = SelectMultipleField(_l("Projects"), coerce=int, choices=[], validate_choice=False)
    more_ids = StringField(
        _l("Or project numbers"),
        validators=[Optional(), Length(max=2000)],
        description=_l("Separated by commas, e.g. 12, 40"),
    )
    submit = SubmitField(_l("Link projects"))

    def validate_more_ids(self, field: StringField) -> None:
        ids = []
        for token in (field.data or "").replace("，", ",").replace(" ", ",").split(","):
            if not token:
                continue
            if not token.isdigit():
                raise ValidationError(
                    _l("Project numbers are whole numbers: %(value)s", value=token)
                )
            ids.append(int(token))
        self.extra_ids = ids

    def all_ids(self) -> list[int]:
        return sorted({*(self.project_ids.data or []), *getattr(self, "extra_ids", [])})


class SignForm(FlaskForm):
    project_ids = SelectMultipleField(
        _l("Projects to sign"), coerce=int, choices=[], validate_choice=False
    )
    all_or_nothing = BooleanField(_l("Only if every chosen project can be signed"))
    submit = SubmitField(_l("Sign at this event"))

    def validate_project_ids(self, field: SelectMultipleField) -> None:
        if not field.data:
            raise ValidationError(_l("Choose at least one project."))


class AttachmentForm(FlaskForm):
    parent = HiddenField(validators=[DataRequired()])
    parent_id = HiddenField(validators=[DataRequired()])
    file = FileField(_l("File"))
    submit = SubmitField(_l("Upload"))


class SettingsForm(FlaskForm):
    working_days = IntegerField(
        _l("Working days to answer an inquiry"),
        validators=[
            InputRequired(message=_l("Give a number of days.")),
            NumberRange(min=1, max=30, message=_l("Between 1 and 30 days.")),
        ],
    )
    holidays = TextAreaField(
        _l("Public holidays (not working days)"),
        validators=[Optional(), Length(max=10000)],
        description=_l("One date per line, YYYY-MM-DD."),
    )
    makeup_workdays = TextAreaField(
        _l("Make-up working days on weekends (调休)"),
        validators=[Optional(), Length(max=10000)],
        description=_l("One date per line, YYYY-MM-DD."),
    )
    submit = SubmitField(_l("Save settings"))

    def _dates(self, field: TextAreaField) -> None:
        try:
            parse_dates(field.data)
        except ValueError as exc:
            raise ValidationError(
                _l("“%(value)s” is not a date: write YYYY-MM-DD.", value=str(exc))
            ) from exc

    def validate_holidays(self, field: TextAreaField) -> None:
        self._dates(field)

    def validate_makeup_workdays(self, field: TextAreaField) -> None:
        self._dates(field)
