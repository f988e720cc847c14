"""Command-line commands: seed, demo, users, tokens and translations."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from flask_migrate import upgrade
from sqlalchemy import select

from crm.accounts import services as accounts
from crm.accounts.models import Team, User
from crm.enums import Role
from crm.extensions import db


def _seed_dir() -> Path:
    return Path(current_app.config["CRM_SEED_DIR"])


@click.command("seed")
def seed_command() -> None:
    """Load reference data from seed/ (idempotent: a second run changes nothing)."""
    from crm.reference.seed import SeedError, load_reference_data

    try:
        report = load_reference_data(db.session, _seed_dir())
    except SeedError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    click.echo(report.summary())


@click.command("demo")
@click.option("--serve/--no-serve", default=False, help="Start the web server afterwards.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--projects", default=400, show_default=True, help="Generated projects to add.")
def demo_command(serve: bool, host: str, port: int, projects: int) -> None:
    """Migrate the database, load reference and demo data, and optionally serve the app."""
    from crm.reference.demo import DEMO_ADMIN, DEMO_PASSWORD, load_demo
    from crm.reference.seed import load_reference_data

    upgrade()
    click.echo(load_reference_data(db.session, _seed_dir()).summary())
    result = load_demo(db.session, _seed_dir(), generated=projects)
    db.session.commit()
    click.echo(
        f"Demo data: {result.teams} teams, {result.users} users and {result.projects} projects "
        "added (existing ones kept)."
    )
    click.echo(f"Demo administrator: {DEMO_ADMIN}  password: {DEMO_PASSWORD}")
    click.echo(
        "Other demo users (same password): leader@example.com, lead.wangcheng@example.com,"
        " officer.wangcheng@example.com, ...  (`crm user list` shows all)"
    )
    if serve:
        click.echo(f"Open http://{host}:{port}/ in a browser.")
        current_app.run(host=host, port=port, debug=False, use_reloader=False)


user_cli = AppGroup("user", help="Manage users.")


def _read_password(email: str) -> str:
    if not sys.stdin.isatty():
        line = sys.stdin.readline()
        return line.rstrip("\r\n")
    return click.prompt(f"Password for {email}", hide_input=True, confirmation_prompt=True)


@user_cli.command("create")
@click.argument("email")
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option(
    "--team", "team_code", default=None, help="Team code (required for officers and leads)."
)
@click.option("--name", default="", help="Display name.")
def user_create(email: str, role: str, team_code: str | None, name: str) -> None:
    """Create a user. The password is read from standard input's first line when it is
    not a terminal, so scripts can create users."""
    password = _read_password(email)
    try:
        user = accounts.create_user(
            db.session,
            email=email,
            password=password,
            role=Role(role),
            team_code=team_code,
            name=name,
        )
    except accounts.AccountError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    click.echo(f"Created user {user.email} ({user.role.value}).")


@user_cli.command("list")
def user_list() -> None:
    """List every user with role, team and status."""
    rows = db.session.execute(
        select(User, Team.code).outerjoin(Team, Team.id == User.team_id).order_by(User.email)
    ).all()
    for user, team in rows:
        status = "active" if user.active else "inactive"
        click.echo(f"{user.email}\t{user.role.value}\t{team or '-'}\t{status}")


def _set_active(email: str, active: bool) -> None:
    user = accounts.find_user_by_email(db.session, email)
    if user is None:
        raise click.ClickException(f"No user with email {email}.")
    try:
        accounts.set_active(db.session, user, active)
    except accounts.AccountError as exc:
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    click.echo(f"{'Reactivated' if active else 'Deactivated'} {user.email}.")


@user_cli.command("deactivate")
@click.argument("email")
def user_deactivate(email: str) -> None:
    """Deactivate a user: they cannot log in, their sessions end, their records stay."""
    _set_active(email, False)


@user_cli.command("reactivate")
@click.argument("email")
def user_reactivate(email: str) -> None:
    """Let a deactivated user log in again."""
    _set_active(email, True)


token_cli = AppGroup("token", help="Manage personal API tokens.")


@token_cli.command("create")
@click.argument("email")
@click.option("--name", default="cli", show_default=True)
def token_create(email: str, name: str) -> None:
    """Create an API token; the token is printed alone on the last line (shown once)."""
    user = accounts.find_user_by_email(db.session, email)
    if user is None or not user.active:
        raise click.ClickException(f"No active user with email {email}.")
    issued = accounts.issue_token(db.session, user, name)
    db.session.commit()
    click.echo(f"Token '{name}' for {user.email} (store it now; it is not shown again):")
    click.echo(issued.secret)


i18n_cli = AppGroup("i18n", help="Translation catalogues.")


@i18n_cli.command("update")
def i18n_update() -> None:
    """Extract messages from the code and templates and merge them into the catalogues."""
    from crm.i18n_tools import update_catalogs

    for line in update_catalogs():
        click.echo(line)


def init_app(app: Flask) -> None:
    for command in (seed_command, demo_command, user_cli, token_cli, i18n_cli):
        app.cli.add_command(command)
    _ = date  # dates are parsed by commands added by other features
