"""The leaders' weekly workbook, written through the shared streaming helper (xlsx.py).

Every number comes from `metrics.compute` (the dashboard and the API use the same object);
the detail sheets stream their rows from `listings` in batches, so memory stays flat
whatever the number of projects. Sheets: 总览, 重点项目, 本周进展, 停滞项目, 本周走访,
按产业链, 按园区, 图表 (English names when the report's language is English).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import IO, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.enums import ALL_STAGES, MAIN_STAGES
from crm.reference.models import Region, StageLabel
from crm.reports import listings, metrics
from crm.reports.labels import Words
from crm.reports.metrics import Group, Metrics
from crm.reports.scope import ReportScope
from crm.reports.weeks import Week
from crm.reports.xlsx import Column, SheetWriter, XlsxBook, wan_to_yi

PAIRS = ("week", "last_week", "ytd", "last_ytd")


def _growth(now: int, before: int) -> Decimal | None:
    if not before:
        return None
    return (Decimal(now - before) / Decimal(before)).quantize(Decimal("0.0001"))


class WeeklyWorkbook:
    """Writes one weekly report; `write()` returns the metrics it used."""

    def __init__(
        self,
        session: Session,
        scope: ReportScope,
        week: Week,
        *,
        lang: str = "zh",
        as_of: date | None = None,
    ) -> None:
        self.session = session
        self.scope = scope
        self.week = week
        self.w = Words(lang)
        self.as_of = as_of or week.end
        self.team = scope.team_name(self.w.english)
        self.stages = {
            key: self.w.name(zh, en)
            for key, zh, en in session.execute(
                select(StageLabel.key, StageLabel.name_zh, StageLabel.name_en)
            )
        }

    def stage(self, value: Any) -> str:
        key = getattr(value, "value", value)
        return self.stages.get(key, key) if key else ""

    def sheet(self, book: XlsxBook, key: str, columns: list[Column]) -> SheetWriter:
        return book.sheet(
            self.w(key),
            columns,
            title_row=self.w.title(self.week, self.team, key),
            serial_column=self.w("serial"),
        )

    def write(self, target: str | IO[bytes]) -> Metrics:
        numbers = metrics.compute(self.session, self.scope, self.week, as_of=self.as_of)
        with XlsxBook(target, lang=self.w.lang) as book:
            self.summary(book, numbers)
            self.key_projects(book)
            self.progress(book)
            self.stalled(book)
            self.visits(book, numbers)
            chains = self.groups(book, "sheet_chains", "chain", numbers.by_chain)
            self.groups(book, "sheet_zones", "zone", numbers.by_zone)
            self.charts(book, numbers, chains)
        return numbers

    # --- 总览 ---------------------------------------------------------------------------

    def summary(self, book: XlsxBook, m: Metrics) -> None:
        w = self.w
        columns = [Column("label", w("indicator"), width=34)]
        for period in PAIRS:
            columns += [
                Column(f"{period}_count", w(f"{period}_count"), "int", width=12),
                Column(f"{period}_amount", w(f"{period}_amount"), "money_yi", width=14),
            ]
        columns.append(Column("rate", w("rate"), "percent", width=12))
        sheet = self.sheet(book, "sheet_summary", columns)
        for event in metrics.EVENTS:
            counts = m.events[event]
            row: dict[str, Any] = {"label": w(f"event_{event}")}
            for period in PAIRS:
                row[f"{period}_count"] = counts[period].count
                row[f"{period}_amount"] = wan_to_yi(counts[period].amount)
            row["rate"] = _growth(counts["ytd"].count, counts["last_ytd"].count)
            sheet.append(row)

        def heading(label: str, *cells: str) -> None:
            keys = [c.key for c in columns[1:]]
            sheet.append({"label": label, **{k: v for k, v in zip(keys, cells, strict=False) if v}})

        heading(w("sec_stages"), w("projects"), w("amount"), w("key_projects"), w("key_amount"))
        total, key_total = metrics.Count(), metrics.Count()
        for stage in ALL_STAGES:
            c, k = m.by_stage[stage.value], m.key_by_stage[stage.value]
            total.add(c.count, c.amount)
            key_total.add(k.count, k.amount)
            sheet.append(self._four(self.stage(stage), c.count, c.amount, k.count, k.amount))
        sheet.append(
            self._four(w("total"), total.count, total.amount, key_total.count, key_total.amount)
        )

        heading(w("sec_key"), w("projects"), w("amount"))
        key_active = m.key_active
        sheet.append(self._four(w("key_active"), key_active.count, key_active.amount))
        key_signed = sum(g.key_signed_ytd for g in m.by_team)
        sheet.append(self._four(w("key_signed_ytd"), key_signed, None))

        heading(w("sec_rates"), w("signed_ytd"), "", w("started"), "", w("honoured"))
        for key, rate_key, period in (
            ("start_rate", "start_rate", "ytd"),
            ("start_rate_last", "start_rate", "last_ytd"),
            ("honoured_rate", "honoured_rate", "ytd"),
            ("honoured_rate_last", "honoured_rate", "last_ytd"),
        ):
            r = m.rates[period]
            sheet.append(
                {
                    "label": w(key),
                    "week_count": r.signed,
                    "last_week_count": r.started,
                    "ytd_count": r.honoured,
                    "rate": getattr(r, rate_key),
                }
            )

        if not m.targets:
            heading(w("no_targets"))
            return
        heading(
            w("sec_targets_signed"),
            w("signed_count"),
            w("signed_amount"),
            w("target_count"),
            w("target_amount"),
            "",
            "",
            "",
            "",
            w("completion"),
        )
        rows = list(m.targets)
        total_target = m.target_total
        for t in [*rows, *([total_target] if total_target and len(rows) > 1 else [])]:
            sheet.append(
                {
                    "label": w.name(t.name_zh, t.name_en),
                    "week_count": t.actual_signed_count,
                    "week_amount": wan_to_yi(t.actual_signed_amount),
                    "last_week_count": t.signed_count,
                    "last_week_amount": wan_to_yi(t.signed_amount),
                    "rate": t.progress("signed_count"),
                }
            )
        heading(
            w("sec_targets_other"),
            w("key_signed"),
            "",
            w("target_count"),
            "",
            w("started_count"),
            "",
            w("target_count"),
            "",
            w("completion"),
        )
        for t in [*rows, *([total_target] if total_target and len(rows) > 1 else [])]:
            sheet.append(
                {
                    "label": w.name(t.name_zh, t.name_en),
                    "week_count": t.actual_key_count,
                    "last_week_count": t.key_count,
                    "ytd_count": t.actual_started_count,
                    "last_ytd_count": t.started_count,
                    "rate": t.progress("started_count"),
                }
            )

    @staticmethod
    def _four(
        label: str,
        count: int,
        amount: Decimal | None,
        count2: int | None = None,
        amount2: Decimal | None = None,
    ) -> dict[str, Any]:
        return {
            "label": label,
            "week_count": count,
            "week_amount": wan_to_yi(amount),
            "last_week_count": count2,
            "last_week_amount": wan_to_yi(amount2),
        }

    # --- project lists ------------------------------------------------------------------

    def _project_columns(self) -> list[Column]:
        w = self.w
        return [
            Column("project", w("project"), width=30),
            Column("company", w("company"), width=30),
            Column("chain", w("chain"), width=18),
            Column("zone", w("zone"), width=18),
            Column("stage", w("stage"), width=10),
            Column("planned", w("planned"), "money_wan"),
            Column("signed_on", w("signed_on"), "date"),
            Column("team", w("team"), width=18),
            Column("owner", w("owner"), width=12),
        ]

    def _project_values(self, p: listings.ProjectLine) -> dict[str, Any]:
        w = self.w
        return {
            "project": p.name,
            "company": p.company,
            "chain": w.name(p.chain_zh, p.chain_en),
            "zone": w.name(p.zone_zh, p.zone_en),
            "stage": self.stage(p.stage),
            "planned": p.amount,
            "signed_on": p.signed_on,
            "team": w.name(p.team_zh, p.team_en),
            "owner": p.owner,
        }

    def key_projects(self, book: XlsxBook) -> None:
        w = self.w
        columns = self._project_columns()
        columns[2:2] = [Column("reasons", w("key_reasons"), width=24, wrap=True)]
        columns += [
            Column("landed_on", w("landed_on"), "date"),
            Column("started_on", w("started_on"), "date"),
            Column("last_activity", w("last_activity"), "date"),
        ]
        sheet = self.sheet(book, "sheet_key", columns)
        for p in listings.stream(self.session, listings.key_projects_stmt(self.scope)):
            sheet.append(
                {
                    **self._project_values(p),
                    "reasons": w.key_reasons(p.key_reasons),
                    "landed_on": p.landed_on,
                    "started_on": p.started_on,
                    "last_activity": p.last_activity_at,
                }
            )

    def progress(self, book: XlsxBook) -> None:
        w = self.w
        columns = [
            Column("date", w("date"), "date"),
            Column("from_stage", w("from_stage"), width=10),
            Column("to_stage", w("to_stage"), width=10),
            *self._project_columns(),
            Column("changed_by", w("changed_by"), width=12),
            Column("note", w("note"), width=30, wrap=True),
        ]
        sheet = self.sheet(book, "sheet_progress", columns)
        stmt = listings.stage_changes_stmt(self.scope, self.week)
        for p in listings.stream(self.session, stmt):
            on, from_stage, to_stage, by, note = p.extra
            sheet.append(
                {
                    **self._project_values(p),
                    "date": on,
                    "from_stage": self.stage(from_stage),
                    "to_stage": self.stage(to_stage),
                    "changed_by": by,
                    "note": note,
                }
            )

    def stalled(self, book: XlsxBook) -> None:
        w = self.w
        columns = self._project_columns()
        columns[2:2] = [
            Column("rule", w("rule"), width=14),
            Column("days_overdue", w("days_overdue"), "int"),
        ]
        columns.append(Column("last_activity", w("last_activity"), "date"))
        sheet = self.sheet(book, "sheet_stalled", columns)
        stmt = listings.stalled_lines_stmt(self.session, self.scope, self.as_of)
        for p in listings.stream(self.session, stmt):
            rule, overdue = p.extra
            sheet.append(
                {
                    **self._project_values(p),
                    "rule": w.rule(rule),
                    "days_overdue": int(overdue),
                    "last_activity": p.last_activity_at,
                }
            )

    # --- visits, chains, zones, charts --------------------------------------------------

    def visits(self, book: XlsxBook, m: Metrics) -> None:
        w = self.w
        regions = [
            (code, w.name(zh, en))
            for code, zh, en in self.session.execute(
                select(Region.code, Region.name_zh, Region.name_en).order_by(Region.sort, Region.id)
            )
        ]
        if any(v.region is None for v in m.visits_by_team_region):
            regions.append(("", w("not_set")))
        columns = [Column("team", w("team"), width=22)]
        columns += [Column(f"r:{code}", text, "int", width=12) for code, text in regions]
        columns.append(Column("total", w("total"), "int"))
        sheet = self.sheet(book, "sheet_visits", columns)
        rows: dict[str, dict[str, Any]] = {}
        for v in m.visits_by_team_region:
            row = rows.setdefault(v.team, {"team": w.name(v.team_zh, v.team_en), "total": 0})
            row[f"r:{v.region or ''}"] = v.count
            row["total"] += v.count
        totals: dict[str, Any] = {"team": w("total"), "total": 0}
        for row in rows.values():
            sheet.append(row)
            for key, value in row.items():
                if key.startswith("r:") or key == "total":
                    totals[key] = totals.get(key, 0) + value
        sheet.append(totals)

    def groups(self, book: XlsxBook, key: str, label: str, groups: list[Group]) -> SheetWriter:
        w = self.w
        columns = [
            Column("name", w(label), width=28),
            Column("active_count", w("active_count"), "int"),
            Column("active_amount", w("active_amount"), "money_yi"),
            Column("signed_count", w("signed_ytd_count"), "int"),
            Column("signed_amount", w("signed_ytd_amount"), "money_yi"),
            Column("started", w("started_ytd"), "int"),
            Column("key", w("key_active_count"), "int"),
        ]
        sheet = self.sheet(book, key, columns)
        for g in groups:
            sheet.append(
                {
                    "name": w.name(g.name_zh, g.name_en) if g.key else w("not_set"),
                    "active_count": g.active.count,
                    "active_amount": wan_to_yi(g.active.amount),
                    "signed_count": g.signed_ytd.count,
                    "signed_amount": wan_to_yi(g.signed_ytd.amount),
                    "started": g.started_ytd,
                    "key": g.key_active,
                }
            )
        return sheet

    def charts(self, book: XlsxBook, m: Metrics, chains: SheetWriter) -> None:
        w = self.w
        sheet = self.sheet(
            book,
            "sheet_charts",
            [
                Column("stage", w("stage"), width=14),
                Column("count", w("projects"), "int"),
                Column("amount", w("amount"), "money_yi"),
            ],
        )
        for stage in MAIN_STAGES:
            c = m.by_stage[stage.value]
            sheet.append([self.stage(stage), c.count, wan_to_yi(c.amount)])
        book.bar_chart(sheet, category="stage", values=["count"], title=w("chart_stages"))
        book.bar_chart(
            chains,
            category="name",
            values=["active_amount"],
            title=w("chart_chains"),
            on=sheet,
            anchor="F22",
            horizontal=True,
            height_cm=14,
        )


def write_weekly(
    session: Session,
    scope: ReportScope,
    week: Week,
    target: str | IO[bytes],
    *,
    lang: str = "zh",
    as_of: date | None = None,
) -> Metrics:
    """Write the weekly report of `scope` for `week` to `target` (a path or a binary stream)."""
    return WeeklyWorkbook(session, scope, week, lang=lang, as_of=as_of).write(target)
