"""The weekly workbook's words, in both languages.

A workbook's language is chosen per report (Chinese by default, English for a user whose
language is English), also where no request exists (the Monday job, the command line), so
its sheet names and headings are held here in both languages rather than looked up in the
request's translation catalogue. Leaders expect exactly these sheet names: 总览, 重点项目,
本周进展, 停滞项目, 本周走访, 按产业链, 按园区.
"""

from __future__ import annotations

from crm.reports.weeks import Week

TEXT: dict[str, tuple[str, str]] = {
    # sheets
    "sheet_summary": ("总览", "Summary"),
    "sheet_key": ("重点项目", "Key projects"),
    "sheet_progress": ("本周进展", "Progress this week"),
    "sheet_stalled": ("停滞项目", "Stalled projects"),
    "sheet_visits": ("本周走访", "Visits this week"),
    "sheet_chains": ("按产业链", "By chain"),
    "sheet_zones": ("按园区", "By zone"),
    "sheet_charts": ("图表", "Charts"),
    # title row
    "report": ("招商引资周报", "Investment weekly report"),
    "all_teams": ("全部团队", "All teams"),
    "serial": ("序号", "No."),
    # summary sheet
    "indicator": ("指标", "Indicator"),
    "week_count": ("本周·数量", "This week, number"),
    "week_amount": ("本周·金额", "This week, amount"),
    "last_week_count": ("上周·数量", "Last week, number"),
    "last_week_amount": ("上周·金额", "Last week, amount"),
    "ytd_count": ("本年累计·数量", "Year to date, number"),
    "ytd_amount": ("本年累计·金额", "Year to date, amount"),
    "last_ytd_count": ("去年同期·数量", "Same period last year, number"),
    "last_ytd_amount": ("去年同期·金额", "Same period last year, amount"),
    "rate": ("同比/比率", "Change / rate"),
    "event_lead": ("新增线索", "New leads"),
    "event_signed": ("签约", "Signings"),
    "event_landed": ("落地", "Landings"),
    "event_started": ("开工", "Construction starts"),
    "event_operating": ("投产", "Operations"),
    "sec_stages": ("按阶段（当前）", "By stage (now)"),
    "projects": ("项目数", "Projects"),
    "amount": ("金额", "Amount"),
    "key_projects": ("重点项目数", "Key projects"),
    "key_amount": ("重点项目金额", "Key projects' amount"),
    "total": ("合计", "Total"),
    "sec_key": ("重点项目", "Key projects"),
    "key_active": ("在库重点项目（不含终止）", "Key projects in the pipeline (not dropped)"),
    "key_signed_ytd": ("本年签约重点项目", "Key projects signed this year"),
    "sec_rates": ("开工率与履约率", "Start rate and honoured rate"),
    "signed_ytd": ("本年签约", "Signed this year"),
    "started": ("已开工", "Started"),
    "honoured": ("已履约", "Honoured"),
    "start_rate": ("开工率（本年）", "Start rate (this year)"),
    "start_rate_last": ("开工率（去年同期）", "Start rate (same period last year)"),
    "honoured_rate": ("履约率（本年）", "Honoured rate (this year)"),
    "honoured_rate_last": ("履约率（去年同期）", "Honoured rate (same period last year)"),
    "sec_targets_signed": ("年度目标：签约", "Annual targets: signings"),
    "sec_targets_other": ("年度目标：重点项目与开工", "Annual targets: key projects and starts"),
    "signed_count": ("已签约数", "Signed"),
    "signed_amount": ("已签约金额", "Signed amount"),
    "target_count": ("目标数", "Target"),
    "target_amount": ("目标金额", "Target amount"),
    "completion": ("完成率", "Completion"),
    "key_signed": ("重点项目签约数", "Key projects signed"),
    "started_count": ("开工数", "Started"),
    "no_targets": ("本年未设年度目标", "No annual targets set for this year"),
    # project sheets
    "project": ("项目名称", "Project"),
    "company": ("投资方", "Investor"),
    "key_reasons": ("重点原因", "Why key"),
    "chain": ("产业链", "Chain"),
    "zone": ("园区", "Zone"),
    "stage": ("阶段", "Stage"),
    "planned": ("计划投资", "Planned investment"),
    "signed_on": ("签约日期", "Signed on"),
    "landed_on": ("落地日期", "Landed on"),
    "started_on": ("开工日期", "Started on"),
    "owner": ("责任人", "Owner"),
    "team": ("团队", "Team"),
    "last_activity": ("最近活动", "Last activity"),
    "date": ("日期", "Date"),
    "from_stage": ("原阶段", "From"),
    "to_stage": ("新阶段", "To"),
    "changed_by": ("操作人", "By"),
    "note": ("备注", "Note"),
    "rule": ("规则", "Rule"),
    "days_overdue": ("逾期天数", "Days overdue"),
    "region": ("区域", "Region"),
    "visits": ("走访次数", "Visits"),
    # by chain / zone
    "active_count": ("在库项目数", "Active projects"),
    "active_amount": ("在库金额", "Active amount"),
    "signed_ytd_count": ("本年签约数", "Signed this year"),
    "signed_ytd_amount": ("本年签约金额", "Signed amount this year"),
    "started_ytd": ("本年开工数", "Started this year"),
    "key_active_count": ("重点项目数", "Key projects"),
    "not_set": ("未设置", "Not set"),
    "chart_stages": ("在库项目按阶段", "Pipeline by stage"),
    "chart_chains": ("在库金额按产业链（亿元）", "Active amount by chain (100M CNY)"),
    # key reasons and rules
    "reason_amount": ("投资额达重点标准", "Planned investment at the key threshold"),
    "reason_manual": ("人工认定", "Marked key"),
    "fortune_global_500": ("世界500强", "Fortune Global 500"),
    "china_top_500": ("中国企业500强", "China Top 500"),
    "china_private_top_500": ("中国民营企业500强", "China private Top 500"),
    # the reminder rules (crm.reminders.rules), in the words of the reminders' messages
    "signed_not_landed": ("签约未落地", "Signed, not landed"),
    "landed_not_started": ("已签约未开工", "Signed, construction not started"),
    "started_not_operating": ("已开工未投产", "Started, not operating"),
    "no_activity": ("无进展", "No activity"),
    "task_overdue": ("跟进事项逾期", "Follow-up overdue"),
    "inquiry_unanswered": ("咨询未答复", "Inquiry unanswered"),
    "no_stage_change": ("阶段无变化", "No stage change"),
}


