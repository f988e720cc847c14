"""Where a visit took place: suggest its "4+N" region from the city (and province).

The rule is the one in docs/reference-data.md, applied to the Region table's
`cities_zh` / `provinces_zh` lists (data, not code): names are compared without their
administrative suffix (深圳 = 深圳市), the city decides first, then the province. When only
a city is given, `seed/city_provinces.yaml` says which province it is in (杭州 -> 浙江) and
which cities are abroad. A place that matches nothing gets no suggestion (the officer
chooses), except that a mainland province outside the four regions suggests
`other-domestic`.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.reference.models import Region

_SUFFIXES = (
    "维吾尔自治区",
    "壮族自治区",
    "回族自治区",
    "特别行政区",
    "自治区",
    "自治州",
    "地区",
    "省",
    "市",
)
# Mainland provincial-level units, so an unmatched province can fall back to other-domestic.
_MAINLAND_PROVINCES = frozenset(
    {
        "北京",
        "天津",
        "河北",
        "山西",
        "内蒙古",
        "辽宁",
        "吉林",
        "黑龙江",
        "上海",
        "江苏",
        "浙江",
        "安徽",
        "福建",
        "江西",
        "山东",
        "河南",
        "湖北",
        "湖南",
        "广东",
        "广西",
        "海南",
        "重庆",
        "四川",
        "贵州",
        "云南",
        "西藏",
        "陕西",
        "甘肃",
        "青海",
        "宁夏",
        "新疆",
    }
)
CITY_FILE = "city_provinces.yaml"
_PROVINCE_SPLIT = re.compile(r"^(.+?(?:省|自治区|特别行政区))(.*)$")


def normalize_place(name: str | None) -> str:
    """`深圳市` -> `深圳`; `新疆维吾尔自治区` -> `新疆`; whitespace removed."""
    text = re.sub(r"\s+", "", name or "")
    for suffix in _SUFFIXES:
        if text.endswith(suffix) and len(text) > len(suffix):
            return text[: -len(suffix)]
    return text


def split_place(city: str | None, province: str | None) -> tuple[str, str]:
    """Normalised (city, province); `江苏省苏州市` typed as the city is split in two."""
    raw_city = re.sub(r"\s+", "", city or "")
    raw_province = province or ""
    match = _PROVINCE_SPLIT.match(raw_city)
    if match and match.group(2):
        raw_province = raw_province or match.group(1)
        raw_city = match.group(2)
    return normalize_place(raw_city), normalize_place(raw_province)


@dataclass(frozen=True)
class RegionLookup:
    cities: dict[str, str]  # normalised city -> region code
    provinces: dict[str, str]  # normalised province -> region code
    ids: dict[str, int]
    city_province: dict[str, str] = field(default_factory=dict)  # normalised city -> province
    overseas: frozenset[str] = frozenset()

    def suggest(self, city: str | None, province: str | None = None) -> str | None:
        """The region code for a place, or None when it cannot tell."""
        c, p = split_place(city, province)
        if c and c in self.cities:
            return self.cities[c]
        if c and c in self.provinces:  # a municipality typed as a city
            return self.provinces[c]
        if c in self.overseas and "overseas" in self.ids:
            return "overseas"
        p = p or self.city_province.get(c, "")
        if p and p in self.provinces:
            return self.provinces[p]
        if p in _MAINLAND_PROVINCES and "other-domestic" in self.ids:
            return "other-domestic"
        return None

    def as_json_data(self) -> dict[str, dict[str, str]]:
        """What the visit form's script needs to suggest the same region as the server."""
        cities = dict(self.cities)
        for name, prov in self.city_province.items():
            if name not in cities:
                region = self.provinces.get(prov) or (
                    "other-domestic" if prov in _MAINLAND_PROVINCES else None
                )
                if region:
                    cities[name] = region
        for name in self.overseas:
            cities.setdefault(name, "overseas")
        provinces = dict(self.provinces)
        for prov in _MAINLAND_PROVINCES:
            provinces.setdefault(prov, "other-domestic")
        return {"cities": cities, "provinces": provinces}


@functools.cache
def _city_file(path: str, mtime: float) -> tuple[dict[str, str], frozenset[str]]:
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    city_province = {}
    for prov, cities in (data.get("provinces") or {}).items():
        for city in cities or []:
            city_province[normalize_place(city)] = normalize_place(prov)
    overseas = frozenset(normalize_place(c) for c in data.get("overseas") or [])
    return city_province, overseas


def city_file_data() -> tuple[dict[str, str], frozenset[str]]:
    """The cities of seed/city_provinces.yaml (empty when the file is missing)."""
    try:
        seed_dir = current_app.config["CRM_SEED_DIR"]
    except (RuntimeError, KeyError):
        return {}, frozenset()
    path = Path(seed_dir) / CITY_FILE
    if not path.exists():
        return {}, frozenset()
    return _city_file(str(path), path.stat().st_mtime)


def region_lookup(session: Session) -> RegionLookup:
    cities: dict[str, str] = {}
    provinces: dict[str, str] = {}
    ids: dict[str, int] = {}
    for region in session.scalars(select(Region).order_by(Region.sort, Region.id)):
        ids[region.code] = region.id
        for name in region.cities_zh or []:
            cities.setdefault(normalize_place(name), region.code)
        for name in region.provinces_zh or []:
            provinces.setdefault(normalize_place(name), region.code)
    city_province, overseas = city_file_data()
    return RegionLookup(
        cities=cities,
        provinces=provinces,
        ids=ids,
        city_province=city_province,
        overseas=overseas,
    )
