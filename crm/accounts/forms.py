"""Forms for logging in, profiles, users, teams and tokens."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    PasswordField,
    SelectField,
    StringField,
    SubmitField,
)
from wtforms.validators import DataRequired, Email, Length, Optional, Regexp

from crm.enums import Role

ROLE_CHOICES = [
    (Role.OFFICER.value, _l("Officer")),
    (Role.LEAD.value, _l("Team lead")),
    (Role.LEADER.value, _l("Leader")),
    (Role.ADMIN.value, _l("Administrator")),
]


class LoginForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])
    submit = SubmitField(_l("Log in"))


class PasswordChangeForm(FlaskForm):
    current_password = PasswordField(_l("Current password"), validators=[DataRequired()])
    new_password = PasswordField(
        _l("New password"), validators=[DataRequired(), Length(min=8, max=200)]
    )
    submit = SubmitField(_l("Change password"))


class LanguageForm(FlaskForm):
    locale = SelectField(_l("Language"), choices=[("zh_CN", "简体中文"), ("en", "English")])
    submit = SubmitField(_l("Save"))


class UserCreateForm(FlaskForm):
    email = EmailField(
        _l("Email"), validators=[DataRequired(), Email(check_deliverability=False), Length(max=254)]
    )
    name = StringField(_l("Name"), validators=[Optional(), Length(max=100)])
    role = SelectField(_l("Role"), choices=ROLE_CHOICES)
    team_code = SelectField(_l("Team"), choices=[], validate_choice=False)
    password = PasswordField(
        _l("Initial password"), validators=[DataRequired(), Length(min=8, max=200)]
    )
    submit = SubmitField(_l("Create user"))


class UserEditForm(FlaskForm):
    name = StringField(_l("Name"), validators=[Optional(), Length(max=100)])
    role = SelectField(_l("Role"), choices=ROLE_CHOICES)
    team_code = SelectField(_l("Team"), choices=[], validate_choice=False)
    submit = SubmitField(_l("Save"))


class TeamForm(FlaskForm):
    code = StringField(
        _l("Code"),
        validators=[
            DataRequired(),
            Length(max=64),
            Regexp(r"^[a-z0-9][a-z0-9-]*$", message=_l("Lowercase letters, digits and dashes.")),
        ],
    )
    name_zh = StringField(_l("Name (Chinese)"), validators=[DataRequired(), Length(max=200)])
    name_en = StringField(_l("Name (English)"), validators=[Optional(), Length(max=300)])
    zone_code = SelectField(_l("Zone or district"), choices=[], validate_choice=False)
    submit = SubmitField(_l("Save"))


class TokenForm(FlaskForm):
    name = StringField(_l("Token name"), validators=[DataRequired(), Length(max=100)])
    submit = SubmitField(_l("Create token"))


class ConfirmForm(FlaskForm):
    """An empty form: its CSRF token protects a one-click action."""

    submit = SubmitField(_l("Confirm"))


class TwoFactorCodeForm(FlaskForm):
    """A six-digit code from the authenticator app (or, at login, a recovery code)."""

    code = StringField(
        _l("Code"),
        validators=[DataRequired(), Length(max=32)],
        render_kw={"autocomplete": "one-time-code", "autocapitalize": "characters"},
    )
    submit = SubmitField(_l("Verify"))


class PasswordConfirmForm(FlaskForm):
    """Asks for the password again before a sensitive change."""

    password = PasswordField(_l("Your password"), validators=[DataRequired(), Length(max=200)])
    submit = SubmitField(_l("Confirm"))


class SecuritySettingsForm(FlaskForm):
    require_admin = BooleanField(_l("Require two-factor login for administrators"))
    require_leader = BooleanField(_l("Require two-factor login for leaders"))
    submit = SubmitField(_l("Save"))
