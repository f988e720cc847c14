"""Demo data: teams, users, the real projects of seed 002 and generated ones.

The generator is shared with the benchmarks (`benchmarks/generate.py`), which call it with
far larger counts; it inserts in bulk, never one row at a time.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from crm.accounts import services as accounts
from crm.accounts.models import Team, User
from crm.db import advance_id_sequences
from crm.enums import MAIN_STAGES, Role, Stage
from crm.pipeline.keys import key_reasons, key_threshold
from crm.pipeline.models import Company, CompanyTop500, Project
from crm.pipeline.names import normalize_company_name, search_blob
from crm.reference.models import IndustrialChain, Region, Zone
from crm.reference.uscc import make_uscc

DEMO_PASSWORD = "changsha-demo-2026"  # noqa: S105 - printed by `crm demo`; demo data only
DEMO_ADMIN = "admin@example.com"

DEMO_TEAMS = (
    ("city-bureau", "市商务局招商一处", "City Commerce Bureau, Investment Division 1", None),
    ("wangcheng", "望城经开区招商局", "Wangcheng ETDZ investment team", "wangcheng-etdz"),
    ("changsha-etdz", "长沙经开区招商局", "Changsha ETDZ investment team", "changsha-etdz"),
    ("changsha-county", "长沙县招商合作局", "Changsha County investment team", "changsha-county"),
    (
        "changsha-hitech",
        "长沙高新区招商局",
        "Changsha High-tech Zone investment team",
        "changsha-hitech",
    ),
)

DEMO_USERS = (
    (DEMO_ADMIN, "系统管理员", Role.ADMIN, None),
    ("leader@example.com", "局领导", Role.LEADER, None),
    ("lead.wangcheng@example.com", "望城队长", Role.LEAD, "wangcheng"),
    ("officer.wangcheng@example.com", "望城专员", Role.OFFICER, "wangcheng"),
    ("lead.etdz@example.com", "经开区队长", Role.LEAD, "changsha-etdz"),
    ("officer.etdz@example.com", "经开区专员", Role.OFFICER, "changsha-etdz"),
    ("lead.county@example.com", "长沙县队长", Role.LEAD, "changsha-county"),
    ("officer.county@example.com", "长沙县专员", Role.OFFICER, "changsha-county"),
    ("officer.hitech@example.com", "高新区专员", Role.OFFICER, "changsha-hitech"),
    ("lead.city@example.com", "招商一处处长", Role.LEAD, "city-bureau"),
    ("officer.city@example.com", "招商一处专员", Role.OFFICER, "city-bureau"),
)

_BRAND = (
    "华芯",
    "中科",
    "湘江",
    "麓谷",
    "星城",
    "芙蓉",
    "岳麓",
    "天宇",
    "博创",
    "远景",
    "恒信",
    "宏图",
    "瑞丰",
    "鼎盛",
    "凯达",
    "嘉和",
    "海纳",
    "新锐",
    "卓越",
    "盛世",
    "融创",
    "汇通",
    "金石",
    "银河",
    "东方",
    "华夏",
    "长风",
    "云帆",
    "北辰",
    "南山",
    "启明",
    "万向",
    "金桥",
    "天成",
    "安泰",
    "鸿运",
    "领航",
    "智源",
    "宇通",
    "明阳",
    "正泰",
    "润邦",
    "德润",
    "科华",
    "华联",
    "国瑞",
    "弘信",
)
_CITY = (
    "深圳",
    "上海",
    "北京",
    "广州",
    "杭州",
    "苏州",
    "南京",
    "成都",
    "重庆",
    "武汉",
    "天津",
    "合肥",
    "东莞",
    "佛山",
    "香港",
    "新加坡",
)
_CITY_REGION = {
    "深圳": "greater-bay-area",
    "广州": "greater-bay-area",
    "东莞": "greater-bay-area",
    "佛山": "greater-bay-area",
    "香港": "greater-bay-area",
    "上海": "yangtze-delta",
    "杭州": "yangtze-delta",
    "苏州": "yangtze-delta",
    "南京": "yangtze-delta",
    "合肥": "yangtze-delta",
    "北京": "jing-jin-ji",
    "天津": "jing-jin-ji",
    "成都": "chengdu-chongqing",
    "重庆": "chengdu-chongqing",
    "武汉": "other-domestic",
    "新加坡": "overseas",
}
_INDUSTRY = {
    "construction-machinery": ("重工", "智能挖掘机生产基地"),
    "automobile": ("汽车", "整车制造基地"),
    "energy-storage-materials": ("新能源", "储能电池材料项目"),
    "display-devices": ("光电", "新型显示模组项目"),
    "semiconductors-ic": ("半导体", "芯片封装测试基地"),
    "testing-inspection": ("检测", "检验检测中心"),
    "big-data": ("数据", "大数据中心"),
    "secure-computing": ("信息", "信创计算机生产线"),
    "carbon-materials": ("碳材", "碳纤维材料项目"),
    "ai-robotics": ("智能", "工业机器人研发制造基地"),
    "5g-applications": ("通信", "5G应用创新中心"),
    "new-alloys": ("合金", "高性能合金材料项目"),
    "aerospace-beidou": ("航天", "北斗导航产业园"),
    "new-energy-vehicles": ("新能源汽车", "动力总成项目"),
    "power-chips": ("微电子", "IGBT功率芯片项目"),
    "additive-manufacturing": ("增材", "3D打印装备项目"),
    "biomedicine": ("生物", "创新药研发生产基地"),
    "gene-technology": ("基因", "基因检测中心"),
    "energy-saving-environmental": ("环保", "节能环保装备项目"),
    "prefabricated-housing": ("建筑科技", "装配式建筑构件基地"),
    "mobile-internet": ("网络", "移动互联网总部"),
    "intelligent-equipment": ("装备", "智能装备制造项目"),
}


@dataclass
class DemoResult:
    teams: int
    users: int
    projects: int
    companies: int


def load_reference_ids(session: Session) -> dict[str, dict[str, int]]:
    return {
        "chain": dict(
            session.execute(
                select(IndustrialChain.code, IndustrialChain.id).where(
                    IndustrialChain.retired.is_(False)
                )
            ).all()
        ),
        "zone": dict(session.execute(select(Zone.code, Zone.id)).all()),
        "region": dict(session.execute(select(Region.code, Region.id)).all()),
        "team": dict(session.execute(select(Team.code, Team.id)).all()),
    }


def ensure_teams_and_users(session: Session) -> tuple[int, int]:
    """Create the demo teams and users that do not exist yet."""
    ids = load_reference_ids(session)
    teams = users = 0
    for code, name_zh, name_en, zone in DEMO_TEAMS:
        if code not in ids["team"]:
            accounts.save_team(
                session,
                code=code,
                name_zh=name_zh,
                name_en=name_en,
                zone_code=zone if zone in ids["zone"] else None,
            )
            teams += 1
    for email, name, role, team in DEMO_USERS:
        if accounts.find_user_by_email(session, email) is None:
            accounts.create_user(
                session, email=email, password=DEMO_PASSWORD, role=role, team_code=team, name=name
            )
            users += 1
    return teams, users


def _stage_dates(rng: random.Random, stage_index: int, today: date) -> dict[str, date]:
    """Plausible dates for reaching each main stage up to `stage_index`."""
    start = today - timedelta(days=rng.randint(20, 1400))
    gaps = (
        rng.randint(10, 120),
        rng.randint(20, 200),
        rng.randint(0, 90),
        rng.randint(0, 240),
        rng.randint(120, 720),
    )
    dates = {Stage.LEAD.value: start}
    current = start
    for i in range(1, stage_index + 1):
        current = min(today, current + timedelta(days=gaps[i - 1]))
        dates[MAIN_STAGES[i].value] = current
    return dates


def generate(
    session: Session,
    *,
    projects: int,
    companies: int,
    rng: random.Random,
    today: date,
    batch: int = 5000,
) -> tuple[int, int]:
    """Insert `companies` companies and `projects` projects with a realistic spread.

    Amounts are log-normal (median about 2亿元), a few percent reach the key threshold,
    stages thin out along the pipeline, and dates follow each other plausibly.
    """
    ids = load_reference_ids(session)
    chain_codes = [c for c in ids["chain"] if c in _INDUSTRY] or list(ids["chain"])
    zone_codes = [z for z in ids["zone"] if not z.startswith("shanghai")] or list(ids["zone"])
    team_ids = list(ids["team"].values())
    owners_by_team: dict[int, list[int]] = {}
    for uid, tid in session.execute(select(User.id, User.team_id).where(User.team_id.isnot(None))):
        owners_by_team.setdefault(tid, []).append(uid)
    threshold = key_threshold(session)
    now = datetime.now(UTC)
    first_company = (session.scalar(select(func.max(Company.id))) or 0) + 1

    company_rows: list[dict[str, Any]] = []
    company_city: list[str] = []
    for i in range(companies):
        city = rng.choice(_CITY)
        chain = rng.choice(chain_codes)
        word = _INDUSTRY.get(chain, ("科技", ""))[0]
        name = f"{city}{rng.choice(_BRAND)}{rng.choice(_BRAND)}{word}有限公司"
        if i % 7 == 0:
            name = name.replace("有限公司", "股份有限公司")
        tags = ["listed"] if rng.random() < 0.08 else []
        company_rows.append(
            {
                "id": first_company + i,
                "name": name,
                "aliases": [],
                "normalized_name": normalize_company_name(name),
                "uscc": make_uscc(first_company + i) if rng.random() < 0.6 else None,
                "hq_city": city,
                "tags": tags,
                "search_blob": search_blob(name, [], None),
                "created_at": now,
                "updated_at": now,
            }
        )
        company_city.append(city)
    for start in range(0, len(company_rows), batch):
        session.execute(insert(Company), company_rows[start : start + batch])
    advance_id_sequences(session, [Company.__table__])

    # A few percent of investors are on a Top-500 list this year.
    top500_rows = []
    for i in range(companies):
        if rng.random() < 0.03:
            top500_rows.append(
                {
                    "company_id": first_company + i,
                    "list_code": rng.choice(
                        ("fortune_global_500", "china_top_500", "china_private_top_500")
                    ),
                    "year": today.year,
                    "rank": rng.randint(1, 500),
                    "confirmed_at": now,
                }
            )
    if top500_rows:
        session.execute(insert(CompanyTop500), top500_rows)
    top500_by_company: dict[int, list[tuple[str, int]]] = {}
    for row in top500_rows:
        top500_by_company.setdefault(row["company_id"], []).append((row["list_code"], row["year"]))

    stage_weights = (0.30, 0.22, 0.14, 0.10, 0.10, 0.07, 0.04, 0.03)
    stages = [*MAIN_STAGES, Stage.ON_HOLD, Stage.DROPPED]
    project_rows: list[dict[str, Any]] = []
    for _ in range(projects):
        c_index = rng.randrange(companies)
        company_id = first_company + c_index
        chain = rng.choice(chain_codes)
        stage = rng.choices(stages, weights=stage_weights)[0]
        main_index = MAIN_STAGES.index(stage) if stage in MAIN_STAGES else rng.randint(0, 3)
        dates = _stage_dates(rng, main_index, today)
        amount = Decimal(str(round(math.exp(rng.gauss(math.log(20000), 1.1)), 2)))
        team_id = rng.choice(team_ids)
        zone = rng.choice(zone_codes)
        brand = rng.choice(_BRAND)
        name = f"{brand}{_INDUSTRY.get(chain, ('', '产业项目'))[1] or '产业项目'}"
        reasons = key_reasons(
            planned_investment=amount,
            threshold=threshold,
            top500=top500_by_company.get(company_id, []),
            current_year=today.year,
            manual=False,
            manual_reason=None,
        )
        row: dict[str, Any] = {
            "name": name,
            "company_id": company_id,
            "chain_id": ids["chain"][chain],
            "target_zone_id": ids["zone"][zone],
            "landed_zone_id": ids["zone"][zone] if main_index >= 3 else None,
            "source_region_id": ids["region"].get(_CITY_REGION[company_city[c_index]]),
            "planned_investment": amount,
            "stage": stage,
            "owner_id": rng.choice(owners_by_team.get(team_id, [None])),
            "team_id": team_id,
            "is_key": bool(reasons),
            "key_reasons": reasons,
            "facts": {},
            "search_blob": search_blob(name, [], None),
            "created_at": now,
            "updated_at": now,
            "version": 1,
        }
        for s in MAIN_STAGES:
            row[f"{s.value}_on"] = dates.get(s.value)
        if stage in (Stage.ON_HOLD, Stage.DROPPED):
            row[f"{stage.value}_on"] = today - timedelta(days=rng.randint(0, 60))
            row["resume_stage"] = MAIN_STAGES[main_index]
            if stage == Stage.DROPPED:
                row["drop_reason_code"] = rng.choice(
                    ("investor_changed_plans", "chose_other_city", "funding", "other")
                )
        project_rows.append(row)
    for start in range(0, len(project_rows), batch):
        session.execute(insert(Project), project_rows[start : start + batch])
    return companies, projects


def load_real_projects(session: Session, seed_dir: Path, today: date) -> int:
    """Load the real projects of seed/demo/projects.yaml (skipping those already there)."""
    data = yaml.safe_load((seed_dir / "demo" / "projects.yaml").read_text(encoding="utf-8"))
    ids = load_reference_ids(session)
    threshold = key_threshold(session)
    team_for_zone = {
        "wangcheng-etdz": "wangcheng",
        "changsha-etdz": "changsha-etdz",
        "changsha-county": "changsha-county",
        "changsha-hitech": "changsha-hitech",
    }
    owners = dict(
        session.execute(select(User.team_id, User.id).where(User.role == Role.OFFICER)).all()
    )
    loaded = 0
    for rec in data.get("projects") or []:
        if session.scalar(select(Project.id).where(Project.external_id == f"demo:{rec['key']}")):
            continue
        info = rec["company"]
        company = session.scalar(
            select(Company).where(Company.normalized_name == normalize_company_name(info["name"]))
        )
        if company is None:
            top500_tags = {"fortune_global_500", "china_top_500", "china_private_top_500"}
            company = Company(
                name=info["name"],
                name_en=info.get("name_en"),
                aliases=list(info.get("aliases") or []),
                normalized_name=normalize_company_name(info["name"]),
                hq_city=info.get("hq_city"),
                tags=[t for t in info.get("tags") or [] if t not in top500_tags],
                search_blob=search_blob(
                    info["name"], info.get("aliases") or [], info.get("name_en")
                ),
            )
            session.add(company)
            session.flush()
            for tag in info.get("tags") or []:
                if tag in top500_tags:
                    session.add(
                        CompanyTop500(company_id=company.id, list_code=tag, year=today.year)
                    )
        dates = {
            k: (v if isinstance(v, date) else date.fromisoformat(str(v)))
            for k, v in (rec.get("stage_dates") or {}).items()
        }
        reached = [s for s in MAIN_STAGES if s.value in dates]
        stage = reached[-1] if reached else Stage.LEAD
        team_code = team_for_zone.get(rec.get("zone"), "city-bureau")
        team_id = ids["team"][team_code]
        amount = (
            Decimal(str(rec["planned_investment_wan"]))
            if rec.get("planned_investment_wan") is not None
            else None
        )
        top500 = [(t, today.year) for t in info.get("tags") or []]
        reasons = key_reasons(
            planned_investment=amount,
            threshold=threshold,
            top500=top500,
            current_year=today.year,
            manual=False,
            manual_reason=None,
        )
        project = Project(
            name=rec["name"],
            name_en=rec.get("name_en"),
            company_id=company.id,
            chain_id=ids["chain"].get(rec.get("chain")),
            target_zone_id=ids["zone"].get(rec.get("zone")),
            landed_zone_id=ids["zone"].get(rec.get("zone")) if "landed" in dates else None,
            source_region_id=ids["region"].get(rec.get("source_region")),
            planned_investment=amount,
            stage=stage,
            team_id=team_id,
            owner_id=owners.get(team_id),
            is_key=bool(reasons),
            key_reasons=reasons,
            external_id=f"demo:{rec['key']}",
            notes=rec.get("source"),
            search_blob=search_blob(
                rec["name"], [info["name"], *(info.get("aliases") or [])], rec.get("name_en")
            ),
        )
        for s in MAIN_STAGES:
            setattr(project, f"{s.value}_on", dates.get(s.value))
        if project.lead_on is None and reached:
            project.lead_on = dates[reached[0].value]
        session.add(project)
        loaded += 1
    session.flush()
    return loaded


def load_demo(
    session: Session,
    seed_dir: Path,
    *,
    generated: int = 400,
    today: date | None = None,
    rng_seed: int = 2022,
) -> DemoResult:
    """Idempotently add the demo teams, users, real projects and (once) generated projects."""
    today = today or date.today()
    teams, users = ensure_teams_and_users(session)
    session.flush()
    real = load_real_projects(session, seed_dir, today)
    made_companies = made_projects = 0
    already = session.scalar(select(func.count()).select_from(Project)) or 0
    if already <= real:
        made_companies, made_projects = generate(
            session,
            projects=generated,
            companies=max(1, generated // 2),
            rng=random.Random(rng_seed),
            today=today,
        )
    # Visits first: they may add lead projects, which then get incentive facts too.
    try:  # visits, events and follow-ups of the demo, when the visits feature is installed
        from crm.visits.demo import load_demo_visits
    except ImportError:
        pass
    else:
        session.flush()
        load_demo_visits(session, seed_dir, today=today, rng=random.Random(rng_seed))
    try:  # features may add demo data of their own (incentive facts, ...)
        from crm.incentives.demo import add_demo_facts
    except ImportError:
        pass
    else:
        add_demo_facts(session)
    return DemoResult(
        teams=teams, users=users, projects=real + made_projects, companies=made_companies
    )
