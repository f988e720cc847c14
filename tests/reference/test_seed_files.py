"""Static checks of the reference and demo data files under seed/.

No application needed: only yaml and csv. Format: docs/reference-data.md.
"""

import csv
import datetime as dt
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT / "seed"

# The 22 Changsha chains of the domain brief, in its order; the first 13 are confirmed.
DOMAIN_CHAIN_CODES = [
    "construction-machinery",
    "automobile",
    "energy-storage-materials",
    "display-devices",
    "semiconductors-ic",
    "testing-inspection",
    "big-data",
    "secure-computing",
    "carbon-materials",
    "ai-robotics",
    "5g-applications",
    "new-alloys",
    "aerospace-beidou",
    "new-energy-vehicles",
    "power-chips",
    "additive-manufacturing",
    "biomedicine",
    "gene-technology",
    "energy-saving-environmental",
    "prefabricated-housing",
    "mobile-internet",
    "intelligent-equipment",
]
DOMAIN_ZONE_CODES = {
    "changsha-etdz",
    "wangcheng-etdz",
    "ningxiang-etdz",
    "liuyang-etdz",
    "changsha-hitech",
    "changsha-county",
    "shanghai-changning",
}
ZONE_LEVELS = {"national_etdz", "national_hitech", "provincial", "county", "district"}
REGION_CODES = [
    "jing-jin-ji",
    "yangtze-delta",
    "greater-bay-area",
    "chengdu-chongqing",
    "other-domestic",
    "overseas",
]
MAIN_STAGES = ["lead", "negotiating", "signed", "landed", "started", "operating"]
SIDE_STAGES = ["on_hold", "dropped"]
COMPANY_TAGS = {
    "fortune_global_500",
    "china_top_500",
    "china_private_top_500",
    "central_soe",
    "listed",
    "industry_leader",
    "hq_corporate",
    "hq_regional",
    "hq_functional",
}
TOP500_LISTS = {"fortune_global_500", "china_top_500", "china_private_top_500"}
CODE_RE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


