"""Micro-benchmark: evaluate every seed measure for 10,000 random projects in all 7 zones.

Run with `.venv/bin/python benchmarks/bench_incentives.py`. Budget (issue 5): at most 2 s
for the evaluation itself; building the random fact sets and loading the policy files are
timed separately and not counted.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from datetime import date
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from crm.incentives.engine import compare  # noqa: E402
from crm.incentives.facts import FACTS, FactType, validate_facts  # noqa: E402
from crm.incentives.policies import load_policies  # noqa: E402

ZONES = {
    "changsha-etdz": "national_etdz",
    "wangcheng-etdz": "national_etdz",
    "ningxiang-etdz": "national_etdz",
    "liuyang-etdz": "national_etdz",
    "changsha-hitech": "national_hitech",
    "changsha-county": "county",
    "shanghai-changning": "district",
}
ZONE_LEVELS = ("national_etdz", "national_hitech", "provincial", "county", "district")
CHAINS = ("construction-machinery", "automobile", "semiconductors-ic", "biomedicine")
BUDGET_SECONDS = 2.0


def random_facts(rng: random.Random) -> dict[str, object]:
    """One project's raw facts: each key present with probability 0.8, random values."""
    raw: dict[str, object] = {}
    for key, fact in FACTS.items():
        if rng.random() < 0.2:
            continue
        if fact.type in (FactType.MONEY_WAN, FactType.USD, FactType.NUMBER):
            raw[key] = Decimal(rng.randrange(0, 2_000_000)) / 100
        elif fact.type is FactType.BOOL:
            raw[key] = rng.random() < 0.5
        elif fact.type is FactType.ENUM:
            raw[key] = rng.choice(fact.choices).code
        elif fact.type is FactType.ENUM_LIST:
            raw[key] = [c.code for c in fact.choices if rng.random() < 0.2]
        else:
            raw[key] = rng.choice(CHAINS)
    return raw


def main(argv: list[str] | None = None) -> int:
    """Build the fact sets, time the evaluations, print the figures; 1 if over budget."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--projects", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=20250225)
    args = parser.parse_args(argv)

    started = time.perf_counter()
    policies = load_policies(ROOT / "seed" / "policies", zone_codes=ZONES, zone_levels=ZONE_LEVELS)
    loaded = time.perf_counter() - started

    rng = random.Random(args.seed)
    fact_sets = []
    for _ in range(args.projects):
        facts, errors = validate_facts(random_facts(rng))
        assert not errors, errors
        fact_sets.append(facts)

    as_of = date(2026, 6, 1)  # every seed policy is in force on this day
    zones = list(ZONES.items())
    results = 0
    started = time.perf_counter()
    for facts in fact_sets:
        for evaluation in compare(policies, zones, facts, as_of):
            results += len(evaluation.results)
    elapsed = time.perf_counter() - started

    measures = sum(len(policy.measures) for policy in policies)
    print(f"policies loaded: {len(policies)} ({measures} measures) in {loaded * 1000:.1f} ms")
    print(f"projects: {args.projects}, zones: {len(zones)}, measure results: {results:,}")
    print(f"evaluation: {elapsed:.3f} s (budget {BUDGET_SECONDS:.1f} s)")
    print(f"per project (all zones): {elapsed / args.projects * 1e6:.1f} µs")
    return 0 if elapsed <= BUDGET_SECONDS or args.projects != 10_000 else 1


if __name__ == "__main__":
    raise SystemExit(main())
