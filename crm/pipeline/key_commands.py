"""`crm keys recompute`: recompute every project's key-project flag (e.g. at New Year, when
last year's Top-500 lists stop counting)."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

from crm.extensions import db
from crm.pipeline.keys import key_threshold, recompute_all_keys

keys_cli = AppGroup("keys", help="Key-project flags.")


@keys_cli.command("recompute")
def recompute_command() -> None:
    """Recompute every project's key flag from the current rules and threshold."""
    changed = recompute_all_keys(db.session)
    db.session.commit()
    click.echo(f"{changed} projects changed (threshold {key_threshold(db.session)} 万元).")


def init_app(app: Flask) -> None:
    app.cli.add_command(keys_cli)
