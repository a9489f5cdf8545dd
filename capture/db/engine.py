"""The database engine: connection set-up per dialect, SQLite's write lock, and transactions.

Every write goes through `writing()` (or LeadWriter, which takes the same lock), every long
read through `reading()`, so SQLite writers queue instead of failing and readers never wait.
"""
from __future__ import annotations

import fcntl
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine, make_url

WRITE_LOCK = "write_lock"  # the pool record's info key for a SQLite connection's lock file
READING = "capture_reading"  # the execution option of a read-only transaction (reading())


def make_engine(url: str) -> Engine:
    """An engine for `url`; SQLite gets WAL, a busy timeout and write-locking BEGINs."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        # No pool_pre_ping: it would ping LeadWriter's raw connections too, a third round trip
        # for a lead that takes two (LeadWriter retries a connection found dead instead).
        # Core connections, which everything else uses, are pinged as they are taken.
        engine = create_engine(url, pool_size=8, max_overflow=8, pool_recycle=3600)
        event.listen(engine, "engine_connect", _ping)
        return engine
    Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
    lock_path = parsed.database + "-writelock"
    event.listen(engine, "connect", lambda conn, record: _sqlite_connect(conn, record, lock_path))
    event.listen(engine, "close", _sqlite_close)
    event.listen(engine, "begin", _sqlite_begin)
    return engine


def _ping(conn: Connection) -> None:
    """Make sure a Core connection's server connection is alive before it is used (PostgreSQL).

    After a database restart or a terminated backend, the pool still holds connections to a
    server that is gone: the first statement on one would fail (a desk page, a beacon, a
    booking). A failed ping discards the connection and, on a disconnect, the whole pool; the
    connection's first statement then opens a fresh one, or fails as any statement does
    (SQLAlchemyError) if the database is still down.
    """
    dbapi_conn = conn.connection.dbapi_connection
    try:
        conn.dialect.do_ping(dbapi_conn)
    except conn.dialect.loaded_dbapi.Error as exc:
        disconnected = conn.dialect.is_disconnect(exc, dbapi_conn, None)
        conn.invalidate(exc)
        if disconnected:
            conn.engine.dispose()  # as LeadWriter: a restart kills every pooled connection


def _sqlite_connect(dbapi_conn, record, lock_path: str):
    # Autocommit at the driver level, so the "begin" hook decides how to BEGIN.
    dbapi_conn.isolation_level = None
    # One lock file descriptor per connection (see write_lock), closed with it.
    record.info[WRITE_LOCK] = os.open(lock_path, os.O_CREAT | os.O_RDWR, 0o600)
    # Turning a new database to WAL needs its exclusive lock; two processes doing
    # it at once can deadlock inside SQLite, which then fails one of them with
    # "database is locked" without waiting. Take turns on the lock file instead.
    with write_lock(record):
        dbapi_conn.execute("PRAGMA journal_mode=WAL")
    # synchronous=NORMAL in WAL mode: a commit survives any crash of the process
    # (tested); only an OS crash or power cut can roll back the last commits.
    # The WAL keeps SQLite's default checkpoint size: a larger one was no
    # faster under load and doubled p99 (bench/capture_throughput.py).
    for pragma in ("synchronous=NORMAL", "busy_timeout=30000", "foreign_keys=ON", "mmap_size=268435456"):
        dbapi_conn.execute(f"PRAGMA {pragma}")


def _sqlite_close(dbapi_conn, record) -> None:
    # The pool closes a connection (overflow, invalidation, dispose): its lock file goes too.
    fd = record.info.pop(WRITE_LOCK, None)
    if fd is not None:
        os.close(fd)


@contextmanager
def write_lock(pooled) -> Iterator[None]:
    """Hold this SQLite connection's turn to write (nothing on PostgreSQL).

    `pooled` is anything carrying the pool record's `info`: a pool record, a
    raw pooled connection, or `Connection.connection`. SQLite's own busy
    handler sleeps in growing steps while another writer holds the database;
    writers queued on a blocking flock of one lock file are woken at once.
    """
    fd = pooled.info.get(WRITE_LOCK)
    if fd is None:
        yield
        return
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)


@contextmanager
def writing(engine: Engine) -> Iterator[Connection]:
    """A Core connection in a write transaction, taking its turn on SQLite."""
    with engine.connect() as conn:
        with write_lock(conn.connection), conn.begin():
            yield conn


@contextmanager
def reading(engine: Engine) -> Iterator[Connection]:
    """A Core connection in a read transaction: one snapshot, and writers never wait for it.

    For reads that take a while (reports/report.py): on SQLite a deferred BEGIN instead of the write
    lock every other transaction takes up front (in WAL mode a reader and the writer do not
    wait for each other), so a report never holds up a lead; on PostgreSQL REPEATABLE READ,
    so that every statement sees the same moment.
    """
    with engine.connect() as conn:
        conn.execution_options(**{READING: True}, **(
            {"isolation_level": "REPEATABLE READ"} if engine.dialect.name == "postgresql" else {}))
        with conn.begin():
            yield conn


def _sqlite_begin(conn):
    # IMMEDIATE takes the write lock up front: two writers then queue on the
    # busy timeout instead of one failing with "database is locked" on upgrade.
    # A connection from reading() only reads: a deferred BEGIN leaves writers alone.
    conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get(READING) else "BEGIN IMMEDIATE")
