"""Forms: snoozing a reminder, rule thresholds, the holiday calendar, a team's robot."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    IntegerField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
    URLField,
)
from wtforms.validators import URL, DataRequired, Length, NumberRange, Optional

from crm.reminders.rules import DEFINITIONS, MAX_DAYS, Threshold

ROBOT_KINDS = [
    ("", _l("No group robot")),
    ("wecom", _l("WeCom (企业微信) group robot")),
    ("dingtalk", _l("DingTalk (钉钉) group robot")),
]


def rule_choices() -> list[tuple[str, Any]]:
    return [(d.code, d.label) for d in DEFINITIONS]


class SnoozeForm(FlaskForm):
    rule_code = SelectField(_l("Reminder"), choices=[], validators=[DataRequired()])
    until = DateField(_l("Snooze until (inclusive)"), validators=[DataRequired()])
    reason = TextAreaField(
        _l("Reason"), validators=[DataRequired(), Length(max=1000)], render_kw={"rows": 2}
    )
    submit = SubmitField(_l("Snooze"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.rule_code.choices = rule_choices()


class CalendarDayForm(FlaskForm):
    on = DateField(_l("Date"), validators=[DataRequired()])
    working = SelectField(
        _l("Kind"),
        choices=[
            ("0", _l("Public holiday (no work)")),
            ("1", _l("Make-up working day (调休)")),
        ],
    )
    name = StringField(_l("Name"), validators=[Optional(), Length(max=100)])
    submit = SubmitField(_l("Add"))


class RobotForm(FlaskForm):
    webhook_kind = SelectField(_l("Group robot"), choices=ROBOT_KINDS)
    webhook_url = URLField(
        _l("Webhook URL"),
        validators=[Optional(), URL(require_tld=True), Length(max=1000)],
        description=_l("Leave empty to keep the current address."),
    )
    submit = SubmitField(_l("Save"))


def rules_form_class(thresholds: list[Threshold]) -> type[FlaskForm]:
    """A form with enabled / days / key days fields for each rule row."""

    class RulesForm(FlaskForm):
        submit = SubmitField(_l("Save thresholds"))

    for t in thresholds:
        days_range = NumberRange(min=1, max=MAX_DAYS)
        setattr(RulesForm, f"enabled_{t.rule_id}", BooleanField(_l("On"), default=t.enabled))
        setattr(
            RulesForm,
            f"days_{t.rule_id}",
            IntegerField(_l("Days"), default=t.days, validators=[DataRequired(), days_range]),
        )
        setattr(
            RulesForm,
            f"key_days_{t.rule_id}",
            IntegerField(
                _l("Key projects"), default=t.key_days, validators=[Optional(), days_range]
            ),
        )
    return RulesForm
