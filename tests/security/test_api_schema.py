"""Schemathesis against /api/v1/openapi.json: generated requests (valid and invalid) to
every operation, as an admin and as an officer; no answer is a 500 and every answer
matches the document (status codes, content types, headers, bodies).

Kept small for CI (a few examples per operation and mode); set
CRM_SCHEMATHESIS_EXAMPLES=200 for a thorough run.
"""

from __future__ import annotations

import os
from datetime import date

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.config import SchemathesisConfig
from schemathesis.core.failures import FailureGroup

from crm.accounts.models import Team
from crm.enums import Stage
from crm.extensions import db
from crm.pipeline.models import Project
from tests import factories

EXAMPLES = int(os.environ.get("CRM_SCHEMATHESIS_EXAMPLES", "12"))


# The API checks more than a schema can say: that a code or a record exists, a USCC's check
# digit, that a lead stays within their team. Such a request is schema-valid and is still
# refused with 422, an answer the document lists for every operation; so 422 is accepted
# for schema-valid data, as is 412 (a generated If-Match never names the current version,
# the same kind of answer as 409)...
ACCEPTED_FOR_VALID_DATA = ["2xx", "3xx", "401", "403", "404", "409", "412", "422", "429", "5xx"]
# ... except when it comes from validating the documented shapes themselves: then the
# document admits what the models refuse (a pattern or a bound missing from the document).
SHAPE_REFUSALS = {"Invalid request body.", "Invalid query parameters."}


def documented_shapes_are_accepted(ctx, response, case) -> None:
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or response.status_code != 422:
        return
    if response.json().get("detail") in SHAPE_REFUSALS:
        raise AssertionError(f"Schema-valid data refused by the models: {response.text}")


def _config(token: str) -> SchemathesisConfig:
    """Schemathesis authenticates with `token` itself (the document's bearer scheme), so its
    checks know which credentials are real: a token added to each case behind their back
    undid negations unseen (a missing Authorization header) and looked generated."""
    return SchemathesisConfig.from_dict(
        {
            "auth": {"openapi": {"bearer": {"bearer": token}}},
            "checks": {"positive_data_acceptance": {"expected-statuses": ACCEPTED_FOR_VALID_DATA}},
        }
    )


def _varied_projects(context) -> None:
    """Projects whose JSON has every shape: empty amounts, key reasons, several stages."""
    project = db.session.get(Project, context["project_id"])
    team_obj = db.session.get(Team, project.team_id)
    factories.project(team_obj, amount=None, chain=None)
    factories.project(
        team_obj,
        amount="150000.50",
        stage=Stage.STARTED,
        signed_on=date(2025, 3, 1),
        started_on=date(2025, 4, 2),
        is_key=True,
        key_reasons=["amount"],
        foreign_capital_usd="1250000",
    )
    factories.project(team_obj, stage=Stage.DROPPED, dropped_on=date(2026, 1, 9))


def _run_operations(app, token: str, context: dict, modes) -> list[str]:
    failures = []
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app, config=_config(token))
    assert len(list(schema.get_all_operations())) >= 7
    for result in schema.get_all_operations():
        operation = result.ok()
        known = {
            p.name: context[p.name]
            for p in operation.path_parameters
            if isinstance(context.get(p.name), int)
        }
        for mode in modes:
            strategy = operation.as_strategy(mode)
            if known and mode == GenerationMode.POSITIVE:
                # Half the cases on records that exist, half on generated ids.
                strategy = st.one_of(strategy, operation.as_strategy(mode, path_parameters=known))

            @given(case=strategy)
            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                derandomize=True,
                suppress_health_check=list(HealthCheck),
            )
            def run(case):
                case.call_and_validate(additional_checks=[documented_shapes_are_accepted])

            try:
                run()
            # FailureGroup is a BaseExceptionGroup: named, or the first failure ends the run.
            except (Exception, FailureGroup) as exc:  # every operation's failure, then report
                failures.append(f"{operation.label} ({mode.value}):\n{exc}")
    return failures


def test_the_api_matches_its_openapi_document(app, context):
    _varied_projects(context)
    failures = _run_operations(
        app,
        context["tokens"]["admin"],
        context,
        (GenerationMode.POSITIVE, GenerationMode.NEGATIVE),
    )
    failures += _run_operations(
        app, context["tokens"]["officer"], context, (GenerationMode.POSITIVE,)
    )
    assert not failures, "\n\n".join(failures)
