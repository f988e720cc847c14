"""Display labels for investor tags and Top-500 lists (the keys live in crm.enums)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

TAG_LABELS = {
    "top500": _l("Any Top-500 list"),
    "fortune_global_500": _l("Fortune Global 500"),
    "china_top_500": _l("China Top 500 enterprises"),
    "china_private_top_500": _l("China private enterprises Top 500"),
    "central_soe": _l("Central SOE"),
    "listed": _l("Listed company"),
    "industry_leader": _l("Industry leader"),
    "hq_corporate": _l("Corporate headquarters"),
    "hq_regional": _l("Regional headquarters"),
    "hq_functional": _l("Functional headquarters"),
}

OWNERSHIP_LABELS = {
    "central_soe": _l("Central SOE"),
    "local_soe": _l("Local SOE"),
    "private": _l("Private"),
    "foreign": _l("Foreign"),
    "hk_macao_taiwan": _l("Hong Kong, Macao or Taiwan"),
    "joint_venture": _l("Joint venture"),
    "other": _l("Other"),
}

SORT_LABELS = {
    "name": _l("Project"),
    "company": _l("Investor"),
    "chain": _l("Chain"),
    "stage": _l("Stage"),
    "amount": _l("Planned investment"),
    "team": _l("Team"),
    "owner": _l("Owner"),
    "signed": _l("Signed on"),
    "updated": _l("Last change"),
}


def investor_tag_label(tag: object) -> str:
    key = str(getattr(tag, "value", tag))
    return str(TAG_LABELS.get(key, key))


def ownership_label(value: object) -> str:
    key = str(getattr(value, "value", value or ""))
    return str(OWNERSHIP_LABELS.get(key, key))
