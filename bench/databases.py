"""A database for one benchmark run: a temporary SQLite file, or a private PostgreSQL schema."""
from __future__ import annotations

import uuid
from urllib.parse import urlencode

from sqlalchemy import create_engine, text


def private_database(url: str | None, folder: str, prefix: str = "bench", **params: str):
    """(URL for the app, cleanup): SQLite in `folder` without `url`, else a schema dropped by cleanup.

    `params` go on the PostgreSQL URL too (e.g. application_name, to find the app's sessions).
    """
    if not url:
        return f"sqlite:///{folder}/capture.db", lambda: None
    schema = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))

    def drop():
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
    query = urlencode({"options": f"-csearch_path={schema}", **params})
    return f"{url}{'&' if '?' in url else '?'}{query}", drop
