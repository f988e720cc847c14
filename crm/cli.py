"""The `crm` console script: Flask's CLI bound to the application factory."""

from __future__ import annotations

from flask.cli import FlaskGroup

from crm import create_app


def main() -> None:
    cli = FlaskGroup(create_app=lambda: create_app(), help="Investment-attraction CRM.")
    cli.main(prog_name="crm")
