"""Forms of the project pages: the project itself, a stage move, sharing, key marks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    Field,
    HiddenField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError

from crm.i18n import stage_label
from crm.pipeline.errors import ProjectError
from crm.pipeline.services import parse_amount
from crm.pipeline.stages import TransitionPlan, local_today


def _amount(form: FlaskForm, field: Field) -> None:
    try:
        parse_amount(field.data, field.name)
    except ProjectError as exc:
        raise ValidationError(str(exc)) from exc


class ProjectForm(FlaskForm):
    """Create or edit a project. `version` carries the version the user started from."""

    version = HiddenField()
    name = StringField(_l("Project name"), validators=[DataRequired(), Length(max=300)])
    name_en = StringField(_l("English name"), validators=[Optional(), Length(max=300)])
    company_name = StringField(
        _l("Investor (company)"),
        validators=[DataRequired(), Length(max=300)],
        description=_l("Type the company's name; an existing company with the same name is used."),
        render_kw={"autocomplete": "off", "data-company-match": "1"},
    )
    chain = SelectField(_l("Industrial chain"), choices=[], validate_choice=True, default="")
    target_zone = SelectField(_l("Target zone"), choices=[], validate_choice=True, default="")
    landed_zone = SelectField(_l("Landed in zone"), choices=[], validate_choice=True, default="")
    planned_investment = StringField(
        _l("Planned investment (万元)"),
        validators=[Optional(), _amount],
        render_kw={"inputmode": "decimal"},
    )
    foreign_capital_usd = StringField(
        _l("Foreign capital (US dollars)"),
        validators=[Optional(), _amount],
        render_kw={"inputmode": "decimal"},
    )
    source_region = SelectField(_l("Source region"), choices=[], validate_choice=True, default="")
    team = SelectField(_l("Team"), choices=[], validate_choice=True, default="")
    owner_id = SelectField(_l("Owner"), choices=[], validate_choice=True, default="")
    notes = TextAreaField(_l("Notes"), validators=[Optional(), Length(max=20000)])
    external_id = StringField(_l("External id"), validators=[Optional(), Length(max=100)])
    submit = SubmitField(_l("Save"))

    # Form fields in the order the service names them (API names).
    SERVICE_FIELDS: Sequence[str] = (
        "name",
        "name_en",
        "company_name",
        "chain",
        "target_zone",
        "landed_zone",
        "planned_investment",
        "foreign_capital_usd",
        "source_region",
        "team",
        "owner_id",
        "notes",
        "external_id",
    )

    def values(self) -> dict[str, Any]:
        """The input as service values (API names; empty choices mean none)."""
        out: dict[str, Any] = {}
        for name in self.SERVICE_FIELDS:
            field = getattr(self, name, None)
            if field is None:
                continue
            value = field.data
            if isinstance(value, str):
                value = value.strip()
            if name == "owner_id":
                value = int(value) if value else None
            elif value == "" and name not in ("name", "company_name"):
                value = None
            out[name] = value
        return out

    def error_on(self, field_name: str, message: str) -> None:
        """Show a service error next to its field (company_id errors go to company_name)."""
        target = getattr(self, "company_name" if field_name == "company_id" else field_name, None)
        if not isinstance(target, Field):
            target = self.name
        target.errors = [*target.errors, message]


class TransitionFormBase(FlaskForm):
    version = HiddenField()
    date = DateField(_l("Date"), validators=[InputRequired()], default=local_today)
    drop_reason = SelectField(
        _l("Why is it dropped?"), choices=[], validate_choice=True, default=""
    )
    reason = TextAreaField(_l("Reason"), validators=[Optional(), Length(max=5000)])
    note = TextAreaField(_l("Note"), validators=[Optional(), Length(max=5000)])
    submit = SubmitField(_l("Move the project"))


def transition_form(
    steps: TransitionPlan, drop_reasons: list[tuple[str, str]], **kwargs: Any
) -> TransitionFormBase:
    """A transition form for `steps`: a date per skipped stage, a reason when one is needed."""

    class TransitionForm(TransitionFormBase):
        pass

    for stage in steps.skipped:
        setattr(
            TransitionForm,
            f"date_{stage.value}",
            DateField(
                _l("Date reached: %(stage)s", stage=stage_label(stage)),
                validators=[InputRequired()],
                default=local_today,
            ),
        )
    form = TransitionForm(**kwargs)
    form.date.label.text = str(_l("Date reached: %(stage)s", stage=stage_label(steps.to)))
    if steps.needs_drop_reason:
        form.drop_reason.choices = [("", "—"), *drop_reasons]
        form.drop_reason.validators = [DataRequired()]
        form.reason.label.text = str(_l("Details (optional)"))
    else:
        del form.drop_reason
    if steps.needs_reason:
        form.reason.validators = [DataRequired(), Length(max=5000)]
        form.reason.flags.required = True
    elif not steps.needs_drop_reason:
        del form.reason
    return form


class ShareForm(FlaskForm):
    share_team = SelectField(_l("Share with team"), choices=[], validate_choice=True, default="")
    access = SelectField(
        _l("Access"), choices=[("read", _l("Read only")), ("edit", _l("Read and edit"))]
    )
    submit = SubmitField(_l("Share"))


class ReassignForm(FlaskForm):
    team = SelectField(_l("Team"), choices=[], validate_choice=True, default="")
    owner_id = SelectField(_l("Owner"), choices=[], validate_choice=True, default="")
    submit = SubmitField(_l("Reassign"))


class KeyMarkForm(FlaskForm):
    marked = HiddenField()
    reason = StringField(_l("Reason"), validators=[DataRequired(), Length(max=2000)])
    submit = SubmitField(_l("Save"))


class ThresholdForm(FlaskForm):
    threshold = StringField(
        _l("Key-project threshold: planned investment (万元)"),
        validators=[DataRequired(), _amount],
        render_kw={"inputmode": "decimal"},
    )
    submit = SubmitField(_l("Save and recompute"))
