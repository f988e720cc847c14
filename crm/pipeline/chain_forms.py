"""Forms of the chain admin pages. The rules (required names, the code's shape, a code
already used) live in crm.pipeline.chain_admin, so the pages and the API agree; its
errors are shown next to the field they name."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, StringField, SubmitField, TextAreaField
from wtforms.validators import Length

from crm.pipeline.chain_admin import MAX_CODE, MAX_NAME_EN, MAX_NAME_ZH, MAX_SOURCE


class ChainForm(FlaskForm):
    code = StringField(
        _l("Code"),
        validators=[Length(max=MAX_CODE)],
        description=_l("Lowercase letters, digits and hyphens; it cannot be changed later."),
    )
    name_zh = StringField(_l("Chinese name"), validators=[Length(max=MAX_NAME_ZH)])
    name_en = StringField(
        _l("English name"),
        validators=[Length(max=MAX_NAME_EN)],
        description=_l("Empty: the Chinese name."),
    )
    confirmed = BooleanField(_l("Name confirmed by public reports"))
    source = TextAreaField(
        _l("Source note"),
        validators=[Length(max=MAX_SOURCE)],
        description=_l("Which report or document gives this chain."),
    )
    submit = SubmitField(_l("Save"))

    def values(self) -> dict[str, Any]:
        out = {
            "name_zh": self.name_zh.data,
            "name_en": self.name_en.data,
            "confirmed": bool(self.confirmed.data),
            "source": self.source.data,
        }
        if "code" in self._fields:
            out["code"] = self.code.data
        return out


class ChainMergeForm(FlaskForm):
    into = HiddenField()
    submit = SubmitField(_l("Merge"))
