"""The kanban board: totals from the database, lazy columns, filters, moves, scope."""

from __future__ import annotations

import re
from collections import defaultdict
from decimal import Decimal

from crm.enums import ALL_STAGES, Stage
from crm.extensions import db
from crm.pipeline import board, listing
from tests import factories
from tests.conftest import login
from tests.pipeline_find.conftest import add_projects, count_queries, region_id, zone_id


def _column(page, stage):
    match = re.search(
        rf'<section class="board-column[^"]*" data-stage="{stage}".*?</section>', page, re.S
    )
    assert match, stage
    return match.group(0)


def _cards(html):
    return [int(i) for i in re.findall(r'data-testid="board-card"\s+data-project-id="(\d+)"', html)]


def test_column_totals_match_the_database(as_officer, teams):
    projects = add_projects(teams["mine"], teams["officer"], 30)
    factories.project(teams["other"], stage=Stage.SIGNED, amount="123456")  # not in scope
    expected = defaultdict(lambda: [0, Decimal(0)])
    for p in projects:
        expected[p.stage][0] += 1
        expected[p.stage][1] += p.planned_investment
    totals = board.stage_totals(
        db.session, teams["officer"], listing.ProjectFilter(), listing.local_today()
    )
    assert {s: (c, a) for s, (c, a) in totals.items()} == {
        s: (c, a) for s, (c, a) in expected.items()
    }
    page = as_officer.get("/board").get_data(as_text=True)
    for stage in ALL_STAGES:
        column = _column(page, stage.value)
        count = re.search(r'data-testid="column-count">(\d+)<', column).group(1)
        assert int(count) == expected[stage][0]
        assert len(_cards(column)) == expected[stage][0]


def test_columns_load_twenty_cards_then_the_rest_on_demand(as_officer, teams):
    signed = [factories.project(teams["mine"], stage=Stage.SIGNED, amount="10") for _ in range(25)]
    page = as_officer.get("/board").get_data(as_text=True)
    column = _column(page, "signed")
    first = _cards(column)
    assert len(first) == 20
    assert re.search(r'data-testid="column-count">25<', column)
    more = re.search(r'data-testid="load-more"\s+href="([^"]+)"\s+data-url="([^"]+)"', column)
    assert more, "a load-more control"
    fallback, url = (m.replace("&amp;", "&") for m in more.groups())
    assert fallback == "/projects?stage=signed"  # without JavaScript: the filtered list
    assert url == "/board/signed/cards?start=20"
    fragment = as_officer.get(url)
    assert fragment.status_code == 200
    rest = _cards(fragment.get_data(as_text=True))
    assert len(rest) == 5
    assert 'data-testid="load-more"' not in fragment.get_data(as_text=True)
    assert sorted(first + rest) == sorted(p.id for p in signed)
    # Most recently changed first.
    assert first[0] == max(p.id for p in signed)


def test_board_uses_the_list_filters(as_officer, teams):
    car = factories.project(teams["mine"], stage=Stage.LEAD, chain="automobile", amount="900")
    factories.project(teams["mine"], stage=Stage.LEAD, chain="biomedicine", amount="900")
    factories.project(teams["mine"], stage=Stage.SIGNED, chain="automobile", amount="10")
    page = as_officer.get("/board?chain=automobile&min=500").get_data(as_text=True)
    assert _cards(_column(page, "lead")) == [car.id]
    assert _cards(_column(page, "signed")) == []
    only = as_officer.get("/board?stage=lead").get_data(as_text=True)
    assert 'data-stage="lead"' in only and 'data-stage="signed"' not in only
    fragment = as_officer.get("/board/lead/cards?start=0&chain=automobile").get_data(as_text=True)
    assert _cards(fragment) == [car.id]
    bad = as_officer.get("/board?stage=nope&min=x")
    assert bad.status_code == 200 and 'data-testid="filter-problems"' in bad.get_data(as_text=True)


def test_cards_move_through_the_transition_form(make_client, teams):
    project = factories.project(
        teams["mine"], owner=teams["officer"], stage=Stage.NEGOTIATING, amount="5000"
    )
    client = make_client()
    login(client, teams["officer"].email)
    page = client.get("/board").get_data(as_text=True)
    card = re.search(
        rf'<article[^>]*data-project-id="{project.id}".*?</article>', page, re.S
    ).group(0)
    assert 'draggable="true"' in card
    assert f'data-transition-url="/projects/{project.id}/transition"' in card
    # The no-JavaScript move: a GET form giving /projects/<id>/transition?to=<stage>.
    assert f'method="get" action="/projects/{project.id}/transition"' in card
    options = re.findall(r'<option value="(\w+)">', card)
    assert "negotiating" not in options and "signed" in options and len(options) == 7
    assert "days in stage" in card or "Stage date unknown" in card
    # Leaders change nothing: no drag, no move form.
    leader = make_client()
    login(leader, teams["leader"].email)
    page = leader.get("/board").get_data(as_text=True)
    card = re.search(
        rf'<article[^>]*data-project-id="{project.id}".*?</article>', page, re.S
    ).group(0)
    assert "draggable" not in card and "transition" not in card


def test_side_columns_are_collapsed(as_officer, teams):
    factories.project(teams["mine"], stage=Stage.DROPPED)
    page = as_officer.get("/board").get_data(as_text=True)
    assert "<details" in _column(page, "dropped") and "<details" in _column(page, "on_hold")
    assert "<details" not in _column(page, "lead")


def test_other_teams_cards_never_show(as_officer, teams):
    foreign = factories.project(teams["other"], stage=Stage.LEAD)
    page = as_officer.get("/board").get_data(as_text=True)
    assert foreign.id not in _cards(page)
    fragment = as_officer.get("/board/lead/cards?start=0").get_data(as_text=True)
    assert foreign.id not in _cards(fragment)


def test_column_endpoint_refuses_unknown_stage_and_bad_start(as_officer):
    assert as_officer.get("/board/nowhere/cards").status_code == 404
    assert as_officer.get("/board/lead/cards?start=-1").status_code == 400


def _board_queries(client):
    with count_queries() as counter:
        assert client.get("/board?min=1").status_code == 200
    return counter.count


def test_board_query_count_does_not_grow_with_data(as_officer, teams):
    add_projects(teams["mine"], teams["officer"], 3)
    small = _board_queries(as_officer)
    add_projects(teams["mine"], teams["officer"], 200)
    large = _board_queries(as_officer)
    assert small == large
    # filter options, totals, one query per column; the stalled badges of every card: the
    # reminder rules' thresholds and one query
    assert large <= 8 + 8 + 2


def test_totals_with_filters_no_index_covers(as_officer, teams):
    here = factories.project(
        teams["mine"],
        stage=Stage.SIGNED,
        amount="300",
        target_zone_id=zone_id("wangcheng-etdz"),
        source_region_id=region_id("yangtze-delta"),
    )
    factories.project(teams["mine"], stage=Stage.SIGNED, amount="700")
    for query in (
        "zone=wangcheng-etdz",
        "region=yangtze-delta",
        "lead_from=2026-01-01&zone=wangcheng-etdz",
        f"q={here.name}",
    ):
        found, problems = listing.parse_filter(dict(p.split("=") for p in query.split("&")))
        assert problems == []
        totals = board.stage_totals(db.session, teams["officer"], found, listing.local_today())
        assert totals == {Stage.SIGNED: (1, Decimal("300"))}, query
        page = as_officer.get(f"/board?{query}").get_data(as_text=True)
        assert _cards(_column(page, "signed")) == [here.id], query
