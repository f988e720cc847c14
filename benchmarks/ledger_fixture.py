"""A realistic generated project ledger (台账) for the import benchmark."""

from __future__ import annotations

import random
from datetime import date, timedelta
from pathlib import Path

from openpyxl import Workbook

from crm.reference.uscc import make_uscc

HEADERS = [
    "序号", "项目编号", "项目名称", "投资方名称", "统一社会信用代码", "企业类型", "来源地（省/市）",
    "所属产业链", "投资总额（万元）", "固定资产投资（万元）", "招商阶段", "签约时间", "落地时间",
    "开工时间", "用地（亩）", "带动就业（人）", "责任人", "备注",
]  # fmt: skip
CHAINS = ["工程机械", "汽车", "先进储能材料", "检验检测", "大数据", "碳基材料", "新型合金"]
PLACES = ["广东省深圳市", "上海市", "北京市", "浙江省杭州市", "四川省成都市", "湖北省武汉市"]


def write_ledger(path: Path, rows: int, seed: int = 7) -> None:
    """Write `rows` valid ledger rows (every one a new project) as an xlsx file."""
    rng = random.Random(seed)
    book = Workbook(write_only=True)
    sheet = book.create_sheet("台账")
    sheet.append(["2025年招商引资项目台账"])
    sheet.append(HEADERS)
    start = date(2025, 1, 2)
    for n in range(1, rows + 1):
        signed = start + timedelta(days=rng.randint(0, 300))
        stage = rng.choice(["签约", "落地", "开工"])
        landed = signed + timedelta(days=rng.randint(0, 30)) if stage != "签约" else None
        started = landed + timedelta(days=rng.randint(0, 60)) if stage == "开工" else None
        amount = round(rng.lognormvariate(9.9, 1.0), 2) + 20
        sheet.append(
            [
                n,
                f"BENCH-{n:06d}",
                f"基准测试项目{n}号",
                f"基准测试{n}号科技有限公司",
                make_uscc(500000 + n) if n % 3 else None,
                "民营企业",
                rng.choice(PLACES),
                rng.choice(CHAINS),
                amount,
                round(amount * 0.6, 2),
                stage,
                signed.isoformat(),
                landed.isoformat() if landed else None,
                started.isoformat() if started else None,
                rng.randint(10, 300),
                rng.randint(20, 2000),
                "张三",
                "基准测试生成",
            ]
        )
    book.save(path)
