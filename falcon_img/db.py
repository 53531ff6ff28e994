"""The database: a late-bound Peewee proxy and how to open it from a URL.

Models bind to ``database`` at import time, but nothing connects until a
request (or a command) asks: ``create_app()`` only decides *which* database
the proxy stands for, so Gunicorn can fork workers that each open their own
connections. Both SQLite and PostgreSQL are pooled per process, which makes
"connect per request, always close" cost a dictionary lookup.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from urllib.parse import urlsplit

import peewee
from playhouse import db_url

database = peewee.DatabaseProxy()

SQLITE_PRAGMAS = {
    # Readers never wait for the writer, and a commit needs no fsync of the
    # main file: see https://www.sqlite.org/wal.html.
    "journal_mode": "wal",
    "synchronous": "normal",
    "foreign_keys": 1,
    "busy_timeout": 10_000,
    "cache_size": -16_000,
}

#: Errors that mean "the database is not answering", not "the query is wrong".
UNAVAILABLE_ERRORS = (peewee.OperationalError, peewee.InterfaceError)


class DatabaseURLError(ValueError):
    """DATABASE_URL names a database this service cannot use."""


def open_database(url: str, pool_size: int = 8) -> peewee.Database:
    """A pooled, not yet connected Database for ``url``."""
    scheme = urlsplit(url).scheme
    if scheme in {"sqlite", "sqlite+pool"}:
        path = url.split("://", 1)[1].lstrip("/")
        if url.split("://", 1)[1].startswith("//"):
            path = "/" + path
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        return db_url.connect(
            "sqlite+pool://" + url.split("://", 1)[1],
            pragmas=SQLITE_PRAGMAS,
            # Pooled connections move between the threads of a gthread worker.
            check_same_thread=False,
            max_connections=pool_size * 4,
            stale_timeout=600,
        )
    if scheme in {"postgres", "postgresql", "postgres+pool", "postgresql+pool"}:
        return db_url.connect(
            "postgresql+pool://" + url.split("://", 1)[1],
            unquote_password=True,
            max_connections=pool_size,
            stale_timeout=300,
            timeout=10,
            connect_timeout=5,
        )
    raise DatabaseURLError(f"unsupported DATABASE_URL scheme {scheme!r}: use sqlite:// or postgresql://")


def bind(db: peewee.Database) -> None:
    """Make the proxy (and so every model) stand for ``db``."""
    database.initialize(db)


def is_sqlite() -> bool:
    return isinstance(database.obj, peewee.SqliteDatabase)


def write_transaction():
    """A transaction that holds the write lock from its first statement.

    SQLite's default (deferred) transactions upgrade their lock lazily and fail
    with "database is locked" when two writers race; IMMEDIATE makes the second
    one wait for the first instead. PostgreSQL locks rows as it goes.
    """
    if is_sqlite():
        return database.atomic("IMMEDIATE")
    return database.atomic()


@contextlib.contextmanager
def connection():
    """Borrow a connection for a block of work (commands, tests, health checks)."""
    opened = database.connect(reuse_if_open=True)
    try:
        yield database
    finally:
        if opened and not database.is_closed():
            database.close()