def load(name):
    with open(SEED / name, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


@pytest.fixture(scope="module")
def chains():
    return load("chains.yaml")


@pytest.fixture(scope="module")
def zones():
    return load("zones.yaml")


@pytest.fixture(scope="module")
def regions():
    return load("regions.yaml")


@pytest.fixture(scope="module")
def stages():
    return load("stages.yaml")


@pytest.fixture(scope="module")
def demo():
    return load("demo/projects.yaml")


def current_chain_codes(chains):
    current = [s for s in chains["sets"] if s["current"]]
    assert len(current) == 1
    return {c["code"] for c in current[0]["chains"]}


# --- chains -----------------------------------------------------------------


def test_changsha_2017_has_the_22_domain_chains_in_order(chains):
    sets = {s["code"]: s for s in chains["sets"]}
    assert "changsha-2017" in sets
    codes = [c["code"] for c in sets["changsha-2017"]["chains"]]
    assert codes == DOMAIN_CHAIN_CODES
    assert len(set(codes)) == 22


def test_first_13_chains_confirmed(chains):
    chain_list = next(s for s in chains["sets"] if s["code"] == "changsha-2017")["chains"]
    flags = [c["confirmed"] for c in chain_list]
    assert all(isinstance(f, bool) for f in flags)
    assert sum(flags) == 13
    assert flags == [True] * 13 + [False] * 9


def test_chain_records_complete(chains):
    set_codes = [s["code"] for s in chains["sets"]]
    assert len(set_codes) == len(set(set_codes))
    assert sum(1 for s in chains["sets"] if s["current"]) == 1
    for chain_set in chains["sets"]:
        assert chain_set["name_zh"] and chain_set["name_en"] and chain_set["source"]
        adopted = chain_set["adopted_on"]
        assert adopted is None or isinstance(adopted, dt.date)
        for chain in chain_set["chains"]:
            assert CODE_RE.match(chain["code"])
            assert chain["name_zh"] and chain["name_en"] and chain["source"]
            assert isinstance(chain["aliases_zh"], list)


def test_chain_mappings_resolve(chains):
    by_set = {s["code"]: {c["code"] for c in s["chains"]} for s in chains["sets"]}
    for m in chains["mappings"]:
        assert m["from_code"] in by_set[m["from_set"]]
        assert m["to_code"] in by_set[m["to_set"]]


# --- zones ------------------------------------------------------------------


def test_zones_levels_and_references(zones):
    city_codes = [c["code"] for c in zones["cities"]]
    zone_codes = [z["code"] for z in zones["zones"]]
    assert len(city_codes) == len(set(city_codes))
    assert len(zone_codes) == len(set(zone_codes))
    assert set(zone_codes) >= DOMAIN_ZONE_CODES
    for city in zones["cities"]:
        assert city["name_zh"] and city["name_en"] and city["province_zh"]
    for zone in zones["zones"]:
        assert CODE_RE.match(zone["code"])
        assert zone["level"] in ZONE_LEVELS, zone["code"]
        assert zone["city"] in city_codes, zone["code"]
        host = zone.get("host")
        assert host is None or (host in zone_codes and host != zone["code"]), zone["code"]
        assert zone["name_zh"] and zone["name_en"] and zone["source"]


def test_domain_zone_levels(zones):
    levels = {z["code"]: z["level"] for z in zones["zones"]}
    for code in ("changsha-etdz", "wangcheng-etdz", "ningxiang-etdz", "liuyang-etdz"):
        assert levels[code] == "national_etdz"
    assert levels["changsha-hitech"] == "national_hitech"
    assert levels["changsha-county"] == "county"
    assert levels["shanghai-changning"] == "district"


# --- regions ----------------------------------------------------------------


def test_regions(regions):
    items = regions["regions"]
    assert [r["code"] for r in items] == REGION_CODES
    assert [r["sort"] for r in items] == sorted(r["sort"] for r in items)
    seen_cities = {}
    for region in items:
        assert region["name_zh"] and region["name_en"]
        assert isinstance(region["provinces_zh"], list)
        assert isinstance(region["cities_zh"], list)
        for city in region["cities_zh"]:
            other = seen_cities.get(city)
            assert other is None, f"{city} in {other} and {region['code']}"
            seen_cities[city] = region["code"]
    by_code = {r["code"]: r for r in items}
    for fallback in ("other-domestic", "overseas"):
        assert by_code[fallback]["provinces_zh"] == []
        assert by_code[fallback]["cities_zh"] == []
    gba = by_code["greater-bay-area"]
    assert "广东省" not in gba["provinces_zh"]
    assert len([c for c in gba["cities_zh"] if "特别行政区" not in c]) == 9


# --- stages -----------------------------------------------------------------


def test_stages(stages):
    items = sorted(stages["stages"], key=lambda s: s["order"])
    assert [s["key"] for s in items] == MAIN_STAGES + SIDE_STAGES
    assert [s["kind"] for s in items] == ["main"] * 6 + ["side"] * 2
    assert "".join(s["name_zh"] for s in items) == "线索洽谈签约落地开工投产暂缓终止"
    reason_codes = [r["code"] for r in stages["drop_reasons"]]
    assert len(reason_codes) == len(set(reason_codes))
    assert "other" in reason_codes
    for reason in stages["drop_reasons"]:
        assert reason["name_zh"] and reason["name_en"]


# --- demo projects ----------------------------------------------------------


def test_demo_projects_reference_existing_codes(demo, chains, zones, regions):
    chain_codes = current_chain_codes(chains)
    zone_codes = {z["code"] for z in zones["zones"]}
    region_codes = {r["code"] for r in regions["regions"]}
    keys = [p["key"] for p in demo["projects"]]
    assert keys and len(keys) == len(set(keys))
    for project in demo["projects"]:
        assert project["chain"] in chain_codes, project["key"]
        assert project["zone"] in zone_codes, project["key"]
        assert project["source_region"] in region_codes, project["key"]
        assert project["name"] and project["source"]
        company = project["company"]
        assert company["name"]
        assert isinstance(company["aliases"], list)
        assert set(company["tags"]) <= COMPANY_TAGS, project["key"]
        amount = project["planned_investment_wan"]
        assert amount is None or (isinstance(amount, int) and amount > 0)


def test_demo_stage_dates_in_pipeline_order(demo):
    for project in demo["projects"]:
        dates = project["stage_dates"]
        assert set(dates) <= set(MAIN_STAGES), project["key"]
        ordered = [dates[s] for s in MAIN_STAGES if dates.get(s) is not None]
        assert all(isinstance(d, dt.date) for d in ordered)
        assert ordered == sorted(ordered), project["key"]


def test_demo_events(demo, zones):
    zone_codes = {z["code"] for z in zones["zones"]}
    project_keys = {p["key"] for p in demo["projects"]}
    event_keys = [e["key"] for e in demo["events"]]
    assert len(event_keys) == len(set(event_keys))
    for event in demo["events"]:
        assert event["name"] and event["source"]
        assert event["zone"] is None or event["zone"] in zone_codes
        assert event["date"] is None or isinstance(event["date"], dt.date)
        assert set(event["project_keys"]) <= project_keys
        count = event["projects_count"]
        assert count is None or count >= len(event["project_keys"])
        for key in event["project_keys"]:
            project = next(p for p in demo["projects"] if p["key"] == key)
            assert project["stage_dates"].get("signed") == event["date"]


# --- top 500 CSVs -----------------------------------------------------------


def top500_files():
    return sorted((SEED / "top500").glob("*.csv"))


def test_top500_files_exist():
    lists = {p.stem.rsplit("-", 1)[0] for p in top500_files()}
    assert lists == TOP500_LISTS
    assert (SEED / "top500" / "README.md").is_file()


@pytest.mark.parametrize("path", top500_files(), ids=lambda p: p.name)
def test_top500_csv_parses(path):
    list_name, year = path.stem.rsplit("-", 1)
    assert list_name in TOP500_LISTS
    assert re.fullmatch(r"\d{4}", year)
    with open(path, encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        assert reader.fieldnames == ["rank", "name", "name_en", "aliases"]
        rows = list(reader)
    assert rows
    names = [r["name"] for r in rows]
    assert len(names) == len(set(names))
    for row in rows:
        assert row["name"].strip() and row["name_en"].strip()
        assert row["rank"] == "" or row["rank"].isdigit()
        aliases = row["aliases"].split("|") if row["aliases"] else []
        assert all(a.strip() for a in aliases)
