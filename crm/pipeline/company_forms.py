"""Forms for companies, the company merge and the Top-500 upload."""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional, ValidationError

from crm.enums import OwnershipType
from crm.pipeline.company_services import COMPANY_TAGS, CompanyData, split_aliases
from crm.pipeline.find_labels import OWNERSHIP_LABELS, TAG_LABELS
from crm.pipeline.top500_services import LIST_CODES
from crm.reference.uscc import normalize_uscc, uscc_error


def _uscc_valid(form: FlaskForm, field: StringField) -> None:
    if field.data and field.data.strip():
        problem = uscc_error(field.data)
        if problem:
            # The detail comes from crm.reference.uscc in English (positions and characters).
            raise ValidationError(
                _("Not a valid Unified Social Credit Code: %(problem)s.", problem=problem)
            )


class CompanyForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=300)])
    name_en = StringField(_l("English name"), validators=[Optional(), Length(max=300)])
    aliases = TextAreaField(
        _l("Aliases (one per line)"), validators=[Optional(), Length(max=10_000)]
    )
    uscc = StringField(
        _l("Unified Social Credit Code"), validators=[Optional(), Length(max=40), _uscc_valid]
    )
    ownership_type = SelectField(_l("Ownership"), choices=[], validate_choice=True)
    hq_city = StringField(_l("Headquarters city"), validators=[Optional(), Length(max=100)])
    hq_province = StringField(_l("Headquarters province"), validators=[Optional(), Length(max=100)])
    tags = SelectMultipleField(_l("Investor tags"), choices=[])
    confirm_duplicate = BooleanField(_l("I have checked: this is a different company"))
    submit = SubmitField(_l("Save"))

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.ownership_type.choices = [("", "—")] + [
            (o.value, str(OWNERSHIP_LABELS[o.value])) for o in OwnershipType
        ]
        self.tags.choices = [(t, str(TAG_LABELS[t])) for t in COMPANY_TAGS]

    def data_for_service(self) -> CompanyData:
        return CompanyData(
            name=self.name.data or "",
            name_en=self.name_en.data or None,
            aliases=split_aliases(self.aliases.data),
            uscc=normalize_uscc(self.uscc.data) if self.uscc.data else None,
            ownership_type=OwnershipType(self.ownership_type.data)
            if self.ownership_type.data
            else None,
            hq_city=self.hq_city.data or None,
            hq_province=self.hq_province.data or None,
            tags=list(self.tags.data or []),
        )


class MergeForm(FlaskForm):
    submit = SubmitField(_l("Merge"))


class Top500UploadForm(FlaskForm):
    list_code = SelectField(_l("List"), choices=[])
    year = IntegerField(
        _l("Year of the list"), validators=[DataRequired(), NumberRange(min=1990, max=2100)]
    )
    file = FileField(_l("File (xlsx or csv)"), validators=[FileRequired()])
    submit = SubmitField(_l("Upload"))

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.list_code.choices = [(code, str(TAG_LABELS[code])) for code in LIST_CODES]
