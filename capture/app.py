"""The application factory: settings, the database, blueprints, the CLI, the embedded worker.

`create_app()` is re-exported by the package for gunicorn (`capture:create_app()`),
the `flask --app capture` CLI and tests.
"""
from __future__ import annotations

import logging
import sys

import click
from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from capture import cli, context, desk
from capture.booking import wiring as booking
from capture.context import Capture
from capture.core import ratelimit
from capture.core.errors import first_line
from capture.core.http import MAX_BODY
from capture.core.paths import TEMPLATES
from capture.core.setting_checks import ConfigError
from capture.core.settings import Settings, load_settings
from capture.db import store
from capture.db.engine import make_engine
from capture.db.migrate import migrate
from capture.delivery import wiring as delivery
from capture.delivery.webhooks import check_secrets
from capture.delivery.worker import start_embedded
from capture.inbound import wiring as inbound
from capture.intake import wiring as intake
from capture.ops import wiring as ops
from capture.pipeline import wiring as pipeline
from capture.privacy import wiring as privacy
from capture.reports import wiring as reports
from capture.schema.agreement import check_agreement
from capture.schema.forms import Schema, SchemaError, load_schema
from capture.schema.sales import Sales, SalesError, load_sales
from capture.traffic import wiring as traffic


def create_app(config: dict | None = None) -> Flask:
    """Build the app from defaults, .env, CAPTURE_* variables and `config`.

    A bad setting or form schema prints one line naming it and exits (code 4,
    which gunicorn reports as "App failed to load" instead of restarting).
    """
    try:
        settings = load_settings(config)
        schema = load_schema(settings.forms_path)
        sales = load_sales(settings.sales_path, settings.timezone, schema.forms)
        check_agreement(schema, sales)
        check_secrets(sales, settings.webhook_secrets)  # every process, not just the sending one
    except (ConfigError, SchemaError, SalesError) as exc:
        print(f"capture: {exc}", file=sys.stderr)
        raise SystemExit(4) from None
    for warning in settings.warnings:
        print(f"capture: warning: {warning}", file=sys.stderr)
    app = Flask(__name__, template_folder=str(TEMPLATES), static_folder=None)
    # One byte over the API's limit, so a chunked body over it is seen (core.http.read_body).
    app.config.update(SECRET_KEY=settings.secret_key, MAX_CONTENT_LENGTH=MAX_BODY + 1)
    app.json.sort_keys = False
    _setup_logging()
    context.attach(app, _connect(settings, schema, sales))
    if settings.trusted_proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.trusted_proxies,
                                x_proto=settings.trusted_proxies, x_host=settings.trusted_proxies)
    _register(app, settings)
    _start_worker(app, settings)
    return app


def _start_worker(app: Flask, settings: Settings) -> None:
    """The embedded mail worker thread (CAPTURE_EMBEDDED_WORKER), for serving processes only.

    `flask` commands (leads, outbox, the standalone worker) never start one.
    """
    if not settings.embedded_worker or _inside_flask_command():
        return
    app.extensions["capture_worker"] = start_embedded(context.of(app))


def _inside_flask_command() -> bool:
    ctx = click.get_current_context(silent=True)
    return ctx is not None and ctx.info_name != "run"


def _connect(settings: Settings, schema: Schema, sales: Sales) -> Capture:
    engine = make_engine(settings.database_url)
    if settings.auto_migrate:
        try:
            migrate(engine)
        except Exception as exc:  # any driver error: say which setting to look at
            print(f"capture: CAPTURE_DATABASE_URL: cannot prepare the database ({first_line(exc)})",
                  file=sys.stderr)
            raise SystemExit(4) from None
    return Capture(settings, schema, sales, engine, settings.mail_from.domain, store.LeadWriter(engine))


def _register(app: Flask, settings: Settings) -> None:
    limiter = ratelimit.init_app(app, settings)
    for capability in (delivery, pipeline, booking, reports, privacy, inbound):  # message kinds, commands
        capability.init_app(app)
    # The public endpoints: JSON for browsers on other pages and for monitors, so no CSRF token.
    public = [bp for capability in (intake, traffic, ops) for bp in capability.init_app(app, limiter)]
    desk.init_app(app, limiter, exempt=tuple(public))
    cli.init_app(app)


def _setup_logging() -> None:
    logger = logging.getLogger("capture")
    if not logger.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