class Words:
    """Look-ups in one language (`lang` is "zh" or "en")."""

    def __init__(self, lang: str) -> None:
        self.lang = "en" if lang.startswith("en") else "zh"
        self.english = self.lang == "en"

    def __call__(self, key: str) -> str:
        zh, en = TEXT[key]
        return en if self.english else zh

    def name(self, zh: str | None, en: str | None) -> str:
        if self.english:
            return en or zh or ""
        return zh or en or ""

    def title(self, week: Week, team: str | None, sheet_key: str) -> str:
        team = team or self("all_teams")
        if self.english:
            return (
                f"{self('report')}, week {week.label} ({week.start.isoformat()} to "
                f"{week.end.isoformat()}) · {team} · {self(sheet_key)}"
            )
        return (
            f"{self('report')}（{week.year}年第{week.number}周：{week.start.isoformat()}至"
            f"{week.end.isoformat()}）· {team} · {self(sheet_key)}"
        )

    def key_reasons(self, reasons: list[str]) -> str:
        parts = []
        for reason in reasons:
            if reason.startswith("top500:"):
                _, code, year = ([*reason.split(":"), "", ""])[:3]
                label = self(code) if code in TEXT else code
                parts.append(f"{label}({year})" if year else label)
            elif reason == "amount":
                parts.append(self("reason_amount"))
            elif reason == "manual":
                parts.append(self("reason_manual"))
            else:
                parts.append(reason)
        return "、".join(parts) if not self.english else "; ".join(parts)

    def rule(self, code: str) -> str:
        return self(code) if code in TEXT else code
