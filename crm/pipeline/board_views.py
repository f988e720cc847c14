"""The kanban board: a column per stage, cards loaded a page at a time."""

from __future__ import annotations

from typing import Any

from flask import abort, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from markupsafe import Markup

from crm import nav
from crm.enums import ALL_STAGES, Stage
from crm.extensions import db
from crm.i18n import stage_label
from crm.pipeline import board, list_queries, listing
from crm.pipeline.blueprint import bp
from crm.pipeline.list_views import filter_template_context, read_list_request

if not any(entry[0] == "pipeline.board_page" for entry in nav.NAV):
    nav.NAV.insert(
        next((i + 1 for i, e in enumerate(nav.NAV) if e[0] == "pipeline.project_list"), 1),
        ("pipeline.board_page", _l("Board"), None),
    )


def transition_url(project_id: int, stage: Stage | str) -> str:
    """The transition form of a project, preset to a target stage (pipeline-core's URL)."""
    value = getattr(stage, "value", stage)
    return f"{url_for('pipeline.project_detail', project_id=project_id)}/transition?to={value}"


@bp.app_template_global()
def board_transition_url(project_id: int, stage: Stage | str) -> str:
    return transition_url(project_id, stage)


def card_context() -> dict[str, Any]:
    """What every card repeats, translated once per request instead of once per card."""
    labels = {s: stage_label(s) for s in ALL_STAGES}
    move_options = {
        current: Markup("").join(
            Markup('<option value="{}">{}</option>').format(s.value, labels[s])
            for s in ALL_STAGES
            if s != current
        )
        for current in ALL_STAGES
    }
    return {
        "stage_labels": labels,
        "move_options": move_options,
        "days_label": _("%(n)d days in stage"),
        "move_label": _("Move %(name)s to"),
        "move_text": _("Move"),
        "key_text": _("Key"),
        "can_move": current_user.can_write,
    }


@bp.get("/board")
@login_required
def board_page() -> Any:
    found, _sort, options, problems = read_list_request(request.args)
    today = listing.local_today()
    columns = board.load_board(db.session, current_user, found, today)
    filter_args = found.args()
    card_ids = [card.id for column in columns for card in column.cards]
    return render_template(
        "pipeline/board.html",
        columns=columns,
        stalls=list_queries.stalled_badges(db.session, card_ids),
        today=today,
        problems=problems,
        filter_args=filter_args,
        query=listing.query_string(filter_args),
        filter_action=url_for("pipeline.board_page"),
        **card_context(),
        **filter_template_context(found, options),
    )


@bp.get("/board/<stage>/cards")
@login_required
def board_column(stage: str) -> Any:
    """The next cards of one column, as an HTML fragment (the board's "load more")."""
    try:
        column_stage = Stage(stage)
    except ValueError:
        abort(404)
    found, _problems = listing.parse_filter(request.args)
    found = list_queries.prepare_filter(db.session, found)
    start = request.args.get("start", 0, type=int) or 0
    if not 0 <= start <= board.MAX_START:
        abort(400)
    today = listing.local_today()
    cards, more = board.column_cards(
        db.session, current_user, found, column_stage, today, start=start
    )
    column = board.Column(column_stage, 0, 0, cards, start, more)  # type: ignore[arg-type]
    return render_template(
        "pipeline/_board_cards.html",
        column=column,
        stalls=list_queries.stalled_badges(db.session, [card.id for card in cards]),
        today=today,
        query=listing.query_string(found.args()),
        **card_context(),
    )
