"""The zone comparison as an Excel workbook, for the pitch to an investor.

Written through the app's xlsx helper (`crm.reports.xlsx.XlsxBook`): title row, frozen
header, autofilter, A4 landscape, amounts as numbers in 万元 with the unit in the header,
and every text (project names, policy titles, explanations) written as text, never as a
formula: text starting with `=`, `+`, `-`, `@` gets Excel's quote-prefix flag.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from io import BytesIO

from flask_babel import gettext as _

from crm.incentives.facts import FACTS, facts_to_json
from crm.incentives.services import ZoneEvaluation
from crm.reports.xlsx import Column, XlsxBook

APPLICABLE = ("applies", "by_assessment", "qualitative")


def comparison_workbook(
    evaluations: Sequence[ZoneEvaluation],
    facts: Mapping[str, object],
    *,
    as_of: date,
    project_name: str | None,
    english: bool,
    status_labels: Mapping[str, str],
) -> bytes:
    """The workbook: zones ranked, each zone's applicable measures, and the facts used.

    Headers are in the user's language (call it within a request); `status_labels` names
    each status. Zones come in the order given (best first).
    """
    title = _("Incentives compared as of %(day)s", day=as_of.isoformat())
    if project_name:
        title = f"{project_name} · {title}"
    output = BytesIO()
    with XlsxBook(output, lang="en" if english else "zh") as book:
        ranking = book.sheet(
            _("Comparison"),
            [
                Column("zone", _("Zone"), width=30),
                Column("code", _("Zone code"), width=20),
                Column("total", _("Estimated total"), "money_wan"),
                Column("caps", _("By-assessment caps"), "money_wan"),
                *[Column(status, label, "int") for status, label in status_labels.items()],
            ],
            title_row=title,
            serial_column=_("Rank"),
        )
        for item in evaluations:
            evaluation = item.evaluation
            ranking.append(
                [
                    item.zone.name_en if english else item.zone.name_zh,
                    item.zone.code,
                    evaluation.total_applies,
                    evaluation.total_by_assessment_cap,
                    *[evaluation.counts.get(status, 0) for status in status_labels],
                ]
            )

        measures = book.sheet(
            _("Applicable measures"),
            [
                Column("zone", _("Zone"), width=24),
                Column("policy", _("Policy"), width=30),
                Column("version", _("Version"), "int"),
                Column("measure", _("Measure"), width=48, wrap=True),
                Column("status", _("Status"), width=14),
                Column("amount", _("Amount"), "money_wan"),
                Column("cap", _("Cap"), "money_wan"),
                Column("explanation", _("Explanation"), width=56, wrap=True),
                Column("unconfirmed", _("Threshold to confirm"), width=12),
            ],
            title_row=title,
        )
        for item in evaluations:
            zone_name = item.zone.name_en if english else item.zone.name_zh
            for result in item.evaluation.results:
                if result.status.value not in APPLICABLE:
                    continue
                measures.append(
                    [
                        zone_name,
                        result.policy_id,
                        result.policy_version,
                        result.title_en if english else result.title_zh,
                        status_labels[result.status.value],
                        result.amount,
                        result.cap,
                        result.explanation if english else result.explanation_zh,
                        _("yes") if result.threshold_unconfirmed else "",
                    ]
                )

        facts_sheet = book.sheet(
            _("Facts"),
            [
                Column("label", _("Fact"), width=34),
                Column("key", _("Key"), width=32),
                Column("value", _("Value"), width=40, wrap=True),
            ],
            title_row=title,
        )
        for key, value in sorted(facts_to_json(facts).items()):
            fact = FACTS.get(key)
            label = (fact.label_en if english else fact.label_zh) if fact else key
            if isinstance(value, bool):
                shown: object = _("yes") if value else _("no")
            elif isinstance(value, list):
                shown = ", ".join(map(str, value)) or "—"
            else:
                shown = value
            facts_sheet.append([label, key, shown])
    return output.getvalue()
