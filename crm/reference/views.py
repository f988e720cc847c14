"""Read-only pages of the reference data (edited through seed files and `crm seed`)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template
from flask_login import login_required
from sqlalchemy import select

from crm.extensions import db
from crm.reference.models import ChainSet, City, IndustrialChain, Region, Zone

bp = Blueprint("reference", __name__, url_prefix="/reference")


@bp.get("/")
@login_required
def index() -> Any:
    chains = db.session.execute(
        select(IndustrialChain, ChainSet)
        .join(ChainSet, ChainSet.id == IndustrialChain.set_id)
        .order_by(ChainSet.current.desc(), ChainSet.code, IndustrialChain.sort)
    ).all()
    zones = db.session.execute(
        select(Zone, City).outerjoin(City, City.id == Zone.city_id).order_by(Zone.id)
    ).all()
    regions = db.session.scalars(select(Region).order_by(Region.sort)).all()
    return render_template("reference/index.html", chains=chains, zones=zones, regions=regions)
