"""Investment-attraction pipeline tracker: the application factory."""

from __future__ import annotations

import os
from typing import Any

from flask import Flask

from crm import config as config_module
from crm.web import UploadClosingRequest


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the application.

    `config` overrides what the environment gives (tests pass their database URL here).
    In production (`CRM_ENV=production`) the app refuses to start without `CRM_SECRET_KEY`.
    """
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    app = Flask(
        __name__,
        instance_path=os.environ.get("CRM_INSTANCE_PATH") or os.path.join(root, "instance"),
        instance_relative_config=True,
        template_folder=os.path.join(root, "templates"),
    )
    app.config.from_mapping(config_module.from_environment(app.instance_path))
    if config:
        app.config.from_mapping(config)
    os.makedirs(app.instance_path, exist_ok=True)
    if not app.config.get("SECRET_KEY"):
        if app.config["CRM_ENV"] == "production":
            raise RuntimeError(
                "CRM_SECRET_KEY must be set in production: refusing to start without it."
            )
        app.config["SECRET_KEY"] = config_module.instance_secret_key(app.instance_path)

    app.request_class = UploadClosingRequest
    register_extensions(app)
    register_blueprints(app)
    register_errors(app)
    register_commands(app)
    return app


def register_extensions(app: Flask) -> None:
    from crm import i18n, nav, security
    from crm.db import close_session_safely
    from crm.extensions import bootstrap, csrf, db, login_manager, migrate

    db.init_app(app)
    # Registered after Flask-SQLAlchemy's teardown, so it runs first (teardowns run in
    # reverse): a session whose connection died is invalidated instead of raising.
    app.teardown_appcontext(lambda _exc: close_session_safely(db.session))
    migrate.init_app(
        app,
        db,
        directory=os.path.join(os.path.dirname(app.root_path), "migrations"),
        render_as_batch=True,
        compare_type=True,
    )
    csrf.init_app(app)
    bootstrap.init_app(app)
    i18n.init_app(app)
    security.init_app(app)
    login_manager.init_app(app)
    nav.init_app(app)
    import_models()


FEATURES = (
    "accounts",
    "reference",
    "pipeline",
    "visits",
    "incentives",
    "reminders",
    "reports",
)


def _feature_modules(name: str) -> list[object]:
    """Import `crm.<feature>.<name>` and `crm.<feature>.*_<name>` for every feature package.

    E.g. for "views": `crm.pipeline.views` and `crm.pipeline.company_views`.
    """
    import importlib
    import pkgutil

    modules = []
    for feature in FEATURES:
        package = importlib.import_module(f"crm.{feature}")
        for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
            if info.name == name or info.name.endswith(f"_{name}"):
                modules.append(importlib.import_module(f"crm.{feature}.{info.name}"))
    return modules


def import_models() -> None:
    """Import every model module so the metadata is complete (migrations, tests)."""
    from crm import audit  # noqa: F401

    _feature_modules("models")


def register_blueprints(app: Flask) -> None:
    """Register `crm.main`, each feature's `views.bp`, and the API with every `api` module."""
    from crm import main
    from crm.api import bp as api_bp
    from crm.api import load_endpoints
    from crm.extensions import csrf

    app.register_blueprint(main.bp)
    registered: set[int] = set()
    for module in _feature_modules("views"):
        blueprint = getattr(module, "bp", None)
        if blueprint is not None and id(blueprint) not in registered:
            registered.add(id(blueprint))
            app.register_blueprint(blueprint)
    load_endpoints()
    _feature_modules("api")
    csrf.exempt(api_bp)  # the API checks CSRF itself when a browser session calls it
    app.register_blueprint(api_bp)


def register_errors(app: Flask) -> None:
    from crm import errors

    errors.init_app(app)


def register_commands(app: Flask) -> None:
    from crm import commands

    commands.init_app(app)
    for module in _feature_modules("commands"):
        module.init_app(app)  # type: ignore[attr-defined]
