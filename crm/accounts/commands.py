"""Account commands added to `crm user`: resetting a user's two-factor login."""

from __future__ import annotations

import click
from flask import Flask

from crm.accounts import services as accounts
from crm.accounts import two_factor
from crm.commands import user_cli
from crm.extensions import db


@user_cli.command("reset-2fa")
@click.argument("email")
def user_reset_2fa(email: str) -> None:
    """Turn off a user's two-factor login (lost phone and recovery codes) and end their
    sessions. If their role requires 2FA, they set it up again at their next login."""
    user = accounts.find_user_by_email(db.session, email)
    if user is None:
        raise click.ClickException(f"No user with email {email}.")
    two_factor.disable(db.session, user, actor_id=None, reset=True)
    db.session.commit()
    click.echo(f"Two-factor login reset for {user.email}; their sessions were ended.")


def init_app(app: Flask) -> None:
    """The command is registered on the `user` group when this module is imported."""
