"""The incentives blueprint, shared by the project, comparison and policy pages."""

from __future__ import annotations

from datetime import date

from flask import Blueprint
from flask_babel import lazy_gettext as _l

from crm.incentives import services

bp = Blueprint("incentives", __name__)

STATUS_LABELS = {
    "applies": _l("Applies"),
    "by_assessment": _l("By assessment"),
    "qualitative": _l("Non-monetary"),
    "needs_data": _l("Needs data"),
    "not_applicable": _l("Not applicable"),
    "not_in_force": _l("Not in force"),
}
STATUS_STYLES = {
    "applies": "text-bg-success",
    "by_assessment": "text-bg-info",
    "qualitative": "text-bg-secondary",
    "needs_data": "text-bg-warning",
    "not_applicable": "text-bg-light",
    "not_in_force": "text-bg-dark",
}
# Shown open on the pages; the others are folded away.
OPEN_STATUSES = ("applies", "by_assessment", "qualitative", "needs_data")
FOLDED_STATUSES = ("not_applicable", "not_in_force")
FREQUENCY_LABELS = {
    "once": _l("once"),
    "per_year": _l("per year"),
    "once_or_per_year": _l("once or per year"),
    "unstated": _l("frequency not stated"),
}


def status_labels() -> dict[str, str]:
    """Each status with its label in the current language (for pages and the workbook)."""
    return {status: str(label) for status, label in STATUS_LABELS.items()}


def parse_day(text: str | None) -> tuple[date, str | None]:
    """A `YYYY-MM-DD` date from a form or query string; today and an error if malformed."""
    if not text:
        return services.today(), None
    try:
        if len(text) != 10:
            raise ValueError(text)
        return date.fromisoformat(text), None
    except ValueError:
        return services.today(), str(_l("Not a date: write it as YYYY-MM-DD."))


@bp.app_context_processor
def _incentive_helpers() -> dict[str, object]:
    return {
        "incentive_status_labels": STATUS_LABELS,
        "incentive_status_styles": STATUS_STYLES,
        "incentive_open_statuses": OPEN_STATUSES,
        "incentive_folded_statuses": FOLDED_STATUSES,
        "incentive_frequency_labels": FREQUENCY_LABELS,
    }


@bp.app_template_global()
def incentive_fact_label(key: str) -> str:
    """A fact's label in the current language (the key if unknown)."""
    from crm.i18n import is_english
    from crm.incentives.facts import FACTS

    fact = FACTS.get(key)
    if fact is None:
        return key
    return fact.label_en if is_english() else fact.label_zh


@bp.app_template_global()
def incentive_condition(text: str) -> str:
    """A condition's text for the current language (fact labels in Chinese)."""
    from crm.i18n import is_english
    from crm.incentives.explain_zh import condition_text

    return text if is_english() else condition_text(text)
